/**
 * Persist before acknowledging, for Telegram: an update of an org's bot goes into the inbox
 * (`telegram_updates`, keyed by bot and `update_id`) together with the job that applies it, in ONE
 * SQL statement (one Neon request); only then does the route answer 200. Telegram redelivers an
 * update it got no 2xx for: the redelivery finds its row, inserts nothing, and is answered 200 with
 * no further effect. A new job is published after the answer (`waitUntil`, deduplication id = the
 * job id); a lost publish is published by the every-minute relay (`src/jobs/reaper.ts`).
 *
 * Postgres unreachable → 503 with `Retry-After` (nothing stored, nothing acknowledged: Telegram
 * retries the update).
 * @see https://core.telegram.org/bots/api#setwebhook ("In case of an unsuccessful request … a reasonable amount of attempts")
 */
import { sql } from "drizzle-orm";
import type { Services } from "../core/context";
import { databaseFailure } from "../core/db/errors";
import { jobs, telegramUpdates } from "../core/db/schema";
import type { JobKind } from "../jobs/kinds";
import { PUBLISH_GRACE_SECONDS, publishAfterCommit } from "../jobs/ledger";
import type { TelegramBotRef } from "./bots";

/** The outcome of {@link ingestUpdate}: a new update and its job, or a redelivery. */
export type UpdateIngest = { duplicate: false; jobId: string } | { duplicate: true };

/**
 * Stores `update` (its `update_id` and the whole `Update` as JSON) of `bot` with a job of `kind`
 * (payload `{ botId, updateId }`, idempotency key `{kind}:{botId}:{updateId}`), in one statement,
 * and publishes the job after the answer.
 * @throws ApiError 503 when Postgres is unavailable; any other database error as is.
 */
export async function ingestUpdate(
  services: Pick<Services, "db" | "queue" | "config" | "logger" | "metrics">,
  bot: TelegramBotRef,
  update: { update_id: number } & Record<string, unknown>,
  kind: JobKind,
  waitUntil: (work: Promise<unknown>) => void,
): Promise<UpdateIngest> {
  const jobId = crypto.randomUUID();
  const statement = sql`
    with inbox as (
      insert into ${telegramUpdates} (bot_id, update_id, org_id, payload, job_id)
      values (${bot.id}, ${update.update_id}, ${bot.orgId}, ${JSON.stringify(update)}::jsonb, ${jobId})
      on conflict (bot_id, update_id) do nothing
      returning update_id
    ), job as (
      insert into ${jobs} (id, org_id, kind, dedup_id, payload, lease_until)
      select ${jobId}, ${bot.orgId}, ${kind}, ${`${kind}:${bot.id}:`} || inbox.update_id,
             jsonb_build_object('botId', ${bot.id}::text, 'updateId', inbox.update_id),
             now() + make_interval(secs => ${PUBLISH_GRACE_SECONDS})
      from inbox
      returning id
    )
    select (select id from job) as job_id`;
  let created: string | null | undefined;
  try {
    created = (await services.db.execute<{ job_id: string | null }>(statement)).rows[0]?.job_id;
  } catch (err) {
    throw databaseFailure(err);
  }
  services.metrics.count("telegram_messages_received_total", { purpose: bot.purpose, outcome: created ? "stored" : "duplicate" });
  if (!created) return { duplicate: true };
  waitUntil(publishAfterCommit(services, { jobId, kind, deduplicationId: jobId }));
  return { duplicate: false, jobId };
}
