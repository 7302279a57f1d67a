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
 * - 502 (WB refused the token or sent something unexpected), 503 (WB unavailable), 500 (ours):
 *   the attempt is recorded (`failed`, `last_error`) and QStash retries with backoff; after the
 *   last retry the failure callback moves it to the dead letters.
 */
import type { Services } from "../core/context";
import type { JobStatus, WbDataset } from "../core/db/schema";
import { ApiError } from "../core/errors";
import { WbApiError, WbAuthError, WbRateLimitError, WbUnavailableError } from "../integrations/wildberries/client";
import { claimJob, type Lease, LeaseLostError, markFailed, publishJob, releaseLease } from "./ledger";
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

/**
 * Handles one delivery of job `jobId`.
 * @throws ApiError 429 (with `Retry-After`), 502, 503 or 500 after recording the failed attempt.
 */
export async function deliverWbSync(services: Services, jobId: string): Promise<WbSyncDeliveryResult> {
  const { db, logger } = services;
  const claim = await claimJob(db, jobId);
  if (!claim.claimed) {
    const status = claim.job?.status ?? null;
    const reason = !claim.job ? "no such job" : status === "running" ? "another delivery holds the lease" : `job is ${status}`;
    logger.info("wb-sync delivery ignored", { jobId, reason });
    return { jobId, outcome: "ignored", status, reason };
  }
  const { job, lease } = claim;
  const log = logger.with({ jobId, orgId: job.orgId, attempt: lease.attempt });
  const started = Date.now();
  try {
    const outcome = await runWbSync(services, job, lease, started);
    if (outcome.status === "succeeded") {
      log.info("wb-sync succeeded", { rows: outcome.rows, ms: Date.now() - started });
      return { jobId, outcome: "succeeded", status: "succeeded", rows: outcome.rows };
    }
    const delaySeconds = outcome.delaySeconds ?? 0;
    if (!(await releaseLease(db, lease, outcome.payload, delaySeconds))) throw new LeaseLostError(lease);
    try {
      await publishJob(services, { jobId, kind: "wb-sync", deduplicationId: `${jobId}:${lease.attempt}`, delaySeconds });
    } catch (err) {
      log.warn("wb-sync continuation publish failed; QStash retries this delivery", { error: err });
      throw new ApiError("SERVICE_UNAVAILABLE", { detail: "The continuation could not be queued; retry.", cause: err });
    }
    log.info("wb-sync continues", { rows: outcome.rows, delaySeconds, ms: Date.now() - started });
    return { jobId, outcome: "continued", status: "running", rows: outcome.rows };
  } catch (err) {
    if (err instanceof ApiError) throw err;
    if (err instanceof LeaseLostError) {
      log.warn("wb-sync lease lost; another delivery continues", {});
      return { jobId, outcome: "ignored", status: "running", reason: "lease lost to another delivery" };
    }
    await recordFailure(services, job.orgId, lease, err);
    throw toDeliveryError(err);
  }
}

/** Records the failed attempt on the job and on the data set it was syncing. */
async function recordFailure(services: Services, orgId: string, lease: Lease, err: unknown): Promise<void> {
  const message = err instanceof Error ? err.message : String(err);
  const dataset = err instanceof WbSyncError ? err.dataset : undefined;
  services.logger.warn("wb-sync attempt failed", { jobId: lease.jobId, attempt: lease.attempt, dataset, error: message });
  try {
    const failed = markFailed(services.db, lease, message);
    if (dataset) await services.db.batch([failed, recordDatasetError(services.db, orgId, dataset, message)]);
    else await failed;
  } catch (recordErr) {
    // The lease expires on its own; the retry will still find the job claimable.
    services.logger.error("wb-sync could not record the failure", { jobId: lease.jobId, error: recordErr });
  }
}

/** The answer QStash gets for a failed attempt. */
function toDeliveryError(err: unknown): ApiError {
  const cause = err instanceof WbSyncError ? err.cause : err;
  if (cause instanceof WbRateLimitError) {
    const seconds = Math.max(1, cause.retryAfterSeconds);
    return new ApiError("TOO_MANY_REQUESTS", {
      detail: `Wildberries rate limit; retry after ${seconds} s.`,
      headers: { "Retry-After": String(seconds) },
      cause: err,
    });
  }
  if (cause instanceof WbUnavailableError)
    return new ApiError("SERVICE_UNAVAILABLE", { detail: "Wildberries is unavailable.", cause: err });
  if (cause instanceof WbAuthError) return new ApiError("BAD_GATEWAY", { detail: "Wildberries refused the seller's token.", cause: err });
  if (cause instanceof WbApiError) return new ApiError("BAD_GATEWAY", { detail: "Wildberries answered unexpectedly.", cause: err });
  return new ApiError("INTERNAL", { cause: err });
}
