/**
 * Queries over the daily rollup `daily_product_stats` (one row per org, Moscow day and nmId,
 * kept by the sync), shared by the analytics routes. Each function returns an unexecuted
 * query, so a handler can send several in one `db.batch` (one Neon HTTP request).
 * Sums come back as whole kopecks (amounts) and counts, so they add up exactly in JS.
 */
import { type AnyColumn, and, asc, between, desc, eq, sql } from "drizzle-orm";
import type { Database } from "../../core/db/client";
import { products, dailyProductStats as stats } from "../../core/db/schema";
import { toKopecks, toRoubles } from "./money";
import { type DayRange, eachDay } from "./period";
import type { SalesTotals, TopProduct } from "./schemas";

/** Σ of an integer column, 0 over no rows. */
export const sumCount = (column: AnyColumn) => sql<number>`coalesce(sum(${column}), 0)`.mapWith(Number);
/** Σ of a money column in whole kopecks, 0 over no rows. */
export const sumKopecks = (column: AnyColumn) => sql<number>`coalesce(sum(${column}), 0)`.mapWith(toKopecks);

/** Every rollup figure, summed over the grouped rows. */
const rollupSums = () => ({
  orders: sumCount(stats.ordersCount),
  ordersKopecks: sumKopecks(stats.ordersAmount),
  cancellations: sumCount(stats.cancellationsCount),
  cancellationsKopecks: sumKopecks(stats.cancellationsAmount),
  buyouts: sumCount(stats.buyoutsCount),
  buyoutsKopecks: sumKopecks(stats.buyoutsAmount),
  returns: sumCount(stats.returnsCount),
  returnsKopecks: sumKopecks(stats.returnsAmount),
  payoutKopecks: sumKopecks(stats.payout),
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

const inRange = (orgId: string, range: DayRange) => and(eq(stats.orgId, orgId), between(stats.day, range.from, range.to));

/** Figures per day of `range` (days without rows are absent; see {@link fillDays}). */
export function dailyFigures(db: Database, orgId: string, range: DayRange) {
  return db
    .select({ day: stats.day, ...rollupSums() })
    .from(stats)
    .where(inRange(orgId, range))
    .groupBy(stats.day)
    .orderBy(asc(stats.day));
}

/** Figures of the whole `range`: always one row (zeros when there is no data). */
export function rangeFigures(db: Database, orgId: string, range: DayRange) {
  return db.select(rollupSums()).from(stats).where(inRange(orgId, range));
}

/**
 * The top `limit` products of `range` by Σ `orders_amount` (ties: nmId ascending), products
 * without orders left out. Name and supplier article come from the product card (null if absent).
 */
export function topProducts(db: Database, orgId: string, range: DayRange, limit = 10) {
  return db
    .select({
      nmId: stats.nmId,
      name: products.name,
      supplierArticle: products.supplierArticle,
      orders: sumCount(stats.ordersCount),
      ordersKopecks: sumKopecks(stats.ordersAmount),
    })
    .from(stats)
    .leftJoin(products, and(eq(products.orgId, stats.orgId), eq(products.nmId, stats.nmId)))
    .where(inRange(orgId, range))
    .groupBy(stats.nmId, products.name, products.supplierArticle)
    .having(sql`sum(${stats.ordersCount}) > 0`)
    .orderBy(desc(sql`sum(${stats.ordersAmount})`), asc(stats.nmId))
    .limit(limit);
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
export function toTopProduct(row: Awaited<ReturnType<typeof topProducts>>[number]): TopProduct {
  return {
    nmId: row.nmId,
    name: row.name,
    supplierArticle: row.supplierArticle,
    orders: row.orders,
    ordersAmount: toRoubles(row.ordersKopecks),
  };
}
