/**
 * The `integrations` route group: connecting an org's Wildberries token (`PUT`), seeing it (`GET`)
 * and disconnecting it (`DELETE`), against the WB double (its `GET /ping`, JWT-shaped tokens,
 * revocation and faults), the real database and QStash; the expiry flag in the sync status and the
 * once-a-day expiry warning.
 */
import { eq, sql } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { decryptSecret } from "../../src/core/crypto";
import { jobs, orders, wbConnections } from "../../src/core/db/schema";
import { createLogger } from "../../src/core/logger";
import { createRedis } from "../../src/core/redis";
import { bitmaskOf, categoriesOf, readWbToken, tokenExpiry, WbTokenFormatError } from "../../src/integrations/wildberries/token";
import { expiryWarningKey, warnIfExpiring } from "../../src/jobs/wb-sync";
import {
  adapterUrl,
  addMember,
  api,
  buildRequest,
  config,
  createTenant,
  db,
  problem,
  registerWbToken,
  type Tenant,
  waitForJob,
  workerFetch,
} from "./helpers";
import { clearWbFaults, injectWbFault, insertJob } from "./sync-support";

afterEach(clearWbFaults);

const WB = "/api/v1/integrations/wildberries";
const small = { orders: 200, products: 5, days: 10 };
const DAY_MS = 86_400_000;

type Connection = {
  connected: boolean;
  expiresAt: string | null;
  daysLeft: number | null;
  expiringSoon: boolean;
  categories: string[];
  lastSyncAt: string | null;
};

const connect = (tenant: Tenant, token: string) => api(WB, { method: "PUT", token: tenant.token, json: { token } });
const view = async (tenant: Tenant) => (await (await api(WB, { token: tenant.token })).json()) as Connection;

/** The org's stored connection row, if any. */
async function storedConnection(orgId: string) {
  const [row] = await db().select().from(wbConnections).where(eq(wbConnections.orgId, orgId));
  return row;
}

/** The org's wb-sync jobs, newest first. */
async function orgJobs(orgId: string) {
  return db().select().from(jobs).where(eq(jobs.orgId, orgId)).orderBy(sql`${jobs.createdAt} desc`);
}

/** Revokes a token on the WB double. */
async function revokeWbToken(token: string) {
  const res = await fetch(`${adapterUrl("wb")}/__control/tokens/revoke`, { method: "POST", body: JSON.stringify({ token }) });
  if (!res.ok) throw new Error(`revoke refused: ${res.status}`);
}

/** A JWT-shaped text with `payload` (an unsigned `alg: none` header: only the payload is read). */
const jwtWith = (payload: Record<string, unknown>) => {
  const part = (value: object) => btoa(JSON.stringify(value)).replaceAll("=", "").replaceAll("+", "-").replaceAll("/", "_");
  return `${part({ alg: "none", typ: "JWT" })}.${part(payload)}.c2ln`;
};

