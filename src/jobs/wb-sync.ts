/**
 * The Wildberries sync job (`wb-sync`): pulls the org's orders, sales and stocks from the
 * statistics API into Postgres, one committed batch at a time.
 *
 * Paging (per data set, from its cursor in `sync_state`; first run: 180 days back for orders and
 * sales, WB's "everything" date `2019-06-20` for stocks): ask with `dateFrom = cursor`, `flag=0`;
 * WB answers rows with `lastChangeDate >= dateFrom`, ascending. The boundary is inclusive, so the
 * rows at the cursor come again: when a page brings nothing past the cursor, the data set is
 * caught up. Otherwise the page's rows past the cursor are written and the cursor becomes the
 * newest `lastChangeDate` of the page, verbatim.
 *
 * A page is streamed (`WbStatisticsClient.pageSlices`): read, validated and written in slices of
 * {@link MAX_ROWS_PER_BATCH} rows, so a page of 100,000 rows never sits in the Worker's memory
 * whole. Each slice is one `db.batch` (one transaction, one Neon request) that checks the lease,
 * upserts products, warehouses and rows, recomputes the daily rollup of the days touched and
 * stores the job's progress; the page's last slice also advances the cursor. A crash between
 * batches loses nothing (the cursor only moves once every row up to it is committed, in whatever
 * order WB sent them) and duplicates nothing (upserts by WB's keys); a re-run from an older cursor
 * rewrites the same rows with the same values. A run that rewrote a large part of a table
 * `ANALYZE`s it before the cache is bumped ({@link tablesToAnalyze}).
 *
 * Wall time: a delivery works for at most `budgetMs` (default {@link SYNC_BUDGET_MS}), checked
 * before each WB request after its first; then it hands over to a continuation (same job, still
 * `running`; see `src/jobs/wb-sync-delivery.ts`). A WB 429 on the delivery's first request fails
 * the attempt (QStash retries after `Retry-After`); a 429 after the delivery fetched pages hands
 * over to a continuation delayed by WB's `X-Ratelimit-Retry` (WB allows ~1 request per minute, so
 * a sync of several pages would otherwise use up QStash's retries on plain flow control).
 * When every data set is caught up, the org's cache version is bumped and the run is recorded as
 * a success.
 * @see https://dev.wildberries.ru/openapi/reports
 */
import { eq, sql } from "drizzle-orm";
import { z } from "zod";
import { invalidateOrgCache } from "../core/cache";
import { decryptSecretWithKeys, encryptionKeys, encryptSecret } from "../core/crypto";
import type { Database } from "../core/db/client";
import { syncState, type WbDataset, wbConnections, wbDatasets } from "../core/db/schema";
import type { AppConfig } from "../core/env";
import type { Logger } from "../core/logger";
import type { Metrics } from "../core/metrics";
import type { Redis } from "../core/redis";
import { moscowDay } from "../core/time";
import { createWbStatisticsClient, WbRateLimitError, type WbStatisticsClient } from "../integrations/wildberries/client";
import { toWbDateTime, wbTimeToEpochMs } from "../integrations/wildberries/time";
import { tokenExpiry } from "../integrations/wildberries/token";
import type { WbDateTime } from "../integrations/wildberries/types";
import { describeCause, JobFailure, MAX_CAUSE_CHARS } from "./failure-cause";
import { heartbeat, isLeaseLost, type Job, type Lease, LeaseLostError, leaseCheck, markSucceeded } from "./ledger";
import { type BatchStatement, pageWrites, recomputeProductPeriodStats, storedRowCount, type WbRowOf } from "./wb-sync-writes";

/** Default wall-time budget of one delivery, ms: Workers have no hard wall limit, QStash's timeout does. */
export const SYNC_BUDGET_MS = 25_000;

/** Days back the first sync of orders and sales asks for (WB keeps about 90–180 days). */
export const INITIAL_LOOKBACK_DAYS = 180;

/** `dateFrom` that WB documents for "the whole current stock". */
export const STOCKS_FULL_DATE_FROM: WbDateTime = "2019-06-20T00:00:00";

