/**
 * `npm run bench`: measures, on this machine, against `wrangler dev` on the local stack:
 * - the Wildberries sync of the demo data set (≥ 50,000 orders): rows/s end to end
 *   (cron-equivalent enqueue → QStash emulator → Worker → Neon adapter);
 * - a cached dashboard read (`GET /api/v1/analytics/sales?period=30d`, X-Cache: HIT) next to
 *   a bare `GET /health` on the same Worker: requests/s, p50 and p99 latency (autocannon).
 * - the webhook soak (`bench/soak.ts`): `BENCH_SOAK_DELIVERIES` (default 10,000) signed Standard
 *   Webhooks deliveries with 10 % duplicates and 5 % injected consumer failures: ingest
 *   requests/s, p50/p99, the time until the last event is processed, and proof that every
 *   distinct event was processed exactly once.
 * - the assistant's statistics (`bench/assistant-stats.ts`): uncached and cached
 *   `GET /api/v1/assistant/stats?period=month` on 200,000 generated messages of 5,200 users.
 * Set `BENCH_SECONDS` (default 10), `BENCH_CONNECTIONS` (default 10), `BENCH_PARTS` (default
 * `sync,load,soak,assistant`). Figures go to
 * docs/performance.md by hand, with the machine they were taken on.
 */
import { createServer } from "node:net";
import autocannon from "autocannon";
import { startLocalEnvironment } from "../scripts/local-env";
import { runAssistantStatsBench } from "./assistant-stats";
import { runWebhookSoak } from "./soak";

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 10);
/** Parts to run, comma separated: `sync`, `load` (needs `sync`), `soak`, `assistant`; default all. */
const parts = new Set((process.env.BENCH_PARTS ?? "sync,load,soak,assistant").split(",").map((p) => p.trim()));

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

interface SyncStatus {
  datasets: { dataset: string; lastRunRows: number; totalRows: number; lastError: string | null }[];
  jobs: { id: string; status: string }[];
}

async function load(url: string, headers: Record<string, string>) {
  const result = await autocannon({ url, headers, connections, duration: seconds });
  return {
    requestsPerSecond: Math.round(result.requests.average),
    p50ms: result.latency.p50,
    p99ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

async function main() {
  const env = await startLocalEnvironment({
    port: await freePort(),
    vars: {
      RATE_LIMIT_PER_MINUTE: "100000000",
      RATE_LIMIT_OVERRIDES: JSON.stringify({ "assistant-stats": 100_000_000 }),
      LOG_LEVEL: "error",
    },
    qstashRetryDelayFactor: 0.001,
    wbRateLimit: { requests: 1000, perMs: 1000 },
    wranglerLogLevel: "warn",
  });
  try {
    const token = await env.login();
    const auth = { Authorization: `Bearer ${token}` };

    const report: Record<string, unknown> = {
      machine: `${process.platform} ${process.arch}, node ${process.version}, engine ${process.env.DATABASE_URL ? "postgres" : "pglite"}, redis ${env.stack.redis.engine}`,
    };
    const lines: string[] = [];
    if (parts.has("sync")) {
      const started = performance.now();
      const enqueue = await fetch(`${env.workerUrl}/api/v1/sync/wildberries`, { method: "POST", headers: auth });
      const { jobId } = (await enqueue.json()) as { jobId: string };
      let status: SyncStatus | undefined;
      for (;;) {
        status = (await (await fetch(`${env.workerUrl}/api/v1/sync/status`, { headers: auth })).json()) as SyncStatus;
        const job = status.jobs.find((j) => j.id === jobId);
        if (job?.status === "succeeded") break;
        if (job?.status === "dead") throw new Error(`sync job died: ${JSON.stringify(status)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      const syncSeconds = (performance.now() - started) / 1000;
      const rows = status.datasets.reduce((n, d) => n + d.totalRows, 0);
      report.sync = {
        rows,
        seconds: Math.round(syncSeconds * 10) / 10,
        rowsPerSecond: Math.round(rows / syncSeconds),
        datasets: status.datasets,
      };
      lines.push(
        `sync                     ${rows} rows in ${Math.round(syncSeconds * 10) / 10} s = ${Math.round(rows / syncSeconds)} rows/s`,
      );
    }
    if (parts.has("load")) {
      // The cached read needs the demo data: run with the sync part (the default).
      const dashboard = `${env.workerUrl}/api/v1/analytics/sales?period=30d`;
      const warm = await fetch(dashboard, { headers: auth });
      await warm.arrayBuffer();
      const check = await fetch(dashboard, { headers: auth });
      await check.arrayBuffer();
      if (check.headers.get("X-Cache") !== "HIT") throw new Error(`expected a cache HIT, got ${check.headers.get("X-Cache")}`);
      const health = await load(`${env.workerUrl}/health`, {});
      const cached = await load(dashboard, auth);
      report.load = { seconds, connections, health, cachedDashboardRead: cached };
      lines.push(
        `GET /health              ${health.requestsPerSecond} req/s  p50 ${health.p50ms} ms  p99 ${health.p99ms} ms`,
        `GET analytics (cached)   ${cached.requestsPerSecond} req/s  p50 ${cached.p50ms} ms  p99 ${cached.p99ms} ms`,
      );
    }
    if (parts.has("soak")) {
      const soak = await runWebhookSoak(env, token, Number(process.env.BENCH_SOAK_DELIVERIES ?? 10_000), connections);
      report.webhookSoak = soak;
      lines.push(
        `POST /webhooks/crm       ${soak.ingest.requestsPerSecond} req/s  p50 ${soak.ingest.p50ms} ms  p99 ${soak.ingest.p99ms} ms (${soak.deliveries} deliveries, ${soak.distinctEvents} distinct)`,
        `webhook soak             ${soak.processed}/${soak.distinctEvents} processed exactly once, ${soak.lost} lost, ${soak.injectedConsumerFailures} injected consumer failures; last processed after ${soak.secondsUntilLastProcessed} s`,
      );
    }
    if (parts.has("assistant")) {
      const uncachedRequests = Number(process.env.BENCH_ASSISTANT_UNCACHED ?? 30);
      const stats = await runAssistantStatsBench(env, token, { seconds, connections, uncachedRequests });
      report.assistantStats = stats;
      lines.push(
        `GET assistant/stats (uncached)  p50 ${stats.uncached.p50ms} ms  p99 ${stats.uncached.p99ms} ms  mean ${stats.uncached.meanMs} ms (${stats.uncached.requests} requests, ${stats.dataSet.messages} messages, ${stats.dataSet.users + stats.dataSet.silentUsers} users)`,
        `GET assistant/stats (cached)    ${stats.cached.requestsPerSecond} req/s  p50 ${stats.cached.p50ms} ms  p99 ${stats.cached.p99ms} ms`,
      );
    }
    console.log(JSON.stringify(report, null, 2));
    console.log(`\n${lines.join("\n")}`);
  } finally {
    await env.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
