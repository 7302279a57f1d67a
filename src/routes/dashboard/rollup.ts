/**
 * Queries over the daily rollups the sync keeps, shared by the analytics routes: totals and daily
 * series read `daily_org_stats` (one row per org and Moscow day: a 180-day period is ≤ 180 rows),
 * top products read `daily_product_stats` (one row per org, day and nmId), aggregated before
 * anything is joined. Each function returns an unexecuted query, so a handler can send several in
 * one `db.batch` (one Neon HTTP request). Sums come back as whole kopecks (amounts) and counts, so
 * they add up exactly in JS. Every shape stays fast on fresh tables without planner statistics:
 * range scans of the primary keys `(org_id, day[, nm_id])`, no joins before the aggregate.
 */
import { type AnyColumn, and, asc, between, desc, eq, type SQL, sql } from "drizzle-orm";
import type { Database } from "../../core/db/client";
import {
  dailyOrgStats as orgStats,
  productPeriodStats as periodStats,
  products,
  type ReportingPeriod,
  dailyProductStats as stats,
} from "../../core/db/schema";
import { toKopecks, toRoubles } from "./money";
import { type DayRange, eachDay } from "./period";
import type { SalesTotals, TopProduct } from "./schemas";

/** Σ of an integer column, 0 over no rows. */
export const sumCount = (column: AnyColumn) => sql<number>`coalesce(sum(${column}), 0)`.mapWith(Number);
/** Σ of a money column in whole kopecks, 0 over no rows. */
export const sumKopecks = (column: AnyColumn) => sql<number>`coalesce(sum(${column}), 0)`.mapWith(toKopecks);

/** Every rollup figure, summed over the grouped rows of `daily_org_stats`. */
const rollupSums = () => ({
  orders: sumCount(orgStats.ordersCount),
  ordersKopecks: sumKopecks(orgStats.ordersAmount),
  cancellations: sumCount(orgStats.cancellationsCount),
  cancellationsKopecks: sumKopecks(orgStats.cancellationsAmount),
  buyouts: sumCount(orgStats.buyoutsCount),
  buyoutsKopecks: sumKopecks(orgStats.buyoutsAmount),
  returns: sumCount(orgStats.returnsCount),
  returnsKopecks: sumKopecks(orgStats.returnsAmount),
  payoutKopecks: sumKopecks(orgStats.payout),
});

/** Rollup figures of a span (counts, and amounts in kopecks). */
export type RollupFigures = { [K in keyof ReturnType<typeof rollupSums>]: number };

/** The all-zero figures of a span without rows. */
export const noFigures: RollupFigures = {
  orders: 0,
  ordersKopecks: 0,
  cancellations: 0,
  cancellationsKopecks: 0,
  buyouts: 0,
  buyoutsKopecks: 0,
  returns: 0,
  returnsKopecks: 0,
  payoutKopecks: 0,
};

const inOrgRange = (orgId: string, range: DayRange) => and(eq(orgStats.orgId, orgId), between(orgStats.day, range.from, range.to));

/** Figures per day of `range` (days without rows are absent; see {@link fillDays}). */
export function dailyFigures(db: Database, orgId: string, range: DayRange) {
  return db
    .select({ day: orgStats.day, ...rollupSums() })
    .from(orgStats)
    .where(inOrgRange(orgId, range))
    .groupBy(orgStats.day)
    .orderBy(asc(orgStats.day));
}

/** Figures of the whole `range`: always one row (zeros when there is no data). */
export function rangeFigures(db: Database, orgId: string, range: DayRange) {
  return db.select(rollupSums()).from(orgStats).where(inOrgRange(orgId, range));
}

/**
 * The top `limit` products of `period` (its `range` ends today) by Σ `orders_amount` (ties: nmId
 * ascending), products without orders left out; name and supplier article from the product card
 * (null if absent). Two queries for one `db.batch`; {@link pickTopProducts} takes the answer:
 * 1. the precomputed top: `product_period_stats` of (`range.to`, `period`), kept by every sync
 *    run for today and tomorrow — an index range of `limit` rows;
 *    (ordered `desc nulls last`, as the index is: a `desc` that sorts nulls first would not match
 *    it, and Postgres would read and sort every product of the period);
 * 2. the same aggregated live from `daily_product_stats`, only where (1) has no rows (a day has
 *    passed without a sync, or the period has no orders): the `NOT EXISTS` is uncorrelated, so
 *    Postgres evaluates it once, as a one-time filter. It stands outside the aggregate's subquery
 *    (whose `LIMIT` keeps it from being pushed in), so it gates the whole plan: inside, over a
 *    30-day range, it would sit below a parallel `Gather`, whose two workers were started for
 *    nothing on every read (~40 ms on 2 cores). The top N are chosen on the rollup alone
 *    (aggregate, sort, limit) and only those N rows are joined to `products`, so no planner
 *    estimate can turn the join into a nested loop over every (day, product) row.
 */
