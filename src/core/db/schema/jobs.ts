/**
 * Sync state per org and data set, the job ledger behind QStash deliveries, and the
 * dead-letter table filled by QStash failure callbacks.
 */
import { sql } from "drizzle-orm";
import { bigint, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { orgs } from "./identity";

/** Wildberries data sets synced separately, each with its own cursor. */
export const wbDatasets = ["orders", "sales", "stocks"] as const;
export type WbDataset = (typeof wbDatasets)[number];

export const syncState = pgTable(
  "sync_state",
  {
    orgId: uuid("org_id")
      .notNull()
      .references(() => orgs.id, { onDelete: "cascade" }),
    dataset: text("dataset", { enum: wbDatasets }).notNull(),
    /** WB `lastChangeDate` of the newest committed row (Moscow time, WB format), or null before the first sync. */
    cursor: text("cursor"),
    lastRunAt: timestamp("last_run_at", { withTimezone: true, mode: "string" }),
    lastSuccessAt: timestamp("last_success_at", { withTimezone: true, mode: "string" }),
    /** Rows received past the cursor by the last run; rows stored for the org in this data set. */
    lastRunRows: integer("last_run_rows").notNull().default(0),
    totalRows: bigint("total_rows", { mode: "number" }).notNull().default(0),
    lastError: text("last_error"),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.dataset] })],
);

export const jobStatuses = ["queued", "running", "succeeded", "failed", "dead"] as const;
export type JobStatus = (typeof jobStatuses)[number];

export const jobs = pgTable(
  "jobs",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    orgId: uuid("org_id")
      .notNull()
      .references(() => orgs.id, { onDelete: "cascade" }),
    kind: text("kind").notNull(),
    status: text("status", { enum: jobStatuses }).notNull().default("queued"),
    /**
     * The job's idempotency key (unique): creating a job twice with one key finds the first. Also
     * the `Upstash-Deduplication-Id` of its first publication where the kind says so.
     */
    dedupId: text("dedup_id").notNull().unique(),
    /**
     * Jobs sharing a concurrency key never run side by side: at most one unfinished job per key
     * (`wb-sync:{orgId}`, so two syncs of one org never interleave); null = no such limit.
     */
    concurrencyKey: text("concurrency_key"),
    payload: jsonb("payload").notNull().default(sql`'{}'::jsonb`),
    attempts: integer("attempts").notNull().default(0),
    /** While running: the time after which the reaper may consider the job abandoned. */
    leaseUntil: timestamp("lease_until", { withTimezone: true, mode: "string" }),
    lastError: text("last_error"),
    qstashMessageId: text("qstash_message_id"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "string" }).notNull().defaultNow(),
    startedAt: timestamp("started_at", { withTimezone: true, mode: "string" }),
    finishedAt: timestamp("finished_at", { withTimezone: true, mode: "string" }),
  },
  (t) => [
    index("jobs_org_created_idx").on(t.orgId, t.createdAt),
    index("jobs_status_lease_idx").on(t.status, t.leaseUntil),
    // At most one unfinished job per concurrency key: two syncs of one org never interleave.
    uniqueIndex("jobs_active_concurrency_uq").on(t.concurrencyKey).where(sql`status in ('queued', 'running', 'failed')`),
    index("jobs_kind_status_created_idx").on(t.kind, t.status, t.createdAt),
  ],
);

export const deadLetters = pgTable(
  "dead_letters",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    jobId: uuid("job_id").references(() => jobs.id, { onDelete: "set null" }),
    orgId: uuid("org_id").references(() => orgs.id, { onDelete: "cascade" }),
    kind: text("kind").notNull(),
    /** QStash `sourceMessageId` of the failed message; unique so a repeated callback is a no-op. */
    qstashMessageId: text("qstash_message_id").notNull().unique(),
    destination: text("destination").notNull(),
    payload: jsonb("payload").notNull(),
    /** The destination's last response status and body (truncated). */
    lastStatus: integer("last_status"),
    lastResponse: text("last_response"),
    retried: integer("retried").notNull().default(0),
    failedAt: timestamp("failed_at", { withTimezone: true, mode: "string" }).notNull().defaultNow(),
    replayedAt: timestamp("replayed_at", { withTimezone: true, mode: "string" }),
    /** Set when an admin discards the dead job instead of replaying it. */
    discardedAt: timestamp("discarded_at", { withTimezone: true, mode: "string" }),
  },
  (t) => [index("dead_letters_org_idx").on(t.orgId, t.failedAt)],
);
