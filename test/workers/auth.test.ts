/**
 * The `auth` group end to end: registration, login (lockout, per-IP limit, re-hash), refresh
 * rotation with reuse detection, logout and `/me`. API keys and token verification have
 * their own files (auth-api-keys, auth-tokens).
 */
import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { PBKDF2_ITERATIONS } from "../../src/core/auth/password";
import { memberships, refreshTokens, users } from "../../src/core/db/schema";
import {
  adminToken,
  apiWithEnv,
  authApi,
  freshEmail,
  freshIp,
  goodPassword,
  login,
  loginTokens,
  logout,
  refresh,
  register,
  sendUntilLimited,
  type Tokens,
} from "./auth-support";
import { awaitRoomInMinute, config, createTenant, db, problem } from "./helpers";

const REGISTER = "/api/v1/auth/register";

describe("POST /api/v1/auth/register", () => {
  it("creates an org and its owner, who can log in and see the org", async () => {
    const email = freshEmail("owner");
    const res = await register({ email, password: goodPassword, orgName: "Acme Sellers" });
    expect(res.status).toBe(201);
    const created = (await res.json()) as { userId: string; orgId: string; role: string };
    expect(created).toEqual({ userId: expect.any(String), orgId: expect.any(String), role: "owner" });

    const tokens = await loginTokens(email, goodPassword);
    expect(tokens).toMatchObject({ orgId: created.orgId, role: "owner" });
    const me = await authApi("/api/v1/auth/me", { token: tokens.accessToken });
    expect(await me.json()).toEqual({
      userId: created.userId,
      email,
      orgId: created.orgId,
      role: "owner",
      memberships: [{ orgId: created.orgId, orgName: "Acme Sellers", role: "owner" }],
    });
  });

  it("stores the password as a current-cost PBKDF2 hash, never in clear", async () => {
    const email = freshEmail();
    const { userId } = (await (await register({ email, password: goodPassword, orgName: "Hash Co" })).json()) as { userId: string };
    const [row] = await db().select({ passwordHash: users.passwordHash }).from(users).where(eq(users.id, userId));
    expect(row?.passwordHash).toMatch(new RegExp(`^pbkdf2-sha256\\$${PBKDF2_ITERATIONS}\\$[A-Za-z0-9_-]{22}\\$[A-Za-z0-9_-]{43}$`));
    expect(row?.passwordHash).not.toContain(goodPassword);
  });

  it("adds a member with a role to an existing org", async () => {
    const owner = await createTenant();
    const email = freshEmail("analyst");
    const res = await register({ email, password: goodPassword, orgId: owner.orgId, role: "analyst" });
    expect(res.status).toBe(201);
    const created = (await res.json()) as { userId: string; orgId: string; role: string };
    expect(created).toMatchObject({ orgId: owner.orgId, role: "analyst" });
    expect(await loginTokens(email, goodPassword)).toMatchObject({ orgId: owner.orgId, role: "analyst" });
  });

  it("answers 401 without the token and 403 for a wrong one, compared in full", async () => {
    const body = { email: freshEmail(), password: goodPassword, orgName: "X" };
    const missing = await register(body, { token: undefined });
    expect(missing.status).toBe(401);
    expect(missing.headers.get("WWW-Authenticate")).toContain("Bearer");
    await problem(missing);
    const basic = await register(body, { token: undefined, headers: { Authorization: `Basic ${btoa(`admin:${adminToken()}`)}` } });
    expect(basic.status).toBe(401);

    const token = adminToken();
    const lastCharFlipped = `${token.slice(0, -1)}${token.endsWith("x") ? "y" : "x"}`;
    for (const wrong of [lastCharFlipped, token.slice(0, -1), `${token}x`, "x".repeat(token.length)]) {
      const res = await register(body, { token: wrong });
      expect(res.status, wrong).toBe(403);
      expect((await problem(res)).title).toBe("Forbidden");
    }
    expect(await db().select().from(users).where(eq(users.email, body.email))).toEqual([]);
  });

  it("counts wrong tokens as failed authentications of the IP: 429 after AUTH_FAILURES_PER_MINUTE", async () => {
    const ip = freshIp();
    const limit = config().AUTH_FAILURES_PER_MINUTE;
    const token = adminToken();
    const body = { email: freshEmail(), password: goodPassword, orgName: "Guessed" };
    await awaitRoomInMinute();
    const statuses: number[] = [];
    for (let i = 0; i < 45; i++) {
      const res = await register(body, { token: `${token.slice(0, -4)}${String(i).padStart(4, "0")}`, ip });
      statuses.push(res.status);
      if (res.status === 429) expect(Number(res.headers.get("Retry-After"))).toBeGreaterThan(0);
    }
    expect(statuses.slice(0, limit)).toEqual(Array(limit).fill(403));
    expect(statuses.slice(limit)).toEqual(Array(45 - limit).fill(429));
    // The address is refused before the token is compared: the right token waits too.
    const right = await register(body, { ip });
    expect(right.status).toBe(429);
    expect((await problem(right)).detail).toMatch(/failed authentications/);
    // Another address is not affected.
    expect((await register(body)).status).toBe(201);
  });

  it("answers 404 for an unknown org and writes nothing (one transaction)", async () => {
    const email = freshEmail();
    const res = await register({ email, password: goodPassword, orgId: crypto.randomUUID(), role: "admin" });
    expect(res.status).toBe(404);
    await problem(res);
    expect(await db().select().from(users).where(eq(users.email, email))).toEqual([]);
    expect((await register({ email, password: goodPassword, orgName: "Retry" })).status).toBe(201);
  });

  it("answers 409 for an e-mail already registered, whatever its case", async () => {
    const email = freshEmail();
    expect((await register({ email, password: goodPassword, orgName: "First" })).status).toBe(201);
    const again = await register({ email: `  ${email.toUpperCase()} `, password: goodPassword, orgName: "Second" });
    expect(again.status).toBe(409);
    expect((await problem(again)).detail).toMatch(/already exists/);
    const member = await register({ email, password: goodPassword, orgId: (await createTenant()).orgId, role: "agent" });
    expect(member.status).toBe(409);
  });

  it("enforces the password policy with a clear 400", async () => {
    const email = "merchant.jane@example.test";
    const cases: [string, RegExp][] = [
      ["short-pw-1", /at least 12/],
      ["x".repeat(1025), /at most 1024/],
      ["MERCHANT.JANE@example.test", /not be the e-mail/],
      ["my-Merchant.Jane-2026!", /local part/],
    ];
    for (const [password, message] of cases) {
      const res = await register({ email, password, orgName: "Policy" });
      expect(res.status, password).toBe(400);
      const body = await problem(res);
      expect(body.errors).toEqual([{ path: "password", message: expect.stringMatching(message) }]);
    }
    // 12 code points, 24 UTF-16 units: length counts characters.
    expect((await register({ email: freshEmail(), password: "🔑".repeat(12), orgName: "Emoji" })).status).toBe(201);
    expect((await register({ email: freshEmail(), password: "🔑".repeat(11), orgName: "Emoji" })).status).toBe(400);
  });

  it("refuses mass assignment and mixed shapes with 400", async () => {
    const { orgId } = await createTenant();
    const base = { email: freshEmail(), password: goodPassword };
    const bodies: Record<string, unknown>[] = [
      { ...base, orgName: "A", role: "owner" },
      { ...base, orgName: "A", orgId },
      { ...base, orgName: "A", userId: crypto.randomUUID() },
      { ...base, orgId },
      { ...base, role: "admin" },
      { ...base, orgId, role: "service" },
      { ...base, orgId, role: "superuser" },
      { ...base },
      { ...base, orgName: "A", passwordHash: "pbkdf2-sha256$1$AA$AA" },
    ];
    for (const body of bodies) {
      const res = await register(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect((await problem(res)).errors?.length).toBeGreaterThan(0);
    }
    expect(await db().select().from(users).where(eq(users.email, base.email))).toEqual([]);
  });

  it("rate limits per IP under the auth policy", async () => {
    const ip = freshIp();
    const limit = config().RATE_LIMIT_WRITE_PER_MINUTE;
    const { allowed, limited } = await sendUntilLimited(limit, () =>
      authApi(REGISTER, { method: "POST", token: adminToken(), json: {}, ip }),
    );
    expect(allowed.length).toBeGreaterThanOrEqual(limit);
    expect(allowed.every((r) => r.status === 400)).toBe(true);
    expect(limited?.status).toBe(429);
    expect(Number(limited?.headers.get("Retry-After"))).toBeGreaterThan(0);
  });
});

describe("POST /api/v1/auth/login", () => {
  it("returns a ≤ 15 min access token and an opaque refresh token", async () => {
    const tenant = await createTenant({ role: "manager" });
    const res = await login({ email: tenant.email, password: tenant.password });
    expect(res.status).toBe(200);
    expect(res.headers.get("Cache-Control")).toBe("no-store");
    const tokens = (await res.json()) as Tokens;
    expect(tokens).toMatchObject({ tokenType: "Bearer", orgId: tenant.orgId, role: "manager" });
    expect(tokens.expiresIn).toBeGreaterThan(0);
    expect(tokens.expiresIn).toBeLessThanOrEqual(900);
    expect(tokens.refreshToken).toMatch(/^rt_[A-Za-z0-9_-]{43}$/);
    expect(tokens.refreshExpiresIn).toBe(30 * 24 * 3600);
    const [, payload] = tokens.accessToken.split(".");
    const claims = JSON.parse(atob((payload as string).replaceAll("-", "+").replaceAll("_", "/"))) as { exp: number; iat: number };
    expect(claims.exp - claims.iat).toBeLessThanOrEqual(900);
    const stored = await db().select().from(refreshTokens).where(eq(refreshTokens.userId, tenant.userId));
    expect(stored).toHaveLength(1);
    expect(stored[0]?.tokenHash).not.toBe(tokens.refreshToken);
  });

  it("acts in the org asked for, and 403 for an org the user is not in", async () => {
    const tenant = await createTenant({ role: "owner" });
    const other = await createTenant();
    await db().insert(memberships).values({ orgId: other.orgId, userId: tenant.userId, role: "agent" });
    expect(await loginTokens(tenant.email, tenant.password)).toMatchObject({ orgId: tenant.orgId, role: "owner" });
    expect(await loginTokens(tenant.email, tenant.password, { orgId: other.orgId })).toMatchObject({ orgId: other.orgId, role: "agent" });
    const stranger = await login({ email: tenant.email, password: tenant.password, orgId: (await createTenant()).orgId });
    expect(stranger.status).toBe(403);
  });

  it("answers the same 401 for a wrong password and an unknown e-mail, and 400 for role or other fields", async () => {
    const tenant = await createTenant();
    const wrong = await login({ email: tenant.email, password: "wrong password!" });
    const unknown = await login({ email: freshEmail("nobody"), password: "whatever it is" });
    expect([wrong.status, unknown.status]).toEqual([401, 401]);
    const [a, b] = [await problem(wrong), await problem(unknown)];
    expect(a.detail).toBe(b.detail);
    expect(a.type).toBe(b.type);
    for (const extra of [{ role: "owner" }, { userId: tenant.userId }]) {
      expect((await login({ email: tenant.email, password: tenant.password, ...extra })).status).toBe(400);
    }
    const query = await authApi(`/api/v1/auth/login?orgId=${tenant.orgId}`, {
      method: "POST",
      json: { email: tenant.email, password: tenant.password },
    });
    expect(query.status).toBe(400);
    expect((await problem(query)).errors?.[0]?.message).toMatch(/orgId/);
  });

  it("re-hashes an outdated hash at the current cost on a successful login", async () => {
    const tenant = await createTenant();
    const before = await db().select({ h: users.passwordHash }).from(users).where(eq(users.id, tenant.userId));
    expect(before[0]?.h).toMatch(/^pbkdf2-sha256\$1000\$/);
    const res = await apiWithEnv("/api/v1/auth/login", { method: "POST", json: { email: tenant.email, password: tenant.password } });
    expect(res.status).toBe(200);
    const [after] = await db().select({ h: users.passwordHash }).from(users).where(eq(users.id, tenant.userId));
    expect(after?.h).toMatch(new RegExp(`^pbkdf2-sha256\\$${PBKDF2_ITERATIONS}\\$`));
    expect((await login({ email: tenant.email, password: tenant.password })).status).toBe(200);
    expect((await login({ email: tenant.email, password: "not the password" })).status).toBe(401);
  });

  describe("per-account lockout", () => {
    it(`locks after LOGIN_LOCKOUT_THRESHOLD failures: 429 + Retry-After even with the right password`, async () => {
      const { LOGIN_LOCKOUT_THRESHOLD: threshold, LOGIN_LOCKOUT_SECONDS: lockSeconds } = config();
      const tenant = await createTenant();
      // Each failure from another IP: the lock is per account, not per address.
      for (let i = 0; i < threshold; i++) expect((await login({ email: tenant.email, password: `wrong-${i}` })).status).toBe(401);
      const locked = await login({ email: tenant.email, password: tenant.password });
      expect(locked.status).toBe(429);
      const retryAfter = Number(locked.headers.get("Retry-After"));
      expect(retryAfter).toBeGreaterThan(lockSeconds - 30);
      expect(retryAfter).toBeLessThanOrEqual(lockSeconds);
      expect((await problem(locked)).detail).toMatch(/failed logins/);
      expect((await login({ email: tenant.email.toUpperCase(), password: tenant.password })).status).toBe(429);
    });

    it("clears the count on a successful login", async () => {
      const threshold = config().LOGIN_LOCKOUT_THRESHOLD;
      const tenant = await createTenant();
      for (let round = 0; round < 2; round++) {
        for (let i = 0; i < threshold - 1; i++) expect((await login({ email: tenant.email, password: "wrong password" })).status).toBe(401);
        expect((await login({ email: tenant.email, password: tenant.password })).status).toBe(200);
      }
    });

    it("locks an unknown e-mail alike (no account enumeration by lockout)", async () => {
      const threshold = config().LOGIN_LOCKOUT_THRESHOLD;
      const email = freshEmail("ghost");
      for (let i = 0; i < threshold; i++) expect((await login({ email, password: "guess guess" })).status).toBe(401);
      expect((await login({ email, password: "guess guess" })).status).toBe(429);
    });

    it("counts before verifying, so parallel guesses cannot pass the threshold", async () => {
      const threshold = config().LOGIN_LOCKOUT_THRESHOLD;
      const tenant = await createTenant();
      const statuses = await Promise.all(
        Array.from({ length: threshold + 4 }, (_, i) => login({ email: tenant.email, password: `parallel-${i}` }).then((r) => r.status)),
      );
      expect(statuses.filter((s) => s === 401)).toHaveLength(threshold);
      expect(statuses.filter((s) => s === 429)).toHaveLength(4);
    });
  });

  it("rate limits per IP (fail closed policy `login`) with Retry-After and RateLimit fields", async () => {
    const ip = freshIp();
    const limit = config().LOGIN_RATE_LIMIT_PER_MINUTE;
    const { allowed, limited } = await sendUntilLimited(limit, () => login({ email: freshEmail("spray"), password: "spray-password" }, ip));
    expect(allowed.length).toBeGreaterThanOrEqual(limit);
    for (const res of allowed) {
      expect(res.status).toBe(401);
      expect(res.headers.get("RateLimit-Policy")).toBe(`"auth-login";q=${limit};w=60`);
    }
    expect(limited?.status).toBe(429);
    expect(Number(limited?.headers.get("Retry-After"))).toBeGreaterThan(0);
    await problem(limited as Response);
    // Another IP is not affected.
    expect((await login({ email: freshEmail("spray"), password: "spray-password" })).status).toBe(401);
  });
});

describe("POST /api/v1/auth/refresh", () => {
  it("rotates: a new access and refresh token; the old refresh token is spent", async () => {
    const tenant = await createTenant({ role: "analyst" });
    const first = await loginTokens(tenant.email, tenant.password);
    const res = await refresh(first.refreshToken);
    expect(res.status).toBe(200);
    expect(res.headers.get("Cache-Control")).toBe("no-store");
    const second = (await res.json()) as Tokens;
    expect(second).toMatchObject({ tokenType: "Bearer", orgId: tenant.orgId, role: "analyst" });
    expect(second.refreshToken).not.toBe(first.refreshToken);
    expect(second.refreshExpiresIn).toBeLessThanOrEqual(first.refreshExpiresIn);
    expect(second.refreshExpiresIn).toBeGreaterThan(first.refreshExpiresIn - 60);
    expect((await authApi("/api/v1/auth/me", { token: second.accessToken })).status).toBe(200);
    const third = (await (await refresh(second.refreshToken)).json()) as Tokens;
    expect(third.refreshToken).toMatch(/^rt_/);
    const family = await db().select().from(refreshTokens).where(eq(refreshTokens.userId, tenant.userId));
    expect(family).toHaveLength(3);
    expect(new Set(family.map((t) => t.familyId)).size).toBe(1);
  });

  it("detects reuse of a rotated token: 401 and the whole family is revoked", async () => {
    const tenant = await createTenant();
    const first = await loginTokens(tenant.email, tenant.password);
    const second = (await (await refresh(first.refreshToken)).json()) as Tokens;
    const replay = await refresh(first.refreshToken);
    expect(replay.status).toBe(401);
    await problem(replay);
    // The legitimate successor dies with the family.
    expect((await refresh(second.refreshToken)).status).toBe(401);
    const family = await db().select().from(refreshTokens).where(eq(refreshTokens.userId, tenant.userId));
    expect(family.every((t) => t.revokedAt !== null)).toBe(true);
    // Another session of the same user is untouched.
    const other = await loginTokens(tenant.email, tenant.password);
    expect((await refresh(other.refreshToken)).status).toBe(200);
  });

  it("lets only one of two concurrent exchanges of one token win", async () => {
    const tenant = await createTenant();
    const { refreshToken } = await loginTokens(tenant.email, tenant.password);
    const results = await Promise.all([refresh(refreshToken), refresh(refreshToken)]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 401]);
    const winner = results.find((r) => r.status === 200) as Response;
    // The loser was a reuse: the family, winner's successor included, is revoked.
    expect((await refresh(((await winner.json()) as Tokens).refreshToken)).status).toBe(401);
  });

  it("answers 401 for unknown, expired, malformed and access tokens, and 400 for extra fields", async () => {
    const tenant = await createTenant();
    const tokens = await loginTokens(tenant.email, tenant.password);
    for (const token of [`rt_${"A".repeat(43)}`, "garbage", tokens.accessToken]) {
      const res = await refresh(token);
      expect(res.status, token).toBe(401);
      expect((await problem(res)).detail).toMatch(/log in again/);
    }
    await db().update(refreshTokens).set({ expiresAt: "2000-01-01T00:00:00Z" }).where(eq(refreshTokens.userId, tenant.userId));
    expect((await refresh(tokens.refreshToken)).status).toBe(401);
    const extra = await authApi("/api/v1/auth/refresh", {
      method: "POST",
      json: { refreshToken: tokens.refreshToken, orgId: tenant.orgId },
    });
    expect(extra.status).toBe(400);
  });

  it("takes the current role, and ends the session when the membership is gone", async () => {
    const tenant = await createTenant({ role: "admin" });
    const tokens = await loginTokens(tenant.email, tenant.password);
    await db().update(memberships).set({ role: "agent" }).where(eq(memberships.userId, tenant.userId));
    const next = (await (await refresh(tokens.refreshToken)).json()) as Tokens;
    expect(next.role).toBe("agent");
    await db()
      .delete(memberships)
      .where(and(eq(memberships.userId, tenant.userId), eq(memberships.orgId, tenant.orgId)));
    expect((await refresh(next.refreshToken)).status).toBe(401);
    const family = await db().select().from(refreshTokens).where(eq(refreshTokens.userId, tenant.userId));
    expect(family.every((t) => t.revokedAt !== null)).toBe(true);
  });
});

