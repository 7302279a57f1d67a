/**
 * The admin view of the job ledger, for every kind: list and read an org's jobs, replay a dead job,
 * discard one. Behind `GET /api/v1/admin/jobs`, `GET /api/v1/admin/jobs/{id}`,
 * `POST /api/v1/admin/jobs/{id}/replay` and `POST /api/v1/admin/jobs/{id}/discard`.
 *
 * A dead job has one or more dead letters (QStash's failure callback, or the reaper burying a job
 * abandoned after its failures); the latest is shown with the job. Replay puts the job back to
 * `queued` and stamps its open dead letters `replayed_at`, in one statement, refused while another
 * job of its concurrency key is in flight; discard stamps them `discarded_at` (the job stays `dead`
 * and leaves the `dead_letters` gauge), and a discarded job is not replayed. See docs/jobs.md.
 */
import { and, desc, eq, sql } from "drizzle-orm";
import type { KeysetCursor } from "../core/cursor";
import type { Database } from "../core/db/client";
import { deadLetters, type JobStatus, jobs } from "../core/db/schema";
import { PUBLISH_GRACE_SECONDS, secondsFromNow } from "./ledger";

/** Filters and page of {@link listJobs}. */
export interface JobListQuery {
  status?: JobStatus | undefined;
  kind?: string | undefined;
  cursor?: KeysetCursor | undefined;
  limit: number;
}

/** A job row, and the raw `created_at` text that keys the next page. */
export type JobRow = typeof jobs.$inferSelect;

/**
 * The org's jobs, newest first (keyset on `created_at desc, id desc`), at most `limit`.
 * @returns the rows and the cursor of the next page (null on the last page).
 */
export async function listJobs(db: Database, orgId: string, query: JobListQuery): Promise<{ rows: JobRow[]; next: KeysetCursor | null }> {
  const rows = await db
    .select()
    .from(jobs)
    .where(
      and(
        eq(jobs.orgId, orgId),
        query.status ? eq(jobs.status, query.status) : undefined,
        query.kind ? eq(jobs.kind, query.kind) : undefined,
        query.cursor ? sql`(${jobs.createdAt}, ${jobs.id}) < (${query.cursor.time}::timestamptz, ${query.cursor.id}::uuid)` : undefined,
      ),
    )
    .orderBy(desc(jobs.createdAt), desc(jobs.id))
    .limit(query.limit + 1);
  const page = rows.slice(0, query.limit);
  const last = page.at(-1);
  return { rows: page, next: rows.length > query.limit && last ? { time: last.createdAt, id: last.id } : null };
}

/** A job of the org with its latest dead letter (null when it has none), or undefined. */
export async function getJobWithDeadLetter(db: Database, orgId: string, jobId: string) {
  const [[job], letters] = await db.batch([
    db
      .select()
      .from(jobs)
      .where(and(eq(jobs.id, jobId), eq(jobs.orgId, orgId))),
    db
      .select()
      .from(deadLetters)
      .where(and(eq(deadLetters.jobId, jobId), eq(deadLetters.orgId, orgId)))
      .orderBy(desc(deadLetters.failedAt))
      .limit(1),
  ]);
  return job ? { job, deadLetter: letters[0] ?? null } : undefined;
}

/** Why a replay or discard could not happen. */
export type JobActionRefusal = "not-found" | "not-dead" | "discarded" | "in-flight";

/**
 * Replays dead job `jobId` of `orgId`: `queued` again with a fresh publish deadline, its open dead
 * letters stamped `replayed_at`, in one statement. The caller publishes it (a failed publish
 * leaves it to the relay).
 * @returns the job's kind, or why not: `not-found`, `not-dead`, `discarded`, or `in-flight` (another
 *   job of its concurrency key — another sync of the org — is unfinished).
 */
export async function replayDeadJob(
  db: Database,
  orgId: string,
  jobId: string,
): Promise<{ ok: true; kind: string; replayedAt: string } | { ok: false; reason: JobActionRefusal }> {
  const result = await db.execute<{ kind: string; replayed_at: string }>(sql`
    with requeued as (
      update ${jobs} set status = 'queued', lease_until = ${secondsFromNow(PUBLISH_GRACE_SECONDS)}, finished_at = null
      where id = ${jobId} and org_id = ${orgId} and status = 'dead'
        and not exists (select 1 from ${deadLetters} d where d.job_id = ${jobId} and d.discarded_at is not null)
        and not exists (
          select 1 from ${jobs} other
          where other.concurrency_key = ${jobs}.concurrency_key and other.status in ('queued', 'running', 'failed')
        )
      returning kind
    ), stamped as (
      update ${deadLetters} set replayed_at = now()
      where job_id = ${jobId} and replayed_at is null and exists (select 1 from requeued)
      returning id
    )
    select kind, now()::text as replayed_at, (select count(*) from stamped) as letters from requeued`);
  const row = result.rows[0];
  if (row) return { ok: true, kind: row.kind, replayedAt: row.replayed_at };
  return { ok: false, reason: await refusal(db, orgId, jobId) };
}

/**
 * Discards dead job `jobId` of `orgId`: its open dead letters are stamped `discarded_at` (the job
 * stays `dead`, is no longer counted as waiting for attention, and is not replayed).
 * @returns when, or why not (`not-found`, `not-dead`, `discarded`: already).
 */
export async function discardDeadJob(
  db: Database,
  orgId: string,
  jobId: string,
): Promise<{ ok: true; discardedAt: string } | { ok: false; reason: JobActionRefusal }> {
  const result = await db.execute<{ discarded_at: string }>(sql`
    update ${deadLetters} set discarded_at = now()
    where job_id = ${jobId} and org_id = ${orgId} and replayed_at is null and discarded_at is null
      and exists (select 1 from ${jobs} where id = ${jobId} and org_id = ${orgId} and status = 'dead')
    returning discarded_at::text`);
  const row = result.rows[0];
  if (row) return { ok: true, discardedAt: row.discarded_at };
  return { ok: false, reason: await refusal(db, orgId, jobId) };
}

/** Why an action on `jobId` was refused, read after the conditional write found nothing to do. */
async function refusal(db: Database, orgId: string, jobId: string): Promise<JobActionRefusal> {
  const found = await getJobWithDeadLetter(db, orgId, jobId);
  if (!found) return "not-found";
  if (found.job.status !== "dead") return "not-dead";
  const [discarded] = await db
    .select({ id: deadLetters.id })
    .from(deadLetters)
    .where(and(eq(deadLetters.jobId, jobId), sql`${deadLetters.discardedAt} is not null`))
    .limit(1);
  return discarded ? "discarded" : "in-flight";
}
