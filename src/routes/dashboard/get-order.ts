/**
 * `GET /api/v1/orders/{srid}` — one order line of the caller's org, its product card, the
 * product's current stock per size (Σ over warehouses, logical size order) and the product's
 * orders and buyouts over the last 30 Moscow days (from the daily rollup).
 * One Neon request: the order and — keyed by the order's nmId through a subquery, so nothing
 * waits for the first answer — the stock and the 30-day figures, in one `db.batch`.
 * Errors: 400 (srid longer than 100 or with other characters than `[A-Za-z0-9._-]`), 401, 403,
 * 404 (no such order in the caller's org — another org's order is answered the same way).
 */
import { and, between, eq, inArray } from "drizzle-orm";
import { dailyProductStats, orders, products, stocks } from "../../core/db/schema";
import { ApiError } from "../../core/errors";
import { defineOperation } from "../../core/route";
import { cacheTtl, dashboardReaders, group } from "./group";
import { toRoubles } from "./money";
import { orderColumns, toOrderView } from "./order-view";
import { periodRange } from "./period";
import { sumCount, sumKopecks } from "./rollup";
import { orderDetail, orderParams } from "./schemas";
import { compareSizes } from "./sizes";

/** `GET /orders/{srid}`, mounted under `/api/v1`. */
export const getOrder = defineOperation({
  route: group.route({
    method: "get",
    path: "/api/v1/orders/{srid}",
    summary: "One order with its product, stock by size and 30-day figures",
    access: dashboardReaders,
    cache: { name: "orders-detail", ttlSeconds: cacheTtl.orders },
    request: { params: orderParams },
    errors: { 404: "No order with this srid in the caller's org." },
    responses: {
      200: {
        description: "One order with its product, stock by size and 30-day figures.",
        content: { "application/json": { schema: orderDetail } },
      },
    },
  }),
  handler: async (c) => {
    const { srid } = c.req.valid("param");
    const { orgId } = c.var.auth;
    const { db } = c.var.services;
    const range = periodRange("30d");
    const thisOrder = and(eq(orders.orgId, orgId), eq(orders.srid, srid));
    const productOfOrder = db.select({ nmId: orders.nmId }).from(orders).where(thisOrder);
    const [[row], stockRows, [last30]] = await db.batch([
      db
        .select({
          order: orderColumns,
          brand: products.brand,
          subject: products.subject,
          category: products.category,
        })
        .from(orders)
        .leftJoin(products, and(eq(products.orgId, orders.orgId), eq(products.nmId, orders.nmId)))
        .where(thisOrder)
        .limit(1),
      db
        .select({
          techSize: stocks.techSize,
          quantity: sumCount(stocks.quantity),
          inWayToClient: sumCount(stocks.inWayToClient),
          inWayFromClient: sumCount(stocks.inWayFromClient),
        })
        .from(stocks)
        .where(and(eq(stocks.orgId, orgId), inArray(stocks.nmId, productOfOrder)))
        .groupBy(stocks.techSize),
      db
        .select({
          orders: sumCount(dailyProductStats.ordersCount),
          ordersKopecks: sumKopecks(dailyProductStats.ordersAmount),
          buyouts: sumCount(dailyProductStats.buyoutsCount),
          buyoutsKopecks: sumKopecks(dailyProductStats.buyoutsAmount),
        })
        .from(dailyProductStats)
        .where(
          and(
            eq(dailyProductStats.orgId, orgId),
            inArray(dailyProductStats.nmId, productOfOrder),
            between(dailyProductStats.day, range.from, range.to),
          ),
        ),
    ]);
    if (!row) throw new ApiError("NOT_FOUND", { detail: "No order with this srid." });
    const { order } = row;
    return c.json(
      {
        order: toOrderView(order),
        product:
          order.name === null
            ? null
            : {
                nmId: order.nmId,
                name: order.name,
                supplierArticle: order.supplierArticle,
                brand: row.brand ?? "",
                subject: row.subject ?? "",
                category: row.category ?? "",
              },
        stockBySize: stockRows.sort((a, b) => compareSizes(a.techSize, b.techSize)),
        last30Days: {
          range,
          orders: { count: last30?.orders ?? 0, amount: toRoubles(last30?.ordersKopecks ?? 0) },
          buyouts: { count: last30?.buyouts ?? 0, amount: toRoubles(last30?.buyoutsKopecks ?? 0) },
        },
      },
      200,
    );
  },
});
