/**
 * Bench part `assistant`: `GET /api/v1/assistant/stats?period=month` on the assistant's data set
 * (`bench/assistant-data.ts`: 5,200 users, 200,000 messages over 90 days) of the demo org, against
 * `wrangler dev` on the local stack:
 * - uncached: `BENCH_ASSISTANT_UNCACHED` (default 30) sequential requests, each after bumping the
 *   org's cache version (one Neon request each): p50, p99, mean;
 * - cached: autocannon for `BENCH_SECONDS` with `BENCH_CONNECTIONS` (X-Cache: HIT): requests/s, p50, p99.
 * The statistics' rate limit is lifted for the run (`RATE_LIMIT_OVERRIDES` `assistant-stats`, set by `bench/run.ts`).
 */
import autocannon from "autocannon";
import type { LocalEnvironment } from "../scripts/local-env";
import { assistantDataSet, assistantDataSize } from "./assistant-data";
import { bumpCacheVersion, loadSummary, percentile, round1 as round } from "./measure";

/** What the part reports. */
export interface AssistantStatsBench {
  dataSet: typeof assistantDataSize;
  generateSeconds: number;
  uncached: { requests: number; p50ms: number; p99ms: number; meanMs: number };
  cached: { requestsPerSecond: number; p50ms: number; p99ms: number; non2xx: number; errors: number };
}

/** Generates the data set for the demo org, then measures (see the module comment). */
export async function runAssistantStatsBench(
  env: LocalEnvironment,
  token: string,
  opts: { seconds: number; connections: number; uncachedRequests: number },
): Promise<AssistantStatsBench> {
  const orgId = env.demo.orgId;
  const generating = performance.now();
  for (const statement of assistantDataSet(orgId)) await env.stack.engine.query(statement);
  const generateSeconds = round((performance.now() - generating) / 1000);

  const url = `${env.workerUrl}/api/v1/assistant/stats?period=month`;
  const headers = { Authorization: `Bearer ${token}` };
  const bump = () => bumpCacheVersion(env, orgId);
  const timings: number[] = [];
  for (let i = 0; i < opts.uncachedRequests + 1; i++) {
    await bump();
    const started = performance.now();
    const res = await fetch(url, { headers });
    await res.arrayBuffer();
    const ms = performance.now() - started;
    if (res.status !== 200 || res.headers.get("X-Cache") !== "MISS")
      throw new Error(`expected a 200 MISS, got ${res.status} ${res.headers.get("X-Cache")}`);
    if (i > 0) timings.push(ms); // the first warms the isolate
  }
  timings.sort((a, b) => a - b);
  const check = await fetch(url, { headers });
  await check.arrayBuffer();
  if (check.headers.get("X-Cache") !== "HIT") throw new Error(`expected a cache HIT, got ${check.headers.get("X-Cache")}`);
  const cached = await autocannon({ url, headers, connections: opts.connections, duration: opts.seconds });
  return {
    dataSet: assistantDataSize,
    generateSeconds,
    uncached: {
      requests: timings.length,
      p50ms: round(percentile(timings, 50)),
      p99ms: round(percentile(timings, 99)),
      meanMs: round(timings.reduce((a, b) => a + b, 0) / timings.length),
    },
    cached: loadSummary(cached),
  };
}
