/**
 * Upstash Redis over REST. Auto-pipelining is on, so commands issued in the same tick
 * (the rate limit and the cache read of a dashboard request) travel in one `/pipeline`
 * request. Every request is bounded by a 1 s timeout and is not retried: a slow or
 * dead Redis must degrade the request, not hang it.
 *
 * Answers come as plain JSON strings, not base64 (the client's default, `Upstash-Encoding:
 * base64`, which exists for binary values): every value this project stores is text written by
 * this client, so the answer is the same, and the client's base64 decoder — a JavaScript loop over
 * every byte — took 7 % of the Worker's JavaScript time in cached reads (a 6 KB body is 8 KB of base64).
 * @see https://upstash.com/docs/redis/sdks/ts/pipelining/auto-pipeline
 * @see https://upstash.com/docs/redis/features/restapi (`Upstash-Encoding`)
 */
import { Redis } from "@upstash/redis/cloudflare";
import type { AppConfig } from "./env";

/** Timeout of one Redis REST request, in ms. */
export const REDIS_TIMEOUT_MS = 1000;

/**
 * Creates the Redis client for one request. `signal` bounds each REST request (default: a new
 * {@link REDIS_TIMEOUT_MS} timeout per request).
 */
export function createRedis(
  config: Pick<AppConfig, "UPSTASH_REDIS_REST_URL" | "UPSTASH_REDIS_REST_TOKEN">,
  signal: () => AbortSignal = () => AbortSignal.timeout(REDIS_TIMEOUT_MS),
): Redis {
  return new Redis({
    url: config.UPSTASH_REDIS_REST_URL,
    token: config.UPSTASH_REDIS_REST_TOKEN,
    enableAutoPipelining: true,
    retry: false,
    signal,
    enableTelemetry: false,
    // Values are returned as stored: cached JSON bodies stay byte-identical.
    automaticDeserialization: false,
    responseEncoding: false,
  });
}

export type { Redis };