describe("PUT /api/v1/integrations/wildberries", () => {
  it("checks the token with WB, stores it encrypted with its expiry and categories, never answers it, and queues the first sync", async () => {
    const tenant = await createTenant({ role: "admin" });
    const token = await registerWbToken({ ...small, seed: 401 });
    const res = await connect(tenant, token);
    expect(res.status).toBe(201);
    const text = await res.text();
    expect(text).not.toContain(token);
    const body = JSON.parse(text) as Connection;
    expect(body).toMatchObject({ connected: true, categories: ["statistics"], expiringSoon: false, lastSyncAt: null });
    expect(body.daysLeft).toBe(179);
    expect(Math.abs(Date.parse(body.expiresAt ?? "") - (Date.now() + 180 * DAY_MS))).toBeLessThan(60_000);

    const row = await storedConnection(tenant.orgId);
    expect(row?.tokenCiphertext).not.toContain(token);
    expect(await decryptSecret(row?.tokenCiphertext ?? "", config().ENCRYPTION_KEY)).toBe(token);
    expect(row?.categories).toEqual(["statistics"]);
    expect(row?.connectedBy).toBe(tenant.userId);
    expect(Date.parse(row?.expiresAt ?? "")).toBe(Date.parse(body.expiresAt ?? ""));

    const [job] = await orgJobs(tenant.orgId);
    expect(job?.kind).toBe("wb-sync");
    expect((await waitForJob(job?.id as string, 120_000)).status).toBe("succeeded");
    const synced = await view(tenant);
    expect(synced.lastSyncAt).toMatch(/Z$/);
    expect(Date.now() - Date.parse(synced.lastSyncAt ?? "")).toBeLessThan(120_000);
    expect((await db().select({ n: sql<number>`count(*)::int` }).from(orders).where(eq(orders.orgId, tenant.orgId)))[0]?.n).toBeGreaterThan(
      0,
    );

    // A rotation: another token replaces the first (200) and syncs again.
    const rotated = await registerWbToken({ ...small, seed: 401, categories: ["statistics", "content", "analytics"] });
    const again = await connect(tenant, rotated);
    expect(again.status).toBe(200);
    expect(((await again.json()) as Connection).categories).toEqual(["content", "analytics", "statistics"]);
    expect(await decryptSecret((await storedConnection(tenant.orgId))?.tokenCiphertext ?? "", config().ENCRYPTION_KEY)).toBe(rotated);
    const [second] = await orgJobs(tenant.orgId);
    expect(second?.id).not.toBe(job?.id);
    expect((await waitForJob(second?.id as string, 120_000)).status).toBe("succeeded");
  });

  it("refuses a malformed token with 400 and a field error on `token`, before asking WB", async () => {
    const tenant = await createTenant();
    for (const token of ["not-a-jwt", "a.b.c", jwtWith({ exp: Math.floor(Date.now() / 1000) + 3600 }), jwtWith({ s: 32 })]) {
      const res = await connect(tenant, token);
      expect(res.status, token).toBe(400);
      const refused = await problem(res);
      expect(refused.errors?.map((e) => e.path)).toEqual(["token"]);
    }
    expect((await api(WB, { method: "PUT", token: tenant.token, json: {} })).status).toBe(400);
    expect((await api(WB, { method: "PUT", token: tenant.token, json: { token: "" } })).status).toBe(400);
    expect(await storedConnection(tenant.orgId)).toBeUndefined();
  });

  it("refuses a token without the Statistics category, or an expired one, with 422", async () => {
    const tenant = await createTenant();
    const contentOnly = await connect(tenant, await registerWbToken({ ...small, categories: ["content", "prices"] }));
    expect(contentOnly.status).toBe(422);
    expect((await problem(contentOnly)).detail).toBe(
      "The token lacks Statistics access (it grants content, prices); create a token with the Statistics category.",
    );
    const expired = await connect(tenant, await registerWbToken({ ...small, expiresAt: new Date(Date.now() - DAY_MS).toISOString() }));
    expect(expired.status).toBe(422);
    expect((await problem(expired)).detail).toMatch(/^The token expired on \d{4}-\d{2}-\d{2}T.*; create a new one\.$/);
    expect(await storedConnection(tenant.orgId)).toBeUndefined();
    expect(await orgJobs(tenant.orgId)).toEqual([]);
  });

  it("answers 422 when WB rejects the token, 502 when WB fails or is unreachable, and stores nothing", async () => {
    const tenant = await createTenant();
    const revoked = await registerWbToken(small);
    await revokeWbToken(revoked);
    const rejected = await connect(tenant, revoked);
    expect(rejected.status).toBe(422);
    expect((await problem(rejected)).detail).toBe(
      "WB rejected the token (401): unauthorized: token is not valid: token withdrawn [GET /ping]",
    );

    const token = await registerWbToken(small);
    await injectWbFault({ path: "/ping", status: 500, times: 1 });
    const failing = await connect(tenant, token);
    expect(failing.status).toBe(502);
    expect((await problem(failing)).detail).toContain("WB could not check the token: WB server error (500)");

    const unreachable = await workerFetch(buildRequest(WB, { method: "PUT", token: tenant.token, json: { token } }), {
      WB_STATISTICS_API_URL: "http://127.0.0.1:9",
    });
    expect(unreachable.status).toBe(502);
    expect((await problem(unreachable)).detail).toBe("WB could not check the token: WB unreachable: network error [GET /ping]");

    expect(await storedConnection(tenant.orgId)).toBeUndefined();
    expect(await orgJobs(tenant.orgId)).toEqual([]);
  });

  it("lets owners and admins connect; analysts may only look", async () => {
    const owner = await createTenant();
    const analyst = await addMember(owner.orgId, "analyst");
    const token = await registerWbToken(small);
    expect((await api(WB, { method: "PUT", token: analyst, json: { token } })).status).toBe(403);
    expect((await api(WB, { method: "DELETE", token: analyst })).status).toBe(403);
    const seen = await api(WB, { token: analyst });
    expect(seen.status).toBe(200);
    expect(await seen.json()).toEqual({
      connected: false,
      expiresAt: null,
      daysLeft: null,
      expiringSoon: false,
      categories: [],
      lastSyncAt: null,
    });
    expect((await api(WB, { method: "PUT", json: { token } })).status).toBe(401);
  });
});

