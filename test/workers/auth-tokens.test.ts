/**
 * Token verification (HS256 pinned, `kid` key set with a rotation grace, required claims),
 * the constant-time compare, the password hash, and the cost of the KDF inside workerd
 * (printed, and written down in docs/security.md).
 */
import { SignJWT } from "jose";
import { describe, expect, it, vi } from "vitest";
import { signAccessToken, TokenError, verifyAccessToken } from "../../src/core/auth/jwt";
import { DUMMY_PASSWORD_HASH, hashPassword, needsRehash, PBKDF2_ITERATIONS, verifyPassword } from "../../src/core/auth/password";
import { fromBase64Url, timingSafeEqual, toBase64Url } from "../../src/core/crypto";
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

  it("reads every byte of both operands alike, wherever the first difference is (no early exit)", () => {
    const a = "x".repeat(64);
    const reads = readsOf(() => {
      expect(timingSafeEqual(a, a)).toBe(true);
      expect(timingSafeEqual(a, `y${a.slice(1)}`)).toBe(false);
      expect(timingSafeEqual(a, `${a.slice(0, -1)}y`)).toBe(false);
    });
    // One entry per call: which bytes of each operand were read, in order. Wall time on a shared
    // machine cannot show a short-circuit; the read pattern does, deterministically.
    expect(reads).toHaveLength(3);
    const every = Array.from({ length: 64 }, (_, i) => i);
    for (const call of reads) expect([...new Set(call.left)].sort((x, y) => x - y)).toEqual(every);
    for (const call of reads) expect([...new Set(call.right)].sort((x, y) => x - y)).toEqual(every);
    const [equal, atStart, atEnd] = reads;
    expect(atStart).toEqual(equal);
    expect(atEnd).toEqual(equal);
  });
});

/** Which byte indexes a `timingSafeEqual` call reads of its two operands (in order). */
interface ByteReads {
  left: number[];
  right: number[];
}

/**
 * Runs `run` with a `TextEncoder` whose outputs record every indexed read: the encoded operands
 * of `timingSafeEqual` are the only byte arrays it compares. Returns one entry per two encodings.
 */
function readsOf(run: () => void): ByteReads[] {
  const encodings: number[][] = [];
  const Original = TextEncoder;
  class RecordingEncoder extends Original {
    override encode(input?: string) {
      const bytes = super.encode(input);
      const read: number[] = [];
      encodings.push(read);
      return new Proxy(bytes, {
        get(target, key) {
          if (typeof key === "string" && /^\d+$/.test(key)) read.push(Number(key));
          const value = Reflect.get(target, key);
          return typeof value === "function" ? value.bind(target) : value;
        },
      });
    }
  }
  vi.stubGlobal("TextEncoder", RecordingEncoder);
  try {
    run();
  } finally {
    vi.unstubAllGlobals();
  }
  const calls: ByteReads[] = [];
  for (let i = 0; i + 1 < encodings.length; i += 2) calls.push({ left: encodings[i] ?? [], right: encodings[i + 1] ?? [] });
  return calls;
}

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

  it("stores pbkdf2-sha256$100000$<16-byte salt>$<32-byte PBKDF2-HMAC-SHA256>, equal to a known answer", async () => {
    // RFC 7914 §11, PBKDF2-HMAC-SHA256 (P = "passwd", S = "salt", c = 1): the first 32 bytes.
    const rfc7914 = `pbkdf2-sha256$1$${toBase64Url(new TextEncoder().encode("salt"))}$VawEblbjCJ_sFpHCJUS2BflBhSFt3gRl5oudV8INrLw`;
    expect(await verifyPassword("passwd", rfc7914)).toBe(true);
    expect(await verifyPassword("passwd!", rfc7914)).toBe(false);

    // With the salt pinned to bytes 0…15, the stored value is a literal computed outside this
    // code base (Python: hashlib.pbkdf2_hmac("sha256", NFKC(password), salt, 100000, 32)).
    const salt = vi.spyOn(crypto, "getRandomValues").mockImplementation(<T extends ArrayBufferView | null>(array: T): T => {
      if (array instanceof Uint8Array) array.set(array.map((_, i) => i));
      return array;
    });
    let pinned: string;
    try {
      pinned = await hashPassword("A\u030Angstro\u0308m-password");
    } finally {
      salt.mockRestore();
    }
    expect(pinned).toBe("pbkdf2-sha256$100000$AAECAwQFBgcICQoLDA0ODw$55duoZ31nPUzl3o7OzqdCdf59n_JruvapT8W3AHCRV8");

    // Unpinned: the format, and a fresh salt each time.
    const format = /^pbkdf2-sha256\$100000\$([A-Za-z0-9_-]{22})\$([A-Za-z0-9_-]{43})$/;
    const [one, two] = [await hashPassword(goodPassword), await hashPassword(goodPassword)];
    expect(one).toMatch(format);
    expect(two).toMatch(format);
    expect(fromBase64Url(format.exec(one)?.[1] ?? "")).toHaveLength(16);
    expect(fromBase64Url(format.exec(one)?.[2] ?? "")).toHaveLength(32);
    expect(format.exec(one)?.[1]).not.toBe(format.exec(two)?.[1]);
    expect(DUMMY_PASSWORD_HASH).toMatch(format);
  });

  it(`measures PBKDF2-SHA256 at ${PBKDF2_ITERATIONS} iterations inside workerd; the dummy verification is the same work`, async () => {
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
    // The times above are printed for docs/security.md; what is asserted is the work itself, which
    // a loaded machine cannot blur: one PBKDF2 derivation with the same parameters either way.
    const [hashing, dummyVerify] = [
      await kdfRuns(() => hashPassword(goodPassword)),
      await kdfRuns(() => verifyPassword(goodPassword, DUMMY_PASSWORD_HASH)),
    ];
    expect(hashing).toEqual([{ name: "PBKDF2", hash: "SHA-256", iterations: PBKDF2_ITERATIONS, saltBytes: 16, bits: 256 }]);
    expect(dummyVerify).toEqual(hashing);
  });
});

