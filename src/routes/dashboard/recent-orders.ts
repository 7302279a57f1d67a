/**
 * `GET /api/v1/orders/recent?status=active|canceled|all&limit=&cursor=` (or `&offset=`) — the
 * org's orders, newest first (ties by srid), with the total, the next page's cursor, and the count
 * and amount (Σ `priceWithDisc`) of orders placed today and yesterday (Moscow days). `status`
 * (default `all`) filters the list, the total and the day figures alike: `active` = not canceled,
 * `canceled` = `isCancel`.
 *
 * Keyset paging on `(date desc, srid asc)`: `cursor` holds the last row's `[date, srid]` (`date`
 * as Postgres wrote it, microseconds kept), and the page is
 * `where date <= $date and (date < $date or srid > $srid)`. The mixed directions rule out one
 * row-value comparison; the first conjunct is the range the index `orders (org_id, date)` scans
 * (backward) from the cursor, the second only filters the rows of that one `date`, and Postgres
 * sorts ties by srid incrementally — so the last page of a million orders reads as few rows as the
 * first. `offset` (≤ 10,000) stays for old clients. The total and day figures are exact (`count(*)`
 * over the filter: the one part whose cost grows with the org's orders, the same on every page).
 * One Neon request: page, count and day figures in one `db.batch`.
 * Errors: 400 (unknown status, limit outside 1–100, offset outside 0–10,000, offset with cursor,
 * a cursor that is not this list's or was made under another status, unknown parameter), 401, 403.
 */
import { and, asc, desc, eq, type SQL, sql } from "drizzle-orm";
import type { Database } from "../../core/db/client";
import { dailyOrgStats, orders, products } from "../../core/db/schema";
import { defineOperation } from "../../core/route";
import { moscowDay } from "../../core/time";
import { cacheTtl, dashboardReaders, group } from "./group";
import { toKopecks, toRoubles } from "./money";
import { orderColumns, toOrderView } from "./order-view";
import { addDays } from "./period";
import { recentOrdersCursor, recentOrdersFilters, recentOrdersPage, recentOrdersQuery } from "./schemas";

/** The orders after the cursor's row in `(date desc, srid asc)` order (see the module comment). */
function afterCursor([date, srid]: Parameters<typeof recentOrdersCursor.encode>[0]): SQL {
  const at = sql`${date}::timestamptz`;
  return sql`${orders.date} <= ${at} and (${orders.date} < ${at} or ${orders.srid} > ${srid})`;
}

/**
 * The list's total and today's and yesterday's count and amount (Σ `priceWithDisc`, kopecks) of
 * the orders with `status`, from `daily_org_stats`: `all` = orders, `canceled` = cancellations
 * (orders with `isCancel`, on their order day), `active` = the difference. One row, zeros without data.
 */
function rollupFigures(db: Database, orgId: string, status: "all" | "active" | "canceled", today: string, yesterday: string) {
  const s = dailyOrgStats;
  // Orders of a status in the rollup's terms: all = orders, canceled = cancellations, active = the difference.
  const figures = {
    all: { count: sql`${s.ordersCount}`, amount: sql`${s.ordersAmount}` },
    canceled: { count: sql`${s.cancellationsCount}`, amount: sql`${s.cancellationsAmount}` },
    active: {
      count: sql`${s.ordersCount} - ${s.cancellationsCount}`,
      amount: sql`${s.ordersAmount} - ${s.cancellationsAmount}`,
    },
  } as const;
  const { count, amount } = figures[status];
  const onDay = (day: string) => sql`${s.day} = ${day}::date`;
  const sumOf = (value: SQL, where?: SQL) => sql`coalesce(sum(${value})${where ? sql` filter (where ${where})` : sql``}, 0)`;
  return db
    .select({
      total: sumOf(count).mapWith(Number),
      todayCount: sumOf(count, onDay(today)).mapWith(Number),
      todayKopecks: sumOf(amount, onDay(today)).mapWith(toKopecks),
      yesterdayCount: sumOf(count, onDay(yesterday)).mapWith(Number),
      yesterdayKopecks: sumOf(amount, onDay(yesterday)).mapWith(toKopecks),
    })
    .from(s)
    .where(eq(s.orgId, orgId));
}

/** `GET /orders/recent`, mounted under `/api/v1` before `/orders/{srid}`. */
export const recentOrders = defineOperation({
  route: group.route({
    method: "get",
    path: "/api/v1/orders/recent",
    summary: "The latest orders, with today and yesterday",
    access: dashboardReaders,
    cache: { name: "orders-recent", ttlSeconds: cacheTtl.orders },
    request: { query: recentOrdersQuery },
    responses: {
      200: { description: "The latest orders, with today and yesterday.", content: { "application/json": { schema: recentOrdersPage } } },
    },
  }),
  handler: async (c) => {
    const query = c.req.valid("query");
    const { status, limit, cursor } = query;
    const offset = query.offset ?? 0;
    const { orgId } = c.var.auth;
    const { db } = c.var.services;
    const where = and(
      eq(orders.orgId, orgId),
      status === "active" ? eq(orders.isCancel, false) : status === "canceled" ? eq(orders.isCancel, true) : undefined,
    );
    const today = moscowDay();
    const yesterday = addDays(today, -1);
    const [rows, [figures]] = await db.batch([
      db
        .select(orderColumns)
        .from(orders)
        .leftJoin(products, and(eq(products.orgId, orders.orgId), eq(products.nmId, orders.nmId)))
        .where(and(where, cursor ? afterCursor(cursor.key) : undefined))
        .orderBy(desc(orders.date), asc(orders.srid))
        // One row more than the page: it says whether there is a next page.
        .limit(limit + 1)
        .offset(offset),
      rollupFigures(db, orgId, status, today, yesterday),
    ]);
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    // The raw `date` of the row (Postgres' text), not the Moscow rendering: the cursor must keep microseconds.
    const nextCursor = rows.length > limit && last ? recentOrdersCursor.encode([last.date, last.srid], recentOrdersFilters(query)) : null;
    return c.json(
      {
        status,
        items: page.map(toOrderView),
        total: figures?.total ?? 0,
        limit,
        offset,
        nextCursor,
        today: { day: today, count: figures?.todayCount ?? 0, amount: toRoubles(figures?.todayKopecks ?? 0) },
        yesterday: { day: yesterday, count: figures?.yesterdayCount ?? 0, amount: toRoubles(figures?.yesterdayKopecks ?? 0) },
      },
      200,
    );
  },
});
