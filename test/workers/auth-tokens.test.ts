/**
 * Token verification (HS256 pinned, `kid` key set with a rotation grace, required claims),
 * the constant-time compare, the password hash, and the cost of the KDF inside workerd
 * (printed, and written down in docs/security.md).
 */
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { signAccessToken, TokenError, verifyAccessToken } from "../../src/core/auth/jwt";
import { DUMMY_PASSWORD_HASH, hashPassword, needsRehash, PBKDF2_ITERATIONS, verifyPassword } from "../../src/core/auth/password";
import { timingSafeEqual } from "../../src/core/crypto";
import type { AppConfig } from "../../src/core/env";
import { apiWithEnv, authApi, freshEmail, goodPassword, login, median, register } from "./auth-support";
import { config, createTenant, testEnv } from "./helpers";

const secret = (label: string) => `${label}-${"s".repeat(40)}`;
const oldKey = { kid: "2026-10", secret: secret("old") };
const newKey = { kid: "2026-11", secret: secret("new") };
/** The config after a rotation: the new key signs, the old one still verifies. */
const rotated = (): AppConfig => ({ ...config(), JWT_KEYS: [newKey, oldKey] });

/** A token with free header and claims, signed with `key` (for the negative cases). */
async function forge(
  key: { kid: string; secret: string },
  claims: Record<string, unknown>,
  options: { alg?: string; omit?: string[]; expiresIn?: string } = {},
): Promise<string> {
  const base: Record<string, unknown> = {
    sub: crypto.randomUUID(),
    org: crypto.randomUUID(),
    role: "owner",
    typ: "access",
    iss: config().JWT_ISSUER,
    aud: config().JWT_AUDIENCE,
    ...claims,
  };
  for (const name of options.omit ?? []) delete base[name];
  let jwt = new SignJWT(base).setProtectedHeader({ alg: options.alg ?? "HS256", kid: key.kid });
  if (!options.omit?.includes("iat") && !("iat" in claims)) jwt = jwt.setIssuedAt();
  if (!options.omit?.includes("exp")) jwt = jwt.setExpirationTime(options.expiresIn ?? "5m");
  return jwt.sign(new TextEncoder().encode(key.secret));
}

describe("verifyAccessToken", () => {
  it("accepts a token signed by any key of the set (rotation grace) and signs with the first", async () => {
    const before: AppConfig = { ...config(), JWT_KEYS: [oldKey] };
    const issuedBefore = await signAccessToken(before, { userId: crypto.randomUUID(), orgId: crypto.randomUUID(), role: "analyst" });
    await expect(verifyAccessToken(rotated(), issuedBefore.token)).resolves.toMatchObject({ kind: "user", role: "analyst" });
    const issuedAfter = await signAccessToken(rotated(), { userId: crypto.randomUUID(), orgId: crypto.randomUUID(), role: "owner" });
    const header = JSON.parse(atob((issuedAfter.token.split(".")[0] as string).replaceAll("-", "+").replaceAll("_", "/"))) as Record<
      string,
      string
    >;
    expect(header).toEqual({ alg: "HS256", kid: newKey.kid, typ: "JWT" });
    // Once the old key is removed from the set, its tokens stop verifying.
    await expect(verifyAccessToken({ ...config(), JWT_KEYS: [newKey] }, issuedBefore.token)).rejects.toThrow(TokenError);
  });

  it("rejects every malformed or foreign token with TokenError", async () => {
    const cfg = rotated();
    const none = `${btoa(JSON.stringify({ alg: "none", kid: newKey.kid })).replace(/=+$/, "")}.${btoa(
      JSON.stringify({
        sub: crypto.randomUUID(),
        org: crypto.randomUUID(),
        role: "owner",
        typ: "access",
        iss: cfg.JWT_ISSUER,
        aud: cfg.JWT_AUDIENCE,
        exp: 9e9,
        iat: 1,
      }),
    ).replace(/=+$/, "")}.`;
    const cases: Record<string, string> = {
      "unknown kid": await forge({ kid: "retired", secret: newKey.secret }, {}),
      "right kid, wrong secret": await forge({ kid: newKey.kid, secret: secret("evil") }, {}),
      "alg HS512": await forge(newKey, {}, { alg: "HS512" }),
      "alg none": none,
      "wrong iss": await forge(newKey, { iss: "someone-else" }),
      "wrong aud": await forge(newKey, { aud: "other-api" }),
      "no iss": await forge(newKey, {}, { omit: ["iss"] }),
      "no aud": await forge(newKey, {}, { omit: ["aud"] }),
      "no typ": await forge(newKey, {}, { omit: ["typ"] }),
      "typ refresh": await forge(newKey, { typ: "refresh" }),
      "no exp": await forge(newKey, {}, { omit: ["exp"] }),
      "no iat": await forge(newKey, {}, { omit: ["iat"] }),
      expired: await forge(newKey, {}, { expiresIn: "-1m" }),
      "exp beyond the configured lifetime, iat long ago": await forge(
        newKey,
        { iat: Math.floor(Date.now() / 1000) - 3600 },
        { expiresIn: "1h" },
      ),
      "role not a role": await forge(newKey, { role: "root" }),
      "sub not a uuid": await forge(newKey, { sub: "admin" }),
      "opaque refresh token": `rt_${"A".repeat(43)}`,
    };
    for (const [name, token] of Object.entries(cases)) {
      await expect(verifyAccessToken(cfg, token), name).rejects.toThrow(TokenError);
    }
  });
});

