/**
 * API keys: create (shown once), list (never the secret), revoke; a key authenticates as role
 * `service` with its scopes on routes that declare one (`dashboard:read` on the dashboard,
 * `sync:read` on the sync status), and nowhere else. A key expires, dies with its creator's
 * authority, and a revoke forgets its cached lookup. Managing keys re-reads the caller's
 * membership.
 */
import { and, eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { apiKeyCacheKey, readCachedApiKey } from "../../src/core/auth/api-keys";
import { sha256Hex } from "../../src/core/crypto";
import { apiKeys, memberships, orgs, users } from "../../src/core/db/schema";
import { createRedis } from "../../src/core/redis";
import { apiWithEnv, authApi, freshIp, randomApiKey } from "./auth-support";
import { addMember, awaitRoomInMinute, config, createTenant, db, neonRequestsDuring, problem, type Tenant } from "./helpers";

const KEYS = "/api/v1/auth/api-keys";

interface Created {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  key: string;
  createdAt: string;
  expiresAt: string;
}

const DAY_MS = 24 * 3600 * 1000;
const isoUtc = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

async function createKey(tenant: Tenant, scopes: string[], name = "bot", extra: Record<string, unknown> = {}): Promise<Created> {
  const res = await authApi(KEYS, { method: "POST", token: tenant.token, json: { name, scopes, ...extra } });
  if (res.status !== 201) throw new Error(`create key: ${res.status} ${await res.text()}`);
  return res.json();
}

describe("POST /api/v1/auth/api-keys", () => {
  it("creates a key and shows it once; only its hash is stored", async () => {
    const tenant = await createTenant({ role: "admin" });
    const res = await authApi(KEYS, {
      method: "POST",
      token: tenant.token,
      json: { name: " CRM bridge ", scopes: ["dashboard:read", "sync:read"] },
    });
    expect(res.status).toBe(201);
    expect(res.headers.get("Cache-Control")).toBe("no-store");
    const created = (await res.json()) as Created;
    expect(created).toEqual({
      id: expect.any(String),
      name: "CRM bridge",
      prefix: created.key.slice(0, 16),
      scopes: ["dashboard:read", "sync:read"],
      key: expect.stringMatching(/^se_live_[A-Za-z0-9_-]{43}$/),
      createdAt: expect.stringMatching(isoUtc),
      expiresAt: expect.stringMatching(isoUtc),
    });
    // 90 days by default.
    expect(Date.parse(created.expiresAt) - Date.parse(created.createdAt)).toBe(90 * DAY_MS);
    const [row] = await db().select().from(apiKeys).where(eq(apiKeys.id, created.id));
    expect(row).toMatchObject({ orgId: tenant.orgId, createdBy: tenant.userId, prefix: created.prefix });
    expect(row?.keyHash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(row)).not.toContain(created.key);
  });

  it("takes the lifetime in days (1–365) and stores the expiry", async () => {
    const tenant = await createTenant();
    for (const days of [1, 7, 365]) {
      const created = await createKey(tenant, ["sync:read"], `d${days}`, { expiresInDays: days });
      expect(Date.parse(created.expiresAt) - Date.parse(created.createdAt), String(days)).toBe(days * DAY_MS);
      const [row] = await db().select({ expiresAt: apiKeys.expiresAt }).from(apiKeys).where(eq(apiKeys.id, created.id));
      expect(Date.parse(row?.expiresAt as string)).toBe(Date.parse(created.expiresAt));
    }
    for (const expiresInDays of [0, -1, 366, 1.5, "30", null]) {
      const res = await authApi(KEYS, { method: "POST", token: tenant.token, json: { name: "x", scopes: ["sync:read"], expiresInDays } });
      expect(res.status, String(expiresInDays)).toBe(400);
      expect((await problem(res)).errors?.[0]?.path).toBe("expiresInDays");
    }
  });

  it("refuses bad bodies and mass assignment with 400", async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    const bodies = [
      { name: "x", scopes: [] },
      { name: "x", scopes: ["admin:all"] },
      { name: "x", scopes: ["sync:read", "sync:read"] },
      { name: "", scopes: ["sync:read"] },
      { name: "x", scopes: ["sync:read"], orgId: other.orgId },
      { name: "x", scopes: ["sync:read"], role: "owner" },
      { name: "x", scopes: ["sync:read"], id: crypto.randomUUID() },
      { name: "x", scopes: ["sync:read"], expiresAt: "2099-01-01T00:00:00Z" },
      { name: "x", scopes: ["sync:read"], createdBy: other.userId },
    ];
    for (const json of bodies) {
      const res = await authApi(KEYS, { method: "POST", token: tenant.token, json });
      expect(res.status, JSON.stringify(json)).toBe(400);
      await problem(res);
    }
    expect(await db().select().from(apiKeys).where(eq(apiKeys.orgId, other.orgId))).toEqual([]);
  });

  it("is for owners and admins only; an API key cannot mint keys", async () => {
    const tenant = await createTenant();
    const json = { name: "x", scopes: ["dashboard:read"] };
    expect((await authApi(KEYS, { method: "POST", json })).status).toBe(401);
    for (const role of ["analyst", "manager", "agent"] as const) {
      const token = await addMember(tenant.orgId, role);
      expect((await authApi(KEYS, { method: "POST", token, json })).status, role).toBe(403);
    }
    const { key } = await createKey(tenant, ["dashboard:read", "sync:read", "sync:write"]);
    expect((await authApi(KEYS, { method: "POST", token: key, json })).status).toBe(403);
    expect((await authApi(KEYS, { token: key })).status).toBe(403);
    expect((await authApi("/api/v1/auth/me", { token: key })).status).toBe(403);
  });
});

