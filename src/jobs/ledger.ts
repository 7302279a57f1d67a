/**
 * The job ledger (`jobs` table) behind QStash deliveries: creating, publishing, claiming with a
 * lease, and finishing jobs.
 *
 * Lifecycle: `queued` → (claim) `running` → `succeeded`; a failed attempt → `failed` (QStash
 * retries, the retry claims it again); after QStash's last retry the failure callback marks it
 * `dead` (see `src/routes/jobs/failure-callback.ts`); an admin replay puts it back to `queued`.
 *
 * Locking: a delivery works on a job only while it holds the lease. A claim is one atomic
 * `UPDATE … RETURNING` that takes a job that is `queued`/`failed`, or `running` with an expired
 * `lease_until`, and increments `attempts`. The new `attempts` value is the delivery's fencing
 * token: every later write of the delivery is conditional on `(id, attempts, status = 'running')`,
 * and the write batches start with {@link leaseCheck}, which aborts the whole batch (one
 * transaction) when another delivery has taken the job over. At most one *active* job per org
 * and kind exists (partial unique index `jobs_active_org_kind_uq`), so two syncs of one org never
 * interleave either.
 *
 * `lease_until` of a `queued` job is the publish deadline: when it passes and the job is still
 * `queued` (the publish failed or QStash lost it), the reaper (`src/jobs/reaper.ts`) publishes it
 * again.
 * @see https://upstash.com/docs/qstash/features/retry
 * @see https://upstash.com/docs/qstash/features/deduplication
 */
import { and, eq, inArray, isNull, lte, or, sql } from "drizzle-orm";
import type { Database } from "../core/db/client";
import { jobs } from "../core/db/schema";
import type { AppConfig } from "../core/env";
import type { Logger } from "../core/logger";
import { jobUrl, type QueueClient } from "../core/queue";
import { JobFailure, MAX_CAUSE_CHARS } from "./failure-cause";

/** A row of the `jobs` table. */
export type Job = typeof jobs.$inferSelect;

/** Seconds a claim (or a heartbeat) holds a job; longer than one delivery's wall-time budget plus a page. */
export const JOB_LEASE_SECONDS = 60;

/** Seconds a freshly queued job may wait for its first delivery before the reaper re-publishes it. */
export const PUBLISH_GRACE_SECONDS = 60;

/** QStash retries of a job message after the first delivery; then the failure callback (DLQ). */
export const JOB_RETRIES = 5;

/** QStash delivery timeout of a job message, seconds: a delivery's budget plus generous slack. */
export const JOB_DELIVERY_TIMEOUT_SECONDS = 120;

/** Path of the QStash failure callback. */
export const FAILURE_CALLBACK_PATH = "/jobs/failure-callback";

/** Job kinds and the path QStash delivers each to. */
export const jobPaths = { "wb-sync": "/jobs/wb-sync" } as const;
export type JobKind = keyof typeof jobPaths;

/** Seconds a delayed continuation may arrive early (clock skew) and still find its job claimable. */
const CLOCK_SLACK_SECONDS = 2;

/** The delivery's hold on a job: the job id and the fencing token (`attempts` after the claim). */
export interface Lease {
  jobId: string;
  attempt: number;
}

/** Outcome of {@link claimJob}: the claimed row, or why not (`job` undefined = no such job). */
export type ClaimResult = { claimed: true; job: Job; lease: Lease } | { claimed: false; job: Job | undefined };

/** `now() + n seconds` in SQL. */
export const secondsFromNow = (seconds: number) => sql`now() + make_interval(secs => ${seconds})`;

/**
 * Claims job `jobId` for one delivery: `queued`/`failed`, or `running` whose lease expired →
 * `running`, `attempts + 1`, lease for {@link JOB_LEASE_SECONDS}. One statement, so two deliveries
 * racing for a job cannot both win; the loser reads the row to say why.
 */
