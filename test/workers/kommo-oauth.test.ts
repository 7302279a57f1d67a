/**
 * Connecting Kommo through OAuth and using the Kommo API, against the Kommo double of the local
 * stack (`KOMMO_API_ORIGIN`, its `/__control/*` and `/__stats` over HTTP), the real database, Redis
 * and QStash: the consent redirect and its state (single use, 10 minutes), the callback's checks
 * before any outbound request, tokens stored encrypted, refresh on demand, on a 401 and by the
 * hourly job, and the 7 requests/s per account kept while re-reading many leads.
 */
import { and, eq, like } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { buildServices } from "../../src/core/context";
import { decryptSecret } from "../../src/core/crypto";
import { crmIntegrations, jobs } from "../../src/core/db/schema";
import { createRedis } from "../../src/core/redis";
import { isoTime } from "../../src/core/time";
import { kommoEntityUpdates, oauthStateKey } from "../../src/crm/kommo";
import type { KommoWebhookEvent } from "../../src/integrations/kommo/webhook";
import { hourSlot, tokenRefreshKey } from "../../src/jobs/kommo-token-refresh";
import { addMember, api, config, createTenant, db, problem, type Tenant, testEnv, waitForJob, workerFetch } from "./helpers";
import { runCron } from "./sync-support";

const kommoOrigin = () => testEnv.KOMMO_API_ORIGIN as string;
const DAY_MS = 86_400_000;

