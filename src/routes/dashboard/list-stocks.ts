/**
 * `GET /api/v1/stocks?warehouses=&sizes=&q=&limit=&offset=` — current stock rows, filtered
 * and paged, with the total and the filter values available to the org.
 *
 * Filters: `warehouses` and `sizes` are multi-selects (repeat the parameter); `q` matches the
 * product name or supplier article (ILIKE `%q%`, served by the pg_trgm GIN indexes on
 * `products`) or, when it is all digits, an nmId prefix. LIKE wildcards in `q` are escaped and
 * every value is a bound parameter. Order: supplier article, nmId, size (logical order),
 * warehouse, barcode — total, so pages never overlap.
 * One Neon request: rows, count, warehouse names and sizes in one `db.batch`.
 * Errors: 400 (limit outside 1–100, negative offset, q over 100 characters, unknown parameter), 401, 403.
 */
import { and, asc, count, eq, ilike, inArray, like, or, type SQL, sql } from "drizzle-orm";
import type { Database } from "../../core/db/client";
import { products, stocks } from "../../core/db/schema";
import { defineOperation } from "../../core/route";
import { cacheTtl, dashboardReaders, group } from "./group";
import { stocksPage, stocksQuery } from "./schemas";
import { compareSizes, sizeOrderBy } from "./sizes";

/** `text` as a LIKE pattern that matches it literally (`\` is Postgres' default escape). */
export const escapeLike = (text: string): string => text.replace(/[\\%_]/g, (ch) => `\\${ch}`);

/** Stock rows of `orgId` whose product matches the search text `q`. */
function matchesSearch(db: Database, orgId: string, q: string): SQL | undefined {
  const pattern = `%${escapeLike(q)}%`;
  const matchingProducts = db
    .select({ nmId: products.nmId })
    .from(products)
    .where(and(eq(products.orgId, orgId), or(ilike(products.name, pattern), ilike(products.supplierArticle, pattern))));
  return or(
    inArray(stocks.nmId, matchingProducts),
    ilike(stocks.supplierArticle, pattern),
    /^\d+$/.test(q) ? like(sql`${stocks.nmId}::text`, `${q}%`) : undefined,
  );
}

/** `GET /stocks`, mounted under `/api/v1`. */
export const listStocks = defineOperation({
  route: group.route({
    method: "get",
    path: "/api/v1/stocks",
    summary: "Current stock rows, filtered, searched and paged",
    access: dashboardReaders,
    cache: { name: "stocks", ttlSeconds: cacheTtl.stocks },
    request: { query: stocksQuery },
    responses: {
      200: { description: "Current stock rows, filtered, searched and paged.", content: { "application/json": { schema: stocksPage } } },
    },
  }),
  handler: async (c) => {
    const { warehouses, sizes, q, limit, offset } = c.req.valid("query");
    const { orgId } = c.var.auth;
    const { db } = c.var.services;
    const where = and(
      eq(stocks.orgId, orgId),
      warehouses.length > 0 ? inArray(stocks.warehouseName, warehouses) : undefined,
      sizes.length > 0 ? inArray(stocks.techSize, sizes) : undefined,
      q ? matchesSearch(db, orgId, q) : undefined,
    );
    const [items, [counted], warehouseNames, sizeValues] = await db.batch([
      db
        .select({
          nmId: stocks.nmId,
          name: products.name,
          supplierArticle: stocks.supplierArticle,
          barcode: stocks.barcode,
          techSize: stocks.techSize,
          warehouseName: stocks.warehouseName,
          quantity: stocks.quantity,
          inWayToClient: stocks.inWayToClient,
          inWayFromClient: stocks.inWayFromClient,
          price: stocks.price,
          discount: stocks.discount,
        })
        .from(stocks)
        .leftJoin(products, and(eq(products.orgId, stocks.orgId), eq(products.nmId, stocks.nmId)))
        .where(where)
        .orderBy(
          asc(stocks.supplierArticle),
          asc(stocks.nmId),
          ...sizeOrderBy(stocks.techSize),
          asc(stocks.warehouseName),
          asc(stocks.barcode),
        )
        .limit(limit)
        .offset(offset),
      db.select({ total: count() }).from(stocks).where(where),
      db.selectDistinct({ name: stocks.warehouseName }).from(stocks).where(eq(stocks.orgId, orgId)).orderBy(asc(stocks.warehouseName)),
      db.selectDistinct({ techSize: stocks.techSize }).from(stocks).where(eq(stocks.orgId, orgId)),
    ]);
    return c.json(
      {
        items,
        total: counted?.total ?? 0,
        limit,
        offset,
        filters: { warehouses: warehouseNames.map((w) => w.name), sizes: sizeValues.map((s) => s.techSize).sort(compareSizes) },
      },
      200,
    );
  },
});