/** Rows per batch: WB pages can hold 80,000 rows; a slice keeps one Neon request to a few MB. */
export const MAX_ROWS_PER_BATCH = 10_000;

/** Progress of one run, stored in `jobs.payload` (it survives continuations). */
export const wbSyncPayload = z.object({
  /** Rows received past the cursor, per data set, in this run. */
  rows: z.partialRecord(z.enum(wbDatasets), z.number().int().nonnegative()).default({}),
  /** Data sets found caught up in this run: continuations skip them. */
  caughtUp: z.array(z.enum(wbDatasets)).default([]),
  /** Wall-time budget of one delivery, ms (default {@link SYNC_BUDGET_MS}). */
  budgetMs: z.number().int().positive().optional(),
});
export type WbSyncPayload = z.infer<typeof wbSyncPayload>;

/** What a sync needs from the request's services. */
export interface WbSyncServices {
  config: Pick<AppConfig, "ENCRYPTION_KEY" | "ENCRYPTION_KEY_PREVIOUS" | "WB_STATISTICS_API_URL">;
  db: Database;
  redis: Redis;
  logger: Logger;
  metrics: Metrics;
}

/** Result of one delivery's work: done, or out of budget (publish a continuation). */
export interface WbSyncOutcome {
  status: "succeeded" | "continue";
  payload: WbSyncPayload;
  /** Rows received past the cursor by this delivery, per data set. */
  rows: Partial<Record<WbDataset, number>>;
  /** For `continue` after a WB 429: seconds the continuation must wait (WB's `X-Ratelimit-Retry`). */
  delaySeconds?: number;
}

/**
 * A failure while syncing `dataset` (none: before or after the data sets) at `step` (the cause is a
 * `WbApiError`, a database error…). Its message is the recorded cause: `orders: WB rejected the
 * token (401): … [GET …]`, `stocks: database error 22003 (numeric_value_out_of_range) while
 * writing a page` (see `failure-cause.ts`).
 */
export class WbSyncError extends JobFailure {
  override readonly name = "WbSyncError";
  constructor(
    readonly dataset: WbDataset | undefined,
    cause: unknown,
    readonly step?: string,
  ) {
    super(`${dataset ? `${dataset}: ` : ""}${describeCause(cause)}${step ? ` while ${step}` : ""}`, { cause });
  }
}

/** The org's Wildberries connection is gone (disconnected while the job waited). */
export class WbNotConnectedError extends JobFailure {
  override readonly name = "WbNotConnectedError";
  constructor() {
    super("the org has no Wildberries connection (it was removed); connect a token with PUT /api/v1/integrations/wildberries");
  }
}

/** Redis key that limits the "token expiring" warning to one a day per org (`SET NX EX 86400`). */
export const expiryWarningKey = (orgId: string) => `wb-token-expiry-warned:${orgId}`;

/** The first `dateFrom` of a data set that has no cursor yet. */
export function initialDateFrom(dataset: WbDataset, now = Date.now()): WbDateTime {
  if (dataset === "stocks") return STOCKS_FULL_DATE_FROM;
  return `${toWbDateTime(now - INITIAL_LOOKBACK_DAYS * 86_400_000).slice(0, 10)}T00:00:00`;
}

/**
 * Runs the sync of `job` (claimed under `lease`) until every data set is caught up or the budget
 * is spent. Writes are fenced by the lease.
 * @throws WbSyncError (cause: `WbApiError` from WB, or a database error); LeaseLostError.
 */