describe("access tokens over HTTP", () => {
  it("a token signed by the second key of the Worker's set gets in; an unknown kid gets 401", async () => {
    const tenant = await createTenant();
    const overrides = { JWT_KEYS: JSON.stringify([newKey, oldKey]) };
    const byOldKey = await signAccessToken(
      { ...config(), JWT_KEYS: [oldKey] },
      { userId: tenant.userId, orgId: tenant.orgId, role: "owner" },
    );
    const ok = await apiWithEnv("/api/v1/auth/me", { token: byOldKey.token }, overrides);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ userId: tenant.userId });

    const unknownKid = await signAccessToken(
      { ...config(), JWT_KEYS: [{ kid: "not-in-set", secret: newKey.secret }] },
      { userId: tenant.userId, orgId: tenant.orgId, role: "owner" },
    );
    const denied = await apiWithEnv("/api/v1/auth/me", { token: unknownKid.token }, overrides);
    expect(denied.status).toBe(401);
    expect(denied.headers.get("WWW-Authenticate")).toContain('error="invalid_token"');
  });

  it("a refresh token presented as an access token is 401", async () => {
    const tenant = await createTenant();
    const res = await login({ email: tenant.email, password: tenant.password });
    const { refreshToken } = (await res.json()) as { refreshToken: string };
    for (const path of ["/api/v1/auth/me", "/api/v1/sync/status", "/api/v1/analytics/summary"]) {
      expect((await authApi(path, { token: refreshToken })).status, path).toBe(401);
    }
  });
});

describe("timingSafeEqual", () => {
  it("is plain equality in meaning", () => {
    const token = testEnv.ADMIN_REGISTRATION_TOKEN as string;
    expect(timingSafeEqual(token, token)).toBe(true);
    expect(timingSafeEqual("", "")).toBe(true);
    expect(timingSafeEqual("ключ-🔑", "ключ-🔑")).toBe(true);
    for (const other of [
      `${token.slice(0, -1)}#`,
      token.slice(0, -1),
      `${token}\0`,
      "",
      token.toUpperCase() === token ? token.toLowerCase() : token.toUpperCase(),
    ]) {
      expect(timingSafeEqual(token, other)).toBe(false);
      expect(timingSafeEqual(other, token)).toBe(false);
    }
    // Same UTF-16 length, different bytes; and the same bytes split differently.
    expect(timingSafeEqual("é", "e\u0301")).toBe(false);
    expect(timingSafeEqual("ab", "a\0")).toBe(false);
  });

  it("looks at every byte: a difference at the start or the end is found alike", () => {
    const a = "x".repeat(64);
    expect(timingSafeEqual(a, `y${a.slice(1)}`)).toBe(false);
    expect(timingSafeEqual(a, `${a.slice(0, -1)}y`)).toBe(false);
  });
});