/** The PBKDF2 parameters of one `deriveBits` call. */
interface KdfRun {
  name: string;
  hash: unknown;
  iterations: number;
  saltBytes: number;
  bits: number | null | undefined;
}

/**
 * The key derivations `run` performs in this isolate (the Worker under test runs here too),
 * recorded from WebCrypto's `deriveBits`: a deterministic measure of the work, where wall time
 * on a shared machine is not.
 */
async function kdfRuns(run: () => Promise<unknown>): Promise<KdfRun[]> {
  const spy = vi.spyOn(crypto.subtle, "deriveBits");
  try {
    await run();
    return spy.mock.calls.map(([algorithm, , length]) => {
      const params = algorithm as { name: string; hash: unknown; iterations: number; salt: ArrayBufferView };
      return {
        name: params.name,
        hash: params.hash,
        iterations: params.iterations,
        saltBytes: (params.salt as ArrayBufferView).byteLength,
        bits: length,
      };
    });
  } finally {
    spy.mockRestore();
  }
}

describe("login without user enumeration", () => {
  it("an unknown e-mail runs the same PBKDF2 work and gets the same 401 as a wrong password (the dummy hash is verified)", async () => {
    // A user registered through the API has a full-cost hash (createTenant's are cheap).
    const email = freshEmail("enum");
    expect((await register({ email, password: goodPassword, orgName: "Enumeration" })).status).toBe(201);

    const attempt = async (body: { email: string; password: string }) => {
      let res: Response | undefined;
      const kdf = await kdfRuns(async () => {
        res = await login(body);
        await res.clone().arrayBuffer();
      });
      if (!res) throw new Error("no answer");
      const problem = (await res.json()) as Record<string, unknown>;
      return {
        kdf,
        status: res.status,
        contentType: res.headers.get("Content-Type"),
        challenge: res.headers.get("WWW-Authenticate"),
        problem: { type: problem.type, title: problem.title, status: problem.status, detail: problem.detail, instance: problem.instance },
      };
    };
    const wrong = await attempt({ email, password: "wrong-password-1" });
    const unknown = await attempt({ email: freshEmail("nobody"), password: "wrong-password-1" });

    expect(wrong.status).toBe(401);
    expect(wrong.kdf).toEqual([{ name: "PBKDF2", hash: "SHA-256", iterations: PBKDF2_ITERATIONS, saltBytes: 16, bits: 256 }]);
    // Same work, same answer: nothing tells the two apart but the clock's noise.
    expect(unknown).toEqual(wrong);

    // The control: a locked account is refused before any KDF, so the spy does see the handler's work.
    const locked = freshEmail("locked");
    for (let i = 0; i < config().LOGIN_LOCKOUT_THRESHOLD; i++)
      expect((await attempt({ email: locked, password: "guess guess" })).status).toBe(401);
    const refused = await attempt({ email: locked, password: "guess guess" });
    expect(refused.status).toBe(429);
    expect(refused.kdf).toEqual([]);
  });
});