export async function runWbSync(services: WbSyncServices, job: Job, lease: Lease, startedAt = Date.now()): Promise<WbSyncOutcome> {
  const { db, logger } = services;
  const payload = wbSyncPayload.parse(job.payload ?? {});
  const deadline = startedAt + (payload.budgetMs ?? SYNC_BUDGET_MS);
  const rowsThisDelivery: Partial<Record<WbDataset, number>> = {};
  let pagesThisDelivery = 0;

  const client = await clientFor(services, job.orgId);
  const states = await db
    .select()
    .from(syncState)
    .where(eq(syncState.orgId, job.orgId))
    .catch((err: unknown) => {
      throw new WbSyncError(undefined, err, "reading the sync state");
    });

  /** Commits one batch behind the lease check; a database error is tagged with the data set and step. */
  const commit = async (statements: BatchStatement[], dataset: WbDataset | undefined, step: string) => {
    try {
      await db.batch([leaseCheck(db, lease), ...statements]);
    } catch (err) {
      if (isLeaseLost(err)) throw new LeaseLostError(lease);
      throw new WbSyncError(dataset, err, step);
    }
  };

  for (const dataset of wbDatasets) {
    if (payload.caughtUp.includes(dataset)) continue;
    let cursor = states.find((s) => s.dataset === dataset)?.cursor ?? null;
    const initial = cursor === null;
    let dateFrom = cursor ?? initialDateFrom(dataset);
    // Rows strictly past the cursor are new; on the first page every row at or after dateFrom is.
    let pastMs = wbTimeToEpochMs(dateFrom) - (initial ? 1 : 0);
    try {
      for (;;) {
        // Every delivery fetches at least one page, so a tiny budget still makes progress.
        if (pagesThisDelivery > 0 && Date.now() >= deadline) return { status: "continue", payload, rows: rowsThisDelivery };
        pagesThisDelivery++;
        const page = await writePage(dataset, cursor, pastMs, client.pageSlices(dataset, dateFrom, MAX_ROWS_PER_BATCH));
        if (page.fresh === 0) {
          payload.caughtUp.push(dataset);
          await commit(
            [heartbeat(db, lease, payload), runStateUpsert(db, job.orgId, dataset, cursor, payload.rows[dataset] ?? 0, { recount: true })],
            dataset,
            "recording that it is caught up",
          );
          break;
        }
        rowsThisDelivery[dataset] = (rowsThisDelivery[dataset] ?? 0) + page.fresh;
        services.metrics.count("wb_sync_rows_total", { dataset }, page.fresh);
        cursor = page.cursor;
        pastMs = wbTimeToEpochMs(cursor);
        dateFrom = cursor;
        logger.debug("wb-sync page", { jobId: job.id, dataset, rows: page.rows, fresh: page.fresh, cursor });
      }
    } catch (err) {
      if (err instanceof LeaseLostError || err instanceof WbSyncError) throw err;
      // Rate-limited after this delivery made progress: flow control, not a failure. Hand over to a
      // delayed continuation instead of spending one of QStash's retries.
      if (err instanceof WbRateLimitError && pagesThisDelivery > 1) {
        return { status: "continue", payload, rows: rowsThisDelivery, delaySeconds: Math.max(1, err.retryAfterSeconds) };
      }
      throw new WbSyncError(dataset, err);
    }
  }

  await analyzeIfRewritten(services, states, payload);
  // Cache first: if Redis fails, the job fails and its retry (cheap: all caught up) bumps again.
  await invalidateOrgCache(services.redis, job.orgId).catch((err: unknown) => {
    throw new WbSyncError(undefined, err, "bumping the org's cache version");
  });
  const now = Date.now();
  await commit(
    [
      db.update(syncState).set({ lastSuccessAt: sql`now()`, lastError: null }).where(eq(syncState.orgId, job.orgId)),
      ...recomputeProductPeriodStats(db, job.orgId, [moscowDay(now), moscowDay(now + 86_400_000)]),
      markSucceeded(db, lease),
    ],
    undefined,
    "recording the success",
  );
  return { status: "succeeded", payload, rows: rowsThisDelivery };

  /**
   * Streams one WB page into the database, a batch per slice as it arrives (one slice in memory at a
   * time). Only rows past the cursor (`pastMs`) are written: everything at or before it is stored
   * already. After the last slice, one small batch moves the cursor to the newest `lastChangeDate`
   * of the page and stores the run's row count, so the cursor never passes a row that is not
   * committed, whatever the order of the rows within the page (a crash mid-page re-reads the page
   * from the old cursor and rewrites the same values).
   * @returns rows on the page, rows past the cursor, and the new cursor (the old one when none).
   */
  async function writePage<D extends WbDataset>(dataset: D, cursor: string | null, pastMs: number, slices: AsyncGenerator<WbRowOf[D][]>) {
    let rows = 0;
    let fresh = 0;
    let newest = cursor;
    let newestMs = cursor === null ? Number.NEGATIVE_INFINITY : wbTimeToEpochMs(cursor);
    for await (const slice of slices) {
      rows += slice.length;
      const freshRows: WbRowOf[D][] = [];
      for (const row of slice) {
        const ms = wbTimeToEpochMs(row.lastChangeDate);
        if (ms <= pastMs) continue;
        freshRows.push(row);
        if (ms > newestMs) {
          newestMs = ms;
          newest = row.lastChangeDate;
        }
      }
      if (freshRows.length === 0) continue;
      fresh += freshRows.length;
      // The run state first: the rows' upsert adds to its total_rows, so the row must exist.
      const state = runStateUpsert(db, job.orgId, dataset, cursor, payload.rows[dataset] ?? 0);
      await commit([state, ...pageWrites(db, job.orgId, dataset, freshRows), heartbeat(db, lease, payload)], dataset, "writing a page");
    }
    if (fresh > 0) {
      payload.rows[dataset] = (payload.rows[dataset] ?? 0) + fresh;
      await commit(
        [runStateUpsert(db, job.orgId, dataset, newest, payload.rows[dataset] ?? 0), heartbeat(db, lease, payload)],
        dataset,
        "moving the cursor",
      );
    }
    return { rows, fresh, cursor: newest ?? "" };
  }
}