describe("GET /api/v1/auth/api-keys", () => {
  it("lists the org's keys, newest first, without the key or its hash", async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    const a = await createKey(tenant, ["sync:read"], "first");
    const b = await createKey(tenant, ["dashboard:read"], "second");
    await createKey(other, ["sync:read"], "foreign");
    const res = await authApi(KEYS, { token: tenant.token });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toContain(a.key);
    expect(text).not.toMatch(/keyHash|key_hash|"key"/);
    const { items } = JSON.parse(text) as { items: Record<string, unknown>[] };
    expect(items.map((k) => k.id)).toEqual([b.id, a.id]);
    expect(items[1]).toEqual({
      id: a.id,
      name: "first",
      prefix: a.prefix,
      scopes: ["sync:read"],
      createdAt: a.createdAt,
      expiresAt: a.expiresAt,
      lastUsedAt: null,
      revokedAt: null,
    });
  });
});

describe("API key authentication", () => {
  it("authenticates as `service` with its scopes, and records the last use", async () => {
    const tenant = await createTenant();
    const dashboardKey = await createKey(tenant, ["dashboard:read"]);
    const syncKey = await createKey(tenant, ["sync:read"]);

    const summary = await apiWithEnv("/api/v1/analytics/summary?period=30d", { token: dashboardKey.key });
    expect(summary.status).toBe(200);
    expect((await authApi("/api/v1/sync/status", { token: syncKey.key })).status).toBe(200);

    const wrongScope = await authApi("/api/v1/analytics/summary?period=30d", { token: syncKey.key });
    expect(wrongScope.status).toBe(403);
    expect((await problem(wrongScope)).detail).toContain("dashboard:read");
    expect((await authApi("/api/v1/sync/status", { token: dashboardKey.key })).status).toBe(403);
    // sync:read does not start a sync; sync:write does (the tenant has no WB connection: 409 past access).
    expect((await authApi("/api/v1/sync/wildberries", { method: "POST", token: syncKey.key })).status).toBe(403);
    const writeKey = await createKey(tenant, ["sync:write"]);
    expect((await authApi("/api/v1/sync/wildberries", { method: "POST", token: writeKey.key })).status).toBe(409);

    const [row] = await db().select({ lastUsedAt: apiKeys.lastUsedAt }).from(apiKeys).where(eq(apiKeys.id, dashboardKey.id));
    expect(row?.lastUsedAt).not.toBeNull();
    const listed = (await (await authApi(KEYS, { token: tenant.token })).json()) as { items: { id: string; lastUsedAt: string | null }[] };
    const seen = listed.items.find((k) => k.id === dashboardKey.id)?.lastUsedAt;
    expect(Date.now() - Date.parse(seen as string)).toBeLessThan(60_000);
  });

  it("reads only its own org", async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    const key = await createKey(tenant, ["sync:read"]);
    const status = (await (await authApi("/api/v1/sync/status", { token: key.key })).json()) as { connected: boolean };
    expect(status.connected).toBe(false);
    const foreign = await createKey(other, ["sync:read"]);
    const del = await authApi(`${KEYS}/${foreign.id}`, { method: "DELETE", token: tenant.token });
    expect(del.status).toBe(404);
    expect((await authApi("/api/v1/sync/status", { token: foreign.key })).status).toBe(200);
  });

  it("answers 401 for an unknown or malformed key", async () => {
    const forged = `se_live_${"A".repeat(43)}`;
    for (const token of [forged, "se_live_short", `${forged}A`]) {
      const res = await authApi("/api/v1/sync/status", { token });
      expect(res.status, token).toBe(401);
      expect(res.headers.get("WWW-Authenticate")).toContain('error="invalid_token"');
    }
  });
});

