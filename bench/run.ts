/**
 * `npm run bench`: measures, on this machine, against `wrangler dev` on the local stack. Parts
 * (`BENCH_PARTS`, comma separated; default `sync,dashboard,paging,load,soak,assistant`):
 * - `sync` (`bench/sync.ts`): one Wildberries sync of the demo org, end to end (enqueue → QStash
 *   emulator → Worker → WB double → Neon adapter): rows, seconds, rows/s; the Worker's CPU time
 *   (`workerd`'s utime + stime from `/proc`) per 1,000 rows and its resident memory before and at
 *   its peak during the sync (sampled every 50 ms); the CPU of this Node process (the adapters and
 *   the WB double) and of `redis-server` per 1,000 rows;
 * - `memory` (`bench/memory.ts`): the Worker isolate's heap (DevTools `Runtime.getHeapUsage`,
 *   garbage collected above 64 MB) while a second org syncs the same data from scratch: the peak a
 *   128 MB-capped isolate would hold, for the WB page size of the run;
 * - `dashboard` (`bench/dashboard.ts`, needs `sync`): every dashboard route uncached on the synced
 *   data (no manual ANALYZE), `BENCH_DASHBOARD_REQUESTS` (default 30) sequential reads per route
 *   and period (7d, 30d, 180d), each after bumping the org's cache version: p50, p95, first read;
 * - `paging` (`bench/paging.ts`, needs `sync`): first and last page (keyset cursor, `limit=100`)
 *   of `/orders/recent` and `/stocks`, uncached, p50/p95 and last/first, and the `offset=10000` page;
 * - `load` (needs `sync`): a cached dashboard read (`GET /api/v1/analytics/sales?period=30d`,
 *   X-Cache: HIT) next to a bare `GET /health` on the same Worker (autocannon): requests/s, p50,
 *   p99, and the cached read's requests/s as a share of `/health`'s;
 * - `soak` (`bench/soak.ts`): `BENCH_SOAK_DELIVERIES` (default 10,000) signed Standard Webhooks
 *   deliveries with 10 % duplicates and 5 % injected consumer failures: ingest requests/s,
 *   p50/p99, the time until the last event is processed, and proof that every distinct event was
 *   processed exactly once;
 * - `assistant` (`bench/assistant-stats.ts`): uncached and cached
 *   `GET /api/v1/assistant/stats?period=month` on 200,000 generated messages of 5,200 users.
 *
 * Data set: `BENCH_DATASET` (`demo`, the default: 50,000 orders, ~87,000 rows; `large`: 1,000,000
 * orders, 3,000 products, 40 warehouses, ~1.9 million rows; see `WB_DATASET_PRESETS` in
 * `dev/wildberries/dataset.ts`). `BENCH_WB_PAGE_ROWS`: rows per page of the WB double (default WB's
 * 80,000; e.g. 100000 to measure the Worker's memory on a bigger page). The WB double's rate limit
 * is lifted (1,000 requests/s), and so is the API's.
 * Database: with `DATABASE_URL` (a Postgres server) the bench creates a fresh database on it and
 * drops it at the end (`BENCH_KEEP_DB=1` keeps it, and prints its URL); else in-memory PGlite.
 * Load: `BENCH_SECONDS` (default 10), `BENCH_CONNECTIONS` (default 10).
 * Output: first the machine's speed (`bench/calibrate.ts`: fixed Node and Postgres workloads, so
 * runs on different days compare), then a JSON report, then one human line per figure. Figures go to docs/performance.md by
 * hand, with the machine they were taken on.
 */

