/**
 * The every-minute cron, the outbox relay of the job ledger: re-publishes jobs nobody is working on.
 * A job row is its own outbox row: whoever creates a job publishes it after the commit
 * (`waitUntil`); when that publish is lost, this relay publishes it once its publish deadline passed.
 *
 * - `queued` past its publish deadline (`lease_until`, a minute after it was queued): the publish
 *   failed or QStash lost the message;
 * - `running` with an expired lease: the delivery died (isolate killed, timeout) and no QStash
 *   retry has taken it over, or a continuation was never delivered.
 * At most {@link REAP_LIMIT} per run, oldest deadline first; each gets deduplication id
 * `{jobId}:reaper:{slot}`, so overlapping cron runs publish it once per one-minute slot. A job that
 * is delivered twice anyway is claimed once (see `ledger.ts`).
 * Jobs left `failed` for {@link ABANDON_FAILED_AFTER_HOURS} hours (QStash's retries span about a
 * day) never got their failure callback: they are marked `dead` so the org can sync again.
 */
import { and, asc, inArray, lt, sql } from "drizzle-orm";
import type { Services } from "../core/context";
import { deadLetters, jobs } from "../core/db/schema";
import { isJobKind, publishJobs } from "./ledger";

/** Jobs re-published per reaper run at most. */
export const REAP_LIMIT = 1000;

/** Hours after its last claim that a `failed` job is considered abandoned. */
export const ABANDON_FAILED_AFTER_HOURS = 48;

/** Re-publishes stalled jobs and buries abandoned ones. @returns the counts. */
export async function reapJobs(services: Pick<Services, "db" | "queue" | "config" | "logger">, scheduledTime: number) {
  const { db } = services;
  const slot = new Date(Math.floor(scheduledTime / 60_000) * 60_000).toISOString().slice(0, 16);
  const [stalled, abandoned] = await db.batch([
    db
      .select({ id: jobs.id, kind: jobs.kind })
      .from(jobs)
      .where(and(inArray(jobs.status, ["queued", "running"]), lt(sql`coalesce(${jobs.leaseUntil}, ${jobs.createdAt})`, sql`now()`)))
      .orderBy(asc(jobs.leaseUntil))
      .limit(REAP_LIMIT),
    // Buried with a dead letter of their own (keyed `reaper:{jobId}:{attempts}`), so every dead
    // job can be read, replayed or discarded the same way whoever buried it.
    db.execute<{ id: string }>(sql`
      with buried as (
        update ${jobs} set status = 'dead', finished_at = now(), lease_until = null,
          last_error = coalesce(${jobs.lastError}, '') || ' (abandoned: no delivery after the last failure)'
        where status = 'failed' and lease_until < now() - make_interval(hours => ${ABANDON_FAILED_AFTER_HOURS})
        returning id, org_id, kind, attempts, payload, last_error
      )
      insert into ${deadLetters} (job_id, org_id, kind, qstash_message_id, destination, payload, last_status, last_response, retried)
      select id, org_id, kind, 'reaper:' || id || ':' || attempts, 'reaper', jsonb_build_object('jobId', id), null, last_error, attempts
      from buried
      on conflict (qstash_message_id) do nothing
      returning job_id as id`),
  ]);
  const publications = stalled.flatMap((j) =>
    isJobKind(j.kind) ? [{ jobId: j.id, kind: j.kind, deduplicationId: `${j.id}:reaper:${slot}` }] : [],
  );
  const published = await publishJobs(services, publications);
  services.logger.info("reaper", { stalled: stalled.length, published, abandoned: abandoned.rows.length });
  return { stalled: stalled.length, published, abandoned: abandoned.rows.length };
}
