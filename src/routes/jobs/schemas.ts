/**
 * Request and response schemas of the `jobs` route group: the QStash consumers (`/jobs/*`) and
 * the sync API (`/api/v1/sync/*`, `/api/v1/admin/dead-letters*`). Times in answers are RFC 3339
 * UTC (`isoTime` of `src/core/time.ts`).
 */
import { z } from "@hono/zod-openapi";
import { uuidCursorParam } from "../../core/cursor";
import { jobStatuses, wbDatasets } from "../../core/db/schema";
import { jobKindNames } from "../../jobs/kinds";

/** Body of a job message as we publish it (`src/jobs/ledger.ts`). */
export const jobMessageBody = z.object({ jobId: z.string().uuid() });

/** Rows received past the cursor, per data set. */
const rowsPerDataset = z.partialRecord(z.enum(wbDatasets), z.number().int().nonnegative());

/** 200 of a `wb-sync` delivery (`WbSyncDeliveryResult` of `src/jobs/wb-sync-delivery.ts`). */
export const wbSyncDeliveryResult = z.object({
  jobId: z.string().uuid(),
  outcome: z.enum(["succeeded", "continued", "ignored"]),
  /** The job's status after this delivery; null for an unknown job. */
  status: z.enum(jobStatuses).nullable(),
  /** Rows received past the cursor by this delivery, per data set. */
  rows: rowsPerDataset.optional(),
  /** Why a delivery was ignored. */
  reason: z.string().optional(),
});

/**
 * Body of a QStash failure callback: the failed message and the destination's last answer.
 * Bodies are base64. Loose: QStash adds fields over time.
 * @see https://upstash.com/docs/qstash/features/callbacks
 */
export const failureCallbackBody = z.looseObject({
  /** The destination's last HTTP status; 0 when it never answered. Bounded: stored as `integer`. */
  status: z.number().int().min(0).max(999),
  /** The destination's last response body, base64. */
  body: z.string().optional(),
  retried: z.number().int().nonnegative().max(1000).optional(),
  maxRetries: z.number().int().nonnegative().optional(),
  dlqId: z.string().optional(),
  sourceMessageId: z.string().min(1).max(200),
  /** The failed message's destination. */
  url: z.string().url(),
  /** The failed message's body, base64. */
  sourceBody: z.string().optional(),
  /** A delivery error without a response (timeout, connection refused). */
  error: z.string().optional(),
});

/** 200 of a failure callback: the new dead letter, or `duplicate` (both ids null) when it was already there. */
export const landedDeadLetter = z.object({
  deadLetterId: z.string().uuid().nullable(),
  /** The job id the failed message's body named (any GUID), if any. */
  jobId: z.guid().nullable(),
  duplicate: z.boolean(),
});

/** 202 of `POST /api/v1/sync/wildberries`: the job that will run (a new one, or the one already in flight). */
export const startSyncResponse = z.object({
  jobId: z.string().uuid(),
  status: z.enum(jobStatuses),
  /** False when a sync of the org was already queued or running and that job is returned. */
  created: z.boolean(),
});

/** A job as the sync API shows it. */
export const jobView = z.object({
  id: z.string().uuid(),
  kind: z.string(),
  status: z.enum(jobStatuses),
  attempts: z.number().int(),
  lastError: z.string().nullable(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
});
export type JobView = z.infer<typeof jobView>;

/** Sync state of one data set. */
export const datasetStatus = z.object({
  dataset: z.enum(wbDatasets),
  /** WB `lastChangeDate` of the newest committed row (Moscow time, WB format); null before the first rows. */
  cursor: z.string().nullable(),
  lastRunAt: z.string().nullable(),
  lastSuccessAt: z.string().nullable(),
  /** Rows received past the cursor by the last run. */
  lastRunRows: z.number().int(),
  /** Rows stored for the org. */
  totalRows: z.number().int(),
  lastError: z.string().nullable(),
});

/** The org's Wildberries token as the sync status shows it: its expiry, flagged within 14 days of it. */
export const connectionStatus = z
  .object({
    /** When the token expires (RFC 3339 UTC); null when unknown (a token stored without its expiry). */
    expiresAt: z.string().nullable(),
    /** Whole days until then (0 once expired); null when unknown. */
    daysLeft: z.number().int().nonnegative().nullable(),
    /** The token expires within 14 days, or has expired: connect a new one (`PUT /api/v1/integrations/wildberries`). */
    expiringSoon: z.boolean(),
  })
  .openapi("WbConnectionExpiry");

/** 200 of `GET /api/v1/sync/status`. */
export const syncStatusResponse = z.object({
  /** Whether the org has a Wildberries token. */
  connected: z.boolean(),
  /** The token's expiry; null when the org has no token. */
  connection: connectionStatus.nullable(),
  datasets: z.array(datasetStatus),
  /** The org's latest sync jobs, newest first. */
  jobs: z.array(jobView),
});

/** Query of `GET /api/v1/admin/dead-letters`. */
export const deadLettersQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(100).default(50),
  })
  .strict();