/** A run that wrote at least this share of a table's rows (or any rows into an empty table) analyzes it. */
export const ANALYZE_SHARE = 0.1;
/** …but never for fewer rows than this. */
export const ANALYZE_MIN_ROWS = 1_000;

/**
 * The tables a run rewrote a large part of, for `ANALYZE`: a data set's table (and, for orders and
 * sales, the rollup) when the run wrote at least {@link ANALYZE_SHARE} of the rows it held before
 * (`total_rows` at the start), and at least {@link ANALYZE_MIN_ROWS} rows. Autovacuum would get
 * there too, but only after its naptime and thresholds: until then a table filled by a first sync
 * has no statistics, and the planner guesses (e.g. nested loops over a million rows).
 * @see https://www.postgresql.org/docs/current/routine-vacuuming.html#VACUUM-FOR-STATISTICS
 */
export function tablesToAnalyze(
  before: ReadonlyArray<{ dataset: WbDataset; totalRows: number }>,
  written: WbSyncPayload["rows"],
): string[] {
  const tables = new Set<string>();
  for (const dataset of wbDatasets) {
    const rows = written[dataset] ?? 0;
    const held = before.find((s) => s.dataset === dataset)?.totalRows ?? 0;
    if (rows < ANALYZE_MIN_ROWS || rows < held * ANALYZE_SHARE) continue;
    tables.add(dataset);
    if (dataset === "stocks") tables.add("warehouse_stock_stats");
    else {
      tables.add("daily_product_stats");
      tables.add("daily_org_stats");
    }
    tables.add("products");
  }
  return [...tables].sort();
}

/**
 * `ANALYZE`s the tables this run rewrote a large part of ({@link tablesToAnalyze}), before the cache
 * is bumped, so the first uncached dashboard reads after a big sync plan with real statistics. Best
 * effort: a failure is logged, never fails the sync (autovacuum analyzes later).
 */
async function analyzeIfRewritten(
  services: WbSyncServices,
  before: ReadonlyArray<{ dataset: WbDataset; totalRows: number }>,
  payload: WbSyncPayload,
) {
  const tables = tablesToAnalyze(before, payload.rows);
  if (tables.length === 0) return;
  const started = Date.now();
  try {
    await services.db.execute(sql.raw(`analyze ${tables.join(", ")}`));
    services.logger.info("wb-sync analyzed", { tables, ms: Date.now() - started });
  } catch (err) {
    services.logger.warn("wb-sync analyze failed; autovacuum will analyze later", { tables, error: err });
  }
}

/**
 * Records a failed attempt's cause on data set `dataset`'s sync state (not fenced: it is only a
 * note, cleared by the next success).
 */
