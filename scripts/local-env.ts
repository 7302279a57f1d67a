/**
 * The local environment shared by `npm run dev` and `npm run bench`: the local stack,
 * migrations, the demo org (and its support bot), and `wrangler dev` on the all-in-one Worker.
 *
 * The demo org's Wildberries data set on the double is `WB_DATASET` (`demo`, the default: 50,000
 * orders; `large`: 1,000,000 orders, 3,000 products, 40 warehouses — see `WB_DATASET_PRESETS` in
 * `dev/wildberries/dataset.ts`), or the `wbDataset` option. A data set other than the demo's is
 * generated before `wrangler dev` starts (≈ 10 s for `large`), not on the first sync's request.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { generateStackSecrets, type LocalStack, type LocalStackSecrets, startLocalStack } from "../dev/stack";
import { type WbDatasetPreset, wbDatasetPreset } from "../dev/wildberries/dataset";
import { forEachLine, formatOutputLine, QUIET_REQUEST_ID_PREFIX, useColor } from "./log-format";
import { applyMigrations } from "./migrate";
import { DEMO_USER, seedDemo } from "./seed";
import { type DemoSupportBot, seedDemoHelpdesk } from "./seed-helpdesk";

/** The demo org's token on the Wildberries double. */
export const DEMO_WB_TOKEN = "demo-wb-statistics-token";

/** Options of {@link startLocalEnvironment}. */
export interface LocalEnvironmentOptions {
  port: number;
  /** Directory for PGlite data, secrets and the generated vars file; absent → in memory, throwaway keys. */
  dataDir?: string;
  /** Extra Worker vars (override the stack's). */
  vars?: Record<string, string>;
  /** Real Wildberries API: base URL and token (from `WB_STATISTICS_API_URL` / `WB_API_TOKEN`). */
  wildberries?: { url: string; token: string };
  qstashRetryDelayFactor?: number;
  wbRateLimit?: { requests: number; perMs: number };
  /** The demo org's data set on the Wildberries double: a preset name; default `WB_DATASET`, else `demo`. */
  wbDataset?: string;
  /** Rows per page of the Wildberries double (`flag=0`); default WB's 80,000. */
  wbRowLimit?: number;
  /** Postgres to use (`postgres://…`); default `DATABASE_URL`; neither → PGlite. */
  databaseUrl?: string;
  /**
   * wrangler's own log level. wrangler files the Worker's `console.log` under `log`, which is more
   * verbose than `info`: at `info` or below the Worker's structured logs are not shown at all.
   * Default `log`: the Worker's events, at its `LOG_LEVEL`, each rendered as one line
   * (`scripts/log-format.ts`). The benchmark uses `warn`.
   */
  wranglerLogLevel?: "debug" | "info" | "log" | "warn" | "error" | "none";
  /** The Worker's DevTools inspector port (`wrangler dev --inspector-port`); default wrangler's (9229, or the next free one). */
  inspectorPort?: number;
}

/** A running local environment. */
export interface LocalEnvironment {
  workerUrl: string;
  stack: LocalStack;
  demo: { orgId: string; userId: string };
  /** The demo org's support bot on the Telegram double, and how to write to it. */
  supportBot: DemoSupportBot;
  /**
   * The demo org's data set on the Wildberries double: its preset, and how long generating it took
   * (seconds; `undefined` for the demo's, which the double generates on the first request).
   */
  wbDataset: { name: WbDatasetPreset; generateSeconds: number | undefined };
  /** Process id of `wrangler dev` (the leader of its process group; workerd runs below it). */
  wranglerPid: number | undefined;
  /** The Worker's DevTools inspector port, when one was asked for (`inspectorPort`). */
  inspectorPort: number | undefined;
  /** Logs in as the demo user; returns an access token. */
  login(): Promise<string>;
  stop(): Promise<void>;
  /** Resolves when `wrangler dev` exits on its own. */
  exited: Promise<number>;
}

function loadSecrets(dataDir: string | undefined): LocalStackSecrets {
  if (!dataDir) return generateStackSecrets();
  const file = `${dataDir}/secrets.json`;
  // Keys added to the stack since the file was written are generated and kept from then on.
  const stored = existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as Partial<LocalStackSecrets>) : {};
  const secrets = { ...generateStackSecrets(), ...stored };
  writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
}

async function waitForHealth(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`${url}/health`, { headers: { "X-Request-Id": `${QUIET_REQUEST_ID_PREFIX}health` } })).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`the Worker did not answer ${url}/health within ${timeoutMs} ms`);
}

/** Whether something accepts connections on 127.0.0.1:`port`. */
function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/**
 * Starts the stack, migrates, seeds the demo org and runs `wrangler dev`; resolves when `/health` answers.
 * @throws Error when `port` is already taken (another `npm run dev`, or one left running), before starting anything.
 */
