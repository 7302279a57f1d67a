/**
 * Rate limiting with `@upstash/ratelimit` (sliding window) on the request's Redis client.
 *
 * The limiter's ephemeral cache lives at module scope, so an identity already blocked
 * in this isolate is refused without a Redis round trip. The limiter's timeout is 1 s
 * (the library's default is 5 s); on timeout the request is let through (reads) —
 * the fail-closed policy for auth and writes is the caller's decision via `failClosed`.
 * Responses carry the IETF `RateLimit-Policy` and `RateLimit` fields; 429 adds `Retry-After`.
 * @see https://datatracker.ietf.org/doc/draft-ietf-httpapi-ratelimit-headers/
 * @see https://upstash.com/docs/redis/sdks/ratelimit-ts/overview
 */
import { Ratelimit } from "@upstash/ratelimit";
import type { AppConfig } from "./env";
import { ApiError } from "./errors";
import type { Redis } from "./redis";

/** A named limit: `limit` requests per `windowSeconds`. */
export interface RateLimitPolicy {
  name: string;
  limit: number;
  windowSeconds: number;
}

/** A route group's named policies and their default allowance per identity per minute. */
export type RateLimitDefaults = Readonly<Record<string, (config: AppConfig) => number>>;

/** The policies every group has: `read` (GET) and `write` (every other method). */
export const standardRateLimits = {
  read: (config) => config.RATE_LIMIT_PER_MINUTE,
  write: (config) => config.RATE_LIMIT_WRITE_PER_MINUTE,
} as const satisfies RateLimitDefaults;

/**
 * The policy `<group>-<kind>` allowing `defaultPerMinute` per identity per minute, unless
 * `RATE_LIMIT_OVERRIDES` sets that name. Buckets are per policy name, so one group's
 * traffic never spends another group's allowance.
 */
export function groupPolicy(
  config: Pick<AppConfig, "RATE_LIMIT_OVERRIDES">,
  group: string,
  kind: string,
  defaultPerMinute: number,
): RateLimitPolicy {
  const name = `${group}-${kind}`;
  return { name, limit: config.RATE_LIMIT_OVERRIDES[name] ?? defaultPerMinute, windowSeconds: 60 };
}

const ephemeralCache = new Map<string, number>();
function limiterFor(redis: Redis, policy: RateLimitPolicy): Ratelimit {
  return new Ratelimit({
    redis,
    limiter: Ratelimit.slidingWindow(policy.limit, `${policy.windowSeconds} s`),
    prefix: `ratelimit:${policy.name}`,
    ephemeralCache,
    timeout: 1000,
    analytics: false,
  });
}

/** Outcome of a check, with the response headers to send either way. */
export interface RateLimitOutcome {
  success: boolean;
  /** True when Redis did not answer in time and the check was skipped. */
  degraded: boolean;
  headers: Record<string, string>;
}

/**
 * Counts one request of `identity` against `policy`. Starts the Redis command in the
 * current tick, so it can share an auto-pipelined request with other commands.
 */
export async function checkRateLimit(redis: Redis, policy: RateLimitPolicy, identity: string): Promise<RateLimitOutcome> {
  let res: Awaited<ReturnType<Ratelimit["limit"]>>;
  try {
    res = await limiterFor(redis, policy).limit(identity);
  } catch {
    // Redis unreachable (connection refused, 5xx): the caller decides to fail open or closed.
    return { success: true, degraded: true, headers: {} };
  }
  const resetSeconds = Math.max(0, Math.ceil((res.reset - Date.now()) / 1000));
  const headers: Record<string, string> = {
    "RateLimit-Policy": `"${policy.name}";q=${policy.limit};w=${policy.windowSeconds}`,
    RateLimit: `"${policy.name}";r=${Math.max(0, res.remaining)};t=${resetSeconds}`,
  };
  if (!res.success) headers["Retry-After"] = String(Math.max(1, resetSeconds));
  return { success: res.success, degraded: res.reason === "timeout", headers };
}

/** Throws the 429 problem for a failed outcome. */
export function assertWithinLimit(outcome: RateLimitOutcome): void {
  if (!outcome.success) {
    throw new ApiError("TOO_MANY_REQUESTS", { detail: "Rate limit exceeded; retry after the given delay.", headers: outcome.headers });
  }
}