export async function claimJob(db: Database, jobId: string): Promise<ClaimResult> {
  const [claimed] = await db
    .update(jobs)
    .set({
      status: "running",
      attempts: sql`${jobs.attempts} + 1`,
      leaseUntil: secondsFromNow(JOB_LEASE_SECONDS),
      startedAt: sql`coalesce(${jobs.startedAt}, now())`,
    })
    .where(
      and(
        eq(jobs.id, jobId),
        or(
          inArray(jobs.status, ["queued", "failed"]),
          and(eq(jobs.status, "running"), or(isNull(jobs.leaseUntil), lte(jobs.leaseUntil, sql`now()`))),
        ),
      ),
    )
    .returning();
  if (claimed) return { claimed: true, job: claimed, lease: { jobId, attempt: claimed.attempts } };
  const [job] = await db.select().from(jobs).where(eq(jobs.id, jobId));
  return { claimed: false, job };
}

/** The fencing condition of `lease`: the job is still running under this claim. */
export const holdsLease = (lease: Lease) => and(eq(jobs.id, lease.jobId), eq(jobs.attempts, lease.attempt), eq(jobs.status, "running"));

/** Marker in the error Postgres raises from {@link leaseCheck}. */
const LEASE_LOST = "lease lost";

/**
 * A batch statement that fails (aborting the batch's transaction) unless `lease` still holds:
 * a text that is not a number, cast to int, raises `invalid input syntax … "lease lost"`. The cast
 * applies to a subquery, so the planner cannot fold it away when the lease holds (then it is NULL).
 */
export function leaseCheck(db: Database, lease: Lease) {
  return db.execute(
    sql`select (select ${LEASE_LOST}::text where not exists (select 1 from ${jobs} where ${holdsLease(lease)}))::int as lease_check`,
  );
}

/** True when `err` (or its cause chain) is the failure of a {@link leaseCheck}. */
export function isLeaseLost(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e.message.includes(`"${LEASE_LOST}"`)) return true;
  }
  return false;
}

/** Thrown when a fenced write finds that another delivery has taken the job over (or the job was ended meanwhile). */
export class LeaseLostError extends JobFailure {
  override readonly name = "LeaseLostError";
  constructor(readonly lease: Lease) {
    super(
      `lease lost: attempt ${lease.attempt} was overtaken before it could write (its ${JOB_LEASE_SECONDS} s lease ` +
        "ran out and another delivery claimed the job, or the job was ended meanwhile)",
    );
  }
}

/** Extends the lease and stores the job's progress `payload` (a batch statement). */
export function heartbeat(db: Database, lease: Lease, payload: unknown) {
  return db
    .update(jobs)
    .set({ leaseUntil: secondsFromNow(JOB_LEASE_SECONDS), payload })
    .where(holdsLease(lease));
}

/** Marks the job `succeeded` (a batch statement; no-op when the lease was lost). */
export function markSucceeded(db: Database, lease: Lease) {
  return db
    .update(jobs)
    .set({ status: "succeeded", finishedAt: sql`now()`, leaseUntil: null, lastError: null })
    .where(holdsLease(lease))
    .returning({ id: jobs.id });
}

/**
 * Marks the attempt `failed` with `error` (a statement; no-op when the lease was lost).
 * QStash retries the message; the retry claims the job again.
 */
export function markFailed(db: Database, lease: Lease, error: string) {
  return db
    .update(jobs)
    .set({ status: "failed", lastError: error.slice(0, MAX_CAUSE_CHARS), leaseUntil: sql`now()` })
    .where(holdsLease(lease));
}

/**
 * Notes a lost lease on the job (`last_error` only; a statement): the attempt that lost it can no
 * longer fail the job, which another delivery now owns, but its cause is kept until that delivery
 * records its own outcome (a success clears it). Nothing is written once the job has finished.
 */
export function recordLostLease(db: Database, lease: Lease, cause: string) {
  return db
    .update(jobs)
    .set({ lastError: cause.slice(0, MAX_CAUSE_CHARS) })
    .where(and(eq(jobs.id, lease.jobId), inArray(jobs.status, ["queued", "running", "failed"])));
}

