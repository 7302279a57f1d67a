/**
 * `npm run dev`: the whole product on one machine, no Docker, no cloud account.
 *
 * Starts the local stack (Neon `/sql` adapter over PGlite in `.data/pglite`, or the
 * Postgres in `DATABASE_URL`; Upstash REST over redis-server, or `REDIS_URL`; the QStash
 * emulator; the Wildberries double unless `WB_STATISTICS_API_URL` + `WB_API_TOKEN` are set),
 * applies the migrations, seeds the demo org and user (and its support bot: a `curl` in the banner writes to it as a client), runs `wrangler dev` on the
 * all-in-one Worker, fires the cron triggers on schedule, triggers a first sync, prints the URLs
 * and the demo login, and follows the first sync: its rows per data set as they arrive, then its
 * end. The Worker's own logs (at `LOG_LEVEL`, default `info`) are shown one line per event
 * (`scripts/log-format.ts`). Ctrl-C stops everything.
 *
 * `PORT` (default 8787) and `DEV_DATA_DIR` (default `.data`: PGlite data, the stack's keys, the
 * generated vars file) let a second instance run beside the first.
 *
 * `npm run dev` runs this file with `node --import tsx`, not the `tsx` command: on Ctrl-C, tsx's
 * signal relay SIGKILLs a child that has not acknowledged the signal within about 60 ms, which this
 * process often cannot do while embedded PGlite (synchronous WASM, in this process) writes a sync
 * page; killed that way it never stops `wrangler dev`, which keeps the port.
 */
import { Cron } from "croner";
import { routeGroups } from "../src/routes/registry";
import { type LocalEnvironment, startLocalEnvironment } from "./local-env";
import { linePrefix, QUIET_REQUEST_ID_PREFIX, useColor } from "./log-format";
import { DEMO_USER } from "./seed";
import { followSync, type ProgressLine, type SyncStatusView } from "./sync-progress";

/** How often the first sync's status is polled. */
const PROGRESS_POLL_MS = 1000;

const color = useColor(process.stdout);
const say = (level: ProgressLine["level"] | "error", text: string) => console.log(`${linePrefix(level, undefined, { color })} ${text}`);

/**
 * Polls `GET /api/v1/sync/status` every second and prints the first sync's progress until job
 * `jobId` succeeds or is dead-lettered (or `stopped()`). Logs in again when the token expires.
 */
async function followFirstSync(
  local: LocalEnvironment,
  jobId: string,
  before: SyncStatusView | undefined,
  token: string,
  stopped: () => boolean,
): Promise<void> {
  const progress = followSync(jobId, before);
  const started = Date.now();
  let poll = 0;
  let unreachable = false;
  while (!stopped()) {
    await new Promise((r) => setTimeout(r, PROGRESS_POLL_MS));
    try {
      const res = await fetch(`${local.workerUrl}/api/v1/sync/status`, {
        headers: { Authorization: `Bearer ${token}`, "X-Request-Id": `${QUIET_REQUEST_ID_PREFIX}sync-status-${++poll}` },
      });
      if (res.status === 401) {
        token = await local.login();
        continue;
      }
      if (!res.ok) throw new Error(`GET /api/v1/sync/status answered ${res.status}`);
      unreachable = false;
      const { lines, end } = progress.next((await res.json()) as SyncStatusView, Date.now() - started);
      for (const line of lines) say(line.level, line.text);
      if (end) {
        say(end.ok ? "sync" : "error", end.text);
        return;
      }
    } catch (err) {
      // wrangler reloads the Worker on a source change; say it once and keep polling.
      if (!unreachable && !stopped()) say("warn", `sync progress: ${err instanceof Error ? err.message : String(err)}; retrying`);
      unreachable = true;
    }
  }
}

