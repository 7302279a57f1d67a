/**
 * `npm run dev`: the whole product on one machine, no Docker, no cloud account.
 *
 * Starts the local stack (Neon `/sql` adapter over PGlite in `.data/pglite`, or the
 * Postgres in `DATABASE_URL`; Upstash REST over redis-server, or `REDIS_URL`; the QStash
 * emulator; the Wildberries double unless `WB_STATISTICS_API_URL` + `WB_API_TOKEN` are set),
 * applies the migrations, seeds the demo org and user, runs `wrangler dev` on the
 * all-in-one Worker, fires the cron triggers on schedule, triggers a first sync, and
 * prints the URLs and the demo login. Ctrl-C stops everything.
 */
import { Cron } from "croner";
import { routeGroups } from "../src/routes/registry";
import { startLocalEnvironment } from "./local-env";
import { DEMO_USER } from "./seed";

async function main() {
  const realWb = process.env.WB_STATISTICS_API_URL;
  if (realWb && !process.env.WB_API_TOKEN)
    throw new Error("WB_STATISTICS_API_URL is set: set WB_API_TOKEN to your Wildberries statistics token too.");
  const local = await startLocalEnvironment({
    port: Number(process.env.PORT ?? 8787),
    dataDir: ".data",
    qstashRetryDelayFactor: Number(process.env.QSTASH_RETRY_DELAY_FACTOR ?? 0.05),
    ...(realWb ? { wildberries: { url: realWb, token: process.env.WB_API_TOKEN as string } } : {}),
  });
  const { workerUrl, stack } = local;
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

  const accessToken = await local.login();
  const sync = await fetch(`${workerUrl}/api/v1/sync/wildberries`, { method: "POST", headers: { Authorization: `Bearer ${accessToken}` } });
  console.log(`
Seller Edge is running
  API (all route groups)  ${workerUrl}   e.g. GET ${workerUrl}/api/v1/analytics/sales?period=30d
  API reference           ${workerUrl}/docs   (OpenAPI 3.1: ${workerUrl}/openapi.json)
  Neon /sql adapter       ${stack.neon.url}  (${process.env.DATABASE_URL ? "Postgres from DATABASE_URL" : "PGlite in .data/pglite"})
  Upstash Redis REST      ${stack.redis.url}  (${stack.redis.engine})
  QStash emulator         ${stack.qstash.url}
  Wildberries API         ${realWb ?? `${stack.wb.url} (double)`}
  Demo login              ${DEMO_USER.email} / ${DEMO_USER.password}  (org ${local.demo.orgId})
  First sync              ${sync.status} ${await sync.text()}
  Access token (15 min)   ${accessToken}
Ctrl-C stops everything.`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
