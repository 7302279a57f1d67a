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
 * transaction) when another delivery has taken the job over. At most one *active* job per
 * concurrency key exists (partial unique index `jobs_active_concurrency_uq`; `wb-sync:{orgId}`), so
 * two syncs of one org never interleave either.
 *
 * Each kind's path, retries, delivery timeout and lease are declared in `src/jobs/kinds.ts`;
 * {@link insertJob} creates a job of any kind (in the caller's batch; {@link publishAfterCommit}
 * publishes it after the commit), {@link runJobDelivery} runs a delivery of a
 * one-shot kind (claim → work → succeeded, or failed with its cause so QStash retries).
 *
 * `lease_until` of a `queued` job is the publish deadline: when it passes and the job is still
 * `queued` (the publish failed or QStash lost it), the reaper (`src/jobs/reaper.ts`) publishes it
 * again.
 * @see https://upstash.com/docs/qstash/features/retry
 * @see https://upstash.com/docs/qstash/features/deduplication
 */
import { and, eq, inArray, isNull, lte, or, type SQL, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { PgTable } from "drizzle-orm/pg-core";
import type { Database } from "../core/db/client";
import { type JobStatus, jobs } from "../core/db/schema";
import type { AppConfig } from "../core/env";
import { ApiError } from "../core/errors";
import type { Logger } from "../core/logger";
import { jobUrl, type QueueClient } from "../core/queue";
import { describeCause, JobFailure, MAX_CAUSE_CHARS } from "./failure-cause";
import { type JobKind, jobKindSpec, jobKinds } from "./kinds";

export { isJobKind, type JobKind, jobKinds } from "./kinds";

/** A row of the `jobs` table. */
export type Job = typeof jobs.$inferSelect;

/** Seconds a freshly queued job may wait for its first delivery before the reaper re-publishes it. */
export const PUBLISH_GRACE_SECONDS = 60;

/** Path of the QStash failure callback. */
export const FAILURE_CALLBACK_PATH = "/jobs/failure-callback";

/** Job kinds and the path QStash delivers each to. */
export const jobPaths = Object.fromEntries(Object.entries(jobKinds).map(([kind, spec]) => [kind, spec.path])) as {
  [K in JobKind]: (typeof jobKinds)[K]["path"];
};

/** Seconds a delayed continuation may arrive early (clock skew) and still find its job claimable. */
const CLOCK_SLACK_SECONDS = 2;

/** The delivery's hold on a job: the job id, the fencing token (`attempts` after the claim) and the lease length. */
export interface Lease {
  jobId: string;
  attempt: number;
  /** Seconds a claim or heartbeat holds the job (its kind's `leaseSeconds`). */
  leaseSeconds: number;
}

/** Outcome of {@link claimJob}: the claimed row, or why not (`job` undefined = no such job). */
export type ClaimResult = { claimed: true; job: Job; lease: Lease } | { claimed: false; job: Job | undefined };

/** `now() + n seconds` in SQL. */
export const secondsFromNow = (seconds: number) => sql`now() + make_interval(secs => ${seconds})`;

/**
 * Claims job `jobId` of `kind` for one delivery: `queued`/`failed`, or `running` whose lease
 * expired → `running`, `attempts + 1`, lease for the kind's `leaseSeconds`. One statement, so two
 * deliveries racing for a job cannot both win; the loser reads the row to say why. A job of
 * another kind is never claimed (a message delivered to the wrong consumer does nothing).
 */
export async function claimJob(db: Database, jobId: string, kind: JobKind): Promise<ClaimResult> {
  const { leaseSeconds } = jobKindSpec(kind);
  const [claimed] = await db
    .update(jobs)
    .set({
      status: "running",
      attempts: sql`${jobs.attempts} + 1`,
      leaseUntil: secondsFromNow(leaseSeconds),
      startedAt: sql`coalesce(${jobs.startedAt}, now())`,
    })
    .where(
      and(
        eq(jobs.id, jobId),
        eq(jobs.kind, kind),
        or(
          inArray(jobs.status, ["queued", "failed"]),
          and(eq(jobs.status, "running"), or(isNull(jobs.leaseUntil), lte(jobs.leaseUntil, sql`now()`))),
        ),
      ),
    )
    .returning();
  if (claimed) return { claimed: true, job: claimed, lease: { jobId, attempt: claimed.attempts, leaseSeconds } };
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

/** Marker in the error Postgres raises from {@link stateCheck}. */
const STATE_CHANGED = "state changed";

/**
 * A batch statement that fails (aborting the batch's transaction, like {@link leaseCheck}) unless a
 * row of `table` matching `stillTrue` exists at commit time: optimistic concurrency for a job whose
 * writes depend on rows it read (`stillTrue`: the row's key and the version or `updated_at` read).
 * The row is selected `FOR UPDATE`, so the check holds its lock until the commit: a concurrent batch
 * that changes it first makes this one wait, re-read the row and fail, never overwrite it (a plain
 * `EXISTS` would pass before the other commits). Put it before the batch's writes of those rows.
 * {@link runJobDelivery} answers such an abort with a 503 (`Retry-After: 1`), so QStash redelivers
 * and the next attempt reads the new state.
 * @see https://www.postgresql.org/docs/current/transaction-iso.html#XACT-READ-COMMITTED
 */
export function stateCheck(db: Database, table: PgTable, stillTrue: SQL) {
  return db.execute(
    sql`with locked as (select 1 from ${table} where ${stillTrue} for update)
        select (select ${STATE_CHANGED}::text where not exists (select 1 from locked))::int as state_check`,
  );
}

/** True when `err` (or its cause chain) is the failure of a {@link stateCheck}. */
export function isStateChanged(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e.message.includes(`"${STATE_CHANGED}"`)) return true;
  }
  return false;
}