describe("DELETE /api/v1/integrations/wildberries", () => {
  it("removes the token and ends the unfinished sync; the synced data stays; a sync is refused until reconnected", async () => {
    const tenant = await createTenant();
    const token = await registerWbToken({ ...small, seed: 402 });
    expect((await connect(tenant, token)).status).toBe(201);
    const [first] = await orgJobs(tenant.orgId);
    await waitForJob(first?.id as string, 120_000);
    const before = await view(tenant);
    const stored = await db().select({ n: sql<number>`count(*)::int` }).from(orders).where(eq(orders.orgId, tenant.orgId));
    // A sync that is retrying when the org disconnects.
    const pending = await insertJob(tenant.orgId, { status: "failed" });

    const res = await api(WB, { method: "DELETE", token: tenant.token });
    expect(res.status).toBe(204);
    expect(await res.text()).toBe("");
    expect(await storedConnection(tenant.orgId)).toBeUndefined();
    const ended = (await orgJobs(tenant.orgId)).find((j) => j.id === pending);
    expect(ended).toMatchObject({
      status: "dead",
      lastError: "the Wildberries connection was removed (DELETE /api/v1/integrations/wildberries)",
    });

    expect(await view(tenant)).toEqual({
      ...before,
      connected: false,
      expiresAt: null,
      daysLeft: null,
      expiringSoon: false,
      categories: [],
    });
    expect(await db().select({ n: sql<number>`count(*)::int` }).from(orders).where(eq(orders.orgId, tenant.orgId))).toEqual(stored);
    const status = (await (await api("/api/v1/sync/status", { token: tenant.token })).json()) as {
      connected: boolean;
      connection: unknown;
    };
    expect(status).toMatchObject({ connected: false, connection: null });
    expect((await api("/api/v1/sync/wildberries", { method: "POST", token: tenant.token })).status).toBe(409);
    // The cron queues only orgs with a row in wb_connections (src/jobs/scheduled-syncs.ts): there is none.
    expect((await db().execute(sql`select 1 from wb_connections where org_id = ${tenant.orgId}`)).rows).toEqual([]);

    expect((await api(WB, { method: "DELETE", token: tenant.token })).status).toBe(204);
  });
});

