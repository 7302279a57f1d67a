/**
 * One QStash delivery of a `wb-sync` job: claim → sync within the budget → succeed, continue, or
 * fail so that QStash retries.
 *
 * Answers (QStash retries every non-2xx, honouring `Retry-After`):
 * - 200 `succeeded`: every data set caught up, cache version bumped, job `succeeded`;
 * - 200 `continued`: the budget ran out, or WB answered 429 after this delivery fetched pages; the
 *   lease is released (job still `running`) and a continuation message for the same job is
 *   published (deduplication id `{jobId}:{attempt}`; after a 429 with `Upstash-Delay` = WB's
 *   `X-Ratelimit-Retry`, the lease running until then). If that publish fails → 503, and QStash's
 *   retry of this very message continues instead;
 * - 200 `ignored`: nothing to do — the job is finished (`succeeded`, `dead`), unknown, or another
 *   delivery holds its lease (a duplicate; if that delivery dies, the reaper re-publishes the job
 *   once the lease expires);
 * - 429 + `Retry-After` (WB's `X-Ratelimit-Retry`): WB rate-limited the delivery's first request;
 *   QStash retries after it;
 * - 502 (WB refused the token or sent something unexpected), 503 (WB unavailable, or the
 *   continuation could not be queued), 500 (ours: a database error, a removed connection…): the
 *   attempt is recorded (`failed`, `last_error`, the data set's `last_error`) and QStash retries
 *   with backoff; after the last retry the failure callback moves it to the dead letters.
 *
 * Every failed attempt records its cause in words (`failure-cause.ts`) — in `jobs.last_error`, in
 * the data set's `sync_state.last_error` (every data set when the failure is not one data set's),
 * and as the `detail` of the problem answered to QStash, which the dead letter keeps as the last
 * response. A lost lease is noted on the job too, and answered 200 `ignored` (the job is another
 * delivery's now: a retry of this message would only be ignored).
 */
import type { Services } from "../core/context";
import { type JobStatus, type WbDataset, wbDatasets } from "../core/db/schema";
import { ApiError } from "../core/errors";
import { WbApiError, WbAuthError, WbRateLimitError, WbUnavailableError } from "../integrations/wildberries/client";
import { describeCause, JobFailure } from "./failure-cause";
import { claimJob, type Lease, LeaseLostError, markFailed, publishJob, recordLostLease, releaseLease } from "./ledger";
import { recordDatasetError, runWbSync, WbSyncError } from "./wb-sync";

/** Body of a 200 answer to a `wb-sync` delivery. */
export interface WbSyncDeliveryResult {
  jobId: string;
  outcome: "succeeded" | "continued" | "ignored";
  /** The job's status after this delivery; null for an unknown job. */
  status: JobStatus | null;
  /** Rows received past the cursor by this delivery, per data set. */
  rows?: Partial<Record<WbDataset, number>>;
  /** Why a delivery was ignored. */
  reason?: string;
}

/** The continuation of a job could not be published (QStash refused or was unreachable). */
class ContinuationPublishError extends JobFailure {
  override readonly name = "ContinuationPublishError";
  constructor(cause: unknown) {
    super(`could not queue the continuation: ${describeCause(cause)}`, { cause });
  }
}

/**
 * Handles one delivery of job `jobId`.
 * @throws ApiError 429 (with `Retry-After`), 502, 503 or 500, whose `detail` is the recorded cause.
 */
