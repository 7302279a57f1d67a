/**
 * Bench part `sync`: one Wildberries sync of the demo org, end to end (`POST /api/v1/sync/wildberries`
 * → QStash emulator → the Worker's `wb-sync` consumer, paging the WB double → Neon adapter →
 * Postgres or PGlite), timed from the enqueue until `GET /api/v1/sync/status` shows the job succeeded.
 *
 * Measured around it (Linux `/proc`, see `bench/proc.ts`):
 * - the Worker: CPU time (`utime + stime`) of the `workerd` process(es) below `wrangler dev`, before
 *   and after, as ms per 1,000 rows synced; their resident memory (Σ `VmRSS`) just before the sync
 *   (baseline) and its peak during it, sampled every 50 ms;
 * - the Worker isolate's own heap (`bench/heap.ts`: `Runtime.getHeapUsage` over wrangler's DevTools
 *   inspector, every 25 ms): before, and its peak used and reserved during the sync — what the
 *   Workers limit of 128 MB applies to (the process RSS above also holds the runtime itself);
 * - the rest of the local stack: this Node process (`process.cpuUsage()`: the Neon, Redis REST and
 *   QStash adapters and the WB double that serializes the pages) and the spawned `redis-server`,
 *   as ms per 1,000 rows, and this process' resident memory before and at its peak (the WB data
 *   set lives here: ~1.4 GB for `large`); and every `postgres` process on the machine (the server
 *   and its backends: run it on a quiet machine).
 */
import { availableParallelism } from "node:os";
import type { LocalEnvironment } from "../scripts/local-env";
import { type IsolateHeapPeak, sampleIsolateHeap } from "./heap";
import { round1 } from "./measure";
import { cpuMs, cpuOfNamed, pidsNamed, rssMB, sampleRss } from "./proc";

/** What `GET /api/v1/sync/status` answers, as far as the bench reads it. */
interface SyncStatus {
  datasets: { dataset: string; lastRunRows: number; totalRows: number; lastError: string | null }[];
  jobs: { id: string; status: string; attempts: number; lastError: string | null }[];
}

/** Seconds between progress lines (on stderr) while the sync runs. */
const PROGRESS_SECONDS = 15;

/** CPU time of one process group over the sync. */
export interface CpuFigure {
  /** Processes measured (pids at the start). */
  processes: number;
  cpuMs: number;
  cpuMsPer1000Rows: number;
}

/** What the part reports. */
export interface SyncBench {
  rows: number;
  seconds: number;
  rowsPerSecond: number;
  datasets: SyncStatus["datasets"];
  worker: CpuFigure & { rssBaselineMB: number; rssPeakMB: number; rssSamples: number; isolate: IsolateHeapPeak | undefined };
  node: CpuFigure & { rssBaselineMB: number; rssPeakMB: number };
  redis: CpuFigure;
  /** Every `postgres` process on the machine (the server, its backends): 0 on PGlite, which runs in this process. */
  postgres: CpuFigure;
}

/**
 * Runs one sync of the org `login` answers access tokens for, and measures it (see the module
 * comment). `login` is asked again when a status poll answers 401: an access token lives at most
 * 15 minutes, and a large sync on a slow machine (the memory part's) takes longer.
 * `heapGcAboveMB`: collect the isolate's garbage whenever its heap is over this (see `bench/heap.ts`);
 * default never, so the CPU figures are the sync's own (forced collections cost the Worker CPU).
 * @throws Error when the job is dead-lettered, is not done within `timeoutMs` (default 30 min), or a
 * status poll fails otherwise.
 */
