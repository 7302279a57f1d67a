/**
 * `GET /api/v1/stocks?warehouses=&sizes=&q=&limit=&cursor=` (or `&offset=`) — current stock rows,
 * filtered and paged, with the total, the next page's cursor and the filter values available to the org.
 *
 * Filters: `warehouses` and `sizes` are multi-selects (repeat the parameter); `q` matches the
 * product name or supplier article (ILIKE `%q%`, served by the pg_trgm GIN indexes on
 * `products` and `stocks`) or, when it is all digits, an nmId prefix. LIKE wildcards in `q` are escaped and
 * every value is a bound parameter.
 *
 * Order: supplier article, nmId, size (logical order, `sizeOrderBy`), warehouse, barcode — total
 * (nmId, barcode and warehouse are the primary key), so pages never overlap. Keyset paging:
 * `cursor` holds the last row's `[supplierArticle, nmId, techSize, warehouseName, barcode]`, and
 * the page is `where (supplier_article, nm_id, <size key of tech_size>, warehouse_name, barcode)
 * > (<the same of the cursor>)` — one row-value comparison over exactly the ORDER BY terms, the size
 * key computed by the same SQL on both sides. Given an index `stocks (org_id, supplier_article,
 * nm_id)`, Postgres turns the comparison's leading `(supplier_article, nm_id)` into the index range
 * and sorts each product's few rows incrementally, so a page reads about `limit` rows at any depth;
 * without it (the schema has none yet) each page sorts the org's matching rows — correct, and no
 * slower on deep pages than on the first. `offset` (≤ 10,000) stays for old clients.
 * @see docs/api.md#pagination-and-order
 * One Neon request: rows, count, warehouse names and sizes in one `db.batch`. None of them reads
 * every stock row: the total without a size or search filter and the warehouse names come from
 * `warehouse_stock_stats` (kept by the sync with the rows), the sizes from a loose index scan.
 * Errors: 400 (limit outside 1–100, offset outside 0–10,000, offset with cursor, a cursor that is not
 * this list's or was made under other filters, q over 100 characters, unknown parameter), 401, 403.
 */
import { and, asc, count, eq, ilike, inArray, like, or, type SQL, type SQLWrapper, sql } from "drizzle-orm";
import type { Database } from "../../core/db/client";
import { products, stocks, warehouseStockStats } from "../../core/db/schema";
import { defineOperation } from "../../core/route";
import { cacheTtl, dashboardReaders, group } from "./group";
import { stocksCursor, stocksFilters, stocksPage, stocksQuery } from "./schemas";
import { compareSizes, distinctSizes, sizeOrderBy } from "./sizes";

/** `text` as a LIKE pattern that matches it literally (`\` is Postgres' default escape). */
export const escapeLike = (text: string): string => text.replace(/[\\%_]/g, (ch) => `\\${ch}`);

/**
 * Stock rows of `orgId` whose product matches the search text `q`: the product card's name or
 * supplier article contains `q` (or, all digits, its nmId starts with `q`), or the row's own
 * supplier article contains it. Shape: the matching cards' nmIds are collected first
 * (`= any(array(…))`, evaluated once), so both arms are index conditions — the `stocks` primary
 * key `(org_id, nm_id, …)` and the pg_trgm index on `stocks.supplier_article` — and Postgres
 * ORs the two bitmaps instead of testing every stock row (180,000 rows: ~70 ms → ~10 ms).
 */
function matchesSearch(db: Database, orgId: string, q: string): SQL | undefined {
  const pattern = `%${escapeLike(q)}%`;
  const matchingCards = db
    .select({ nmId: products.nmId })
    .from(products)
    .where(
      and(
        eq(products.orgId, orgId),
        or(
          ilike(products.name, pattern),
          ilike(products.supplierArticle, pattern),
          /^\d+$/.test(q) ? like(sql`${products.nmId}::text`, `${q}%`) : undefined,
        ),
      ),
    );
  return or(sql`${stocks.nmId} = any(array(${matchingCards}))`, ilike(stocks.supplierArticle, pattern));
}

/** A sort key of `/stocks` as SQL terms: the ORDER BY terms over the row, or the same over a cursor's values. */
function sortKey(row: Record<"supplierArticle" | "nmId" | "techSize" | "warehouseName" | "barcode", SQLWrapper>): SQL[] {
  return [sql`${row.supplierArticle}`, sql`${row.nmId}`, ...sizeOrderBy(row.techSize), sql`${row.warehouseName}`, sql`${row.barcode}`];
}

/** The rows after the cursor's row, in the list's order (see the module comment). */
function afterCursor([supplierArticle, nmId, techSize, warehouseName, barcode]: Parameters<typeof stocksCursor.encode>[0]): SQL {
  const columns = sortKey(stocks);
  const values = sortKey({
    supplierArticle: sql`${supplierArticle}::text`,
    nmId: sql`${nmId}::bigint`,
    techSize: sql`${techSize}::text`,
    warehouseName: sql`${warehouseName}::text`,
    barcode: sql`${barcode}::text`,
  });
  return sql`(${sql.join(columns, sql`, `)}) > (${sql.join(values, sql`, `)})`;
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
    const query = c.req.valid("query");
    const { warehouses, sizes, q, limit, cursor } = query;
    const offset = query.offset ?? 0;
    const { orgId } = c.var.auth;
    const { db } = c.var.services;
    const where = and(
      eq(stocks.orgId, orgId),
      warehouses.length > 0 ? inArray(stocks.warehouseName, warehouses) : undefined,
      sizes.length > 0 ? inArray(stocks.techSize, sizes) : undefined,
      q ? matchesSearch(db, orgId, q) : undefined,
    );
    const [rows, [counted], warehouseNames, sizeValues] = await db.batch([
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
        .where(and(where, cursor ? afterCursor(cursor.key) : undefined))
        .orderBy(...sortKey(stocks))
        // One row more than the page: it says whether there is a next page.
        .limit(limit + 1)
        .offset(offset),
      // Without a size or search filter, the total is the per-warehouse row counts the sync keeps.
      sizes.length === 0 && !q
        ? db
            .select({ total: sql<number>`coalesce(sum(${warehouseStockStats.stockRows}), 0)`.mapWith(Number) })
            .from(warehouseStockStats)
            .where(
              and(
                eq(warehouseStockStats.orgId, orgId),
                warehouses.length > 0 ? inArray(warehouseStockStats.warehouseName, warehouses) : undefined,
              ),
            )
        : db.select({ total: count() }).from(stocks).where(where),
      db
        .select({ name: warehouseStockStats.warehouseName })
        .from(warehouseStockStats)
        .where(eq(warehouseStockStats.orgId, orgId))
        .orderBy(asc(warehouseStockStats.warehouseName)),
      distinctSizes(db, orgId),
    ]);
    const items = rows.slice(0, limit);
    const last = items.at(-1);
    const nextCursor =
      rows.length > limit && last
        ? stocksCursor.encode([last.supplierArticle, last.nmId, last.techSize, last.warehouseName, last.barcode], stocksFilters(query))
        : null;
    return c.json(
      {
        items,
        total: counted?.total ?? 0,
        limit,
        offset,
        nextCursor,
        filters: { warehouses: warehouseNames.map((w) => w.name), sizes: sizeValues.rows.map((s) => s.tech_size).sort(compareSizes) },
      },
      200,
    );
  },
});
