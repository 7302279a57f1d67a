/**
 * Vitest global setup of the `workers` project: starts the local stack on free ports
 * (Postgres when `DATABASE_URL` is set — in a fresh database created here and dropped
 * after — else in-memory PGlite), applies the migrations, starts the all-in-one Worker
 * over HTTP with `wrangler`'s `unstable_dev` (so QStash deliveries reach it), and
 * provides the Worker env to the tests.
 */

import type { TestProject } from "vitest/node";
import { unstable_dev } from "wrangler";
import { freePort } from "../../dev/free-port";
import { freshDatabase } from "../../dev/fresh-database";
import { startLocalStack } from "../../dev/stack";
import { applyMigrations } from "../../scripts/migrate";

declare module "vitest" {
  export interface ProvidedContext {
    stackEnv: Record<string, string>;
  }
}

export default async function setup(project: TestProject) {
  const db = process.env.DATABASE_URL ? await freshDatabase(process.env.DATABASE_URL, "seller_edge_test") : undefined;
  const workerPort = await freePort();
  const stack = await startLocalStack({
    databaseUrl: db?.url,
    publicJobsUrl: `http://127.0.0.1:${workerPort}`,
    qstashRetryDelayFactor: 0.001,
    wb: { rowLimit: 5000, rateLimit: { requests: 1000, perMs: 1000 } },
  });
  await applyMigrations(stack.env.DATABASE_URL as string, stack.env.NEON_FETCH_ENDPOINT);
  const worker = await unstable_dev("src/workers/all.ts", {
    config: "wrangler.toml",
    port: workerPort,
    ip: "127.0.0.1",
    vars: stack.env,
    logLevel: "warn",
    // No file watching: a rebuild mid-run would cut in-flight QStash deliveries.
    experimental: { disableExperimentalWarning: true, testScheduled: true, watch: false },
  });
  const env = { ...stack.env, ENVIRONMENT: "test", WORKER_URL: `http://127.0.0.1:${workerPort}` };
  project.provide("stackEnv", env);
  console.log(`[stack] engine=${db ? "postgres" : "pglite"} redis=${stack.redis.engine} worker=${env.WORKER_URL}`);
  return async () => {
    await worker.stop();
    await stack.close();
    await db?.drop();
  };
}
