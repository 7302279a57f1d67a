/**
 * Password hashing with PBKDF2-HMAC-SHA256 through WebCrypto, at the Workers runtime's cap
 * of 100,000 iterations (Cloudflare's runtime refuses more with `NotSupportedError`; the
 * open-source workerd used locally has no cap, so local runs cannot show it — see
 * https://github.com/cloudflare/workerd/issues/1346). Each hash records its algorithm and
 * parameters — `pbkdf2-sha256$<iterations>$<salt b64url>$<hash b64url>` — so the cost can
 * be raised later; `needsRehash` tells a login to re-hash an outdated one.
 * Passwords are NFKC-normalised before hashing, so the same password typed on another
 * keyboard or OS (composed vs decomposed accents) still verifies.
 * @see https://www.rfc-editor.org/rfc/rfc8018#section-5.2
 * @see https://cheatsheetseries.owasp.org/cheatsheets/Password_Storage_Cheat_Sheet.html
 * @see https://pages.nist.gov/800-63-4/sp800-63b.html (normalisation of passwords)
 */
import { fromBase64Url, toBase64Url } from "../crypto";

/** Current iteration count: the production Workers runtime's maximum for PBKDF2. */
export const PBKDF2_ITERATIONS = 100_000;
/** The most iterations production can verify; a stored hash above it is refused, not attempted. */
const MAX_ITERATIONS = 100_000;
const HASH_BYTES = 32;
const SALT_BYTES = 16;

async function derive(password: string, salt: Uint8Array<ArrayBuffer>, iterations: number): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(password.normalize("NFKC")), "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, key, HASH_BYTES * 8);
  return new Uint8Array(bits);
}

/**
 * Hashes `password` with a fresh 16-byte salt. `iterations` below the default is for tests
 * only (a login re-hashes such a hash at the current cost).
 * @returns the self-describing hash `pbkdf2-sha256$<iterations>$<salt>$<hash>`.
 */
export async function hashPassword(password: string, iterations = PBKDF2_ITERATIONS): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const hash = await derive(password, salt, iterations);
  return `pbkdf2-sha256$${iterations}$${toBase64Url(salt)}$${toBase64Url(hash)}`;
}

/**
 * Verifies `password` against a stored hash, comparing the digests in constant time.
 * @returns false for a wrong password or a malformed or unverifiable hash (never throws for those).
 */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [alg, iter, salt, hash, ...rest] = stored.split("$");
  const iterations = Number(iter);
  if (alg !== "pbkdf2-sha256" || !salt || !hash || rest.length > 0) return false;
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > MAX_ITERATIONS) return false;
  const expected = fromBase64Url(hash);
  const actual = await derive(password, fromBase64Url(salt), iterations);
  let diff = expected.length ^ actual.length;
  for (let i = 0; i < actual.length; i++) diff |= (actual[i] ?? 0) ^ (expected[i] ?? 0);
  return diff === 0;
}

/** True when the stored hash uses another algorithm or fewer iterations than the current ones. */
export function needsRehash(stored: string): boolean {
  const [alg, iter] = stored.split("$");
  return alg !== "pbkdf2-sha256" || Number(iter) < PBKDF2_ITERATIONS;
}

/**
 * A well-formed hash at the current cost that no password matches in practice: a login
 * for an unknown e-mail verifies against it, so both paths cost one full PBKDF2 run.
 */
export const DUMMY_PASSWORD_HASH = `pbkdf2-sha256$${PBKDF2_ITERATIONS}$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`;