describe("POST /api/v1/auth/logout", () => {
  it("revokes the family (204), and is idempotent", async () => {
    const tenant = await createTenant();
    const first = await loginTokens(tenant.email, tenant.password);
    const second = (await (await refresh(first.refreshToken)).json()) as Tokens;
    const res = await logout(second.refreshToken);
    expect(res.status).toBe(204);
    expect(await res.text()).toBe("");
    expect((await refresh(second.refreshToken)).status).toBe(401);
    expect((await logout(second.refreshToken)).status).toBe(204);
    // Logging out with an older token of the family works too (it names the same session).
    expect((await logout(first.refreshToken)).status).toBe(204);
  });

  it("answers 204 for an unknown token (no oracle) and 400 for a malformed body", async () => {
    expect((await logout(`rt_${"B".repeat(43)}`)).status).toBe(204);
    expect((await authApi("/api/v1/auth/logout", { method: "POST", json: {} })).status).toBe(400);
    expect((await authApi("/api/v1/auth/logout", { method: "POST", json: { refreshToken: "x", all: true } })).status).toBe(400);
  });

  it("leaves other sessions of the user alive", async () => {
    const tenant = await createTenant();
    const a = await loginTokens(tenant.email, tenant.password);
    const b = await loginTokens(tenant.email, tenant.password);
    expect((await logout(a.refreshToken)).status).toBe(204);
    expect((await refresh(b.refreshToken)).status).toBe(200);
  });
});