/** Thrown when a fenced write finds that another delivery has taken the job over (or the job was ended meanwhile). */
export class LeaseLostError extends JobFailure {
  override readonly name = "LeaseLostError";
  constructor(readonly lease: Lease) {
    super(
      `lease lost: attempt ${lease.attempt} was overtaken before it could write (its ${lease.leaseSeconds} s lease ` +
        "ran out and another delivery claimed the job, or the job was ended meanwhile)",
    );
  }
}

/** Extends the lease and stores the job's progress `payload` (a batch statement). */
export function heartbeat(db: Database, lease: Lease, payload: unknown) {
  return db
    .update(jobs)
    .set({ leaseUntil: secondsFromNow(lease.leaseSeconds), payload })
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

/** The QStash publish request of a job: signed delivery to its path, its kind's retries and timeout, failure callback (DLQ). */
export function publishRequest(config: Pick<AppConfig, "PUBLIC_JOBS_URL">, publication: JobPublication) {
  const spec = jobKindSpec(publication.kind);
  return {
    url: jobUrl(config, spec.path),
    body: { jobId: publication.jobId },
    deduplicationId: publication.deduplicationId,
    retries: spec.retries,
    timeout: spec.deliveryTimeoutSeconds,
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

/** A job to create: its kind, org, idempotency key (unique; default the job id) and payload. */
export interface NewJob {
  kind: JobKind;
  orgId: string;
  /** Default a fresh UUID. */
  id?: string;
  /** Unique across the ledger: a second job with this key is not created. Default the job id. */
  idempotencyKey?: string;
  payload?: unknown;
}

/**
 * The statement that creates `job` as `queued` (publish deadline {@link PUBLISH_GRACE_SECONDS}
 * from now), or nothing when its idempotency key — or, for a kind with a concurrency key, an
 * unfinished job of that key — exists already. Returns `{ id }` when created. Usable in a batch.
 */
export function insertJob(db: Database, job: NewJob & { id: string }) {
  return db
    .insert(jobs)
    .values({
      id: job.id,
      orgId: job.orgId,
      kind: job.kind,
      dedupId: job.idempotencyKey ?? job.id,
      concurrencyKey: jobKindSpec(job.kind).concurrencyKey?.(job.orgId) ?? null,
      payload: job.payload ?? {},
      leaseUntil: secondsFromNow(PUBLISH_GRACE_SECONDS),
    })
    .onConflictDoNothing()
    .returning({ id: jobs.id });
}

/** {@link publishJob} that never rejects: a failure is logged and left to the relay (the reaper). */
export function publishAfterCommit(
  services: { db: Database; queue: QueueClient; config: Pick<AppConfig, "PUBLIC_JOBS_URL">; logger: Logger },
  publication: JobPublication,
): Promise<void> {
  return publishJob(services, publication).then(
    () => undefined,
    (err: unknown) =>
      services.logger.warn("job publish failed; the relay will publish it", {
        jobId: publication.jobId,
        kind: publication.kind,
        error: err,
      }),
  );
}

/** A failed attempt with the status QStash should see (`Retry-After` for 429/503). */
export class JobAttemptError extends JobFailure {
  override readonly name = "JobAttemptError";
  constructor(
    message: string,
    readonly status: 429 | 500 | 502 | 503,
    readonly retryAfterSeconds?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** What the work of one delivery hands back: the writes that make its effect, and its result. */
export interface JobWork<R> {
  /** Statements committed in one batch with the lease check and the `succeeded` mark: all or nothing. */
  writes: BatchItem<"pg">[];
  result: R;
}

/** The answer to one delivery of a one-shot job. */
export type JobDeliveryResult<R> =
  | { jobId: string; outcome: "succeeded"; status: "succeeded"; result: R }
  | { jobId: string; outcome: "ignored"; status: JobStatus | null; reason: string };

/**
 * Runs one delivery of a one-shot job of `kind`: claims it (a job already `succeeded`, `dead`,
 * unknown, or leased by another delivery is acknowledged without work), runs `work`, then commits
 * its writes, fenced by the lease, together with the `succeeded` mark in one batch — so the effect
 * happens exactly once even when a delivery dies midway and QStash redelivers. A failure records its
 * cause on the job (`failed`, `last_error`) and throws the answer that makes QStash retry.
 * @throws ApiError 429/500/502/503 whose `detail` is the recorded cause.
 */
export async function runJobDelivery<R>(
  services: { db: Database; logger: Logger; metrics: { count(name: string, labels: Record<string, string>): void } },
  kind: JobKind,
  jobId: string,
  work: (job: Job, lease: Lease) => Promise<JobWork<R>>,
): Promise<JobDeliveryResult<R>> {
  const { db, logger } = services;
  const claim = await claimJob(db, jobId, kind).catch((err: unknown) => {
    const cause = `could not claim the job: ${describeCause(err)}`;
    logger.error(`${kind} claim failed`, { jobId, cause });
    throw new ApiError("SERVICE_UNAVAILABLE", { detail: cause, headers: { "Retry-After": "5" }, cause: err });
  });
  if (!claim.claimed) {
    const status = claim.job?.status ?? null;
    const reason = !claim.job ? "no such job" : status === "running" ? "another delivery holds the lease" : `job is ${status}`;
    services.metrics.count("jobs_total", { kind, outcome: "ignored" });
    return { jobId, outcome: "ignored", status, reason };
  }
  const { job, lease } = claim;
  const log = logger.with({ jobId, kind, orgId: job.orgId, attempt: lease.attempt });
  try {
    const done = await work(job, lease);
    try {
      const results = await db.batch([leaseCheck(db, lease), ...done.writes, markSucceeded(db, lease)]);
      const marked = results.at(-1) as unknown[];
      if (marked.length === 0) throw new LeaseLostError(lease);
    } catch (err) {
      if (isStateChanged(err))
        throw new JobAttemptError("the state this job read was changed by a concurrent job; retrying on the new state", 503, 1, {
          cause: err,
        });
      throw isLeaseLost(err) ? new LeaseLostError(lease) : err;
    }
    services.metrics.count("jobs_total", { kind, outcome: "succeeded" });
    return { jobId, outcome: "succeeded", status: "succeeded", result: done.result };
  } catch (err) {
    const cause = describeCause(err);
    if (err instanceof LeaseLostError) {
      log.warn(`${kind} lease lost; another delivery continues`, { cause });
      await recordLostLease(db, lease, cause).catch(() => undefined);
      services.metrics.count("jobs_total", { kind, outcome: "ignored" });
      return { jobId, outcome: "ignored", status: "running", reason: cause };
    }
    log.warn(`${kind} attempt failed`, { cause });
    await markFailed(db, lease, cause).catch((recordErr: unknown) => {
      log.error(`${kind} could not record the failure`, { cause, error: describeCause(recordErr) });
    });
    services.metrics.count("jobs_total", { kind, outcome: "failed" });
    if (err instanceof JobAttemptError) {
      const code = ({ 429: "TOO_MANY_REQUESTS", 500: "INTERNAL", 502: "BAD_GATEWAY", 503: "SERVICE_UNAVAILABLE" } as const)[err.status];
      const headers = err.retryAfterSeconds ? { "Retry-After": String(Math.max(1, Math.ceil(err.retryAfterSeconds))) } : undefined;
      throw new ApiError(code, { detail: cause, headers, cause: err });
    }
    throw new ApiError("INTERNAL", { detail: cause, cause: err });
  }
}
