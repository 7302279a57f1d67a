/**
 * `npm run dev`: the whole product on one machine, no Docker, no cloud account.
 *
 * Starts the local stack (Neon `/sql` adapter over PGlite in `.data/pglite`, or the
 * Postgres in `DATABASE_URL`; Upstash REST over redis-server, or `REDIS_URL`; the QStash
 * emulator; the Wildberries double unless `WB_STATISTICS_API_URL` is set), applies the
 * migrations, seeds the demo org and user, runs `wrangler dev` on the all-in-one Worker,
 * fires the cron triggers on schedule, triggers a first sync, and prints the URLs.
 * Ctrl-C stops everything.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { Cron } from "croner";
import { generateStackSecrets, type LocalStackSecrets, startLocalStack } from "../dev/stack";
import { applyMigrations } from "./migrate";
import { DEMO_USER, seedDemo } from "./seed";

const WORKER_PORT = Number(process.env.PORT ?? 8787);
const DATA_DIR = ".data";
const DEMO_WB_TOKEN = "demo-wb-statistics-token";

/** Secrets persist in `.data/` so the PGlite data (and its encrypted WB token) survive restarts. */
function loadSecrets(): LocalStackSecrets {
  const file = `${DATA_DIR}/secrets.json`;
  if (existsSync(file)) return JSON.parse(readFileSync(file, "utf8")) as LocalStackSecrets;
  const secrets = generateStackSecrets();
  writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
}

async function waitForHealth(url: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`${url}/health`)).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`the Worker did not answer ${url}/health within ${timeoutMs} ms`);
}

async function main() {
  mkdirSync(DATA_DIR, { recursive: true });
  const realWb = process.env.WB_STATISTICS_API_URL;
  const wbToken = realWb ? process.env.WB_API_TOKEN : DEMO_WB_TOKEN;
  if (realWb && !wbToken) throw new Error("WB_STATISTICS_API_URL is set: set WB_API_TOKEN to your Wildberries statistics token too.");
  const workerUrl = `http://127.0.0.1:${WORKER_PORT}`;
  const stack = await startLocalStack({
    databaseUrl: process.env.DATABASE_URL,
    dataDir: process.env.DATABASE_URL ? undefined : `${DATA_DIR}/pglite`,
    redisUrl: process.env.REDIS_URL,
    publicJobsUrl: workerUrl,
    qstashRetryDelayFactor: Number(process.env.QSTASH_RETRY_DELAY_FACTOR ?? 0.05),
    secrets: loadSecrets(),
    wb: { tokens: { [DEMO_WB_TOKEN]: {} }, rateLimit: { requests: 20, perMs: 60_000 } },
  });
  const env = { ...stack.env, LOG_LEVEL: process.env.LOG_LEVEL ?? "info", ...(realWb ? { WB_STATISTICS_API_URL: realWb } : {}) };
  await applyMigrations(env.DATABASE_URL as string, env.NEON_FETCH_ENDPOINT);
  const demo = await seedDemo(
    { DATABASE_URL: env.DATABASE_URL as string, NEON_FETCH_ENDPOINT: env.NEON_FETCH_ENDPOINT, ENCRYPTION_KEY: env.ENCRYPTION_KEY as string },
    wbToken as string,
  );
  const varsFile = `${DATA_DIR}/dev.vars`;
  writeFileSync(varsFile, Object.entries(env).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join("\n"), { mode: 0o600 });

  const wrangler: ChildProcess = spawn(
    "npx",
    ["wrangler", "dev", "--port", String(WORKER_PORT), "--ip", "127.0.0.1", "--env-file", varsFile, "--test-scheduled", "--show-interactive-dev-session=false"],
    { stdio: ["ignore", "inherit", "inherit"], detached: process.platform !== "win32" },
  );
  let stopping = false;
  const crons: Cron[] = [];
  const stop = async (code = 0) => {
    if (stopping) return;
    stopping = true;
    console.log("\nstopping…");
    for (const c of crons) c.stop();
    if (wrangler.pid && wrangler.exitCode === null) {
      try {
        process.kill(-wrangler.pid, "SIGTERM");
      } catch {
        wrangler.kill("SIGTERM");
      }
    }
    await stack.close();
    process.exit(code);
  };
  process.on("SIGINT", () => void stop());
  process.on("SIGTERM", () => void stop());
  wrangler.on("exit", (code) => void stop(code ?? 1));

  await waitForHealth(workerUrl, 120_000);
  // wrangler dev does not fire cron triggers on its own; fire ours on their schedule.
  for (const cron of ["*/30 * * * *", "*/5 * * * *"]) {
    crons.push(new Cron(cron, () => void fetch(`${workerUrl}/__scheduled?cron=${encodeURIComponent(cron)}`).catch(() => undefined)));
  }
  const login = await fetch(`${workerUrl}/api/v1/auth/login`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(DEMO_USER),
  });
  const { accessToken } = (await login.json()) as { accessToken: string };
  const sync = await fetch(`${workerUrl}/api/v1/sync/wildberries`, { method: "POST", headers: { Authorization: `Bearer ${accessToken}` } });
  const syncBody = await sync.text();

  console.log(`
Seller Edge is running (engine: ${stack.engine ? (process.env.DATABASE_URL ? "postgres" : "pglite .data/pglite") : "?"}, redis: ${stack.redis.engine})
  API (all route groups)   ${workerUrl}   e.g. ${workerUrl}/api/v1/analytics/sales?period=30d
  Neon /sql adapter        ${stack.neon.url}
  Upstash Redis REST       ${stack.redis.url}
  QStash emulator          ${stack.qstash.url}
  Wildberries API          ${realWb ?? `${stack.wb.url} (double)`}
  Demo org                 ${demo.orgId}
  Demo login               ${DEMO_USER.email} / ${DEMO_USER.password}
  First sync               ${sync.status} ${syncBody}
  Access token (15 min)    ${accessToken}
Ctrl-C stops everything.`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