async function main() {
  const realWb = process.env.WB_STATISTICS_API_URL;
  if (realWb && !process.env.WB_API_TOKEN)
    throw new Error("WB_STATISTICS_API_URL is set: set WB_API_TOKEN to your Wildberries statistics token too.");
  const dataDir = process.env.DEV_DATA_DIR || ".data";
  if (!realWb && process.env.WB_DATASET && process.env.WB_DATASET !== "demo")
    say("sync", `generating the Wildberries data set ${process.env.WB_DATASET} (a few seconds)…`);
  const local = await startLocalEnvironment({
    port: Number(process.env.PORT ?? 8787),
    dataDir,
    qstashRetryDelayFactor: Number(process.env.QSTASH_RETRY_DELAY_FACTOR ?? 0.05),
    ...(realWb ? { wildberries: { url: realWb, token: process.env.WB_API_TOKEN as string } } : {}),
  });
  const { workerUrl } = local;
  // wrangler dev does not fire cron triggers by itself; fire the groups' crons on their schedule.
  const crons = routeGroups
    .flatMap((g) => Object.keys(g.crons))
    .map((cron) => new Cron(cron, () => void fetch(`${workerUrl}/__scheduled?cron=${encodeURIComponent(cron)}`).catch(() => undefined)));
  let stopping = false;
  const stop = async (code: number) => {
    // Ctrl-C reaches wrangler too; its exit must not start a second shutdown.
    if (stopping) return;
    stopping = true;
    for (const c of crons) c.stop();
    console.log("\nstopping…");
    await local.stop();
    process.exit(code);
  };
  process.on("SIGINT", () => void stop(0));
  process.on("SIGTERM", () => void stop(0));
  void local.exited.then((code) => stop(code));
  try {
    await greetAndFollowFirstSync(local, dataDir, realWb, () => stopping);
  } catch (err) {
    console.error(err);
    await stop(1);
  }
}

/** Logs in as the demo user, starts the first sync, prints the banner and follows the sync. */
async function greetAndFollowFirstSync(local: LocalEnvironment, dataDir: string, realWb: string | undefined, stopped: () => boolean) {
  const { workerUrl, stack } = local;
  const accessToken = await local.login();
  // The state before the sync, so that only this sync's rows count as its progress.
  const before = await fetch(`${workerUrl}/api/v1/sync/status`, {
    headers: { Authorization: `Bearer ${accessToken}`, "X-Request-Id": `${QUIET_REQUEST_ID_PREFIX}sync-status-0` },
  })
    .then(async (res) => (res.ok ? ((await res.json()) as SyncStatusView) : undefined))
    .catch(() => undefined);
  const sync = await fetch(`${workerUrl}/api/v1/sync/wildberries`, { method: "POST", headers: { Authorization: `Bearer ${accessToken}` } });
  const syncBody = await sync.text();
  const jobId = sync.status === 202 ? (JSON.parse(syncBody) as { jobId: string }).jobId : undefined;
  console.log(`
Seller Edge is running
  API (all route groups)  ${workerUrl}   e.g. GET ${workerUrl}/api/v1/analytics/sales?period=30d
  API reference           ${workerUrl}/docs   (OpenAPI 3.1: ${workerUrl}/openapi.json)
  Neon /sql adapter       ${stack.neon.url}  (${process.env.DATABASE_URL ? "Postgres from DATABASE_URL" : `PGlite in ${dataDir}/pglite`})
  Upstash Redis REST      ${stack.redis.url}  (${stack.redis.engine})
  QStash emulator         ${stack.qstash.url}
  Wildberries API         ${realWb ?? `${stack.wb.url} (double)`}
  Demo login              ${DEMO_USER.email} / ${DEMO_USER.password}  (org ${local.demo.orgId})
  First sync              ${jobId ? `job ${jobId}, progress below` : `${sync.status} ${syncBody}`}
  Telegram Bot API double ${stack.telegram.url}   support bot @${local.supportBot.username} (docs/helpdesk.md)
  Write to the support bot as a client:
    ${local.supportBot.curl}
  …see the bot's answers:  ${local.supportBot.answers}
  …and the tickets:        curl -s ${workerUrl}/api/v1/helpdesk/tickets -H "Authorization: Bearer $TOKEN"   (TOKEN: the access token below)
  Access token (15 min)   ${accessToken}
  Logs                    the Worker's, at LOG_LEVEL=${process.env.LOG_LEVEL ?? "info"} (debug | info | warn | error)
Ctrl-C stops everything.
`);
  if (jobId) await followFirstSync(local, jobId, before, accessToken, stopped);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
