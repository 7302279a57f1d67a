/**
 * Wildberries data, keyed by WB's own identities so a re-sync is an idempotent upsert:
 * orders by `srid`, sales by `saleID`, stocks by `nmId` + `barcode` + warehouse.
 * WB timestamps are Moscow time without offset; they are stored as `timestamptz`.
 * @see https://dev.wildberries.ru/openapi/reports (statistics API)
 */
import { sql } from "drizzle-orm";
import { bigint, boolean, date, index, integer, numeric, pgTable, primaryKey, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { orgs } from "./identity";

const orgId = () =>
  uuid("org_id")
    .notNull()
    .references(() => orgs.id, { onDelete: "cascade" });
/**
 * `org_id` of the bulk tables the sync writes 10,000 rows at a time (orders, sales, stocks and their
 * rollups): no foreign key to `orgs`, on purpose. Postgres checks a foreign key row by row (a
 * `SELECT … FOR KEY SHARE` on `orgs` per inserted row): 300 of the 500 ms an upsert of 10,000
 * orders took, ~60 % of the sync's database time. Only the sync writes these tables, for an org
 * whose `wb_connections` row (with its foreign key) it has just read; deleting an org must delete
 * its rows here explicitly (no cascade).
 */
const bulkOrgId = () => uuid("org_id").notNull();
const money = (name: string) => numeric(name, { precision: 14, scale: 2, mode: "number" });
const tstz = (name: string) => timestamp(name, { withTimezone: true, mode: "string" });

/** One product card (WB `nmId`), as last seen in any feed. */
export const products = pgTable(
  "products",
  {
    orgId: orgId(),
    nmId: bigint("nm_id", { mode: "number" }).notNull(),
    supplierArticle: text("supplier_article").notNull(),
    /** Display name: WB's statistics feeds have no card title, so `subject brand supplierArticle`. */
    name: text("name").notNull(),
    brand: text("brand").notNull(),
    subject: text("subject").notNull(),
    category: text("category").notNull(),
    updatedAt: tstz("updated_at").notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.orgId, t.nmId] }),
    index("products_name_trgm_idx").using("gin", sql`${t.name} gin_trgm_ops`),
    index("products_article_trgm_idx").using("gin", sql`${t.supplierArticle} gin_trgm_ops`),
  ],
);

export const warehouses = pgTable(
  "warehouses",
  {
    orgId: orgId(),
    name: text("name").notNull(),
    /** WB `warehouseType`: "Склад WB" or "Склад продавца"; null when the feed omits it. */
    type: text("type"),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.name] })],
);

/** Current stock per product size (barcode) and warehouse. */
export const stocks = pgTable(
  "stocks",
  {
    orgId: bulkOrgId(),
    nmId: bigint("nm_id", { mode: "number" }).notNull(),
    barcode: text("barcode").notNull(),
    warehouseName: text("warehouse_name").notNull(),
    supplierArticle: text("supplier_article").notNull(),
    techSize: text("tech_size").notNull(),
    quantity: integer("quantity").notNull(),
    inWayToClient: integer("in_way_to_client").notNull(),
    inWayFromClient: integer("in_way_from_client").notNull(),
    quantityFull: integer("quantity_full").notNull(),
    price: money("price").notNull(),
    discount: integer("discount").notNull(),
    lastChangeDate: tstz("last_change_date").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.orgId, t.nmId, t.barcode, t.warehouseName] }),
    index("stocks_org_warehouse_idx").on(t.orgId, t.warehouseName),
    index("stocks_org_size_idx").on(t.orgId, t.techSize),
    // The list's order (supplier article, nmId, size, warehouse, barcode) starts with these: a keyset
    // page reads its range and sorts only within each product (200,000 rows: 561 ms → 0.3 ms a page).
    index("stocks_org_article_nm_idx").on(t.orgId, t.supplierArticle, t.nmId),
    // The stock list's search (ILIKE `%q%` on the row's supplier article) as an index arm of a BitmapOr.
    index("stocks_article_trgm_idx").using("gin", sql`${t.supplierArticle} gin_trgm_ops`),
  ],
);

export const orders = pgTable(
  "orders",
  {
    orgId: bulkOrgId(),
    srid: text("srid").notNull(),
    gNumber: text("g_number").notNull(),
    date: tstz("date").notNull(),
    lastChangeDate: tstz("last_change_date").notNull(),
    nmId: bigint("nm_id", { mode: "number" }).notNull(),
    barcode: text("barcode").notNull(),
    supplierArticle: text("supplier_article").notNull(),
    techSize: text("tech_size").notNull(),
    warehouseName: text("warehouse_name").notNull(),
    regionName: text("region_name"),
    totalPrice: money("total_price").notNull(),
    discountPercent: integer("discount_percent").notNull(),
    spp: money("spp").notNull(),
    finishedPrice: money("finished_price").notNull(),
    priceWithDisc: money("price_with_disc").notNull(),
    isCancel: boolean("is_cancel").notNull(),
    /** Null when not canceled (WB sends `0001-01-01T00:00:00`). */
    cancelDate: tstz("cancel_date"),
  },
  (t) => [
    primaryKey({ columns: [t.orgId, t.srid] }),
    index("orders_org_date_idx").on(t.orgId, t.date),
    index("orders_org_nm_date_idx").on(t.orgId, t.nmId, t.date),
  ],
);

/** Sale kinds by `saleID` prefix: `S` buyout, `R` return, anything else `other`. */
export const saleKinds = ["buyout", "return", "other"] as const;
export type SaleKind = (typeof saleKinds)[number];