import autocannon from "autocannon";
import { freePort } from "../dev/free-port";
import { freshDatabase } from "../dev/fresh-database";
import { DEMO_WB_TOKEN, type LocalEnvironment, startLocalEnvironment } from "../scripts/local-env";
import { runAssistantStatsBench } from "./assistant-stats";
import { calibrate, calibrationLine } from "./calibrate";
import { dashboardLine, runDashboardBench } from "./dashboard";
import { benchEnvironment, countGcPauses, loadSummary } from "./measure";
import { memoryLines, runMemoryBench } from "./memory";
import { pagingLines, runPagingBench } from "./paging";
import { runWebhookSoak } from "./soak";
import { runSyncBench, syncLines } from "./sync";

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 10);
const PARTS = ["sync", "dashboard", "paging", "load", "memory", "soak", "assistant"] as const;
/** Parts to run (see the module comment). */
const parts = new Set((process.env.BENCH_PARTS ?? PARTS.join(",")).split(",").map((p) => p.trim()));
const unknownParts = [...parts].filter((p) => !(PARTS as readonly string[]).includes(p));
if (unknownParts.length > 0) throw new Error(`BENCH_PARTS: unknown ${unknownParts.join(", ")}; known: ${PARTS.join(", ")}`);
const pageRows = process.env.BENCH_WB_PAGE_ROWS ? Number(process.env.BENCH_WB_PAGE_ROWS) : undefined;
const uncachedRequests = Number(process.env.BENCH_DASHBOARD_REQUESTS ?? 30);

async function load(url: string, headers: Record<string, string>) {
  return loadSummary(await autocannon({ url, headers, connections, duration: seconds }));
}

/** Row counts of the demo token's WB data set (generated now if it was not yet). */
function datasetSize(env: LocalEnvironment) {
  const dataset = env.stack.wb.dataset(DEMO_WB_TOKEN);
  return {
    orders: dataset?.orders.length,
    sales: dataset?.sales.length,
    stocks: dataset?.stocks.length,
    products: dataset?.products.length,
    warehouses: dataset?.warehouses.length,
  };
}