describe("DELETE /api/v1/auth/api-keys/{id}", () => {
  it("revokes at once (401 after, though the lookup was cached), keeps the first revokedAt, and is idempotent", async () => {
    const tenant = await createTenant();
    const key = await createKey(tenant, ["sync:read"]);
    // apiWithEnv waits for the request's background work: the valid lookup is now cached.
    expect((await apiWithEnv("/api/v1/sync/status", { token: key.key })).status).toBe(200);
    const redis = createRedis(config());
    const cacheKey = apiKeyCacheKey(await sha256Hex(key.key));
    expect(readCachedApiKey(await redis.get<string>(cacheKey))).toMatchObject({ keyId: key.id, orgId: tenant.orgId });
    const res = await authApi(`${KEYS}/${key.id}`, { method: "DELETE", token: tenant.token });
    expect(res.status).toBe(204);
    expect(await redis.get(cacheKey)).toBeNull();
    const revoked = await authApi("/api/v1/sync/status", { token: key.key });
    expect(revoked.status).toBe(401);
    await problem(revoked);

    const listed = (await (await authApi(KEYS, { token: tenant.token })).json()) as { items: { id: string; revokedAt: string | null }[] };
    const revokedAt = listed.items.find((k) => k.id === key.id)?.revokedAt;
    expect(revokedAt).toEqual(expect.any(String));
    expect((await authApi(`${KEYS}/${key.id}`, { method: "DELETE", token: tenant.token })).status).toBe(204);
    const again = (await (await authApi(KEYS, { token: tenant.token })).json()) as { items: { id: string; revokedAt: string | null }[] };
    expect(again.items.find((k) => k.id === key.id)?.revokedAt).toBe(revokedAt);
  });

  it("answers 404 for another org's or no key, 400 for a non-UUID, 403 for an analyst", async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    const foreign = await createKey(other, ["sync:read"]);
    expect((await authApi(`${KEYS}/${foreign.id}`, { method: "DELETE", token: tenant.token })).status).toBe(404);
    expect((await authApi(`${KEYS}/${crypto.randomUUID()}`, { method: "DELETE", token: tenant.token })).status).toBe(404);
    expect((await authApi(`${KEYS}/not-a-uuid`, { method: "DELETE", token: tenant.token })).status).toBe(400);
    const withBody = await authApi(`${KEYS}/${foreign.id}`, { method: "DELETE", token: other.token, json: { orgId: tenant.orgId } });
    expect(withBody.status).toBe(400);
    expect((await authApi(`${KEYS}/${foreign.id}?orgId=${tenant.orgId}`, { method: "DELETE", token: other.token })).status).toBe(400);
    const analyst = await addMember(other.orgId, "analyst");
    expect((await authApi(`${KEYS}/${foreign.id}`, { method: "DELETE", token: analyst })).status).toBe(403);
    const [row] = await db().select({ revokedAt: apiKeys.revokedAt }).from(apiKeys).where(eq(apiKeys.id, foreign.id));
    expect(row?.revokedAt).toBeNull();
  });
});

