/**
 * The Wildberries sync job (`wb-sync`): pulls the org's orders, sales and stocks from the
 * statistics API into Postgres, one committed batch at a time.
 *
 * Paging (per data set, from its cursor in `sync_state`; first run: 180 days back for orders and
 * sales, WB's "everything" date `2019-06-20` for stocks): ask with `dateFrom = cursor`, `flag=0`;
 * WB answers rows with `lastChangeDate >= dateFrom`, ascending. The boundary is inclusive, so the
 * rows at the cursor come again: when a page brings nothing past the cursor, the data set is
 * caught up. Otherwise the page is written and the cursor becomes its last row's `lastChangeDate`,
 * verbatim.
 *
 * One batch per page (a page over {@link MAX_ROWS_PER_BATCH} rows is cut into slices, each its own
 * batch; rows are sorted, so a slice's last row is a valid cursor): `db.batch` is one transaction
 * that checks the lease, upserts products, warehouses and rows, recomputes the daily rollup of the
 * days touched, stores the job's progress and advances the cursor. A crash between batches loses
 * nothing (the cursor only moves with the rows it covers) and duplicates nothing (upserts by WB's
 * keys); a re-run from an older cursor rewrites the same rows with the same values.
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
import { decryptSecretWithKeys, encryptSecret } from "../core/crypto";
import type { Database } from "../core/db/client";
import { syncState, type WbDataset, wbConnections, wbDatasets } from "../core/db/schema";
import type { AppConfig } from "../core/env";
import type { Logger } from "../core/logger";
import type { Redis } from "../core/redis";
import { createWbStatisticsClient, WbRateLimitError, type WbStatisticsClient } from "../integrations/wildberries/client";
import { toWbDateTime, wbTimeToEpochMs } from "../integrations/wildberries/time";
import type { WbDateTime } from "../integrations/wildberries/types";
import { heartbeat, isLeaseLost, type Job, type Lease, LeaseLostError, leaseCheck, markSucceeded } from "./ledger";
import { type BatchStatement, pageWrites, storedRowCount, type WbRowOf } from "./wb-sync-writes";

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

/** A failure while syncing `dataset` (the cause is a `WbApiError`, a database error…). */
export class WbSyncError extends Error {
  override readonly name = "WbSyncError";
  constructor(
    readonly dataset: WbDataset | undefined,
    cause: unknown,
  ) {
    super(`${dataset ?? "wb-sync"}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

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
  const states = await db.select().from(syncState).where(eq(syncState.orgId, job.orgId));

  const commit = async (statements: BatchStatement[]) => {
    try {
      await db.batch([leaseCheck(db, lease), ...statements]);
    } catch (err) {
      if (isLeaseLost(err)) throw new LeaseLostError(lease);
      throw err;
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
        const page = sortByChange(await fetchPage(client, dataset, dateFrom));
        pagesThisDelivery++;
        const fresh = page.filter((r) => wbTimeToEpochMs(r.lastChangeDate) > pastMs).length;
        if (fresh === 0) {
          payload.caughtUp.push(dataset);
          await commit([heartbeat(db, lease, payload), runStateUpsert(db, job.orgId, dataset, cursor, payload.rows[dataset] ?? 0)]);
          break;
        }
        for (let i = 0; i < page.length; i += MAX_ROWS_PER_BATCH) {
          const slice = page.slice(i, i + MAX_ROWS_PER_BATCH);
          const last = slice[slice.length - 1];
          if (!last) break;
          const received = slice.filter((r) => wbTimeToEpochMs(r.lastChangeDate) > pastMs).length;
          payload.rows[dataset] = (payload.rows[dataset] ?? 0) + received;
          await commit([
            ...pageWrites(db, job.orgId, dataset, slice),
            heartbeat(db, lease, payload),
            runStateUpsert(db, job.orgId, dataset, last.lastChangeDate, payload.rows[dataset] ?? 0),
          ]);
          rowsThisDelivery[dataset] = (rowsThisDelivery[dataset] ?? 0) + received;
          cursor = last.lastChangeDate;
          pastMs = wbTimeToEpochMs(cursor);
        }
        dateFrom = cursor ?? dateFrom;
        logger.debug("wb-sync page", { jobId: job.id, dataset, rows: page.length, fresh, cursor });
      }
    } catch (err) {
      if (err instanceof LeaseLostError) throw err;
      // Rate-limited after this delivery made progress: flow control, not a failure. Hand over to a
      // delayed continuation instead of spending one of QStash's retries.
      if (err instanceof WbRateLimitError && pagesThisDelivery > 0) {
        return { status: "continue", payload, rows: rowsThisDelivery, delaySeconds: Math.max(1, err.retryAfterSeconds) };
      }
      throw new WbSyncError(dataset, err);
    }
  }

  try {
    // Cache first: if Redis fails, the job fails and its retry (cheap: all caught up) bumps again.
    await invalidateOrgCache(services.redis, job.orgId);
    await commit([
      db.update(syncState).set({ lastSuccessAt: sql`now()`, lastError: null }).where(eq(syncState.orgId, job.orgId)),
      markSucceeded(db, lease),
    ]);
  } catch (err) {
    if (err instanceof LeaseLostError) throw err;
    throw new WbSyncError(undefined, err);
  }
  return { status: "succeeded", payload, rows: rowsThisDelivery };
}

/** Records a failed attempt on the data set's sync state (not fenced: it is only a note). */
export function recordDatasetError(db: Database, orgId: string, dataset: WbDataset, error: string) {
  return db
    .insert(syncState)
    .values({ orgId, dataset, lastRunAt: sql`now()`, lastError: error.slice(0, 2000) })
    .onConflictDoUpdate({
      target: [syncState.orgId, syncState.dataset],
      set: { lastRunAt: sql`now()`, lastError: error.slice(0, 2000) },
    });
}

/** Upsert of a data set's run state: cursor, last run, rows of this run, rows stored. */
function runStateUpsert(db: Database, orgId: string, dataset: WbDataset, cursor: string | null, runRows: number) {
  const values = { cursor, lastRunAt: sql`now()`, lastRunRows: runRows, totalRows: storedRowCount(dataset, orgId) };
  return db
    .insert(syncState)
    .values({ orgId, dataset, ...values })
    .onConflictDoUpdate({ target: [syncState.orgId, syncState.dataset], set: values });
}

/** The org's WB client, with its token decrypted from `wb_connections`. */
async function clientFor(services: WbSyncServices, orgId: string): Promise<WbStatisticsClient> {
  const [connection] = await services.db
    .select({ tokenCiphertext: wbConnections.tokenCiphertext })
    .from(wbConnections)
    .where(eq(wbConnections.orgId, orgId));
  if (!connection) throw new WbSyncError(undefined, new Error("the org has no Wildberries connection"));
  const { ENCRYPTION_KEY, ENCRYPTION_KEY_PREVIOUS } = services.config;
  const keys = ENCRYPTION_KEY_PREVIOUS ? [ENCRYPTION_KEY, ENCRYPTION_KEY_PREVIOUS] : [ENCRYPTION_KEY];
  const { plaintext: token, keyIndex } = await decryptSecretWithKeys(connection.tokenCiphertext, keys);
  if (keyIndex > 0) {
    // Made with the previous key: re-encrypt with the current one, so the old key can be retired.
    const tokenCiphertext = await encryptSecret(token, ENCRYPTION_KEY);
    await services.db.update(wbConnections).set({ tokenCiphertext, updatedAt: new Date() }).where(eq(wbConnections.orgId, orgId));
  }
  return createWbStatisticsClient({ baseUrl: services.config.WB_STATISTICS_API_URL, token });
}

function fetchPage<D extends WbDataset>(client: WbStatisticsClient, dataset: D, dateFrom: WbDateTime): Promise<WbRowOf[D][]> {
  return client[dataset](dateFrom) as Promise<WbRowOf[D][]>;
}

/** Sorts by `lastChangeDate` (stable): WB sends rows sorted; slicing relies on it, so make sure. */
function sortByChange<T extends { lastChangeDate: string }>(rows: T[]): T[] {
  return rows
    .map((row, index) => ({ row, index, ms: wbTimeToEpochMs(row.lastChangeDate) }))
    .sort((a, b) => a.ms - b.ms || a.index - b.index)
    .map((e) => e.row);
}
