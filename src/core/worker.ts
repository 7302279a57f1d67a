/**
 * A Worker serving route groups: `fetch` is the app of `createApp`, `scheduled` runs the cron
 * jobs the groups declare (`crons` of `defineGroup`, the same expressions as the Worker's
 * `[triggers]` in wrangler.toml). Every Worker entry is `createWorker(name, groups)`.
 * A cron run's metrics are flushed after it like a request's; a failed run is reported to Sentry.
 * @see https://developers.cloudflare.com/workers/runtime-apis/handlers/scheduled/
 */
import { createApp } from "./app";
import { buildServices } from "./context";
import type { Env } from "./env";
import type { RouteGroup } from "./route";
import { reportError } from "./sentry";

/** The Worker `name` serving `groups`, and its app (for tests and the spec). */
export function createWorker(name: string, groups: readonly RouteGroup[]) {
  const app = createApp(name, groups);
  const crons = new Map(groups.flatMap((g) => Object.entries(g.crons)));
  /** Runs the job of `controller.cron`; an unknown expression is logged and ignored. Awaited inside `waitUntil`. */
  async function scheduled(controller: ScheduledController, env: Env, ctx: ExecutionContext): Promise<void> {
    const services = buildServices(env, { service: name, cron: controller.cron });
    const job = crons.get(controller.cron);
    if (!job) {
      services.logger.warn("unknown cron", {});
      return;
    }
    const work = job(services, controller.scheduledTime)
      .catch((err: unknown) => {
        services.logger.error("cron failed", { error: err instanceof Error ? { name: err.name, message: err.message } : String(err) });
        reportError(services.config, err, { context: ctx, tags: { service: name, cron: controller.cron } });
        throw err;
      })
      .finally(() => services.metrics.flush(services));
    ctx.waitUntil(work);
    await work;
  }
  const handler = { fetch: app.fetch, ...(crons.size > 0 ? { scheduled } : {}) } satisfies ExportedHandler<Env>;
  return { app, handler, crons: [...crons.keys()] };
}