export function topProducts(db: Database, orgId: string, period: ReportingPeriod, range: DayRange, limit = 10) {
  const precomputed = and(eq(periodStats.orgId, orgId), eq(periodStats.asOf, range.to), eq(periodStats.period, period));
  const pre = db
    .select({ nmId: periodStats.nmId, orders: periodStats.ordersCount, ordersAmount: periodStats.ordersAmount })
    .from(periodStats)
    .where(precomputed)
    .orderBy(sql`${periodStats.ordersAmount} desc nulls last`, asc(periodStats.nmId))
    .limit(limit)
    .as("pre");
  const live = db
    .select({
      nmId: stats.nmId,
      orders: sql<number>`sum(${stats.ordersCount})`.as("orders"),
      ordersAmount: sql<number>`sum(${stats.ordersAmount})`.as("orders_amount"),
    })
    .from(stats)
    .where(and(eq(stats.orgId, orgId), between(stats.day, range.from, range.to)))
    .groupBy(stats.nmId)
    .having(sql`sum(${stats.ordersCount}) > 0`)
    .orderBy(desc(sql`sum(${stats.ordersAmount})`), asc(stats.nmId))
    .limit(limit)
    .as("live");
  const withNames = (top: typeof pre | typeof live, only?: SQL) =>
    db
      .select({
        nmId: top.nmId,
        name: products.name,
        supplierArticle: products.supplierArticle,
        orders: sql<number>`${top.orders}`.mapWith(Number),
        ordersKopecks: sql<number>`${top.ordersAmount}`.mapWith(toKopecks),
      })
      .from(top)
      .leftJoin(products, and(eq(products.orgId, orgId), eq(products.nmId, top.nmId)))
      .where(only)
      .orderBy(desc(top.ordersAmount), asc(top.nmId));
  return [withNames(pre), withNames(live, sql`not exists (select 1 from ${periodStats} where ${precomputed})`)] as const;
}

/** A top-products row (see {@link topProducts}). */
export type TopProductRow = Awaited<ReturnType<typeof topProducts>[0]>[number];

/** The answer of {@link topProducts}' two queries: the precomputed top, or else the live one. */
export function pickTopProducts(precomputed: TopProductRow[], live: TopProductRow[]): TopProductRow[] {
  return precomputed.length > 0 ? precomputed : live;
}

/** One entry per day of `range`, oldest first: the row of that day or zeros. */
export function fillDays(range: DayRange, rows: ReadonlyArray<RollupFigures & { day: string }>): Array<RollupFigures & { day: string }> {
  const byDay = new Map(rows.map((r) => [r.day, r]));
  return eachDay(range).map((day) => byDay.get(day) ?? { ...noFigures, day });
}

/** Adds figures field by field (exact: kopecks and counts are integers). */
export function addFigures(a: RollupFigures, b: RollupFigures): RollupFigures {
  const out = { ...a };
  for (const key of Object.keys(out) as Array<keyof RollupFigures>) out[key] += b[key];
  return out;
}

/** The API's sales totals of some figures (amounts in roubles). */
export function toSalesTotals(f: RollupFigures): SalesTotals {
  return {
    orders: f.orders,
    ordersAmount: toRoubles(f.ordersKopecks),
    cancellations: f.cancellations,
    buyouts: f.buyouts,
    buyoutsAmount: toRoubles(f.buyoutsKopecks),
    returns: f.returns,
    payout: toRoubles(f.payoutKopecks),
  };
}

/** A top-products row in API form. */
export function toTopProduct(row: TopProductRow): TopProduct {
  return {
    nmId: row.nmId,
    name: row.name,
    supplierArticle: row.supplierArticle,
    orders: row.orders,
    ordersAmount: toRoubles(row.ordersKopecks),
  };
}