/** A dead letter as the admin API shows it. */
export const deadLetterView = z.object({
  id: z.string().uuid(),
  jobId: z.string().uuid().nullable(),
  kind: z.string(),
  qstashMessageId: z.string(),
  payload: z.unknown(),
  lastStatus: z.number().int().nullable(),
  lastResponse: z.string().nullable(),
  retried: z.number().int(),
  failedAt: z.string(),
  replayedAt: z.string().nullable(),
  /** When an admin discarded it instead of replaying (`POST /api/v1/admin/jobs/{id}/discard`). */
  discardedAt: z.string().nullable(),
});
export type DeadLetterView = z.infer<typeof deadLetterView>;

/** 200 of `GET /api/v1/admin/dead-letters`: newest first. */
export const deadLettersResponse = z.object({ deadLetters: z.array(deadLetterView) });

/** Path of `POST /api/v1/admin/dead-letters/{id}/replay`. */
export const deadLetterParams = z.object({ id: z.string().uuid() });

/** 202 of a replay. */
export const replayResponse = z.object({
  deadLetterId: z.string().uuid(),
  jobId: z.string().uuid(),
  status: z.literal("queued"),
  replayedAt: z.string(),
});

/** Query of `GET /api/v1/admin/jobs`. */
export const adminJobsQuery = z
  .object({
    status: z.enum(jobStatuses).optional(),
    kind: z.enum(jobKindNames).optional(),
    cursor: uuidCursorParam.optional(),
    limit: z.coerce.number().int().min(1).max(100).default(50),
  })
  .strict();

/** The latest dead letter of a job, as the job admin API shows it. */
export const jobDeadLetterView = z.object({
  id: z.string().uuid(),
  /** QStash's message id, or `reaper:{jobId}:{attempts}` for a job the reaper buried. */
  qstashMessageId: z.string(),
  lastStatus: z.number().int().nullable(),
  lastResponse: z.string().nullable(),
  retried: z.number().int(),
  failedAt: z.string(),
  replayedAt: z.string().nullable(),
  discardedAt: z.string().nullable(),
});

/** A job of any kind as the admin API shows it. */
export const adminJobView = jobView
  .extend({
    /** The job's idempotency key (unique in the ledger). */
    idempotencyKey: z.string(),
    /** While `running`: the lease's end; while `queued`: the publish deadline of the relay. */
    leaseUntil: z.string().nullable(),
  })
  .openapi("Job");
export type AdminJobView = z.infer<typeof adminJobView>;

/** 200 of `GET /api/v1/admin/jobs`: newest first. */
export const adminJobsResponse = z.object({
  jobs: z.array(adminJobView),
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: z.string().nullable(),
});

/** 200 of `GET /api/v1/admin/jobs/{id}`. */
export const adminJobDetail = adminJobView.extend({
  /** The job's payload (`{ eventId }`, a sync's cursors…). */
  payload: z.unknown(),
  /** The latest dead letter; null when the job never died. */
  deadLetter: jobDeadLetterView.nullable(),
});

/** Path of `/api/v1/admin/jobs/{id}…`. */
export const jobParams = z.object({ id: z.string().uuid() });

/** 202 of `POST /api/v1/admin/jobs/{id}/replay`. */
export const jobReplayResponse = z.object({ jobId: z.string().uuid(), status: z.literal("queued"), replayedAt: z.string() });

/** 200 of `POST /api/v1/admin/jobs/{id}/discard`. */
export const jobDiscardResponse = z.object({ jobId: z.string().uuid(), status: z.literal("dead"), discardedAt: z.string() });