/**
 * Ends this delivery's lease while the job stays `running`, so the continuation (or QStash's retry
 * of this message) can claim it at once — or after `delaySeconds`, when the continuation is delayed
 * (the reaper leaves the job alone until then). @returns false when the lease was already lost.
 */
export async function releaseLease(db: Database, lease: Lease, payload: unknown, delaySeconds = 0): Promise<boolean> {
  const rows = await db
    .update(jobs)
    .set({ leaseUntil: secondsFromNow(Math.max(0, delaySeconds - CLOCK_SLACK_SECONDS)), payload })
    .where(holdsLease(lease))
    .returning({ id: jobs.id });
  return rows.length > 0;
}

/** What to publish: a job and the deduplication id of this particular publication. */
export interface JobPublication {
  jobId: string;
  kind: JobKind;
  /**
   * `Upstash-Deduplication-Id`: the job's `dedup_id` for its first publication (the job id, or
   * `wb-sync:{orgId}:{slot}` from the cron); `{jobId}:{attempt}` for a continuation;
   * `{jobId}:replay:{deadLetterId}` for a replay; `{jobId}:reaper:{slot}` for the reaper.
   */
  deduplicationId: string;
  /** `Upstash-Delay` in seconds (a continuation after a WB 429). */
  delaySeconds?: number;
}

/** The QStash publish request of a job: signed delivery to its path, retries, failure callback (DLQ). */
export function publishRequest(config: Pick<AppConfig, "PUBLIC_JOBS_URL">, publication: JobPublication) {
  return {
    url: jobUrl(config, jobPaths[publication.kind]),
    body: { jobId: publication.jobId },
    deduplicationId: publication.deduplicationId,
    retries: JOB_RETRIES,
    timeout: JOB_DELIVERY_TIMEOUT_SECONDS,
    failureCallback: jobUrl(config, FAILURE_CALLBACK_PATH),
    ...(publication.delaySeconds ? { delay: publication.delaySeconds } : {}),
  };
}

/**
 * Publishes one job message and records QStash's message id on the job (best effort).
 * @throws when QStash refuses or is unreachable (the job stays as it is: the reaper retries).
 */
export async function publishJob(
  services: { db: Database; queue: QueueClient; config: Pick<AppConfig, "PUBLIC_JOBS_URL"> },
  publication: JobPublication,
): Promise<string> {
  const { messageId } = await services.queue.publishJSON(publishRequest(services.config, publication));
  // The message id is a diagnostic aid: failing to record it must not turn a publish into a failure.
  await services.db
    .update(jobs)
    .set({ qstashMessageId: messageId })
    .where(eq(jobs.id, publication.jobId))
    .catch(() => undefined);
  return messageId;
}

/**
 * Publishes many job messages with QStash's batch API (one request per 100), recording message ids.
 * Never throws: a failed chunk is logged and left to the reaper. @returns how many were published.
 */
export async function publishJobs(
  services: { db: Database; queue: QueueClient; config: Pick<AppConfig, "PUBLIC_JOBS_URL">; logger: Logger },
  publications: JobPublication[],
): Promise<number> {
  let published = 0;
  for (let i = 0; i < publications.length; i += 100) {
    const chunk = publications.slice(i, i + 100);
    let results: Array<{ messageId?: string }>;
    try {
      results = await services.queue.batchJSON(chunk.map((p) => publishRequest(services.config, p)));
      published += chunk.length;
    } catch (err) {
      services.logger.warn("job publish failed; the reaper will retry", { jobs: chunk.length, error: err });
      continue;
    }
    const [first, ...rest] = chunk.flatMap((p, j) => {
      const messageId = results[j]?.messageId;
      return messageId ? [services.db.update(jobs).set({ qstashMessageId: messageId }).where(eq(jobs.id, p.jobId))] : [];
    });
    // The message ids are only a diagnostic aid: failing to record them does not fail the publish.
    if (first)
      await services.db.batch([first, ...rest]).catch((err: unknown) => services.logger.warn("message ids not recorded", { error: err }));
  }
  return published;
}