async function main() {
  // First, on a machine that runs nothing of the bench yet.
  const calibration = await calibrate(process.env.DATABASE_URL);
  console.log(calibrationLine(calibration));
  const db = process.env.DATABASE_URL ? await freshDatabase(process.env.DATABASE_URL, "seller_edge_bench") : undefined;
  const env = await startLocalEnvironment({
    ...benchEnvironment,
    port: await freePort(),
    inspectorPort: await freePort(),
    wbDataset: process.env.BENCH_DATASET ?? "demo",
    wbRowLimit: pageRows,
    databaseUrl: db?.url,
  }).catch(async (err: unknown) => {
    await db?.drop();
    throw err;
  });
  try {
    const token = await env.login();
    const auth = { Authorization: `Bearer ${token}` };
    const dataset = datasetSize(env);

    const report: Record<string, unknown> = {
      calibration,
      machine: `${process.platform} ${process.arch}, node ${process.version}, engine ${db ? "postgres" : "pglite"}, redis ${env.stack.redis.engine}`,
      dataSet: {
        name: env.wbDataset.name,
        ...dataset,
        generateSeconds: env.wbDataset.generateSeconds,
        wbPageRows: pageRows ?? 80_000,
      },
    };
    const lines: string[] = [
      calibrationLine(calibration),
      `data set                 ${env.wbDataset.name}: ${dataset.orders?.toLocaleString("en-US")} orders, ${dataset.sales?.toLocaleString("en-US")} sales, ${dataset.stocks?.toLocaleString("en-US")} stocks${env.wbDataset.generateSeconds === undefined ? "" : ` (generated in ${env.wbDataset.generateSeconds} s)`}; WB pages of ${(pageRows ?? 80_000).toLocaleString("en-US")} rows`,
    ];
    // Each part's lines are printed as soon as it ends too: a long run shows progress.
    const say = (more: string[]) => {
      for (const line of more) console.log(line);
      lines.push(...more);
    };
    if (parts.has("sync")) {
      const sync = await runSyncBench(env, () => env.login());
      report.sync = sync;
      say(syncLines(sync));
    }
    // The WB double's data set lives in this process, which also times every read below: kept, the
    // large set's ~2 GB of objects made this process' garbage collections pause it for up to 424 ms
    // in the middle of the dashboard part (p95 172 ms for a route whose p50 was 22 ms). Dropped, and
    // collected now (`npm run bench` runs node with --expose-gc) rather than during a timed read; a
    // later sync (the memory part) gets the same rows again.
    if (env.stack.wb.releaseDataset(DEMO_WB_TOKEN)) globalThis.gc?.();
    if (parts.has("dashboard")) {
      say([`dashboard, uncached (${uncachedRequests} reads per route after a first; ms)`]);
      const stopCounting = countGcPauses();
      const dashboard = await runDashboardBench(env, token, uncachedRequests, (figure) => say([dashboardLine(figure)]));
      const gc = stopCounting();
      report.dashboard = { ...dashboard, benchProcessGc: gc };
      say([
        `  (this process, which times the reads and runs the doubles: ${gc.count} GC pauses, ${gc.totalMs} ms in all, the longest ${gc.maxMs} ms)`,
      ]);
    }
    if (parts.has("paging")) {
      const paging = await runPagingBench(env, token, uncachedRequests);
      report.paging = paging;
      say(paging.flatMap(pagingLines));
    }
    if (parts.has("load")) {
      // The cached read needs synced data: run with the sync part (the default).
      const dashboard = `${env.workerUrl}/api/v1/analytics/sales?period=30d`;
      const warm = await fetch(dashboard, { headers: auth });
      await warm.arrayBuffer();
      const check = await fetch(dashboard, { headers: auth });
      await check.arrayBuffer();
      if (check.headers.get("X-Cache") !== "HIT") throw new Error(`expected a cache HIT, got ${check.headers.get("X-Cache")}`);
      const health = await load(`${env.workerUrl}/health`, {});
      const cached = await load(dashboard, auth);
      const cachedShareOfHealth = Math.round((cached.requestsPerSecond / Math.max(1, health.requestsPerSecond)) * 100);
      report.load = { seconds, connections, health, cachedDashboardRead: cached, cachedShareOfHealthPercent: cachedShareOfHealth };
      say([
        `GET /health              ${health.requestsPerSecond} req/s  p50 ${health.p50ms} ms  p99 ${health.p99ms} ms`,
        `GET analytics (cached)   ${cached.requestsPerSecond} req/s  p50 ${cached.p50ms} ms  p99 ${cached.p99ms} ms  = ${cachedShareOfHealth} % of /health's req/s`,
      ]);
    }
    // After the reads: its second org doubles the tables the dashboard parts read.
    if (parts.has("memory")) {
      const memory = await runMemoryBench(env, DEMO_WB_TOKEN, pageRows ?? 80_000);
      report.memory = memory;
      say(memoryLines(memory));
    }
    if (parts.has("soak")) {
      const soak = await runWebhookSoak(env, token, Number(process.env.BENCH_SOAK_DELIVERIES ?? 10_000), connections);
      report.webhookSoak = soak;
      say([
        `POST /webhooks/crm       ${soak.ingest.requestsPerSecond} req/s  p50 ${soak.ingest.p50ms} ms  p99 ${soak.ingest.p99ms} ms (${soak.deliveries} deliveries, ${soak.distinctEvents} distinct)`,
        `webhook soak             ${soak.processed}/${soak.distinctEvents} processed exactly once, ${soak.lost} lost, ${soak.injectedConsumerFailures} injected consumer failures; last processed after ${soak.secondsUntilLastProcessed} s`,
      ]);
    }
    if (parts.has("assistant")) {
      const assistantUncached = Number(process.env.BENCH_ASSISTANT_UNCACHED ?? 30);
      const stats = await runAssistantStatsBench(env, token, { seconds, connections, uncachedRequests: assistantUncached });
      report.assistantStats = stats;
      say([
        `GET assistant/stats (uncached)  p50 ${stats.uncached.p50ms} ms  p99 ${stats.uncached.p99ms} ms  mean ${stats.uncached.meanMs} ms (${stats.uncached.requests} requests, ${stats.dataSet.messages} messages, ${stats.dataSet.users + stats.dataSet.silentUsers} users)`,
        `GET assistant/stats (cached)    ${stats.cached.requestsPerSecond} req/s  p50 ${stats.cached.p50ms} ms  p99 ${stats.cached.p99ms} ms`,
      ]);
    }
    console.log(`\n${JSON.stringify(report, null, 2)}`);
    console.log(`\n${lines.join("\n")}`);
  } finally {
    await env.stop();
    if (db && process.env.BENCH_KEEP_DB === "1") console.log(`database kept: ${db.url}`);
    else await db?.drop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