export async function runSyncBench(
  env: LocalEnvironment,
  login: () => Promise<string>,
  options: { timeoutMs?: number; heapGcAboveMB?: number } = {},
): Promise<SyncBench> {
  const timeoutMs = options.timeoutMs ?? 30 * 60_000;
  let auth = { Authorization: `Bearer ${await login()}` };
  const root = env.wranglerPid;
  const workerPids = () => (root === undefined ? [] : pidsNamed(root, "workerd"));
  const redisPids = () => pidsNamed(process.pid, "redis-server");
  const workers = workerPids();
  const redis = redisPids();
  const rssBaselineMB = rssMB(workers);
  const sampler = sampleRss(workerPids);
  const nodeRssBaselineMB = rssMB([process.pid]);
  const nodeSampler = sampleRss(() => [process.pid]);
  const workerCpuBefore = cpuMs(workers);
  const redisCpuBefore = cpuMs(redis);
  const postgresCpu = cpuOfNamed("postgres");
  const nodeCpuBefore = process.cpuUsage();
  const heap =
    env.inspectorPort === undefined
      ? undefined
      : await sampleIsolateHeap(
          env.inspectorPort,
          options.heapGcAboveMB === undefined ? 25 : 100,
          options.heapGcAboveMB ?? Number.POSITIVE_INFINITY,
        );

  const started = performance.now();
  const enqueue = await fetch(`${env.workerUrl}/api/v1/sync/wildberries`, { method: "POST", headers: auth });
  if (!enqueue.ok) throw new Error(`sync enqueue failed: ${enqueue.status} ${await enqueue.text()}`);
  const { jobId } = (await enqueue.json()) as { jobId: string };
  let status: SyncStatus;
  let nextProgress = PROGRESS_SECONDS;
  for (;;) {
    const polled = await fetch(`${env.workerUrl}/api/v1/sync/status`, { headers: auth });
    if (polled.status === 401) {
      await polled.arrayBuffer();
      auth = { Authorization: `Bearer ${await login()}` };
      continue;
    }
    if (!polled.ok) throw new Error(`sync status: ${polled.status} ${await polled.text()}`);
    status = (await polled.json()) as SyncStatus;
    const job = status.jobs.find((j) => j.id === jobId);
    if (job?.status === "succeeded") break;
    if (job?.status === "dead") throw new Error(`sync job died: ${JSON.stringify(status)}`);
    if (performance.now() - started > timeoutMs) throw new Error(`sync not done after ${timeoutMs} ms: ${JSON.stringify(status)}`);
    const elapsed = Math.floor((performance.now() - started) / 1000);
    if (elapsed >= nextProgress) {
      nextProgress = elapsed + PROGRESS_SECONDS;
      const rows = status.datasets.map((d) => `${d.dataset} ${d.totalRows}`).join(", ");
      const error = job?.lastError ? `, last error: ${job.lastError}` : "";
      process.stderr.write(`sync: ${elapsed} s, job ${job?.status ?? "?"} (attempt ${job?.attempts ?? 0}), rows stored: ${rows}${error}\n`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const seconds = (performance.now() - started) / 1000;
  const nodeCpu = process.cpuUsage(nodeCpuBefore);
  const workerCpu = cpuMs(workers) - workerCpuBefore;
  const redisCpu = cpuMs(redis) - redisCpuBefore;
  const postgres = postgresCpu.stop();
  const { peakMB, samples } = sampler.stop();
  const nodePeak = nodeSampler.stop();
  const isolate = await heap?.stop();

  const rows = status.datasets.reduce((n, d) => n + d.totalRows, 0);
  const per1000 = (ms: number) => round1(ms / Math.max(1, rows / 1000));
  const figure = (processes: number, ms: number): CpuFigure => ({ processes, cpuMs: Math.round(ms), cpuMsPer1000Rows: per1000(ms) });
  return {
    rows,
    seconds: round1(seconds),
    rowsPerSecond: Math.round(rows / seconds),
    datasets: status.datasets,
    worker: {
      ...figure(workers.length, workerCpu),
      rssBaselineMB: Math.round(rssBaselineMB),
      rssPeakMB: Math.round(peakMB),
      rssSamples: samples,
      isolate,
    },
    node: {
      ...figure(1, (nodeCpu.user + nodeCpu.system) / 1000),
      rssBaselineMB: Math.round(nodeRssBaselineMB),
      rssPeakMB: Math.round(nodePeak.peakMB),
    },
    redis: figure(redis.length, redisCpu),
    postgres: figure(postgres.processes, postgres.cpuMs),
  };
}

/**
 * What the measured CPU allows: the CPU of every process of the sync per 1,000 rows (Worker, Node,
 * Redis, Postgres), and the rows/s `cores` could sustain at that cost were every core busy all the
 * time; the measured rows/s as a share of it tells how much of the machine the sync used (the
 * rest: steps that wait on each other). A target above the ceiling needs less CPU, not more overlap.
 */
export function cpuCeiling(sync: SyncBench, cores: number): { cpuMsPer1000Rows: number; rowsPerSecond: number; used: number } {
  const total = sync.worker.cpuMsPer1000Rows + sync.node.cpuMsPer1000Rows + sync.redis.cpuMsPer1000Rows + sync.postgres.cpuMsPer1000Rows;
  const rowsPerSecond = total > 0 ? Math.round((cores * 1_000_000) / total) : 0;
  return {
    cpuMsPer1000Rows: round1(total),
    rowsPerSecond,
    used: rowsPerSecond > 0 ? Math.round((100 * sync.rowsPerSecond) / rowsPerSecond) : 0,
  };
}

/** The human lines of {@link SyncBench}. */
export function syncLines(sync: SyncBench, cores = availableParallelism()): string[] {
  const n = (x: number) => x.toLocaleString("en-US");
  const ceiling = cpuCeiling(sync, cores);
  return [
    `sync                     ${n(sync.rows)} rows in ${sync.seconds} s = ${n(sync.rowsPerSecond)} rows/s`,
    `sync, Worker (workerd)   CPU ${n(sync.worker.cpuMs)} ms = ${sync.worker.cpuMsPer1000Rows} ms per 1,000 rows (${sync.worker.processes} processes); RSS ${n(sync.worker.rssBaselineMB)} MB before, peak ${n(sync.worker.rssPeakMB)} MB during`,
    sync.worker.isolate
      ? `sync, Worker isolate     heap ${sync.worker.isolate.baselineUsedMB} MB before, peak ${sync.worker.isolate.peakRawMB} MB during, garbage included (V8 collects lazily without a cap; see the memory line)`
      : "sync, Worker isolate     heap not measured (no inspector port)",
    `sync, Node (adapters+WB) CPU ${n(sync.node.cpuMs)} ms = ${sync.node.cpuMsPer1000Rows} ms per 1,000 rows; RSS ${n(sync.node.rssBaselineMB)} MB before, peak ${n(sync.node.rssPeakMB)} MB during`,
    `sync, redis-server       CPU ${n(sync.redis.cpuMs)} ms = ${sync.redis.cpuMsPer1000Rows} ms per 1,000 rows (${sync.redis.processes} processes)`,
    `sync, Postgres           CPU ${n(sync.postgres.cpuMs)} ms = ${sync.postgres.cpuMsPer1000Rows} ms per 1,000 rows (${sync.postgres.processes} processes, the whole machine's)`,
    `sync, all processes      CPU ${ceiling.cpuMsPer1000Rows} ms per 1,000 rows: ${cores} cores sustain at most ${n(ceiling.rowsPerSecond)} rows/s at that cost; the sync reached ${ceiling.used} % of it`,
  ];
}
