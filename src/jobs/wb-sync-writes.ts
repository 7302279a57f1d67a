/**
 * The statements of one sync batch: WB rows → upserts keyed by WB's identities, the products and
 * warehouses they mention, and the recomputed daily rollup of the Moscow days they touch.
 *
 * Keys: orders by `srid`, sales by `saleID` (kind from the prefix: `S` buyout, `R` return, else
 * other), stocks by `nmId` + `barcode` + `warehouseName`. An upsert never replaces a row with an
 * older version of it (`excluded.last_change_date >= current`), so a late duplicate delivery cannot
 * roll data back. Statements are chunked to stay well under Postgres's 65,535 bind parameters.
 * @see https://dev.wildberries.ru/openapi/reports
 */
import { getTableColumns, type SQL, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { PgColumn, PgTable, PgUpdateSetSource } from "drizzle-orm/pg-core";
import type { Database } from "../core/db/client";
import { orders, products, type SaleKind, sales, stocks, type WbDataset, warehouses } from "../core/db/schema";
import type { WbOrderRow, WbSaleRow, WbStockRow } from "../integrations/wildberries/client";
import { wbMoscowDay, wbTimeToTimestamptz, wbTimeToTimestamptzOrNull } from "../integrations/wildberries/time";

/** Bind parameters per statement we allow ourselves: well under Postgres's limit of 65,535. */
export const MAX_BIND_PARAMS = 30_000;

/** A row of any feed, by data set. */
export type WbRowOf = { orders: WbOrderRow; sales: WbSaleRow; stocks: WbStockRow };

/** A statement that can go into `db.batch`. */
export type BatchStatement = BatchItem<"pg">;

/** Sale kind by `saleID` prefix: `S…` buyout, `R…` return, anything else other. */
export function saleKind(saleID: string): SaleKind {
  if (saleID.startsWith("S")) return "buyout";
  if (saleID.startsWith("R")) return "return";
  return "other";
}

/** The WB identity of a row within its data set (what the table's primary key holds). */
export function rowKey<D extends WbDataset>(dataset: D, row: WbRowOf[D]): string {
  switch (dataset) {
    case "orders":
      return (row as WbOrderRow).srid;
    case "sales":
      return (row as WbSaleRow).saleID;
    default: {
      const stock = row as WbStockRow;
      return `${stock.nmId}\u0000${stock.barcode}\u0000${stock.warehouseName}`;
    }
  }
}

/**
 * Keeps one row per WB identity, the last one given (rows come sorted by `lastChangeDate`, so the
 * newest): one `INSERT … ON CONFLICT DO UPDATE` may not touch a row twice.
 */
export function dedupeRows<D extends WbDataset>(dataset: D, rows: readonly WbRowOf[D][]): WbRowOf[D][] {
  const byKey = new Map<string, WbRowOf[D]>();
  for (const row of rows) {
    const key = rowKey(dataset, row);
    byKey.delete(key);
    byKey.set(key, row);
  }
  return [...byKey.values()];
}

/** The Moscow calendar days (`YYYY-MM-DD`) whose rollup `rows` affect: orders and sales by their `date`. */
export function touchedDays(dataset: WbDataset, rows: readonly WbRowOf[WbDataset][]): string[] {
  if (dataset === "stocks") return [];
  return [...new Set(rows.map((r) => wbMoscowDay((r as WbOrderRow | WbSaleRow).date)))].sort();
}

/** `excluded."col"` for each key: the `SET` of an upsert that takes the incoming values. */
function excludedSet<T extends PgTable>(table: T, keys: readonly (keyof T["$inferInsert"] & string)[]): PgUpdateSetSource<T> {
  const columns = getTableColumns(table) as Record<string, PgColumn>;
  const set: Record<string, SQL> = {};
  for (const key of keys) {
    const column = columns[key];
    if (column) set[key] = sql.raw(`excluded."${column.name}"`);
  }
  return set as PgUpdateSetSource<T>;
}

/** Splits `rows` so that one statement binds at most {@link MAX_BIND_PARAMS} parameters. */
export function chunkForParams<T>(rows: readonly T[], paramsPerRow: number): T[][] {
  const size = Math.max(1, Math.floor(MAX_BIND_PARAMS / paramsPerRow));
  const chunks: T[][] = [];
  for (let i = 0; i < rows.length; i += size) chunks.push(rows.slice(i, i + size));
  return chunks;
}

const columnCount = (table: PgTable) => Object.keys(getTableColumns(table)).length;

/** Display name of a product: WB's statistics feeds carry no card title. */
const productName = (r: { subject: string; brand: string; supplierArticle: string }) =>
  [r.subject, r.brand, r.supplierArticle].filter((part) => part !== "").join(" ") || r.supplierArticle;

/** Upserts the product cards `rows` mention (the newest attributes win; unchanged rows are not rewritten). */
function upsertProducts(db: Database, orgId: string, rows: readonly WbRowOf[WbDataset][]): BatchStatement[] {
  const byNmId = new Map<number, typeof products.$inferInsert>();
  for (const r of rows) {
    byNmId.set(r.nmId, {
      orgId,
      nmId: r.nmId,
      supplierArticle: r.supplierArticle,
      name: productName(r),
      brand: r.brand,
      subject: r.subject,
      category: r.category,
    });
  }
  const changed = sql`(${products.supplierArticle}, ${products.name}, ${products.brand}, ${products.subject}, ${products.category})
    is distinct from (excluded.supplier_article, excluded.name, excluded.brand, excluded.subject, excluded.category)`;
  return chunkForParams([...byNmId.values()], columnCount(products)).map((chunk) =>
    db
      .insert(products)
      .values(chunk)
      .onConflictDoUpdate({
        target: [products.orgId, products.nmId],
        set: { ...excludedSet(products, ["supplierArticle", "name", "brand", "subject", "category"]), updatedAt: sql`now()` },
        setWhere: changed,
      }),
  );
}

/** Upserts the warehouses `rows` mention; a known `warehouseType` is kept when a feed omits it. */
function upsertWarehouses(db: Database, orgId: string, rows: readonly WbRowOf[WbDataset][]): BatchStatement[] {
  const byName = new Map<string, typeof warehouses.$inferInsert>();
  for (const r of rows) {
    const type = "warehouseType" in r && typeof r.warehouseType === "string" && r.warehouseType !== "" ? r.warehouseType : null;
    const known = byName.get(r.warehouseName);
    byName.set(r.warehouseName, { orgId, name: r.warehouseName, type: type ?? known?.type ?? null });
  }
  return chunkForParams([...byName.values()], columnCount(warehouses)).map((chunk) =>
    db
      .insert(warehouses)
      .values(chunk)
      .onConflictDoUpdate({
        target: [warehouses.orgId, warehouses.name],
        set: { type: sql`coalesce(excluded.type, ${warehouses.type})` },
        setWhere: sql`excluded.type is not null and excluded.type is distinct from ${warehouses.type}`,
      }),
  );
}

function orderValues(orgId: string, r: WbOrderRow): typeof orders.$inferInsert {
  return {
    orgId,
    srid: r.srid,
    gNumber: r.gNumber,
    date: wbTimeToTimestamptz(r.date),
    lastChangeDate: wbTimeToTimestamptz(r.lastChangeDate),
    nmId: r.nmId,
    barcode: r.barcode,
    supplierArticle: r.supplierArticle,
    techSize: r.techSize,
    warehouseName: r.warehouseName,
    regionName: r.regionName === "" ? null : r.regionName,
    totalPrice: r.totalPrice,
    discountPercent: Math.round(r.discountPercent),
    spp: r.spp,
    finishedPrice: r.finishedPrice,
    priceWithDisc: r.priceWithDisc,
    isCancel: r.isCancel,
    cancelDate: wbTimeToTimestamptzOrNull(r.cancelDate),
  };
}

function saleValues(orgId: string, r: WbSaleRow): typeof sales.$inferInsert {
  return {
    orgId,
    saleId: r.saleID,
    kind: saleKind(r.saleID),
    srid: r.srid,
    date: wbTimeToTimestamptz(r.date),
    lastChangeDate: wbTimeToTimestamptz(r.lastChangeDate),
    nmId: r.nmId,
    barcode: r.barcode,
    supplierArticle: r.supplierArticle,
    techSize: r.techSize,
    warehouseName: r.warehouseName,
    totalPrice: r.totalPrice,
    priceWithDisc: r.priceWithDisc,
    finishedPrice: r.finishedPrice,
    forPay: r.forPay,
  };
}

function stockValues(orgId: string, r: WbStockRow): typeof stocks.$inferInsert {
  return {
    orgId,
    nmId: r.nmId,
    barcode: r.barcode,
    warehouseName: r.warehouseName,
    supplierArticle: r.supplierArticle,
    techSize: r.techSize,
    quantity: r.quantity,
    inWayToClient: r.inWayToClient,
    inWayFromClient: r.inWayFromClient,
    quantityFull: r.quantityFull,
    price: r.Price,
    discount: Math.round(r.Discount),
    lastChangeDate: wbTimeToTimestamptz(r.lastChangeDate),
  };
}

/** Upserts of the rows themselves, chunked. `rows` must be deduplicated ({@link dedupeRows}). */
function upsertRows<D extends WbDataset>(db: Database, orgId: string, dataset: D, rows: readonly WbRowOf[D][]): BatchStatement[] {
  switch (dataset) {
    case "orders": {
      const values = (rows as readonly WbOrderRow[]).map((r) => orderValues(orgId, r));
      return chunkForParams(values, columnCount(orders)).map((chunk) =>
        db
          .insert(orders)
          .values(chunk)
          .onConflictDoUpdate({
            target: [orders.orgId, orders.srid],
            set: excludedSet(orders, [
              "gNumber",
              "date",
              "lastChangeDate",
              "nmId",
              "barcode",
              "supplierArticle",
              "techSize",
              "warehouseName",
              "regionName",
              "totalPrice",
              "discountPercent",
              "spp",
              "finishedPrice",
              "priceWithDisc",
              "isCancel",
              "cancelDate",
            ]),
            setWhere: sql`excluded.last_change_date >= ${orders.lastChangeDate}`,
          }),
      );
    }
    case "sales": {
      const values = (rows as readonly WbSaleRow[]).map((r) => saleValues(orgId, r));
      return chunkForParams(values, columnCount(sales)).map((chunk) =>
        db
          .insert(sales)
          .values(chunk)
          .onConflictDoUpdate({
            target: [sales.orgId, sales.saleId],
            set: excludedSet(sales, [
              "kind",
              "srid",
              "date",
              "lastChangeDate",
              "nmId",
              "barcode",
              "supplierArticle",
              "techSize",
              "warehouseName",
              "totalPrice",
              "priceWithDisc",
              "finishedPrice",
              "forPay",
            ]),
            setWhere: sql`excluded.last_change_date >= ${sales.lastChangeDate}`,
          }),
      );
    }
    default: {
      const values = (rows as readonly WbStockRow[]).map((r) => stockValues(orgId, r));
      return chunkForParams(values, columnCount(stocks)).map((chunk) =>
        db
          .insert(stocks)
          .values(chunk)
          .onConflictDoUpdate({
            target: [stocks.orgId, stocks.nmId, stocks.barcode, stocks.warehouseName],
            set: excludedSet(stocks, [
              "supplierArticle",
              "techSize",
              "quantity",
              "inWayToClient",
              "inWayFromClient",
              "quantityFull",
              "price",
              "discount",
              "lastChangeDate",
            ]),
            setWhere: sql`excluded.last_change_date >= ${stocks.lastChangeDate}`,
          }),
      );
    }
  }
}

/**
 * Recomputes `daily_product_stats` of `orgId` for the Moscow calendar `days`: deletes them and
 * re-inserts the aggregate of `orders` and `sales` (two statements). Definitions:
 * - an order counts on the day of its `date`: `orders_amount` = Σ `priceWithDisc`;
 * - a cancellation is an order with `isCancel`, also on its order `date`;
 * - a buyout (`S…`) or return (`R…`) counts on the day of the sale's `date`;
 *   `buyouts_amount` = Σ `priceWithDisc`, `returns_amount` = Σ |`priceWithDisc`|;
 * - `payout` = Σ |`forPay`| of buyouts − Σ |`forPay`| of returns.
 * Day = `(ts at time zone 'Europe/Moscow')::date`; each day is read as a `[00:00, 24:00)` Moscow
 * range, so the `(org_id, date)` indexes serve it.
 */
export function recomputeDailyStats(db: Database, orgId: string, days: readonly string[]): BatchStatement[] {
  if (days.length === 0) return [];
  // One bind parameter for the whole list: a Postgres array literal of validated YYYY-MM-DD days.
  const dayList = sql`${`{${days.filter((d) => /^\d{4}-\d{2}-\d{2}$/.test(d)).join(",")}}`}::date[]`;
  const dayRange = (table: string) =>
    sql.raw(
      `${table}.date >= d.day::timestamp at time zone 'Europe/Moscow' and ${table}.date < (d.day + 1)::timestamp at time zone 'Europe/Moscow'`,
    );
  return [
    db.execute(sql`delete from daily_product_stats where org_id = ${orgId} and day = any(${dayList})`),
    db.execute(sql`
      insert into daily_product_stats (org_id, day, nm_id, orders_count, orders_amount, cancellations_count,
        cancellations_amount, buyouts_count, buyouts_amount, returns_count, returns_amount, payout)
      select ${orgId}, e.day, e.nm_id, sum(e.orders_count), sum(e.orders_amount), sum(e.cancellations_count),
        sum(e.cancellations_amount), sum(e.buyouts_count), sum(e.buyouts_amount), sum(e.returns_count),
        sum(e.returns_amount), sum(e.payout)
      from (
        select d.day, orders.nm_id,
          1 as orders_count, orders.price_with_disc as orders_amount,
          case when orders.is_cancel then 1 else 0 end as cancellations_count,
          case when orders.is_cancel then orders.price_with_disc else 0 end as cancellations_amount,
          0 as buyouts_count, 0 as buyouts_amount, 0 as returns_count, 0 as returns_amount, 0 as payout
        from unnest(${dayList}) as d(day)
        join orders on orders.org_id = ${orgId} and ${dayRange("orders")}
        union all
        select d.day, sales.nm_id, 0, 0, 0, 0,
          case when sales.kind = 'buyout' then 1 else 0 end,
          case when sales.kind = 'buyout' then sales.price_with_disc else 0 end,
          case when sales.kind = 'return' then 1 else 0 end,
          case when sales.kind = 'return' then abs(sales.price_with_disc) else 0 end,
          case when sales.kind = 'buyout' then abs(sales.for_pay) else -abs(sales.for_pay) end
        from unnest(${dayList}) as d(day)
        join sales on sales.org_id = ${orgId} and sales.kind in ('buyout', 'return') and ${dayRange("sales")}
      ) as e
      group by e.day, e.nm_id`),
  ];
}

/**
 * Every write of one slice of a page except the ledger and cursor: products, warehouses, the rows,
 * and (orders, sales) the rollup of the days they touch.
 */
export function pageWrites<D extends WbDataset>(db: Database, orgId: string, dataset: D, rows: readonly WbRowOf[D][]): BatchStatement[] {
  const unique = dedupeRows(dataset, rows);
  return [
    ...upsertProducts(db, orgId, unique),
    ...upsertWarehouses(db, orgId, unique),
    ...upsertRows(db, orgId, dataset, unique),
    ...recomputeDailyStats(db, orgId, touchedDays(dataset, unique)),
  ];
}

/** `(select count(*) …)`: rows stored for `orgId` in a data set's table. */
export function storedRowCount(dataset: WbDataset, orgId: string): SQL {
  const table = { orders, sales, stocks }[dataset];
  return sql`(select count(*) from ${table} where org_id = ${orgId})`;
}
