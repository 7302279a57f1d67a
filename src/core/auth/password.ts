/**
 * Password hashing with PBKDF2-HMAC-SHA256 through WebCrypto, at workerd's cap of
 * 100,000 iterations (workerd refuses more). Each hash records its algorithm and
 * parameters — `pbkdf2-sha256$<iterations>$<salt b64url>$<hash b64url>` — so the cost can
 * be raised later; `needsRehash` tells a login to re-hash an outdated one.
 * @see https://www.rfc-editor.org/rfc/rfc8018#section-5.2
 * @see https://cheatsheetseries.owasp.org/cheatsheets/Password_Storage_Cheat_Sheet.html
 */
import { fromBase64Url, toBase64Url } from "../crypto";

/** Current parameters; workerd's maximum for PBKDF2. */
export const PBKDF2_ITERATIONS = 100_000;
const HASH_BYTES = 32;

async function derive(password: string, salt: Uint8Array, iterations: number): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(password), "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, key, HASH_BYTES * 8);
  return new Uint8Array(bits);
}

/** Hashes `password` with a fresh 16-byte salt. */
export async function hashPassword(password: string, iterations = PBKDF2_ITERATIONS): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const hash = await derive(password, salt, iterations);
  return `pbkdf2-sha256$${iterations}$${toBase64Url(salt)}$${toBase64Url(hash)}`;
}

/** Verifies `password` against a stored hash in constant time; false for a malformed hash. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [alg, iter, salt, hash] = stored.split("$");
  const iterations = Number(iter);
  if (alg !== "pbkdf2-sha256" || !salt || !hash || !Number.isInteger(iterations) || iterations < 1) return false;
  const expected = fromBase64Url(hash);
  const actual = await derive(password, fromBase64Url(salt), iterations);
  let diff = expected.length ^ actual.length;
  for (let i = 0; i < actual.length; i++) diff |= (actual[i] ?? 0) ^ (expected[i] ?? 0);
  return diff === 0;
}

/** True when the stored hash uses weaker parameters than the current ones. */
export function needsRehash(stored: string): boolean {
  const [alg, iter] = stored.split("$");
  return alg !== "pbkdf2-sha256" || Number(iter) < PBKDF2_ITERATIONS;
}

/** A fixed hash to verify against when the e-mail is unknown, so both paths cost the same. */
export const DUMMY_PASSWORD_HASH = `pbkdf2-sha256$${PBKDF2_ITERATIONS}$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`;