export async function deliverWbSync(services: Services, jobId: string): Promise<WbSyncDeliveryResult> {
  const { db, logger } = services;
  const claim = await claimJob(db, jobId, "wb-sync").catch((err: unknown) => {
    // Nothing can be recorded without the job; the answer (and so the dead letter) says why.
    const cause = `could not claim the job: ${describeCause(err)}`;
    logger.error("wb-sync claim failed", { jobId, cause });
    throw new ApiError("INTERNAL", { detail: cause, cause: err });
  });
  if (!claim.claimed) {
    const status = claim.job?.status ?? null;
    const reason = !claim.job ? "no such job" : status === "running" ? "another delivery holds the lease" : `job is ${status}`;
    logger.info("wb-sync delivery ignored", { jobId, reason });
    services.metrics.count("jobs_total", { kind: "wb-sync", outcome: "ignored" });
    return { jobId, outcome: "ignored", status, reason };
  }
  const { job, lease } = claim;
  const log = logger.with({ jobId, orgId: job.orgId, attempt: lease.attempt });
  const started = Date.now();
  try {
    const outcome = await runWbSync(services, job, lease, started);
    if (outcome.status === "succeeded") {
      log.info("wb-sync succeeded", { rows: outcome.rows, ms: Date.now() - started });
      services.metrics.count("jobs_total", { kind: "wb-sync", outcome: "succeeded" });
      return { jobId, outcome: "succeeded", status: "succeeded", rows: outcome.rows };
    }
    const delaySeconds = outcome.delaySeconds ?? 0;
    if (!(await releaseLease(db, lease, outcome.payload, delaySeconds))) throw new LeaseLostError(lease);
    try {
      await publishJob(services, { jobId, kind: "wb-sync", deduplicationId: `${jobId}:${lease.attempt}`, delaySeconds });
    } catch (err) {
      throw new ContinuationPublishError(err);
    }
    log.info("wb-sync continues", { rows: outcome.rows, delaySeconds, ms: Date.now() - started });
    services.metrics.count("jobs_total", { kind: "wb-sync", outcome: "continued" });
    return { jobId, outcome: "continued", status: "running", rows: outcome.rows };
  } catch (err) {
    const cause = describeCause(err);
    if (err instanceof LeaseLostError) {
      log.warn("wb-sync lease lost; another delivery continues", { cause });
      await recordLostLease(db, lease, cause).catch((recordErr: unknown) => {
        log.error("wb-sync could not record the lost lease", { error: describeCause(recordErr) });
      });
      services.metrics.count("jobs_total", { kind: "wb-sync", outcome: "ignored" });
      return { jobId, outcome: "ignored", status: "running", reason: cause };
    }
    await recordFailure(services, job.orgId, lease, err, cause);
    services.metrics.count("jobs_total", { kind: "wb-sync", outcome: "failed" });
    throw toDeliveryError(err, cause);
  }
}

/**
 * Records the failed attempt's `cause` on the job and on the data set it was syncing — on every
 * data set when the failure was not one data set's (the connection, the final commit) — in one batch.
 */
async function recordFailure(services: Services, orgId: string, lease: Lease, err: unknown, cause: string): Promise<void> {
  const { db, logger } = services;
  const dataset = err instanceof WbSyncError ? err.dataset : undefined;
  logger.warn("wb-sync attempt failed", { jobId: lease.jobId, orgId, attempt: lease.attempt, dataset, cause });
  try {
    const datasets = dataset ? [dataset] : wbDatasets;
    await db.batch([markFailed(db, lease, cause), ...datasets.map((d) => recordDatasetError(db, orgId, d, cause))]);
  } catch (recordErr) {
    // The lease expires on its own; the retry will still find the job claimable. The answer still carries the cause.
    logger.error("wb-sync could not record the failure", { jobId: lease.jobId, cause, error: describeCause(recordErr) });
  }
}

/** The answer QStash gets for a failed attempt; its `detail` is the recorded `cause`. */
function toDeliveryError(err: unknown, cause: string): ApiError {
  const wb = err instanceof WbSyncError ? err.cause : err;
  if (wb instanceof WbRateLimitError) {
    const seconds = Math.max(1, wb.retryAfterSeconds);
    return new ApiError("TOO_MANY_REQUESTS", { detail: cause, headers: { "Retry-After": String(seconds) }, cause: err });
  }
  if (wb instanceof WbUnavailableError || err instanceof ContinuationPublishError) {
    return new ApiError("SERVICE_UNAVAILABLE", { detail: cause, cause: err });
  }
  if (wb instanceof WbAuthError || wb instanceof WbApiError) return new ApiError("BAD_GATEWAY", { detail: cause, cause: err });
  return new ApiError("INTERNAL", { detail: cause, cause: err });
}
