/**
 * Redis down or slow, on the routes `hardening.test.ts` does not cover (it covers login, a sync
 * start and a cached read): in production the token routes and the API-key writes fail closed
 * (503 + `Retry-After`) and change nothing, reads still answer; a Redis that is slow but answers
 * within the limiter's timeout is waited for, not treated as down. `/ready`'s 503 is in
 * `platform.test.ts`, the sync's own Redis failure in `sync-failures.test.ts`.
 */
import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { apiKeys, users } from "../../src/core/db/schema";
import { adminToken, apiWithEnv, authApi, freshEmail, goodPassword, loginTokens, refresh } from "./auth-support";
import { createTenant, db, problem } from "./helpers";
import { setRedisLatency } from "./sync-support";

const production = { UPSTASH_REDIS_REST_URL: "http://127.0.0.1:9", ENVIRONMENT: "production" };

/** Asserts a fail-closed answer: 503 problem with `Retry-After`. */
async function expectUnavailable(res: Response, what: string) {
  expect(res.status, what).toBe(503);
  expect(Number(res.headers.get("Retry-After")), what).toBeGreaterThan(0);
  expect((await problem(res)).status, what).toBe(503);
}

describe("Redis down in production", () => {
  it("refresh and logout fail closed and leave the session as it was", async () => {
    const tenant = await createTenant({ role: "admin" });
    const tokens = await loginTokens(tenant.email, tenant.password);
    await expectUnavailable(
      await apiWithEnv("/api/v1/auth/refresh", { method: "POST", json: { refreshToken: tokens.refreshToken } }, production),
      "refresh",
    );
    await expectUnavailable(
      await apiWithEnv("/api/v1/auth/logout", { method: "POST", json: { refreshToken: tokens.refreshToken } }, production),
      "logout",
    );
    // Neither spent nor revoked the token: once Redis is back it rotates as usual.
    expect((await refresh(tokens.refreshToken)).status).toBe(200);
  });

  it("register fails closed and creates no user", async () => {
    const email = freshEmail("outage");
    const res = await apiWithEnv(
      "/api/v1/auth/register",
      { method: "POST", token: adminToken(), json: { email, password: goodPassword, orgName: "Outage Co" } },
      production,
    );
    await expectUnavailable(res, "register");
    expect(await db().select().from(users).where(eq(users.email, email))).toEqual([]);
  });

  it("API-key writes fail closed and change nothing; the list (a read) still answers", async () => {
    const tenant = await createTenant({ role: "admin" });
    const created = await authApi("/api/v1/auth/api-keys", {
      method: "POST",
      token: tenant.token,
      json: { name: "kept", scopes: ["sync:read"] },
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };

    await expectUnavailable(
      await apiWithEnv(
        "/api/v1/auth/api-keys",
        { method: "POST", token: tenant.token, json: { name: "new", scopes: ["sync:read"] } },
        production,
      ),
      "create",
    );
    await expectUnavailable(
      await apiWithEnv(`/api/v1/auth/api-keys/${id}`, { method: "DELETE", token: tenant.token }, production),
      "revoke",
    );
    const keys = await db().select().from(apiKeys).where(eq(apiKeys.orgId, tenant.orgId));
    expect(keys.map((k) => [k.name, k.revokedAt])).toEqual([["kept", null]]);

    const list = await apiWithEnv("/api/v1/auth/api-keys", { token: tenant.token }, production);
    expect(list.status).toBe(200);
    expect(((await list.json()) as { items: Array<{ id: string }> }).items.map((k) => k.id)).toEqual([id]);
  });
});

describe("a slow Redis", () => {
  afterEach(async () => {
    await setRedisLatency(0);
  });

  it("within the limiter's timeout: the limit is counted (RateLimit fields) and production writes go through", async () => {
    const tenant = await createTenant({ role: "admin" });
    // Each Redis request answers 300 ms late: slow, but within the limiter's 1 s timeout.
    await setRedisLatency(300);
    const env = { ENVIRONMENT: "production" };
    const write = await apiWithEnv(
      "/api/v1/auth/api-keys",
      { method: "POST", token: tenant.token, json: { name: "slow", scopes: ["sync:read"] } },
      env,
    );
    expect(write.status).toBe(201);
    expect(write.headers.get("RateLimit")).toMatch(/^"auth-write";r=\d+;t=\d+$/);
    const read = await apiWithEnv("/api/v1/sync/status", { token: tenant.token }, env);
    expect(read.status).toBe(200);
    expect(read.headers.get("RateLimit")).toMatch(/^"jobs-read";r=\d+;t=\d+$/);
    const logout = await apiWithEnv("/api/v1/auth/logout", { method: "POST", json: { refreshToken: "rt_unknown" } }, env);
    expect(logout.status).toBe(204);
    expect(logout.headers.get("RateLimit")).toMatch(/^"auth-tokens";r=\d+;t=\d+$/);
  });
});
