/**
 * `GET /api/v1/orders/recent?status=active|canceled|all&limit=&offset=` — the org's orders,
 * newest first (ties by srid), with the total and the count and amount (Σ `priceWithDisc`) of
 * orders placed today and yesterday (Moscow days). `status` (default `all`) filters the list,
 * the total and the day figures alike: `active` = not canceled, `canceled` = `isCancel`.
 * One Neon request: page, count and day figures in one `db.batch`.
 * Errors: 400 (unknown status, limit outside 1–100, negative offset, unknown parameter), 401, 403.
 */
import { and, asc, count, desc, eq, gte, lt, not, type SQL, sql } from "drizzle-orm";
import { orders, products } from "../../core/db/schema";
import { defineOperation } from "../../core/route";
import { moscowDay } from "../../core/time";
import { cacheTtl, dashboardReaders, group } from "./group";
import { toKopecks, toRoubles } from "./money";
import { orderColumns, toOrderView } from "./order-view";
import { addDays, dayStart } from "./period";
import { recentOrdersPage, recentOrdersQuery } from "./schemas";

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
    const { status, limit, offset } = c.req.valid("query");
    const { orgId } = c.var.auth;
    const { db } = c.var.services;
    const where = and(
      eq(orders.orgId, orgId),
      status === "active" ? eq(orders.isCancel, false) : status === "canceled" ? eq(orders.isCancel, true) : undefined,
    );
    const today = moscowDay();
    const yesterday = addDays(today, -1);
    const isToday = sql`${orders.date} >= ${dayStart(today)}::timestamptz`;
    const countWhere = (condition: SQL) => sql<number>`count(*) filter (where ${condition})`.mapWith(Number);
    const kopecksWhere = (condition: SQL) =>
      sql<number>`coalesce(sum(${orders.priceWithDisc}) filter (where ${condition}), 0)`.mapWith(toKopecks);
    const [items, [counted], [days]] = await db.batch([
      db
        .select(orderColumns)
        .from(orders)
        .leftJoin(products, and(eq(products.orgId, orders.orgId), eq(products.nmId, orders.nmId)))
        .where(where)
        .orderBy(desc(orders.date), asc(orders.srid))
        .limit(limit)
        .offset(offset),
      db.select({ total: count() }).from(orders).where(where),
      db
        .select({
          todayCount: countWhere(isToday),
          todayKopecks: kopecksWhere(isToday),
          yesterdayCount: countWhere(not(isToday)),
          yesterdayKopecks: kopecksWhere(not(isToday)),
        })
        .from(orders)
        .where(and(where, gte(orders.date, dayStart(yesterday)), lt(orders.date, dayStart(addDays(today, 1))))),
    ]);
    return c.json(
      {
        status,
        items: items.map(toOrderView),
        total: counted?.total ?? 0,
        limit,
        offset,
        today: { day: today, count: days?.todayCount ?? 0, amount: toRoubles(days?.todayKopecks ?? 0) },
        yesterday: { day: yesterday, count: days?.yesterdayCount ?? 0, amount: toRoubles(days?.yesterdayKopecks ?? 0) },
      },
      200,
    );
  },
});
