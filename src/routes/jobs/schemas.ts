/**
 * Request and response schemas of the `jobs` route group: the QStash consumers (`/jobs/*`) and
 * the sync admin API (`/api/v1/sync/*`, `/api/v1/admin/dead-letters*`).
 */
import { z } from "zod";
import { jobStatuses, wbDatasets } from "../../core/db/schema";

/** Body of a job message as we publish it (`src/jobs/ledger.ts`). */
export const jobMessageBody = z.object({ jobId: z.string().uuid() });

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
export type FailureCallbackBody = z.infer<typeof failureCallbackBody>;

/** 202 of `POST /api/v1/sync/wildberries`: the job that will run (a new one, or the one already in flight). */
export const startSyncResponse = z.object({
  jobId: z.string().uuid(),
  status: z.enum(jobStatuses),
  /** False when a sync of the org was already queued or running and that job is returned. */
  created: z.boolean(),
});
export type StartSyncResponse = z.infer<typeof startSyncResponse>;

/** A job as the admin API shows it. Times are RFC 3339 UTC. */
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

/** 200 of `GET /api/v1/sync/status`. */
export const syncStatusResponse = z.object({
  /** Whether the org has a Wildberries token. */
  connected: z.boolean(),
  datasets: z.array(datasetStatus),
  /** The org's latest sync jobs, newest first. */
  jobs: z.array(jobView),
});
export type SyncStatusResponse = z.infer<typeof syncStatusResponse>;

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
});
export type DeadLetterView = z.infer<typeof deadLetterView>;

/** 200 of `GET /api/v1/admin/dead-letters`: newest first. */
export const deadLettersResponse = z.object({ deadLetters: z.array(deadLetterView) });
export type DeadLettersResponse = z.infer<typeof deadLettersResponse>;

/** Path of `POST /api/v1/admin/dead-letters/{id}/replay`. */
export const deadLetterParams = z.object({ id: z.string().uuid() });

/** 202 of a replay. */
export const replayResponse = z.object({
  deadLetterId: z.string().uuid(),
  jobId: z.string().uuid(),
  status: z.literal("queued"),
  replayedAt: z.string(),
});
export type ReplayResponse = z.infer<typeof replayResponse>;

/**
 * Postgres `timestamptz` text (`2026-11-20 11:03:11.123+00`) → RFC 3339 UTC
 * (`2026-11-20T11:03:11.123Z`); null stays null.
 */
export function isoTime(value: string | null): string | null {
  if (value === null) return null;
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2}(?:\.\d+)?)(Z|[+-]\d{2}(?::?\d{2})?)?$/.exec(value);
  if (!m) return value;
  const [, day, time, zone = "Z"] = m;
  const offset = zone === "Z" ? "Z" : zone.length === 3 ? `${zone}:00` : zone.replace(/^([+-]\d{2})(\d{2})$/, "$1:$2");
  const ms = Date.parse(`${day}T${time}${offset}`);
  return Number.isNaN(ms) ? value : new Date(ms).toISOString();
}