/** POSTs `body` to a control endpoint of the Kommo double. */
async function control<T>(path: string, body: unknown): Promise<T> {
  const res = await fetch(`${kommoOrigin()}${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`Kommo double refused ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** The double's request counters (every API and token request, 429s included). */
async function kommoStats(): Promise<{ requests: number; byPath: Record<string, number> }> {
  return (await fetch(`${kommoOrigin()}/__stats`)).json() as Promise<{ requests: number; byPath: Record<string, number> }>;
}

const TOKEN_PATH = "/oauth2/access_token";
const LEAD_PATH = "/api/v4/leads/{id}";

/** A new account on the double, with a unique subdomain. */
async function newAccount(): Promise<string> {
  const subdomain = `acme-${crypto.randomUUID().slice(0, 8)}`;
  await control("/__control/accounts", { subdomain });
  return subdomain;
}

/** Creates a Kommo integration of `tenant` through the API. */
async function createKommoIntegration(tenant: Tenant): Promise<string> {
  const res = await api("/api/v1/integrations/crm", { method: "POST", token: tenant.token, json: { provider: "kommo", name: "Kommo" } });
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

/** `GET …/oauth/start` → the consent URL's state. */
async function startOAuth(tenant: Tenant, integrationId: string): Promise<string> {
  const res = await api(`/api/v1/integrations/kommo/oauth/start?integrationId=${integrationId}`, {
    token: tenant.token,
    redirect: "manual",
  });
  expect(res.status, await res.clone().text()).toBe(302);
  const location = new URL(res.headers.get("Location") ?? "");
  expect(`${location.origin}${location.pathname}`).toBe(`${new URL(kommoOrigin()).origin}/oauth`);
  expect(location.searchParams.get("client_id")).toBe(testEnv.KOMMO_CLIENT_ID);
  expect(location.searchParams.get("mode")).toBe("post_message");
  return location.searchParams.get("state") ?? "";
}

/** What Kommo's consent page redirects the browser to: our callback path with a fresh code. */
async function consent(subdomain: string, state: string): Promise<{ path: string; code: string }> {
  const issued = await control<{ code: string; redirect_url: string }>("/__control/authorization-codes", {
    client_id: testEnv.KOMMO_CLIENT_ID,
    subdomain,
    state,
  });
  const url = new URL(issued.redirect_url);
  return { path: `${url.pathname}${url.search}`, code: issued.code };
}

/** The callback path with the given query. */
const callbackPath = (query: Record<string, string>) => `/api/v1/integrations/kommo/oauth/callback?${new URLSearchParams(query)}`;

/** A tenant with a connected Kommo integration on a fresh account. */
async function connected(): Promise<{ tenant: Tenant; integrationId: string; subdomain: string }> {
  const tenant = await createTenant({ role: "admin" });
  const integrationId = await createKommoIntegration(tenant);
  const subdomain = await newAccount();
  const { path } = await consent(subdomain, await startOAuth(tenant, integrationId));
  const res = await api(path);
  expect(res.status, await res.clone().text()).toBe(200);
  return { tenant, integrationId, subdomain };
}

const row = async (id: string) => (await db().select().from(crmIntegrations).where(eq(crmIntegrations.id, id)))[0];
const plaintext = (ciphertext: string | null | undefined) => decryptSecret(ciphertext ?? "", config().ENCRYPTION_KEY);
const services = () => buildServices(testEnv, { test: "kommo-oauth" });
const leadEvent = (id: number, subdomain: string, extra: Partial<KommoWebhookEvent> = {}): KommoWebhookEvent =>
  ({ entity: "lead", action: "update", id, accountSubdomain: subdomain, ...extra }) as KommoWebhookEvent;

beforeAll(async () => {
  await control("/__control/rate-limit", { perSecond: 7 });
});

describe("Kommo OAuth", () => {
  it("redirects to Kommo's consent page with a state kept 10 minutes, and the callback stores the tokens encrypted", async () => {
    const tenant = await createTenant({ role: "owner" });
    const integrationId = await createKommoIntegration(tenant);
    const state = await startOAuth(tenant, integrationId);
    expect(state).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const redis = createRedis(config());
    const ttl = await redis.ttl(oauthStateKey(state));
    expect(ttl).toBeGreaterThan(590);
    expect(ttl).toBeLessThanOrEqual(600);
    expect(JSON.parse((await redis.get<string>(oauthStateKey(state))) ?? "{}")).toEqual({
      userId: tenant.userId,
      orgId: tenant.orgId,
      integrationId,
    });

    const subdomain = await newAccount();
    const { path } = await consent(subdomain, state);
    const before = await kommoStats();
    const res = await api(path);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { integrationId: string; accountDomain: string; expiresAt: string };
    expect(body).toMatchObject({ integrationId, accountDomain: `${subdomain}.kommo.com` });
    expect(Math.abs(Date.parse(body.expiresAt) - (Date.now() + DAY_MS))).toBeLessThan(60_000);
    expect((await kommoStats()).byPath[TOKEN_PATH]).toBe((before.byPath[TOKEN_PATH] ?? 0) + 1);

    const stored = await row(integrationId);
    expect(stored?.accountDomain).toBe(`${subdomain}.kommo.com`);
    const access = await plaintext(stored?.accessTokenCiphertext);
    const refresh = await plaintext(stored?.refreshTokenCiphertext);
    expect(access.split(".")).toHaveLength(3);
    expect(refresh).toMatch(/^def50200/);
    expect(stored?.accessTokenCiphertext).not.toContain(access.slice(0, 40));
    expect(stored?.refreshTokenCiphertext).not.toContain(refresh.slice(0, 40));
    expect(Date.parse(isoTime(stored?.accessTokenExpiresAt ?? null) ?? "")).toBe(Date.parse(body.expiresAt));
    // The stored access token works on the account.
    const account = await fetch(`${kommoOrigin()}/api/v4/account`, { headers: { Authorization: `Bearer ${access}` } });
    expect(((await account.json()) as { subdomain: string }).subdomain).toBe(subdomain);
    expect(await redis.get(oauthStateKey(state))).toBeNull();

    const list = (await (await api("/api/v1/integrations/crm", { token: tenant.token })).json()) as {
      integrations: Array<{ id: string; kommoConnected: boolean; accountDomain: string | null }>;
    };
    expect(list.integrations).toEqual([
      expect.objectContaining({ id: integrationId, kommoConnected: true, accountDomain: `${subdomain}.kommo.com` }),
    ]);
    expect(JSON.stringify(list)).not.toContain(access.slice(0, 40));
  });

  it("answers a dashboard's fetch (Accept: application/json) with the consent URL, whose state the callback accepts", async () => {
    const tenant = await createTenant();
    const integrationId = await createKommoIntegration(tenant);
    const res = await api(`/api/v1/integrations/kommo/oauth/start?integrationId=${integrationId}`, {
      token: tenant.token,
      headers: { Accept: "application/json" },
    });
    expect(res.status).toBe(200);
    const { authorizeUrl } = (await res.json()) as { authorizeUrl: string };
    const state = new URL(authorizeUrl).searchParams.get("state") ?? "";
    expect(state.length).toBeGreaterThanOrEqual(32);
    const subdomain = await newAccount();
    const { path } = await consent(subdomain, state);
    expect((await api(path)).status).toBe(200);
    expect(await plaintext((await row(integrationId))?.accessTokenCiphertext)).toMatch(/\S{20,}/);
  });

  it("accepts a state once: a reused, unknown or expired state is 400 before any request to Kommo", async () => {
    const tenant = await createTenant();
    const integrationId = await createKommoIntegration(tenant);
    const subdomain = await newAccount();
    const { path } = await consent(subdomain, await startOAuth(tenant, integrationId));
    expect((await api(path)).status).toBe(200);
    const before = await kommoStats();

    const reused = await api(path);
    expect(reused.status).toBe(400);
    expect((await problem(reused)).detail).toBe("Unknown, expired or already used OAuth state; start the connection again.");
    const unknown = await api(callbackPath({ code: "x", state: "never-issued", referer: `${subdomain}.kommo.com` }));
    expect(unknown.status).toBe(400);
    expect((await api(callbackPath({ code: "x", referer: `${subdomain}.kommo.com` }))).status).toBe(400);

    // Expiry: the state is kept for 600 s; once Redis has expired it, it is unknown.
    const state = await startOAuth(tenant, integrationId);
    const redis = createRedis(config());
    await redis.pexpire(oauthStateKey(state), 1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const expired = await api((await consent(subdomain, state)).path);
    expect(expired.status).toBe(400);
    expect((await problem(expired)).detail).toMatch(/expired/);
    expect((await kommoStats()).requests).toBe(before.requests);
  });

  it("refuses a referer outside Kommo's account domains with 400 and sends nothing anywhere (no SSRF)", async () => {
    const tenant = await createTenant();
    const integrationId = await createKommoIntegration(tenant);
    const before = await kommoStats();
    for (const referer of [
      "evil.example.com",
      "acme.kommo.com.evil.io",
      "127.0.0.1:8080",
      "www.kommo.com",
      "a.b.kommo.com",
      "http://acme.kommo.com",
      "acme.kommo.com/@evil.io",
      new URL(kommoOrigin()).host,
    ]) {
      const state = await startOAuth(tenant, integrationId);
      const res = await api(callbackPath({ code: "code", state, referer }));
      expect(res.status, referer).toBe(400);
      expect((await problem(res)).detail, referer).toMatch(/^The referer is not a Kommo account domain: /);
      // The state was spent: a retry with a good referer does not work either.
      expect((await api(callbackPath({ code: "code", state, referer: "acme.kommo.com" }))).status).toBe(400);
    }
    expect((await kommoStats()).requests).toBe(before.requests);
    expect((await row(integrationId))?.accessTokenCiphertext).toBeNull();
  });

  it("answers 502 with Kommo's hint when Kommo refuses the code, and stores nothing", async () => {
    const tenant = await createTenant();
    const integrationId = await createKommoIntegration(tenant);
    const subdomain = await newAccount();
    const state = await startOAuth(tenant, integrationId);
    const res = await api(
      callbackPath({ code: "def50200bogus", state, referer: `${subdomain}.kommo.com`, client_id: testEnv.KOMMO_CLIENT_ID ?? "" }),
    );
    expect(res.status).toBe(502);
    expect((await problem(res)).detail).toBe("Kommo refused the authorization_code grant (400): Cannot decrypt the authorization code");
    expect((await row(integrationId))?.refreshTokenCiphertext).toBeNull();
  });

  it("starts only for an admin's own, enabled Kommo integration, and answers 503 when OAuth is not configured", async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    const start = (token: string, id: string) =>
      api(`/api/v1/integrations/kommo/oauth/start?integrationId=${id}`, { token, redirect: "manual" });
    const theirs = await createKommoIntegration(other);
    expect((await start(tenant.token, theirs)).status).toBe(404);
    expect((await start(tenant.token, crypto.randomUUID())).status).toBe(404);
    expect((await start(tenant.token, "nope")).status).toBe(400);
    expect((await api("/api/v1/integrations/kommo/oauth/start", { token: tenant.token })).status).toBe(400);
    const standard = await api("/api/v1/integrations/crm", {
      method: "POST",
      token: tenant.token,
      json: { provider: "standard-webhooks", name: "sw" },
    });
    const standardId = ((await standard.json()) as { id: string }).id;
    expect((await start(tenant.token, standardId)).status).toBe(409);
    const mine = await createKommoIntegration(tenant);
    expect((await start(await addMember(tenant.orgId, "analyst"), mine)).status).toBe(403);
    expect((await api(`/api/v1/integrations/crm/${mine}`, { method: "DELETE", token: tenant.token })).status).toBe(204);
    expect((await start(tenant.token, mine)).status).toBe(409);

    const unconfigured = await workerFetch(
      new Request(`https://edge.test/api/v1/integrations/kommo/oauth/start?integrationId=${theirs}`, {
        headers: { Authorization: `Bearer ${other.token}`, "CF-Connecting-IP": "2001:db8::7:7:7" },
        redirect: "manual",
      }),
      { KOMMO_CLIENT_ID: "" },
    );
    expect(unconfigured.status).toBe(503);
    expect((await problem(unconfigured)).detail).toMatch(/^Kommo OAuth is not configured/);
    const callback = await workerFetch(
      new Request(`https://edge.test${callbackPath({ state: "s", code: "c", referer: "acme.kommo.com" })}`),
      {
        KOMMO_CLIENT_SECRET: "",
      },
    );
    expect(callback.status).toBe(503);
  });
});

describe("Kommo API", () => {
  it("re-reads every lead of a webhook, once per id, keeping to 7 requests/s per account (no 429 from Kommo)", async () => {
    const { integrationId, subdomain } = await connected();
    await control(`/__control/accounts/${subdomain}/contacts`, { contacts: [{ id: 991, name: "Ivan" }] });
    const seeded = await control<{ leads: Array<{ id: number }> }>(`/__control/accounts/${subdomain}/leads`, {
      leads: Array.from({ length: 20 }, (_, i) => ({
        name: `Lead ${i}`,
        price: 1000 + i,
        updated_at: 1_790_000_000 + i,
        ...(i === 0 ? { contacts: [{ id: 991, is_main: true }] } : {}),
      })),
    });
    const ids = seeded.leads.map((l) => l.id);
    const missing = Math.max(...ids) + 1000;
    const events = [
      ...ids.map((id) => leadEvent(id, subdomain)),
      leadEvent(ids[0] ?? 0, subdomain, { action: "status" }),
      leadEvent(missing, subdomain, { action: "delete", updatedAt: 1_790_000_500 }),
    ];
    const before = await kommoStats();
    const started = Date.now();
    const updates = await kommoEntityUpdates(services(), integrationId, events);
    const elapsed = Date.now() - started;
    const after = await kommoStats();

    // 21 distinct leads, 21 requests: none was refused (a 429 would be retried and counted again).
    expect(after.byPath[LEAD_PATH]).toBe((before.byPath[LEAD_PATH] ?? 0) + 21);
    expect(after.requests).toBe(before.requests + 21);
    // At most 7 in any second: the 8th request comes more than 1 s after the 1st, the 15th more than 2 s.
    expect(elapsed).toBeGreaterThanOrEqual(2000);
    expect(updates).toHaveLength(21);
    expect(updates[0]).toMatchObject({
      entity: "lead",
      id: ids[0],
      name: "Lead 0",
      price: 1000,
      contactId: 991,
      deleted: false,
      updatedAt: new Date(1_790_000_000_000).toISOString(),
    });
    expect(updates[20]).toEqual(
      expect.objectContaining({ entity: "lead", id: missing, deleted: true, updatedAt: new Date(1_790_000_500_000).toISOString() }),
    );
  });

  it("refreshes the access token on a 401 and retries, storing the new pair; and before use when it expires within 5 minutes", async () => {
    const { integrationId, subdomain } = await connected();
    const [lead] = (
      await control<{ leads: Array<{ id: number }> }>(`/__control/accounts/${subdomain}/leads`, { leads: [{ name: "Deal" }] })
    ).leads;
    const first = await row(integrationId);
    await control("/__control/expire-access-tokens", { access_token: await plaintext(first?.accessTokenCiphertext) });
    const before = await kommoStats();
    const [update] = await kommoEntityUpdates(services(), integrationId, [leadEvent(lead?.id ?? 0, subdomain)]);
    expect(update).toMatchObject({ entity: "lead", id: lead?.id, name: "Deal", deleted: false });
    const after = await kommoStats();
    expect(after.byPath[TOKEN_PATH]).toBe((before.byPath[TOKEN_PATH] ?? 0) + 1);
    expect(after.byPath[LEAD_PATH]).toBe((before.byPath[LEAD_PATH] ?? 0) + 2);
    const second = await row(integrationId);
    expect(await plaintext(second?.accessTokenCiphertext)).not.toBe(await plaintext(first?.accessTokenCiphertext));
    expect(await plaintext(second?.refreshTokenCiphertext)).not.toBe(await plaintext(first?.refreshTokenCiphertext));

    // Expiring within 5 minutes: refreshed first, so the read succeeds at once.
    await db()
      .update(crmIntegrations)
      .set({ accessTokenExpiresAt: new Date(Date.now() + 120_000).toISOString() })
      .where(eq(crmIntegrations.id, integrationId));
    await kommoEntityUpdates(services(), integrationId, [leadEvent(lead?.id ?? 0, subdomain)]);
    const last = await kommoStats();
    expect(last.byPath[TOKEN_PATH]).toBe((after.byPath[TOKEN_PATH] ?? 0) + 1);
    expect(last.byPath[LEAD_PATH]).toBe((after.byPath[LEAD_PATH] ?? 0) + 1);
    const third = await row(integrationId);
    expect(Date.parse(isoTime(third?.accessTokenExpiresAt ?? null) ?? "") - Date.now()).toBeGreaterThan(DAY_MS - 60_000);
  });

  it("says why it cannot read: an integration without tokens, and a refresh token Kommo has revoked", async () => {
    const tenant = await createTenant();
    const unconnected = await createKommoIntegration(tenant);
    await expect(kommoEntityUpdates(services(), unconnected, [leadEvent(1, "acme")])).rejects.toThrow(
      /Kommo integration not connected \(no OAuth tokens\)/,
    );

    const { integrationId, subdomain } = await connected();
    const stored = await row(integrationId);
    // Spend the stored refresh token elsewhere: Kommo revokes it.
    await fetch(`${kommoOrigin()}${TOKEN_PATH}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        client_id: testEnv.KOMMO_CLIENT_ID,
        client_secret: testEnv.KOMMO_CLIENT_SECRET,
        grant_type: "refresh_token",
        refresh_token: await plaintext(stored?.refreshTokenCiphertext),
        redirect_uri: testEnv.KOMMO_REDIRECT_URI,
      }),
    });
    await db()
      .update(crmIntegrations)
      .set({ accessTokenExpiresAt: new Date(Date.now() - 1000).toISOString() })
      .where(eq(crmIntegrations.id, integrationId));
    await expect(kommoEntityUpdates(services(), integrationId, [leadEvent(1, subdomain)])).rejects.toThrow(
      "Kommo refused the refresh_token grant (401): Token has been revoked; reconnect the Kommo integration (OAuth)",
    );
  });
});

describe("kommo-token-refresh", () => {
  it("the hourly cron queues one refresh per integration expiring within 6 hours, and the job refreshes its tokens", async () => {
    const due = await connected();
    const fresh = await connected();
    const disabled = await connected();
    const soon = new Date(Date.now() + 3_600_000).toISOString();
    for (const id of [due.integrationId, disabled.integrationId]) {
      await db().update(crmIntegrations).set({ accessTokenExpiresAt: soon }).where(eq(crmIntegrations.id, id));
    }
    await db().update(crmIntegrations).set({ disabledAt: new Date().toISOString() }).where(eq(crmIntegrations.id, disabled.integrationId));
    const before = await row(due.integrationId);

    const scheduledTime = Date.now();
    await runCron("0 * * * *", scheduledTime);
    await runCron("0 * * * *", scheduledTime + 60_000);
    const slot = hourSlot(scheduledTime);
    const queued = await db()
      .select()
      .from(jobs)
      .where(and(eq(jobs.kind, "kommo-token-refresh"), like(jobs.dedupId, `%:${slot}`)));
    const keys = queued.map((j) => j.dedupId);
    expect(keys.filter((k) => k === tokenRefreshKey(due.integrationId, slot))).toHaveLength(1);
    expect(keys).not.toContain(tokenRefreshKey(fresh.integrationId, slot));
    expect(keys).not.toContain(tokenRefreshKey(disabled.integrationId, slot));
    const job = queued.find((j) => j.dedupId === tokenRefreshKey(due.integrationId, slot));
    expect(job).toMatchObject({ orgId: due.tenant.orgId, payload: { integrationId: due.integrationId } });

    expect((await waitForJob(job?.id ?? "", 60_000)).status).toBe("succeeded");
    const after = await row(due.integrationId);
    expect(await plaintext(after?.refreshTokenCiphertext)).not.toBe(await plaintext(before?.refreshTokenCiphertext));
    expect(Date.parse(isoTime(after?.accessTokenExpiresAt ?? null) ?? "") - Date.now()).toBeGreaterThan(DAY_MS - 120_000);
    // The new pair works.
    const account = await fetch(`${kommoOrigin()}/api/v4/account`, {
      headers: { Authorization: `Bearer ${await plaintext(after?.accessTokenCiphertext)}` },
    });
    expect(account.status).toBe(200);
  });
});
