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
 * key computed by the same SQL on both sides. Without a search, Postgres turns the comparison's
 * leading `(supplier_article, nm_id)` into a range of `stocks_org_article_nm_idx` and sorts each
 * product's few rows incrementally, so a page reads about `limit` rows at any depth. A search
 * collects its matches first and sorts the page out of them ({@link searchPage}), so its cost
 * follows the number of matches, not where they sit in the order. `offset` (≤ 10,000) stays for
 * old clients.
 * @see docs/api.md#pagination-and-order
 * One Neon request: rows, total, warehouse names and sizes in one `db.batch`. None of them reads
 * every stock row: the total without a size or search filter and the warehouse names come from
 * `warehouse_stock_stats` (kept by the sync with the rows), the sizes from a loose index scan, a
 * search's total from its matches.
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

/** The columns the list's order reads, of `stocks` or of a query over it. */
type StockSortColumns = Record<"supplierArticle" | "nmId" | "techSize" | "warehouseName" | "barcode", SQLWrapper>;
type StocksCursorKey = Parameters<typeof stocksCursor.encode>[0];

/** A sort key of `/stocks` as SQL terms: the ORDER BY terms over the row, or the same over a cursor's values. */
function sortKey(row: StockSortColumns): SQL[] {
  return [sql`${row.supplierArticle}`, sql`${row.nmId}`, ...sizeOrderBy(row.techSize), sql`${row.warehouseName}`, sql`${row.barcode}`];
}

/** The rows of `table` (the `stocks` columns, or a query's over them) after the cursor's row, in the list's order. */
function afterCursor(table: StockSortColumns, [supplierArticle, nmId, techSize, warehouseName, barcode]: StocksCursorKey): SQL {
  const columns = sortKey(table);
  const values = sortKey({
    supplierArticle: sql`${supplierArticle}::text`,
    nmId: sql`${nmId}::bigint`,
    techSize: sql`${techSize}::text`,
    warehouseName: sql`${warehouseName}::text`,
    barcode: sql`${barcode}::text`,
  });
  return sql`(${sql.join(columns, sql`, `)}) > (${sql.join(values, sql`, `)})`;
}

/** The stock columns a page shows and orders by. */
const stockColumns = {
  nmId: stocks.nmId,
  supplierArticle: stocks.supplierArticle,
  barcode: stocks.barcode,
  techSize: stocks.techSize,
  warehouseName: stocks.warehouseName,
  quantity: stocks.quantity,
  inWayToClient: stocks.inWayToClient,
  inWayFromClient: stocks.inWayFromClient,
  price: stocks.price,
  discount: stocks.discount,
};

/** A row of the page, as the response's `items` carry it. */
type StockRow = { [K in keyof typeof stockColumns]: (typeof stockColumns)[K]["_"]["data"] } & { name: string | null };

/** Where a page starts and how long it is: after `cursor`'s row, or `offset` rows in; `limit` rows. */
export interface PageSpec {
  cursor: StocksCursorKey | undefined;
  limit: number;
  offset: number;
}

/** The list's multi-select filters (none selected: every warehouse, every size). */
export interface StockSelection {
  warehouses: string[];
  sizes: string[];
}

/** The org's stock rows in the selected warehouses and sizes, as a condition on `stocks`. */
const selected = (orgId: string, { warehouses, sizes }: StockSelection): SQL | undefined =>
  and(
    eq(stocks.orgId, orgId),
    warehouses.length > 0 ? inArray(stocks.warehouseName, warehouses) : undefined,
    sizes.length > 0 ? inArray(stocks.techSize, sizes) : undefined,
  );

/**
 * A page of the org's stock rows in `selection` (no search), with one row more than `limit`
 * (it says whether there is a next page), and their total. Two statements: the rows in the list's
 * order through `stocks_org_article_nm_idx` (a page reads about `limit` rows at any depth while
 * the matches are dense, as they are without a search), and the count — without a size filter, the
 * per-warehouse row counts the sync keeps in `warehouse_stock_stats` instead of a scan.
 */
function filteredPage(db: Database, orgId: string, selection: StockSelection, { cursor, limit, offset }: PageSpec) {
  const where = selected(orgId, selection);
  const rows = db
    .select({ ...stockColumns, name: products.name })
    .from(stocks)
    .leftJoin(products, and(eq(products.orgId, stocks.orgId), eq(products.nmId, stocks.nmId)))
    .where(and(where, cursor ? afterCursor(stocks, cursor) : undefined))
    .orderBy(...sortKey(stocks))
    .limit(limit + 1)
    .offset(offset);
  const total =
    selection.sizes.length === 0
      ? db
          .select({ total: sql<number>`coalesce(sum(${warehouseStockStats.stockRows}), 0)`.mapWith(Number) })
          .from(warehouseStockStats)
          .where(
            and(
              eq(warehouseStockStats.orgId, orgId),
              selection.warehouses.length > 0 ? inArray(warehouseStockStats.warehouseName, selection.warehouses) : undefined,
            ),
          )
      : db.select({ total: count() }).from(stocks).where(where);
  return [rows, total] as const;
}

