/**
 * The cron handler of the jobs Worker (`[triggers] crons` in wrangler.toml):
 * - `*\/30 * * * *`: one `wb-sync` job per org with a Wildberries connection (`src/jobs/scheduled-syncs.ts`);
 * - `*\/5 * * * *`: the reaper, which re-publishes stalled jobs (`src/jobs/reaper.ts`).
 * Everything is awaited inside `ctx.waitUntil`, so no publish is cut off when the handler returns.
 * @see https://developers.cloudflare.com/workers/runtime-apis/handlers/scheduled/
 */
import { createDatabase } from "./core/db/client";
import { type Env, parseEnv } from "./core/env";
import { createLogger } from "./core/logger";
import { createQueue } from "./core/queue";
import { reapJobs } from "./jobs/reaper";
import { enqueueScheduledSyncs } from "./jobs/scheduled-syncs";

/** Cron expressions this handler knows. */
export const crons = { wbSync: "*/30 * * * *", reaper: "*/5 * * * *" } as const;

/** Runs the job of `controller.cron`; an unknown expression is logged and ignored. */
export async function scheduled(controller: ScheduledController, env: Env, ctx: ExecutionContext): Promise<void> {
  const config = parseEnv(env);
  const logger = createLogger({ service: "jobs", cron: controller.cron }, config.LOG_LEVEL);
  const services = { config, logger, db: createDatabase(config), queue: createQueue(config) };
  const work = (async () => {
    switch (controller.cron) {
      case crons.wbSync:
        await enqueueScheduledSyncs(services, controller.scheduledTime);
        break;
      case crons.reaper:
        await reapJobs(services, controller.scheduledTime);
        break;
      default:
        logger.warn("unknown cron", {});
    }
  })();
  ctx.waitUntil(work);
  await work;
}