describe("API key validity", () => {
  it("an expired key is 401, from Postgres and from the cache", async () => {
    const tenant = await createTenant();
    const key = await createKey(tenant, ["sync:read"], "short-lived", { expiresInDays: 1 });
    await db().update(apiKeys).set({ expiresAt: sql`now() - interval '1 second'` }).where(eq(apiKeys.id, key.id));
    const res = await authApi("/api/v1/sync/status", { token: key.key });
    expect(res.status).toBe(401);
    expect(res.headers.get("WWW-Authenticate")).toContain('error="invalid_token"');
    await problem(res);
    // A lookup cached while the key was valid stops at the key's expiry.
    const cached = JSON.stringify({ keyId: key.id, orgId: tenant.orgId, scopes: ["sync:read"], expiresAt: key.expiresAt });
    expect(readCachedApiKey(cached, Date.parse(key.expiresAt) - 1)).toMatchObject({ keyId: key.id });
    expect(readCachedApiKey(cached, Date.parse(key.expiresAt))).toBeNull();
  });

  it("a key dies with its creator's authority: demoted, removed or deleted creator → 401", async () => {
    const tenant = await createTenant({ role: "admin" });
    const demoted = await createKey(tenant, ["sync:read"], "demoted");
    await db()
      .update(memberships)
      .set({ role: "analyst" })
      .where(and(eq(memberships.userId, tenant.userId), eq(memberships.orgId, tenant.orgId)));
    expect((await authApi("/api/v1/sync/status", { token: demoted.key })).status).toBe(401);

    const other = await createTenant();
    const removed = await createKey(other, ["sync:read"], "removed");
    const kept = await createKey(other, ["sync:read"], "kept");
    // A second owner stays; the creator of `removed` leaves the org.
    const secondOwner = await addMember(other.orgId, "owner");
    await db()
      .delete(memberships)
      .where(and(eq(memberships.userId, other.userId), eq(memberships.orgId, other.orgId)));
    expect((await authApi("/api/v1/sync/status", { token: removed.key })).status).toBe(401);
    expect((await authApi(KEYS, { token: secondOwner })).status).toBe(200);

    await db().delete(users).where(eq(users.id, other.userId));
    const [row] = await db().select({ createdBy: apiKeys.createdBy }).from(apiKeys).where(eq(apiKeys.id, kept.id));
    expect(row?.createdBy).toBeNull();
    expect((await authApi("/api/v1/sync/status", { token: kept.key })).status).toBe(401);
  });

  it(`random keys from one IP: 429 after AUTH_FAILURES_PER_MINUTE failures, without a Neon request`, async () => {
    const limit = config().AUTH_FAILURES_PER_MINUTE;
    const ip = freshIp();
    const tenant = await createTenant();
    const valid = await createKey(tenant, ["sync:read"]);
    await awaitRoomInMinute();
    for (let i = 0; i < limit; i++) {
      expect((await apiWithEnv("/api/v1/auth/me", { token: randomApiKey(), ip })).status, `guess ${i}`).toBe(401);
    }
    const neonRequests = await neonRequestsDuring(async (probe) => {
      for (let i = 0; i < 10; i++) {
        const res = await apiWithEnv("/api/v1/auth/me", { token: randomApiKey(), ip }, probe);
        expect(res.status).toBe(429);
        expect(Number(res.headers.get("Retry-After"))).toBeGreaterThan(0);
        expect((await problem(res)).detail).toMatch(/failed authentications/);
      }
      // Even a valid key from that address waits: the address is refused before any lookup.
      expect((await apiWithEnv("/api/v1/sync/status", { token: valid.key, ip }, probe)).status).toBe(429);
    });
    expect(neonRequests).toBe(0);
    // Another address is not affected.
    expect((await apiWithEnv("/api/v1/sync/status", { token: valid.key })).status).toBe(200);
  });
});

describe("managing keys re-reads the caller's membership", () => {
  it("a token whose user or org was deleted gets 401 on every write, not 500", async () => {
    const goneUser = await createTenant();
    const key = await createKey(goneUser, ["sync:read"]);
    await db().delete(users).where(eq(users.id, goneUser.userId));
    const json = { name: "x", scopes: ["sync:read"] };
    for (const res of [
      await authApi(KEYS, { method: "POST", token: goneUser.token, json }),
      await authApi(`${KEYS}/${key.id}`, { method: "DELETE", token: goneUser.token }),
    ]) {
      expect(res.status).toBe(401);
      expect(res.headers.get("WWW-Authenticate")).toContain('error="invalid_token"');
      expect((await problem(res)).status).toBe(401);
    }

    const goneOrg = await createTenant();
    await db().delete(orgs).where(eq(orgs.id, goneOrg.orgId));
    const res = await authApi(KEYS, { method: "POST", token: goneOrg.token, json });
    expect(res.status).toBe(401);
    await problem(res);
    expect(await db().select().from(apiKeys).where(eq(apiKeys.orgId, goneOrg.orgId))).toEqual([]);
  });

  it("a demoted admin with a still-valid admin token cannot create or revoke keys (403)", async () => {
    const tenant = await createTenant({ role: "admin" });
    const key = await createKey(tenant, ["sync:read"]);
    await db()
      .update(memberships)
      .set({ role: "analyst" })
      .where(and(eq(memberships.userId, tenant.userId), eq(memberships.orgId, tenant.orgId)));
    const created = await authApi(KEYS, { method: "POST", token: tenant.token, json: { name: "x", scopes: ["sync:read"] } });
    expect(created.status).toBe(403);
    expect((await problem(created)).detail).toMatch(/owner, admin/);
    expect((await authApi(`${KEYS}/${key.id}`, { method: "DELETE", token: tenant.token })).status).toBe(403);
    const rows = await db().select({ revokedAt: apiKeys.revokedAt }).from(apiKeys).where(eq(apiKeys.orgId, tenant.orgId));
    expect(rows).toEqual([{ revokedAt: null }]);
  });
});