export async function startLocalEnvironment(opts: LocalEnvironmentOptions): Promise<LocalEnvironment> {
  // Else `/health` would be answered by whatever holds the port, and every request after it too.
  if (await portInUse(opts.port))
    throw new Error(`port ${opts.port} is in use (another \`npm run dev\`?): stop it, or choose another with PORT=…`);
  const varsDir = opts.dataDir ?? ".wrangler/tmp";
  mkdirSync(varsDir, { recursive: true });
  const workerUrl = `http://127.0.0.1:${opts.port}`;
  const databaseUrl = opts.databaseUrl ?? process.env.DATABASE_URL;
  // Before anything starts: a typo in WB_DATASET fails here, naming the presets.
  const preset = wbDatasetPreset(opts.wbDataset ?? process.env.WB_DATASET);
  const stack = await startLocalStack({
    databaseUrl,
    dataDir: databaseUrl || !opts.dataDir ? undefined : `${opts.dataDir}/pglite`,
    redisUrl: process.env.REDIS_URL,
    publicJobsUrl: workerUrl,
    qstashRetryDelayFactor: opts.qstashRetryDelayFactor ?? 0.05,
    secrets: loadSecrets(opts.dataDir),
    wb: {
      tokens: { [DEMO_WB_TOKEN]: preset.options },
      rateLimit: opts.wbRateLimit ?? { requests: 20, perMs: 60_000 },
      rowLimit: opts.wbRowLimit,
    },
  });
  let generateSeconds: number | undefined;
  if (preset.name !== "demo" && !opts.wildberries) {
    const started = performance.now();
    stack.wb.dataset(DEMO_WB_TOKEN);
    generateSeconds = Math.round((performance.now() - started) / 100) / 10;
  }
  const env: Record<string, string> = {
    ...stack.env,
    LOG_LEVEL: process.env.LOG_LEVEL ?? "info",
    // Embedded PGlite (WASM, one connection, in this process) writes a sync page in 1–4 s: at the
    // production threshold every page would be a slow-query warning. Postgres keeps the default.
    ...(process.env.SLOW_QUERY_MS ? { SLOW_QUERY_MS: process.env.SLOW_QUERY_MS } : databaseUrl ? {} : { SLOW_QUERY_MS: "5000" }),
    ...(opts.wildberries ? { WB_STATISTICS_API_URL: opts.wildberries.url } : {}),
    ...opts.vars,
  };
  let demo: { orgId: string; userId: string };
  let supportBot: DemoSupportBot;
  try {
    await applyMigrations(env.DATABASE_URL as string, env.NEON_FETCH_ENDPOINT);
    demo = await seedDemo(
      {
        DATABASE_URL: env.DATABASE_URL as string,
        NEON_FETCH_ENDPOINT: env.NEON_FETCH_ENDPOINT,
        ENCRYPTION_KEY: env.ENCRYPTION_KEY as string,
      },
      opts.wildberries?.token ?? DEMO_WB_TOKEN,
    );
    supportBot = await seedDemoHelpdesk(
      {
        DATABASE_URL: env.DATABASE_URL as string,
        NEON_FETCH_ENDPOINT: env.NEON_FETCH_ENDPOINT,
        ENCRYPTION_KEY: env.ENCRYPTION_KEY as string,
      },
      demo,
      stack.telegram,
      workerUrl,
    );
  } catch (err) {
    // Leave no redis-server or adapter behind.
    await stack.close();
    throw err;
  }
  // Throwaway environments (the bench, a probe) get a file of their own: wrangler reads it at
  // every reload, and a second environment writing the shared one would rewire this one.
  const varsFile = opts.dataDir ? `${varsDir}/dev.vars` : `${varsDir}/dev-${opts.port}.vars`;
  // dotenv format: single quotes keep a value literal (JWT_KEYS is JSON full of double quotes).
  if (Object.values(env).some((v) => v.includes("'"))) throw new Error("a Worker var contains a single quote");
  writeFileSync(
    varsFile,
    Object.entries(env)
      .map(([k, v]) => `${k}='${v}'`)
      .join("\n"),
    { mode: 0o600 },
  );

  const wrangler: ChildProcess = spawn(
    "npx",
    [
      "wrangler",
      "dev",
      "--port",
      String(opts.port),
      "--ip",
      "127.0.0.1",
      "--env-file",
      varsFile,
      "--test-scheduled",
      "--show-interactive-dev-session=false",
      "--log-level",
      opts.wranglerLogLevel ?? "log",
      ...(opts.inspectorPort === undefined ? [] : ["--inspector-port", String(opts.inspectorPort)]),
    ],
    {
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
      // No Worker reads `request.cf`: skip miniflare's fetch of it from workers.cloudflare.com at
      // every start and reload (3 s and a warning with a stack when offline).
      env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: process.env.CLOUDFLARE_CF_FETCH_ENABLED ?? "false" },
    },
  );
  // One readable line per Worker event; wrangler's own lines pass through. DEV_LOG_FORMAT=json: all raw.
  const raw = process.env.DEV_LOG_FORMAT === "json";
  for (const [from, to] of [
    [wrangler.stdout, process.stdout],
    [wrangler.stderr, process.stderr],
  ] as const) {
    if (!from) continue;
    const color = useColor(to);
    forEachLine(from, (line) => {
      const out = raw ? line : formatOutputLine(line, { color });
      if (out !== undefined) to.write(`${out}\n`);
    });
  }
  const exited = new Promise<number>((resolve) => wrangler.on("exit", (code) => resolve(code ?? 1)));
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (wrangler.pid && wrangler.exitCode === null) {
      try {
        process.kill(-wrangler.pid, "SIGTERM");
      } catch {
        wrangler.kill("SIGTERM");
      }
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    }
    await stack.close();
    if (!opts.dataDir) rmSync(varsFile, { force: true });
  };
  try {
    await waitForHealth(workerUrl, 120_000);
  } catch (err) {
    await stop();
    throw err;
  }
  const login = async () => {
    const res = await fetch(`${workerUrl}/api/v1/auth/login`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(DEMO_USER),
    });
    if (!res.ok) throw new Error(`demo login failed: ${res.status} ${await res.text()}`);
    return ((await res.json()) as { accessToken: string }).accessToken;
  };
  return {
    workerUrl,
    stack,
    demo,
    supportBot,
    wbDataset: { name: preset.name, generateSeconds },
    wranglerPid: wrangler.pid,
    inspectorPort: opts.inspectorPort,
    login,
    stop,
    exited,
  };
}
