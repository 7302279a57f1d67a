/**
 * The soak's load generator, run in a worker thread by `bench/soak.ts`: sends `deliveries` to `url`
 * over `connections` concurrent keep-alive loops and posts back requests/s and latency percentiles.
 */
import { parentPort, workerData } from "node:worker_threads";
import type { Delivery } from "./soak";

/** What the sender reports. */
export interface SendResult {
  requests: number;
  seconds: number;
  requestsPerSecond: number;
  p50ms: number;
  p99ms: number;
  maxMs: number;
  statuses: Record<string, number>;
  acknowledgedAsDuplicate: number;
  /** `performance.timeOrigin + now()` when sending began (epoch ms), to time the drain from. */
  startedAtEpochMs: number;
}

/** The percentile `p` (0–100) of sorted `values`. */
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;

async function run({ url, deliveries, connections }: { url: string; deliveries: Delivery[]; connections: number }): Promise<SendResult> {
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let duplicates = 0;
  let next = 0;
  const startedAtEpochMs = Date.now();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      for (let i = next++; i < deliveries.length; i = next++) {
        const d = deliveries[i] as Delivery;
        const t0 = performance.now();
        const res = await fetch(url, { method: "POST", headers: d.headers, body: d.body });
        const answer = (await res.json()) as { duplicate?: boolean };
        latencies.push(performance.now() - t0);
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        if (answer.duplicate) duplicates++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const round = (ms: number) => Math.round(ms * 10) / 10;
  return {
    requests: deliveries.length,
    seconds: round(seconds),
    requestsPerSecond: Math.round(deliveries.length / seconds),
    p50ms: round(percentile(latencies, 50)),
    p99ms: round(percentile(latencies, 99)),
    maxMs: round(latencies.at(-1) ?? 0),
    statuses,
    acknowledgedAsDuplicate: duplicates,
    startedAtEpochMs,
  };
}

run(workerData).then(
  (result) => parentPort?.postMessage(result),
  (err: unknown) => {
    throw err;
  },
);
