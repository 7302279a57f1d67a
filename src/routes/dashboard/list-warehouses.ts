/**
 * `GET /api/v1/warehouses` — the org's warehouses with `productCount` (distinct nmId with
 * `quantity` > 0) and `totalQuantity` (Σ `quantity`), most products first, ties by name.
 * Warehouses known from orders or sales but without stock rows (e.g. the seller's own FBS
 * warehouse, absent from WB's stocks feed) are listed with zeros.
 * One Neon request: one query (the org's `warehouses` rows full-joined with `warehouse_stock_stats`,
 * the per-warehouse sums the sync keeps in the transaction of the stock rows: ~40 rows, not a
 * grouping of every stock row).
 * Errors: 400 (unknown parameter), 401, 403.
 */
import { asc, desc, eq, sql } from "drizzle-orm";
import { warehouseStockStats, warehouses } from "../../core/db/schema";
import { defineOperation } from "../../core/route";
import { cacheTtl, dashboardReaders, group } from "./group";
import { warehouseList } from "./schemas";

/** `GET /warehouses`, mounted under `/api/v1`. */
export const listWarehouses = defineOperation({
  route: group.route({
    method: "get",
    path: "/api/v1/warehouses",
    summary: "Warehouses holding the org's stock",
    access: dashboardReaders,
    cache: { name: "warehouses", ttlSeconds: cacheTtl.reference },

    responses: {
      200: { description: "Warehouses holding the org's stock.", content: { "application/json": { schema: warehouseList } } },
    },
  }),
  handler: async (c) => {
    const { orgId } = c.var.auth;
    const { db } = c.var.services;
    const known = db
      .select({ name: warehouses.name, type: warehouses.type })
      .from(warehouses)
      .where(eq(warehouses.orgId, orgId))
      .as("known");
    const stocked = db
      .select({
        name: sql<string>`${warehouseStockStats.warehouseName}`.as("stocked_name"),
        productCount: sql<number>`${warehouseStockStats.productCount}`.as("product_count"),
        totalQuantity: sql<number>`${warehouseStockStats.totalQuantity}`.as("total_quantity"),
      })
      .from(warehouseStockStats)
      .where(eq(warehouseStockStats.orgId, orgId))
      .as("stocked");
    const name = sql<string>`coalesce(${known.name}, ${stocked.name})`;
    const productCount = sql<number>`coalesce(${stocked.productCount}, 0)`.mapWith(Number);
    const items = await db
      .select({ name, type: known.type, productCount, totalQuantity: sql<number>`coalesce(${stocked.totalQuantity}, 0)`.mapWith(Number) })
      .from(known)
      .fullJoin(stocked, eq(known.name, stocked.name))
      .orderBy(desc(productCount), asc(name));
    return c.json({ items }, 200);
  },
});
