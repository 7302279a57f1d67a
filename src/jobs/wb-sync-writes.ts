/**
 * The statements of one sync batch: WB rows → upserts keyed by WB's identities, the products and
 * warehouses they mention, and the recomputed daily rollup of the Moscow days they touch.
 *
 * Keys: orders by `srid`, sales by `saleID` (kind from the prefix: `S` buyout, `R` return, else
 * other), stocks by `nmId` + `barcode` + `warehouseName`. An upsert never replaces a row with an
 * older version of it (`excluded.last_change_date >= current`), so a late duplicate delivery cannot
 * roll data back.
 *
 * Shape: each table gets one `INSERT … SELECT … FROM json_to_recordset($1::json) AS r(…) ON
 * CONFLICT … DO UPDATE` per slice, with the slice's rows as one JSON parameter: Postgres parses and
 * casts the values, and the Worker only maps and serializes them (native `JSON.stringify`), instead
 * of binding one parameter per value (18 per order row, 180,000 per 10,000-row slice), which cost
 * the Worker ~5× the CPU in query building and parameter encoding.
 * @see https://dev.wildberries.ru/openapi/reports
 * @see https://www.postgresql.org/docs/current/functions-json.html (json_to_recordset)
 */
import { getTableColumns, type SQL, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { PgColumn, PgTable } from "drizzle-orm/pg-core";
import type { Database } from "../core/db/client";
import {
  orders,
  periodDays,
  products,
  type ReportingPeriod,
  reportingPeriods,
  type SaleKind,
  sales,
  stocks,
  syncState,
  type WbDataset,
  warehouses,
} from "../core/db/schema";
import type { WbOrderRow, WbSaleRow, WbStockRow } from "../integrations/wildberries/client";
import { wbMoscowDay, wbTimeToTimestamptz, wbTimeToTimestamptzOrNull } from "../integrations/wildberries/time";

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
 * Keeps one row per WB identity, the newest by `lastChangeDate` (on a tie, the later one given):
 * one `INSERT … ON CONFLICT DO UPDATE` may not touch a row twice. WB times of one feed compare as
 * strings (`YYYY-MM-DDTHH:MM:SS[.fraction]`, all in Moscow time).
 */
export function dedupeRows<D extends WbDataset>(dataset: D, rows: readonly WbRowOf[D][]): WbRowOf[D][] {
  const byKey = new Map<string, WbRowOf[D]>();
  for (const row of rows) {
    const key = rowKey(dataset, row);
    const known = byKey.get(key);
    if (known === undefined || row.lastChangeDate >= known.lastChangeDate) byKey.set(key, row);
  }
  return byKey.size === rows.length ? [...rows] : [...byKey.values()];
}

/** The Moscow calendar days (`YYYY-MM-DD`) whose rollup `rows` affect: orders and sales by their `date`. */
export function touchedDays(dataset: WbDataset, rows: readonly WbRowOf[WbDataset][]): string[] {
  if (dataset === "stocks") return [];
  const days = new Set<string>();
  for (const r of rows) days.add(wbMoscowDay((r as WbOrderRow | WbSaleRow).date));
  return [...days].sort();
}

/** What {@link upsertJson} writes besides the rows' own columns. */
interface UpsertSpec<T extends PgTable> {
  /** Columns with one value for every row, bound once (e.g. `orgId`). */
  fixed: Partial<T["$inferInsert"]>;
  /** The rows' keys, in the order of the JSON objects' keys (all rows have all of them). */
  keys: readonly (keyof T["$inferInsert"] & string)[];
  /** The conflict target (the primary key's columns). */
  target: readonly PgColumn[];
  /** `SET` clause of the update: `col = excluded.col` for each key, or the SQL given. */
  set: readonly (keyof T["$inferInsert"] & string)[] | SQL;
  /** Only rows where this holds are updated. */
  setWhere: SQL;
  /** Adds the number of rows this statement inserted (not updated) to `sync_state.total_rows` of this data set. */
  countInserted?: { orgId: string; dataset: WbDataset };
}

const quoted = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * One upsert of `rows` from a JSON parameter: `INSERT INTO t (…) SELECT … FROM
 * json_to_recordset($json) AS r("key" type, …) ON CONFLICT (…) DO UPDATE SET … WHERE …`. The record
 * definition comes from the Drizzle table (TS key → the column's SQL type), so the JSON objects
 * are the table's own insert shape. With `countInserted`, the statement is wrapped as `WITH
 * upserted AS (… RETURNING (xmax = 0)) UPDATE sync_state SET total_rows = total_rows + inserted`
 * (`xmax = 0` marks a freshly inserted tuple, not a conflict update).
 */
function upsertJson<T extends PgTable>(
  db: Database,
  table: T,
  rows: readonly Partial<T["$inferInsert"]>[],
  spec: UpsertSpec<T>,
): BatchStatement {
  const columns = getTableColumns(table) as Record<string, PgColumn>;
  const column = (key: string) => {
    const c = columns[key];
    if (!c) throw new Error(`no column ${key}`);
    return c;
  };
  const fixedKeys = Object.keys(spec.fixed);
  const insertColumns = sql.raw([...fixedKeys, ...spec.keys].map((k) => quoted(column(k).name)).join(", "));
  const selectList = sql.join(
    [
      ...fixedKeys.map((k) => sql`${(spec.fixed as Record<string, unknown>)[k]}::${sql.raw(column(k).getSQLType())}`),
      ...spec.keys.map((k) => sql.raw(`r.${quoted(k)}`)),
    ],
    sql`, `,
  );
  const record = sql.raw(spec.keys.map((k) => `${quoted(k)} ${column(k).getSQLType()}`).join(", "));
  const target = sql.raw(spec.target.map((c) => quoted(c.name)).join(", "));
  const set = Array.isArray(spec.set)
    ? sql.raw(spec.set.map((k) => `${quoted(column(k).name)} = excluded.${quoted(column(k).name)}`).join(", "))
    : (spec.set as SQL);
  const upsert = sql`insert into ${table} (${insertColumns})
    select ${selectList} from json_to_recordset(${JSON.stringify(rows)}::json) as r(${record})
    on conflict (${target}) do update set ${set} where ${spec.setWhere}`;
  if (!spec.countInserted) return db.execute(upsert);
  const { orgId, dataset } = spec.countInserted;
  return db.execute(sql`with upserted as (${upsert} returning (xmax = 0) as inserted)
    update ${syncState} set total_rows = total_rows + (select count(*) from upserted where inserted)
    where ${syncState.orgId} = ${orgId} and ${syncState.dataset} = ${dataset}`);
}

/** Display name of a product: WB's statistics feeds carry no card title. */
const productName = (r: { subject: string; brand: string; supplierArticle: string }) =>
  [r.subject, r.brand, r.supplierArticle].filter((part) => part !== "").join(" ") || r.supplierArticle;

/** Upserts the product cards `rows` mention (the newest attributes win; unchanged rows are not rewritten). */
function upsertProducts(db: Database, orgId: string, rows: readonly WbRowOf[WbDataset][]): BatchStatement {
  const byNmId = new Map<number, Omit<typeof products.$inferInsert, "orgId">>();
  for (const r of rows) {
    byNmId.set(r.nmId, {
      nmId: r.nmId,
      supplierArticle: r.supplierArticle,
      name: productName(r),
      brand: r.brand,
      subject: r.subject,
      category: r.category,
    });
  }
  return upsertJson(db, products, [...byNmId.values()], {
    fixed: { orgId },
    keys: ["nmId", "supplierArticle", "name", "brand", "subject", "category"],
    target: [products.orgId, products.nmId],
    set: sql`supplier_article = excluded.supplier_article, name = excluded.name, brand = excluded.brand,
      subject = excluded.subject, category = excluded.category, updated_at = now()`,
    setWhere: sql`(${products.supplierArticle}, ${products.name}, ${products.brand}, ${products.subject}, ${products.category})
      is distinct from (excluded.supplier_article, excluded.name, excluded.brand, excluded.subject, excluded.category)`,
  });
}

/** Upserts the warehouses `rows` mention; a known `warehouseType` is kept when a feed omits it. */
function upsertWarehouses(db: Database, orgId: string, rows: readonly WbRowOf[WbDataset][]): BatchStatement {
  const byName = new Map<string, { name: string; type: string | null }>();
  for (const r of rows) {
    const type = "warehouseType" in r && typeof r.warehouseType === "string" && r.warehouseType !== "" ? r.warehouseType : null;
    const known = byName.get(r.warehouseName);
    if (known === undefined || type !== null) byName.set(r.warehouseName, { name: r.warehouseName, type: type ?? known?.type ?? null });
  }
  return upsertJson(db, warehouses, [...byName.values()], {
    fixed: { orgId },
    keys: ["name", "type"],
    target: [warehouses.orgId, warehouses.name],
    set: sql`type = coalesce(excluded.type, ${warehouses.type})`,
    setWhere: sql`excluded.type is not null and excluded.type is distinct from ${warehouses.type}`,
  });
}

type Insert<T extends PgTable> = Omit<T["$inferInsert"], "orgId">;

function orderValues(r: WbOrderRow): Insert<typeof orders> {
  return {
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

function saleValues(r: WbSaleRow): Insert<typeof sales> {
  return {
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

function stockValues(r: WbStockRow): Insert<typeof stocks> {
  return {
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

const orderKeys = [
  "srid",
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
] as const satisfies readonly (keyof Insert<typeof orders>)[];
const saleKeys = [
  "saleId",
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
] as const satisfies readonly (keyof Insert<typeof sales>)[];
const stockKeys = [
  "nmId",
  "barcode",
  "warehouseName",
  "supplierArticle",
  "techSize",
  "quantity",
  "inWayToClient",
  "inWayFromClient",
  "quantityFull",
  "price",
  "discount",
  "lastChangeDate",
] as const satisfies readonly (keyof Insert<typeof stocks>)[];

/**
 * The upsert of the rows themselves, one statement; it also adds the rows it inserted to the data
 * set's `sync_state.total_rows`. `rows` must be deduplicated ({@link dedupeRows}).
 */
function upsertRows<D extends WbDataset>(db: Database, orgId: string, dataset: D, rows: readonly WbRowOf[D][]): BatchStatement {
  const countInserted = { orgId, dataset };
  switch (dataset) {
    case "orders":
      return upsertJson(db, orders, (rows as readonly WbOrderRow[]).map(orderValues), {
        fixed: { orgId },
        keys: orderKeys,
        target: [orders.orgId, orders.srid],
        set: orderKeys.filter((k) => k !== "srid"),
        setWhere: sql`excluded.last_change_date >= ${orders.lastChangeDate}`,
        countInserted,
      });
    case "sales":
      return upsertJson(db, sales, (rows as readonly WbSaleRow[]).map(saleValues), {
        fixed: { orgId },
        keys: saleKeys,
        target: [sales.orgId, sales.saleId],
        set: saleKeys.filter((k) => k !== "saleId"),
        setWhere: sql`excluded.last_change_date >= ${sales.lastChangeDate}`,
        countInserted,
      });
    default:
      return upsertJson(db, stocks, (rows as readonly WbStockRow[]).map(stockValues), {
        fixed: { orgId },
        keys: stockKeys,
        target: [stocks.orgId, stocks.nmId, stocks.barcode, stocks.warehouseName],
        set: stockKeys.filter((k) => k !== "nmId" && k !== "barcode" && k !== "warehouseName"),
        setWhere: sql`excluded.last_change_date >= ${stocks.lastChangeDate}`,
        countInserted,
      });
  }
}

/**
 * The distinct well-formed days (`YYYY-MM-DD`) of `days`, sorted: only these are written into the
 * rollups' SQL (as one array parameter, or as date literals).
 */
function calendarDays(days: readonly string[]): string[] {
  return [...new Set(days)].filter((d) => /^\d{4}-\d{2}-\d{2}$/.test(d)).sort();
}

/**
 * Recomputes `daily_product_stats` of `orgId` for the Moscow calendar `days`: deletes them and
 * re-inserts the aggregate of `orders` and `sales`; then `daily_org_stats` of the same days, as
 * the sum over products (four statements, set operations over the touched days). Definitions:
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
  const dayList = sql`${`{${calendarDays(days).join(",")}}`}::date[]`;
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
    db.execute(sql`delete from daily_org_stats where org_id = ${orgId} and day = any(${dayList})`),
    db.execute(sql`
      insert into daily_org_stats (org_id, day, orders_count, orders_amount, cancellations_count, cancellations_amount,
        buyouts_count, buyouts_amount, returns_count, returns_amount, payout)
      select org_id, day, sum(orders_count), sum(orders_amount), sum(cancellations_count), sum(cancellations_amount),
        sum(buyouts_count), sum(buyouts_amount), sum(returns_count), sum(returns_amount), sum(payout)
      from daily_product_stats
      where org_id = ${orgId} and day = any(${dayList})
      group by org_id, day`),
  ];
}

/**
 * Recomputes `warehouse_stock_stats` of `orgId` for the warehouses `names` from `stocks`: stock
 * rows, products in stock (distinct nmId with `quantity` > 0) and Σ `quantity` (two statements).
 */
export function recomputeWarehouseStockStats(db: Database, orgId: string, names: readonly string[]): BatchStatement[] {
  if (names.length === 0) return [];
  const list = sql`${JSON.stringify(names)}::jsonb`;
  const named = sql`warehouse_name in (select jsonb_array_elements_text(${list}))`;
  return [
    db.execute(sql`delete from warehouse_stock_stats where org_id = ${orgId} and ${named}`),
    db.execute(sql`
      insert into warehouse_stock_stats (org_id, warehouse_name, stock_rows, product_count, total_quantity)
      select org_id, warehouse_name, count(*), count(distinct nm_id) filter (where quantity > 0), sum(quantity)
      from stocks where org_id = ${orgId} and ${named}
      group by org_id, warehouse_name`),
  ];
}

/**
 * Recomputes `product_period_stats` of `orgId`: orders per product over each reporting period ending
 * on each of `asOf` (Moscow days, e.g. today and tomorrow), from `daily_product_stats`. Two
 * statements: delete the org's rows; one pass over the longest period's days grouped by nmId, with
 * a filtered sum per (day, period), unpivoted into rows (`CROSS JOIN LATERAL (VALUES …)`). At
 * 3,000 products × 180 days (~360,000 rollup rows): ~0.3 s; run once per sync run, not per batch.
 */
export function recomputeProductPeriodStats(db: Database, orgId: string, asOf: readonly string[]): BatchStatement[] {
  const days = calendarDays(asOf);
  const first = days[0];
  const last = days.at(-1);
  if (first === undefined || last === undefined) return [];
  const longest = Math.max(...reportingPeriods.map(periodDays));
  const pairs = days.flatMap((day, i) => reportingPeriods.map((period) => ({ day, period, key: `${i}_${period}` })));
  const within = (day: string, period: ReportingPeriod) =>
    sql.raw(`day between date '${day}' - ${periodDays(period) - 1} and date '${day}'`);
  const sums = sql.join(
    pairs.map(
      ({ day, period, key }) =>
        sql`sum(orders_count) filter (where ${within(day, period)}) as ${sql.raw(`c_${key}`)}, sum(orders_amount) filter (where ${within(day, period)}) as ${sql.raw(`a_${key}`)}`,
    ),
    sql`, `,
  );
  const rows = sql.raw(pairs.map(({ day, period, key }) => `(date '${day}', '${period}', c_${key}, a_${key})`).join(", "));
  return [
    db.execute(sql`delete from product_period_stats where org_id = ${orgId}`),
    db.execute(sql`
      insert into product_period_stats (org_id, as_of, period, nm_id, orders_count, orders_amount)
      select ${orgId}, v.as_of, v.period, per.nm_id, v.orders_count, v.orders_amount
      from (
        select nm_id, ${sums}
        from daily_product_stats
        where org_id = ${orgId} and day between date ${sql.raw(`'${first}'`)} - ${sql.raw(String(longest - 1))} and date ${sql.raw(`'${last}'`)}
        group by nm_id
      ) as per
      cross join lateral (values ${rows}) as v(as_of, period, orders_count, orders_amount)
      where v.orders_count > 0`),
  ];
}

/**
 * Every write of one slice of a page except the ledger and cursor: products, warehouses, the rows,
 * and the rollups they touch (orders, sales: the days; stocks: the warehouses). The data set's `sync_state` row must exist
 * before these run in the batch (the rows' upsert adds what it inserted to its `total_rows`).
 */
export function pageWrites<D extends WbDataset>(db: Database, orgId: string, dataset: D, rows: readonly WbRowOf[D][]): BatchStatement[] {
  if (rows.length === 0) return [];
  const unique = dedupeRows(dataset, rows);
  return [
    upsertProducts(db, orgId, unique),
    upsertWarehouses(db, orgId, unique),
    upsertRows(db, orgId, dataset, unique),
    ...recomputeDailyStats(db, orgId, touchedDays(dataset, unique)),
    ...(dataset === "stocks" ? recomputeWarehouseStockStats(db, orgId, [...new Set(unique.map((r) => r.warehouseName))]) : []),
  ];
}

/** `(select count(*) …)`: rows stored for `orgId` in a data set's table. */
export function storedRowCount(dataset: WbDataset, orgId: string): SQL {
  const table = { orders, sales, stocks }[dataset];
  return sql`(select count(*) from ${table} where org_id = ${orgId})`;
}