describe("token expiry", () => {
  it("flags a token within 14 days of expiry in the connection and the sync status", async () => {
    const tenant = await createTenant();
    const expiresAt = new Date(Date.now() + 10 * DAY_MS + 3_600_000).toISOString();
    const res = await connect(tenant, await registerWbToken({ ...small, seed: 403, expiresAt }));
    expect(res.status).toBe(201);
    const connection = (await res.json()) as Connection;
    expect(connection).toMatchObject({ daysLeft: 10, expiringSoon: true });
    expect(Date.parse(connection.expiresAt ?? "")).toBe(Math.floor(Date.parse(expiresAt) / 1000) * 1000);
    const [job] = await orgJobs(tenant.orgId);
    await waitForJob(job?.id as string, 120_000);

    const status = (await (await api("/api/v1/sync/status", { token: tenant.token })).json()) as {
      connected: boolean;
      connection: { expiresAt: string; daysLeft: number; expiringSoon: boolean };
    };
    expect(status.connected).toBe(true);
    expect(status.connection).toEqual({ expiresAt: connection.expiresAt, daysLeft: 10, expiringSoon: true });
    // The sync saw it and claimed the day's warning for the org.
    const redis = createRedis(config());
    expect(await redis.ttl(expiryWarningKey(tenant.orgId))).toBeGreaterThan(86_000);

    const far = await createTenant({ wbToken: await registerWbToken(small) });
    const unknown = (await (await api("/api/v1/sync/status", { token: far.token })).json()) as { connection: unknown };
    // A token stored without its expiry (seeded directly, like the local demo's) is connected, expiry unknown.
    expect(unknown.connection).toEqual({ expiresAt: null, daysLeft: null, expiringSoon: false });
  });

  it("logs 'wildberries token expiring' once a day per org (SET NX EX 86400), and not for a distant expiry", async () => {
    const lines: Array<Record<string, unknown>> = [];
    const original = console.log;
    console.log = (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>);
    const orgId = crypto.randomUUID();
    const services = { redis: createRedis(config()), logger: createLogger({ service: "test" }, "info") };
    try {
      const soon = new Date(Date.now() + 3 * DAY_MS - 3_600_000).toISOString();
      await warnIfExpiring(services, orgId, soon);
      await warnIfExpiring(services, orgId, soon);
      await warnIfExpiring(services, crypto.randomUUID(), new Date(Date.now() + 60 * DAY_MS).toISOString());
      await warnIfExpiring(services, crypto.randomUUID(), null);
    } finally {
      console.log = original;
    }
    const warnings = lines.filter((l) => l.msg === "wildberries token expiring");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: "warn", orgId, daysLeft: 2 });
    expect(await services.redis.ttl(expiryWarningKey(orgId))).toBeGreaterThan(86_000);
  });
});

describe("what a WB token says (src/integrations/wildberries/token.ts)", () => {
  it("reads the categories from the bits of s (bit 5 Statistics, bit 30 read-only) and exp, without the signature", () => {
    expect(categoriesOf(32)).toEqual(["statistics"]);
    expect(categoriesOf(2 + 4 + 32 + 2 ** 12)).toEqual(["content", "analytics", "statistics", "documents"]);
    // Bits outside the known layout (0, 8, 13+) name nothing.
    expect(categoriesOf(1 + 256 + 2 ** 13 + 2 ** 20)).toEqual([]);
    expect(bitmaskOf(["statistics", "content"], true)).toBe(2 ** 30 + 32 + 2);
    const info = readWbToken(jwtWith({ exp: 1_900_000_000, s: 2 ** 30 + 32 + 2, t: false, sid: "x" }));
    expect(info).toEqual({ expiresAt: new Date(1_900_000_000_000), categories: ["content", "statistics"], readOnly: true, sandbox: false });
    expect(readWbToken(jwtWith({ exp: 1, s: 0, t: true })).sandbox).toBe(true);
    for (const bad of ["", "x", "a.b", jwtWith({ exp: "soon", s: 32 }), jwtWith({ exp: 1, s: -1 }), jwtWith({ exp: 1, s: 1.5 })]) {
      expect(() => readWbToken(bad), bad).toThrow(WbTokenFormatError);
    }
  });

  it("counts whole days left and flags the last 14 days", () => {
    const now = Date.UTC(2026, 10, 20, 12);
    expect(tokenExpiry(null, now)).toEqual({ expiresAt: null, daysLeft: null, expiringSoon: false });
    expect(tokenExpiry("2026-12-05 12:00:00.5+00", now)).toEqual({
      expiresAt: "2026-12-05T12:00:00.500Z",
      daysLeft: 15,
      expiringSoon: false,
    });
    expect(tokenExpiry(new Date(now + 14 * DAY_MS), now)).toMatchObject({ daysLeft: 14, expiringSoon: true });
    expect(tokenExpiry(new Date(now + 1000), now)).toMatchObject({ daysLeft: 0, expiringSoon: true });
    expect(tokenExpiry(new Date(now - DAY_MS), now)).toMatchObject({ daysLeft: 0, expiringSoon: true });
  });
});