/**
 * A search's page (as {@link filteredPage}) and its total in one statement, matches first: the
 * org's rows in `selection` that match the search text `q`
 * are collected once (the search's two index arms, see {@link matchesSearch}), counted, and the
 * page is sorted out of them. Its cost follows the number
 * of matches, not where they sit in the list's order: the ordered index scan `filteredPage` uses
 * reads every row before the last match it shows, 199–381 ms on 178,558 rows for one product's
 * article that sorts last, where this takes ~10 ms (docs/performance.md). Only the rows up to the
 * (offset + limit + 1)-th match's `(supplier article, nmId)` are sorted by the full key (its size
 * key is a few regular expressions per row). The total comes on every row, and with no row when
 * the page is past the end (the count is the outer side of a lateral left join).
 */
export function searchPage(db: Database, orgId: string, selection: StockSelection, q: string, { cursor, limit, offset }: PageSpec) {
  const matched = db.$with("matched").as(
    db
      .select(stockColumns)
      .from(stocks)
      .where(and(selected(orgId, selection), matchesSearch(db, orgId, q))),
  );
  const after = cursor ? afterCursor(matched, cursor) : undefined;
  const boundary = db
    .select({ supplierArticle: matched.supplierArticle, nmId: matched.nmId })
    .from(matched)
    .where(after)
    .orderBy(matched.supplierArticle, matched.nmId)
    .limit(1)
    .offset(offset + limit);
  const counted = db
    .select({ total: count().as("total") })
    .from(matched)
    .as("counted");
  const page = db
    .select()
    .from(matched)
    // No boundary row (fewer matches than the page's end): every match is in range.
    .where(and(after, sql`((${matched.supplierArticle}, ${matched.nmId}) <= (${boundary})) is not false`))
    .orderBy(...sortKey(matched))
    .limit(limit + 1)
    .offset(offset)
    .as("page");
  return db
    .with(matched)
    .select({
      total: counted.total,
      // The page's columns, null when there is no row (a page past the end still tells the total).
      stock: {
        nmId: page.nmId,
        supplierArticle: page.supplierArticle,
        barcode: page.barcode,
        techSize: page.techSize,
        warehouseName: page.warehouseName,
        quantity: page.quantity,
        inWayToClient: page.inWayToClient,
        inWayFromClient: page.inWayFromClient,
        price: page.price,
        discount: page.discount,
      },
      name: products.name,
    })
    .from(counted)
    .leftJoinLateral(page, sql`true`)
    .leftJoin(products, and(eq(products.orgId, orgId), eq(products.nmId, page.nmId)))
    .orderBy(...sortKey(page));
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
    const selection = { warehouses, sizes };
    const page = { cursor: cursor?.key, limit, offset };
    const filterValues = [
      db
        .select({ name: warehouseStockStats.warehouseName })
        .from(warehouseStockStats)
        .where(eq(warehouseStockStats.orgId, orgId))
        .orderBy(asc(warehouseStockStats.warehouseName)),
      distinctSizes(db, orgId),
    ] as const;
    let rows: StockRow[];
    let total: number;
    let warehouseNames: Array<{ name: string }>;
    let sizeValues: Awaited<ReturnType<typeof distinctSizes>>;
    if (q) {
      let found: Array<{ total: number; stock: Omit<StockRow, "name"> | null; name: string | null }>;
      [found, warehouseNames, sizeValues] = await db.batch([searchPage(db, orgId, selection, q, page), ...filterValues]);
      rows = found.flatMap((r) => (r.stock ? [{ ...r.stock, name: r.name }] : []));
      total = found[0]?.total ?? 0;
    } else {
      let counted: Array<{ total: number }>;
      [rows, counted, warehouseNames, sizeValues] = await db.batch([...filteredPage(db, orgId, selection, page), ...filterValues]);
      total = counted[0]?.total ?? 0;
    }
    const items = rows.slice(0, limit);
    const last = items.at(-1);
    const nextCursor =
      rows.length > limit && last
        ? stocksCursor.encode([last.supplierArticle, last.nmId, last.techSize, last.warehouseName, last.barcode], stocksFilters(query))
        : null;
    return c.json(
      {
        items,
        total,
        limit,
        offset,
        nextCursor,
        filters: { warehouses: warehouseNames.map((w) => w.name), sizes: sizeValues.rows.map((s) => s.tech_size).sort(compareSizes) },
      },
      200,
    );
  },
});