describe("password hashing", () => {
  it("verifies the right password only, NFKC-normalised, and flags outdated hashes", async () => {
    const hash = await hashPassword("Ångström-password");
    expect(await verifyPassword("Ångström-password", hash)).toBe(true);
    // Decomposed "Å" (A + ring) is the same password after NFKC.
    expect(await verifyPassword("A\u030Angstro\u0308m-password", hash)).toBe(true);
    expect(await verifyPassword("angstrom-password", hash)).toBe(false);
    expect(needsRehash(hash)).toBe(false);
    expect(needsRehash(await hashPassword("x", 1000))).toBe(true);
    expect(needsRehash("bcrypt$whatever")).toBe(true);
    for (const bad of ["", "pbkdf2-sha256$x$AA$AA", "pbkdf2-sha256$200000$AA$AA", "pbkdf2-sha256$1000$AA", "argon2id$v=19$..."]) {
      expect(await verifyPassword("x", bad), bad).toBe(false);
    }
    expect(await verifyPassword("", DUMMY_PASSWORD_HASH)).toBe(false);
  });

  it(`measures PBKDF2-SHA256 at ${PBKDF2_ITERATIONS} iterations inside workerd`, async () => {
    const hashMs: number[] = [];
    const verifyDummyMs: number[] = [];
    for (let i = 0; i < 9; i++) {
      let t = performance.now();
      await hashPassword(goodPassword);
      hashMs.push(performance.now() - t);
      t = performance.now();
      await verifyPassword(goodPassword, DUMMY_PASSWORD_HASH);
      verifyDummyMs.push(performance.now() - t);
    }
    const [hash, dummy] = [median(hashMs), median(verifyDummyMs)];
    console.log(
      `[kdf] PBKDF2-SHA256 ${PBKDF2_ITERATIONS} iterations in workerd: hashPassword median ${hash.toFixed(1)} ms ` +
        `(min ${Math.min(...hashMs).toFixed(1)}, max ${Math.max(...hashMs).toFixed(1)}); verify against DUMMY_PASSWORD_HASH median ${dummy.toFixed(1)} ms`,
    );
    expect(hash).toBeGreaterThan(0);
    // The dummy verification is the same work as a real one.
    expect(dummy / hash).toBeGreaterThan(0.5);
    expect(dummy / hash).toBeLessThan(2);
  });
});

describe("login timing", () => {
  it("an unknown e-mail costs one PBKDF2 run, as a wrong password does (the dummy hash is verified)", async () => {
    const threshold = config().LOGIN_LOCKOUT_THRESHOLD;
    const samples = 8;
    // Users registered through the API have full-cost hashes (createTenant's are cheap); each
    // takes fewer wrong passwords than the lockout threshold.
    const perUser = Math.max(1, threshold - 1);
    const emails: string[] = [];
    for (let i = 0; i < Math.ceil(samples / perUser); i++) {
      const email = freshEmail("timed");
      expect((await register({ email, password: goodPassword, orgName: "Timing" })).status).toBe(201);
      emails.push(email);
    }
    const kdf: number[] = [];
    for (let i = 0; i < samples; i++) {
      const t = performance.now();
      await hashPassword(goodPassword);
      kdf.push(performance.now() - t);
    }
    const timed = async (body: unknown, status: number): Promise<number> => {
      const t = performance.now();
      const res = await login(body);
      await res.arrayBuffer();
      expect(res.status).toBe(status);
      return performance.now() - t;
    };
    // A locked account makes the same Redis and Neon round trips but runs no KDF: the baseline.
    const locked = freshEmail("locked");
    for (let i = 0; i < threshold; i++) await timed({ email: locked, password: "guess guess" }, 401);
    const wrong: number[] = [];
    const unknown: number[] = [];
    const baseline: number[] = [];
    for (let i = 0; i < samples; i++) {
      wrong.push(await timed({ email: emails[Math.floor(i / perUser)], password: `wrong-password-${i}` }, 401));
      unknown.push(await timed({ email: freshEmail("nobody"), password: `wrong-password-${i}` }, 401));
      baseline.push(await timed({ email: locked, password: "guess guess" }, 429));
    }
    const fmt = (xs: number[]) => `median ${median(xs).toFixed(1)} / min ${Math.min(...xs).toFixed(1)} ms`;
    console.log(
      `[kdf] login: wrong password ${fmt(wrong)}, unknown e-mail ${fmt(unknown)}, locked (no KDF) ${fmt(baseline)}; one PBKDF2 ${fmt(kdf)}`,
    );
    // Minimums: load on a shared machine only ever adds time. Each 401 path spends about one
    // KDF run beyond the baseline, and neither is much cheaper than the other.
    const [w, u, b, k] = [wrong, unknown, baseline, kdf].map((xs) => Math.min(...xs)) as [number, number, number, number];
    expect(u - b).toBeGreaterThan(k * 0.5);
    expect(w - b).toBeGreaterThan(k * 0.5);
    expect((u - b) / (w - b)).toBeGreaterThan(1 / 3);
    expect((u - b) / (w - b)).toBeLessThan(3);
  });
});