describe("GET /api/v1/auth/me", () => {
  it("answers every user role, lists memberships, and never a password hash", async () => {
    for (const role of ["owner", "admin", "analyst", "manager", "agent"] as const) {
      const tenant = await createTenant({ role });
      const res = await authApi("/api/v1/auth/me", { token: tenant.token });
      expect(res.status, role).toBe(200);
      const text = await res.text();
      expect(text).not.toMatch(/pbkdf2|password/i);
      expect(JSON.parse(text)).toMatchObject({ userId: tenant.userId, email: tenant.email, orgId: tenant.orgId, role });
    }
  });

  it("lists every org of the user, oldest first", async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    await db().insert(memberships).values({ orgId: other.orgId, userId: tenant.userId, role: "analyst" });
    const body = (await (await authApi("/api/v1/auth/me", { token: tenant.token })).json()) as { memberships: unknown[] };
    expect(body.memberships).toEqual([
      { orgId: tenant.orgId, orgName: expect.any(String), role: "owner" },
      { orgId: other.orgId, orgName: expect.any(String), role: "analyst" },
    ]);
  });

  it("takes the Bearer scheme in any case (RFC 9110)", async () => {
    const tenant = await createTenant();
    for (const scheme of ["bearer", "BEARER", "Bearer", "bEaReR"]) {
      const res = await authApi("/api/v1/auth/me", { headers: { Authorization: `${scheme} ${tenant.token}` } });
      expect(res.status, scheme).toBe(200);
      expect(await res.json()).toMatchObject({ userId: tenant.userId });
    }
    for (const header of [`Token ${tenant.token}`, `Bearer${tenant.token}`, tenant.token]) {
      expect((await authApi("/api/v1/auth/me", { headers: { Authorization: header } })).status, header.slice(0, 8)).toBe(401);
    }
  });

  it("answers 401 without a token, with a refresh token, or for a deleted user", async () => {
    const tenant = await createTenant();
    const tokens = await loginTokens(tenant.email, tenant.password);
    expect((await authApi("/api/v1/auth/me")).status).toBe(401);
    expect((await authApi("/api/v1/auth/me", { token: tokens.refreshToken })).status).toBe(401);
    await db().delete(users).where(eq(users.id, tenant.userId));
    expect((await authApi("/api/v1/auth/me", { token: tenant.token })).status).toBe(401);
  });
});