export const sales = pgTable(
  "sales",
  {
    orgId: bulkOrgId(),
    saleId: text("sale_id").notNull(),
    kind: text("kind", { enum: saleKinds }).notNull(),
    srid: text("srid").notNull(),
    date: tstz("date").notNull(),
    lastChangeDate: tstz("last_change_date").notNull(),
    nmId: bigint("nm_id", { mode: "number" }).notNull(),
    barcode: text("barcode").notNull(),
    supplierArticle: text("supplier_article").notNull(),
    techSize: text("tech_size").notNull(),
    warehouseName: text("warehouse_name").notNull(),
    totalPrice: money("total_price").notNull(),
    priceWithDisc: money("price_with_disc").notNull(),
    finishedPrice: money("finished_price").notNull(),
    forPay: money("for_pay").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.orgId, t.saleId] }),
    index("sales_org_date_idx").on(t.orgId, t.date),
    index("sales_org_nm_date_idx").on(t.orgId, t.nmId, t.date),
  ],
);

/** The figures of a daily rollup row (counts, and amounts in roubles), shared by both rollups. */
const rollupMeasures = () => ({
  ordersCount: integer("orders_count").notNull().default(0),
  ordersAmount: money("orders_amount").notNull().default(0),
  cancellationsCount: integer("cancellations_count").notNull().default(0),
  cancellationsAmount: money("cancellations_amount").notNull().default(0),
  buyoutsCount: integer("buyouts_count").notNull().default(0),
  buyoutsAmount: money("buyouts_amount").notNull().default(0),
  returnsCount: integer("returns_count").notNull().default(0),
  returnsAmount: money("returns_amount").notNull().default(0),
  payout: money("payout").notNull().default(0),
});

/**
 * Daily rollup per org, Moscow calendar day and product, recomputed from `orders` and
 * `sales` for every day a sync batch touched (in the same transaction as the batch).
 * Amounts in roubles; `payout` = Σ|forPay| of buyouts − Σ|forPay| of returns.
 */
export const dailyProductStats = pgTable(
  "daily_product_stats",
  {
    orgId: bulkOrgId(),
    day: date("day", { mode: "string" }).notNull(),
    nmId: bigint("nm_id", { mode: "number" }).notNull(),
    ...rollupMeasures(),
  },
  (t) => [
    primaryKey({ columns: [t.orgId, t.day, t.nmId] }),
    // One product over a range of days (an order's last 30 days): 30 rows, not 30 days of every product.
    index("daily_product_stats_org_nm_day_idx").on(t.orgId, t.nmId, t.day),
  ],
);

/**
 * Daily rollup per org and Moscow calendar day: `daily_product_stats` summed over products,
 * recomputed from it for the same days in the same batch. The dashboard's totals and daily
 * series read it: ≤ 1 row per day, so a 180-day period is 180 rows whatever the catalogue's size
 * (at 3,000 products, `daily_product_stats` holds ~1,500 rows a day).
 */
export const dailyOrgStats = pgTable(
  "daily_org_stats",
  {
    orgId: bulkOrgId(),
    day: date("day", { mode: "string" }).notNull(),
    ...rollupMeasures(),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.day] })],
);

/** The dashboard's reporting periods: the last N Moscow days, today included. */
export const reportingPeriods = ["7d", "30d", "60d", "90d", "180d"] as const;
export type ReportingPeriod = (typeof reportingPeriods)[number];
/** Days in a reporting period (`"30d"` → 30). */
export const periodDays = (period: ReportingPeriod): number => Number(period.slice(0, -1));

/**
 * Orders per product over each reporting period ending on `as_of` (a Moscow day), summed from
 * `daily_product_stats` at the end of every sync run for `as_of` = today and tomorrow (tomorrow's
 * periods hold no data of tomorrow yet, and any data of tomorrow arrives by a sync, which
 * recomputes them). Top products read it: the top N of 180 days is an index range of N rows
 * instead of an aggregate over ~360,000 rollup rows at 3,000 products. Only products with orders.
 */
export const productPeriodStats = pgTable(
  "product_period_stats",
  {
    orgId: bulkOrgId(),
    asOf: date("as_of", { mode: "string" }).notNull(),
    period: text("period", { enum: reportingPeriods }).notNull(),
    nmId: bigint("nm_id", { mode: "number" }).notNull(),
    ordersCount: integer("orders_count").notNull(),
    ordersAmount: numeric("orders_amount", { precision: 16, scale: 2, mode: "number" }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.orgId, t.asOf, t.period, t.nmId] }),
    index("product_period_stats_top_idx").on(t.orgId, t.asOf, t.period, t.ordersAmount.desc(), t.nmId),
  ],
);

/**
 * Stock per warehouse: rows, products in stock (distinct nmId with `quantity` > 0) and Σ
 * `quantity`, recomputed from `stocks` for the warehouses each sync batch touched, in the same
 * transaction. The warehouse list and the stock list's totals and filters read it (40 rows)
 * instead of grouping ~180,000 stock rows.
 */
export const warehouseStockStats = pgTable(
  "warehouse_stock_stats",
  {
    orgId: bulkOrgId(),
    warehouseName: text("warehouse_name").notNull(),
    stockRows: integer("stock_rows").notNull(),
    productCount: integer("product_count").notNull(),
    totalQuantity: bigint("total_quantity", { mode: "number" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.warehouseName] })],
);
