/**
 * Helpers of the bench parts: percentiles, and timing uncached reads of a dashboard route — each
 * request after bumping the org's cache version (`INCR org:{orgId}:cache-version` on the Redis REST
 * adapter, as a successful sync does), so every answer is an `X-Cache: MISS` that costs its Neon
 * request (see `src/core/cache.ts`).
 */
import { PerformanceObserver } from "node:perf_hooks";
import type { LocalEnvironment, LocalEnvironmentOptions } from "../scripts/local-env";

/**
 * What every bench run starts the local environment with: the API's rate limits and the WB double's
 * lifted (a load is not to be refused), quiet logs, and QStash retries a thousand times sooner.
 */
export const benchEnvironment = {
  vars: {
    RATE_LIMIT_PER_MINUTE: "100000000",
    RATE_LIMIT_OVERRIDES: JSON.stringify({ "assistant-stats": 100_000_000 }),
    LOG_LEVEL: "error",
  },
  qstashRetryDelayFactor: 0.001,
  wbRateLimit: { requests: 1000, perMs: 1000 },
  wranglerLogLevel: "warn",
} as const satisfies Partial<LocalEnvironmentOptions>;

/** The figures of one autocannon load that the bench reports. */
export interface LoadSummary {
  requestsPerSecond: number;
  requests: number;
  p50ms: number;
  p99ms: number;
  non2xx: number;
  errors: number;
}

/** {@link LoadSummary} of an autocannon result (the library's, or the CLI's `--json` output). */
export function loadSummary(result: {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  non2xx: number;
  errors: number;
}): LoadSummary {
  return {
    requestsPerSecond: Math.round(result.requests.average),
    requests: result.requests.total,
    p50ms: result.latency.p50,
    p99ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

/** The `p`-th percentile (nearest rank, 0 < p ≤ 100) of ascending `sorted`; 0 when empty. */
export const percentile = (sorted: readonly number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;

/** `n` rounded to one decimal. */
export const round1 = (n: number): number => Math.round(n * 10) / 10;

/** Latencies of a series of requests, ms. */
export interface LatencySummary {
  requests: number;
  p50ms: number;
  p95ms: number;
  p99ms: number;
  meanMs: number;
}

/** p50, p95, p99 and mean of `timings` (ms, any order). */
export function summarize(timings: readonly number[]): LatencySummary {
  const sorted = [...timings].sort((a, b) => a - b);
  return {
    requests: sorted.length,
    p50ms: round1(percentile(sorted, 50)),
    p95ms: round1(percentile(sorted, 95)),
    p99ms: round1(percentile(sorted, 99)),
    meanMs: round1(sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length)),
  };
}

/**
 * Makes every cached answer of `orgId` stale (`INCR` of its cache version, as a sync does).
 * @throws Error when the Redis REST adapter refuses.
 */
export async function bumpCacheVersion(env: LocalEnvironment, orgId: string): Promise<void> {
  const res = await fetch(`${env.stack.redis.url}/incr/org:${orgId}:cache-version`, {
    method: "POST",
    headers: { Authorization: `Bearer ${env.stack.redis.token}` },
  });
  if (!res.ok) throw new Error(`cache version bump failed: ${res.status}`);
}

/** One uncached read: its status, latency (ms, the body read included) and body text. */
export interface TimedRead {
  status: number;
  ms: number;
  body: string;
}

/**
 * Bumps the org's cache version, then reads `url` and its whole body.
 * @throws Error when the answer is not a 200 `X-Cache: MISS` (a HIT would not be uncached; a
 *   4xx/5xx is no figure), with the status and the start of the body.
 */
export async function uncachedRead(env: LocalEnvironment, url: string, headers: Record<string, string>): Promise<TimedRead> {
  await bumpCacheVersion(env, env.demo.orgId);
  const started = performance.now();
  const res = await fetch(url, { headers });
  const body = await res.text();
  const ms = performance.now() - started;
  if (res.status !== 200 || res.headers.get("X-Cache") !== "MISS") {
    throw new Error(`${url}: expected a 200 MISS, got ${res.status} ${res.headers.get("X-Cache")}: ${body.slice(0, 300)}`);
  }
  return { status: res.status, ms, body };
}

/** {@link summarize} of `requests` uncached reads of `url` after one more (`firstMs`: a cold start of the query). */
export async function timeUncached(
  env: LocalEnvironment,
  url: string,
  headers: Record<string, string>,
  requests: number,
): Promise<LatencySummary & { firstMs: number }> {
  const first = await uncachedRead(env, url, headers);
  const timings: number[] = [];
  for (let i = 0; i < requests; i++) timings.push((await uncachedRead(env, url, headers)).ms);
  return { ...summarize(timings), firstMs: round1(first.ms) };
}

/** This process' garbage-collection pauses over a stretch of the bench. */
export interface GcPauses {
  count: number;
  totalMs: number;
  maxMs: number;
}

/**
 * Starts counting this process' garbage-collection pauses (`perf_hooks` `gc` entries): the process
 * that times the reads also runs the local stack's doubles, so a pause of it lands in a read's
 * latency. @returns a function that stops counting and answers the pauses seen since.
 */
export function countGcPauses(): () => GcPauses {
  const durations: number[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) durations.push(entry.duration);
  });
  observer.observe({ entryTypes: ["gc"] });
  return () => {
    observer.disconnect();
    return {
      count: durations.length,
      totalMs: round1(durations.reduce((sum, d) => sum + d, 0)),
      maxMs: round1(Math.max(0, ...durations)),
    };
  };
}
