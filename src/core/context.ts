/**
 * The one Hono environment type of every route (`AppEnv`) and the per-request services.
 *
 * `buildServices` is the only place services are made: the app's first middleware calls it
 * for `fetch`, and the scheduled handler calls it for each cron run, so both see the same
 * clients, configuration and logger fields.
 */

import type { TelegramBotRef } from "../telegram/bots";
import type { WebhookDelivery } from "../webhooks/delivery";
import type { AuthContext } from "./auth/jwt";
import { createDatabase, type Database } from "./db/client";
import { type AppConfig, type Env, parseEnv } from "./env";
import { createLogger, type Logger } from "./logger";
import { createMetrics, type Metrics } from "./metrics";
import { createQueue, type QueueClient } from "./queue";
import { createRedis, type Redis } from "./redis";

/** Per-request (or per-cron-run) services. */
export interface Services {
  config: AppConfig;
  db: Database;
  redis: Redis;
  queue: QueueClient;
  logger: Logger;
  /** What this request (or cron run) records; flushed once, after it, in `waitUntil` (`src/core/metrics.ts`). */
  metrics: Metrics;
}

/** The Hono environment of every app, router and handler. */
export type AppEnv = {
  Bindings: Env;
  Variables: {
    requestId: string;
    services: Services;
    /** Set by the route guard of token routes; absent on public, QStash and operator routes. */
    auth: AuthContext | undefined;
    /** Set by the route guard of webhook routes once the delivery is verified; absent elsewhere. */
    webhook: WebhookDelivery | undefined;
    /** Set by the route guard of Telegram webhook routes once the secret token matched; absent elsewhere. */
    telegramBot: TelegramBotRef | undefined;
  };
};

/**
 * Parses `env` (memoized per isolate) and builds the services, with a logger whose every line
 * carries `logContext` (service name, request id or cron). The clients are made on first use: a
 * cached dashboard read never touches the database, and Drizzle derives its relational config
 * from the whole schema each time a client is made (a sampled profile of the Worker put that at
 * ~2 % of its CPU while it synced, most of it for requests that sent no query).
 * @throws Error naming every invalid or missing variable (see `parseEnv`).
 */
export function buildServices(env: unknown, logContext: Record<string, unknown>): Services {
  const config = parseEnv(env);
  const logger = createLogger(logContext, config.LOG_LEVEL);
  const metrics = createMetrics();
  let db: Database | undefined;
  let redis: Redis | undefined;
  let queue: QueueClient | undefined;
  return {
    config,
    logger,
    metrics,
    get db() {
      db ??= createDatabase(config, { metrics, logger, config });
      return db;
    },
    get redis() {
      redis ??= createRedis(config);
      return redis;
    },
    get queue() {
      queue ??= createQueue(config);
      return queue;
    },
  };
}