export function recordDatasetError(db: Database, orgId: string, dataset: WbDataset, error: string) {
  const lastError = error.slice(0, MAX_CAUSE_CHARS);
  return db
    .insert(syncState)
    .values({ orgId, dataset, lastRunAt: sql`now()`, lastError })
    .onConflictDoUpdate({
      target: [syncState.orgId, syncState.dataset],
      set: { lastRunAt: sql`now()`, lastError },
    });
}

/**
 * Upsert of a data set's run state: cursor, last run, rows of this run; with `recount`, also the
 * rows stored (an exact `count(*)`, once per data set and run: between recounts the rows' upserts
 * keep `total_rows` by adding what they insert).
 */
function runStateUpsert(
  db: Database,
  orgId: string,
  dataset: WbDataset,
  cursor: string | null,
  runRows: number,
  options: { recount?: boolean } = {},
) {
  const values = {
    cursor,
    lastRunAt: sql`now()`,
    lastRunRows: runRows,
    ...(options.recount ? { totalRows: storedRowCount(dataset, orgId) } : {}),
  };
  return db
    .insert(syncState)
    .values({ orgId, dataset, ...values })
    .onConflictDoUpdate({ target: [syncState.orgId, syncState.dataset], set: values });
}

/**
 * The org's WB client, with its token decrypted from `wb_connections`; warns (once a day per org)
 * when the token expires soon (see {@link warnIfExpiring}).
 * @throws WbSyncError (no connection, a database error, a token no key decrypts).
 */
async function clientFor(services: WbSyncServices, orgId: string): Promise<WbStatisticsClient> {
  const step = "reading the Wildberries connection";
  const [connection] = await services.db
    .select({ tokenCiphertext: wbConnections.tokenCiphertext, expiresAt: wbConnections.expiresAt })
    .from(wbConnections)
    .where(eq(wbConnections.orgId, orgId))
    .catch((err: unknown) => {
      throw new WbSyncError(undefined, err, step);
    });
  if (!connection) throw new WbSyncError(undefined, new WbNotConnectedError());
  const keys = encryptionKeys(services.config);
  const { plaintext: token, keyIndex } = await decryptSecretWithKeys(connection.tokenCiphertext, keys).catch(() => {
    throw new WbSyncError(
      undefined,
      new JobFailure("the stored Wildberries token cannot be decrypted with ENCRYPTION_KEY or ENCRYPTION_KEY_PREVIOUS; connect it again"),
    );
  });
  if (keyIndex > 0) {
    // Made with the previous key: re-encrypt with the current one, so the old key can be retired.
    const tokenCiphertext = await encryptSecret(token, services.config.ENCRYPTION_KEY);
    await services.db
      .update(wbConnections)
      .set({ tokenCiphertext, updatedAt: new Date() })
      .where(eq(wbConnections.orgId, orgId))
      .catch((err: unknown) => {
        throw new WbSyncError(undefined, err, "re-encrypting the Wildberries token");
      });
  }
  await warnIfExpiring(services, orgId, connection.expiresAt);
  return createWbStatisticsClient({ baseUrl: services.config.WB_STATISTICS_API_URL, token });
}

/**
 * Logs "wildberries token expiring" (warn) when the org's token expires within `EXPIRY_WARNING_DAYS`
 * (14) days or has expired (`tokenExpiry` of `src/integrations/wildberries/token.ts`), at most once a day per org: the first sync of
 * the day to see it wins `SET NX EX 86400`. Best effort: a Redis failure skips the warning, never
 * the sync.
 */
export async function warnIfExpiring(services: Pick<WbSyncServices, "redis" | "logger">, orgId: string, expiresAt: string | null) {
  const expiry = tokenExpiry(expiresAt);
  if (!expiry.expiringSoon) return;
  try {
    const first = await services.redis.set(expiryWarningKey(orgId), expiry.expiresAt ?? "", { nx: true, ex: 86_400 });
    if (first === null) return;
  } catch (err) {
    services.logger.debug("token expiry warning skipped: Redis did not answer", { orgId, error: err });
    return;
  }
  services.logger.warn("wildberries token expiring", { orgId, expiresAt: expiry.expiresAt, daysLeft: expiry.daysLeft });
}
