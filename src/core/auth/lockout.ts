/**
 * Per-account login lockout, in Redis. Every login attempt of an account (keyed by the
 * SHA-256 of the lower-cased e-mail, so Redis holds no addresses) is counted *before* the
 * password is checked, in one atomic `MULTI`; a success clears the count. Once more than
 * `threshold` attempts are pending, the account is locked until the window ends (answered
 * 429 + `Retry-After`, even with the right password). Counting before verifying means
 * parallel guesses cannot slip past the threshold; counting unknown e-mails the same way
 * means the lockout tells nothing about which accounts exist. The window starts with the
 * first failure and is renewed to the full `lockSeconds` by the attempt that reaches the
 * threshold. The per-IP limit is the `login` rate-limit policy in front of the route.
 * @see https://cheatsheetseries.owasp.org/cheatsheets/Authentication_Cheat_Sheet.html#account-lockout
 */
import { sha256Hex } from "../crypto";
import type { Redis } from "../redis";

const key = async (email: string) => `login-attempts:${await sha256Hex(email.toLowerCase())}`;

/** Lockout settings: failed attempts allowed, and the lock (and counting window) in seconds. */
export interface LockoutPolicy {
  threshold: number;
  lockSeconds: number;
}

/** Outcome of `countLoginAttempt`: go ahead and verify, or locked for `retryAfterSeconds`. */
export type LoginAttempt = { locked: false } | { locked: true; retryAfterSeconds: number };

/**
 * Counts one attempt of `email` (one Redis request, two when it reaches the threshold).
 * @returns `locked` when `threshold` failures are already pending.
 * @throws when Redis does not answer; the caller decides to fail closed.
 */
export async function countLoginAttempt(redis: Redis, email: string, policy: LockoutPolicy): Promise<LoginAttempt> {
  const k = await key(email);
  const [, count, ttl] = await redis
    .multi()
    .set(k, 0, { nx: true, ex: policy.lockSeconds })
    .incr(k)
    .ttl(k)
    .exec<[unknown, number, number]>();
  if (count > policy.threshold) return { locked: true, retryAfterSeconds: Math.max(1, ttl) };
  if (count === policy.threshold) await redis.expire(k, policy.lockSeconds);
  return { locked: false };
}

/** Clears the pending attempts of `email` after a successful login. */
export async function clearLoginFailures(redis: Redis, email: string): Promise<void> {
  await redis.del(await key(email));
}
