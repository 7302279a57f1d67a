/**
 * Request and response schemas of the `dashboard` route group. Requests are validated with
 * them (unknown parameters rejected, so a typo is a 400 and not a silently ignored filter);
 * response types are inferred from them and checked with `satisfies` in each handler.
 * Money is in roubles with kopeck precision; days are Moscow days `YYYY-MM-DD`; timestamps
 * are Moscow time with the offset (`2026-11-20T14:03:11+03:00`).
 */
import { z } from "@hono/zod-openapi";
import { cursorText, cursorTime, type ListCursor, listCursor } from "../../core/cursor";
import { defaultPeriod, periods } from "./period";

/**
 * Largest `offset` of a paged list: an offset page costs a scan of the rows it skips; deeper
 * pages take `cursor`, which costs the same at any depth (issue 11, docs/api.md#pagination-and-order).
 */
export const MAX_OFFSET = 10_000;

/** A whole-number query parameter in [min, max], `fallback` when absent. */
const integerParam = (min: number, max: number, fallback: number) =>
  z
    .string()
    .regex(/^\d{1,9}$/, "Expected a whole number")
    .transform(Number)
    .pipe(z.number().int().min(min).max(max))
    .default(fallback)
    // The spec shows what a client sends: an integer in [min, max] (the query carries it as text).
    .openapi({ type: "integer", minimum: min, maximum: max, default: fallback });

/**
 * A multi-select query parameter: repeat it for several values (`?warehouses=A&warehouses=B`).
 * Hono's query target (`c.req.queries()`) gives one value as a string, several as an array.
 */
const multiParam = (maxValues: number, maxLength: number) =>
  z
    .union([z.string(), z.array(z.string())])
    .optional()
    .transform((v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]))
    .pipe(z.array(z.string().trim().min(1).max(maxLength)).max(maxValues))
    .openapi({ type: "array", items: { type: "string", minLength: 1, maxLength }, maxItems: maxValues });

const period = z.enum(periods).default(defaultPeriod);
const limit = integerParam(1, 100, 20);
/** `offset`: absent unless sent, so that one sent with `cursor` is refused (the answer echoes 0 for absent). */
const offset = z
  .string()
  .regex(/^\d{1,9}$/, "Expected a whole number")
  .transform(Number)
  .pipe(
    z
      .number()
      .int()
      .min(0)
      .max(MAX_OFFSET, `At most ${MAX_OFFSET}: to page deeper, pass \`cursor\` (the \`nextCursor\` of the previous page) instead`),
  )
  .optional()
  .openapi({
    type: "integer",
    minimum: 0,
    maximum: MAX_OFFSET,
    default: 0,
    description: `Rows to skip (at most ${MAX_OFFSET}; deeper, follow \`nextCursor\`). Not with \`cursor\`.`,
  });

/**
 * The query refinement of a keyset-paged list: `cursor` and `offset` exclude each other, and a
 * cursor must have been made under the same filters (`filtersOf` the query) — a cursor carried over
 * to other filters would start the page at a position of another list.
 */
const keysetPage =
  <Key, Filters>(fits: (cursor: ListCursor<Key>, filters: unknown) => boolean, filtersOf: (query: Filters) => unknown) =>
  (query: Filters & { cursor?: ListCursor<Key> | undefined; offset?: number | undefined }, ctx: z.RefinementCtx) => {
    if (query.cursor === undefined) return;
    if (query.offset !== undefined)
      ctx.addIssue({ code: "custom", path: ["offset"], message: "Not with `cursor`: the cursor already says where the page starts." });
    else if (!fits(query.cursor, filtersOf(query)))
      ctx.addIssue({
        code: "custom",
        path: ["cursor"],
        message: "This cursor was made under other filters: keep the filters while paging, or start again without `cursor`.",
      });
  };

/** `?period=7d|30d|60d|90d|180d` (default `30d`). */
export const periodQuery = z.object({ period }).strict();

/** `GET /analytics/daily-trends`: a period and `format=json|svg` (default `json`). */
export const dailyTrendsQuery = z.object({ period, format: z.enum(["json", "svg"]).default("json") }).strict();

/**
 * `GET /analytics/daily-trends` headers: `Accept-Language` picks the chart's language, Russian
 * or English (`negotiateLanguage` in `chart-locale.ts`). Any value is accepted; one that names
 * neither language gives English. Other headers are not validated here.
 */
export const dailyTrendsHeaders = z.object({
  "accept-language": z.string().optional().openapi({
    description:
      "Language of the chart's labels: `ru` (also `ru-RU`, or a list where Russian weighs most among ru and en) or English otherwise.",
    example: "ru-RU,ru;q=0.9,en;q=0.8",
  }),
});

/**
 * The `/stocks` cursor: the last row's sort key `[supplierArticle, nmId, techSize, warehouseName,
 * barcode]` (the size's logical rank is recomputed from `techSize` in SQL).
 */
export const stocksCursor = listCursor("stocks", z.tuple([cursorText, z.number().int(), cursorText, cursorText, cursorText]));

/** The filters a `/stocks` cursor is bound to: multi-selects as sets (order and repeats do not matter). */
export const stocksFilters = (query: { warehouses: string[]; sizes: string[]; q?: string | undefined }) => ({
  warehouses: [...new Set(query.warehouses)].sort(),
  sizes: [...new Set(query.sizes)].sort(),
  q: query.q ?? null,
});

/** `GET /stocks`: multi-select filters, a search text (name, supplier article, nmId) and a page. */
export const stocksQuery = z
  .object({
    warehouses: multiParam(50, 200),
    sizes: multiParam(50, 50),
    q: z
      .string()
      .trim()
      .max(100)
      .transform((s) => s || undefined)
      .optional(),
    limit,
    offset,
    cursor: stocksCursor.param.optional(),
  })
  .strict()
  .superRefine(keysetPage(stocksCursor.fits, stocksFilters));

/** Status filter of the recent orders: not canceled, canceled, or both. */
export const orderStatuses = ["active", "canceled", "all"] as const;

/** The `/orders/recent` cursor: the last row's `[date, srid]`, `date` as Postgres wrote it (microseconds kept). */
export const recentOrdersCursor = listCursor("orders-recent", z.tuple([cursorTime, cursorText]));

/** The filters an `/orders/recent` cursor is bound to. */
export const recentOrdersFilters = (query: { status: (typeof orderStatuses)[number] }) => ({ status: query.status });

/** `GET /orders/recent`. */
export const recentOrdersQuery = z
  .object({ status: z.enum(orderStatuses).default("all"), limit, offset, cursor: recentOrdersCursor.param.optional() })
  .strict()
  .superRefine(keysetPage(recentOrdersCursor.fits, recentOrdersFilters));

/** `GET /orders/{srid}`: WB's order line id — at most 100 characters of `[A-Za-z0-9._-]`. */
export const orderParams = z.object({
  srid: z
    .string()
    .min(1)
    .max(100)
    .regex(/^[A-Za-z0-9._-]+$/, "Expected letters, digits, '.', '_' or '-'"),
});

// Examples: rows of the WB-format demo data set of the local stack (`generateWbDataset`, seed 1,
// anchored at 2026-11-20 23:59:59 Moscow time) as the API answers them; test/unit/examples.test.ts
// proves they are.

/** A stock row of the demo data set. */
export const stockRowExample = {
  nmId: 104537578,
  name: "Футболки Бархат BR-1038/розовый",
  supplierArticle: "BR-1038/розовый",
  barcode: "2091966695094",
  techSize: "XS",
  warehouseName: "Краснодар",
  quantity: 1,
  inWayToClient: 1,
  inWayFromClient: 0,
  price: 3290,
  discount: 46,
};

/** An order line of the demo data set (`srid` is WB's order line id). */
export const orderViewExample = {
  srid: "92.rb63de9937173acca.0.0",
  date: "2026-11-20T22:59:35+03:00",
  nmId: 317404789,
  name: "Игрушки мягкие Мягкий Дом MD-1094/черный",
  supplierArticle: "MD-1094/черный",
  techSize: "0",
  barcode: "2067460571776",
  warehouseName: "Коледино",
  regionName: "Москва",
  totalPrice: 790,
  discountPercent: 28,
  spp: 14,
  finishedPrice: 489.17,
  priceWithDisc: 568.8,
  isCancel: false,
  cancelDate: null,
};

// Responses.

const count = z.number().int().nonnegative();
const roubles = z.number();
const day = z.iso.date();

/** The `cursor` of the page after this one; null on the last page. */
const nextCursor = z.string().nullable().openapi({
  description: "The `cursor` of the next page (opaque; pass it as is, with the same filters); null on the last page.",
});

/** An inclusive range of Moscow days. */
export const dayRange = z.object({ from: day, to: day });

/** Order and sale figures of a span of days (see docs/api.md for each definition). */
export const salesTotals = z.object({
  /** Orders placed (by order `date`), canceled ones included. */
  orders: count,
  /** Σ `priceWithDisc` of those orders. */
  ordersAmount: roubles,
  /** Orders placed in the span that are canceled (`isCancel`). */
  cancellations: count,
  /** Sales whose `saleID` starts with `S`, by sale `date`. */
  buyouts: count,
  /** Σ `priceWithDisc` of the buyouts. */
  buyoutsAmount: roubles,
  /** Sales whose `saleID` starts with `R`, by sale `date`. */
  returns: count,
  /** Σ |`forPay`| of buyouts − Σ |`forPay`| of returns. */
  payout: roubles,
});
/** The shape of {@link salesTotals}. */
export type SalesTotals = z.infer<typeof salesTotals>;

/** A product of a top list, ranked by `ordersAmount` (ties: `nmId` ascending). */
export const topProduct = z.object({
  nmId: z.number().int(),
  /** Null when the product card has not been synced. */
  name: z.string().nullable(),
  supplierArticle: z.string().nullable(),
  orders: count,
  ordersAmount: roubles,
});
/** The shape of {@link topProduct}. */
export type TopProduct = z.infer<typeof topProduct>;

/** `GET /analytics/sales`. */
export const salesAnalytics = z.object({
  period: z.enum(periods),
  range: dayRange,
  totals: salesTotals,
  /** One entry per day of the range, oldest first, zeros included. */
  series: z.array(salesTotals.extend({ day })),
  /** Top 10 products by `ordersAmount`. */
  topProducts: z.array(topProduct),
});
/** The shape of {@link salesAnalytics}. */
export type SalesAnalytics = z.infer<typeof salesAnalytics>;

/** One summary card: the period's figure, the previous period's, and the change. */
export const summaryCard = z.object({
  count,
  amount: roubles,
  previousCount: count,
  previousAmount: roubles,
  /** Change of `count` against the previous period, %, one decimal; null when that was 0. */
  changePercent: z.number().nullable(),
  /** Change of `amount` against the previous period, %, one decimal; null when that was 0. */
  amountChangePercent: z.number().nullable(),
});

/** `GET /analytics/summary`. */
export const salesSummary = z.object({
  period: z.enum(periods),
  range: dayRange,
  previousRange: dayRange,
  cards: z.object({ orders: summaryCard, buyouts: summaryCard, cancellations: summaryCard, returns: summaryCard }),
});
/** The shape of {@link salesSummary}. */
export type SalesSummary = z.infer<typeof salesSummary>;

/** Event counts of one day. */
export const dailyEvents = z.object({ day, orders: count, buyouts: count, cancellations: count, returns: count });

/** `GET /analytics/daily-trends` (JSON). */
export const dailyTrends = z.object({
  period: z.enum(periods),
  range: dayRange,
  days: z.array(dailyEvents),
  topProducts: z.array(topProduct),
  /** The same chart as `?format=svg`, as `data:image/svg+xml;base64,…`. */
  chart: z.string().startsWith("data:image/svg+xml;base64,"),
});
/** The shape of {@link dailyTrends}. */
export type DailyTrends = z.infer<typeof dailyTrends>;

/** One stock row: one size (barcode) of one product at one warehouse, as WB last reported it. */
export const stockRow = z
  .object({
    nmId: z.number().int(),
    name: z.string().nullable(),
    supplierArticle: z.string(),
    barcode: z.string(),
    techSize: z.string(),
    warehouseName: z.string(),
    quantity: z.number().int(),
    inWayToClient: z.number().int(),
    inWayFromClient: z.number().int(),
    /** Price before the seller's discount, ₽. */
    price: roubles,
    /** Seller's discount, %. */
    discount: z.number().int(),
  })
  .openapi("StockRow", { example: stockRowExample });

/** `GET /stocks`. */
export const stocksPage = z.object({
  items: z.array(stockRow),
  /** Rows matching the filters, over all pages. */
  total: count,
  limit: z.number().int(),
  /** Rows skipped (0 on a `cursor` page). */
  offset: z.number().int(),
  nextCursor,
  /** Filter values available to this org (unfiltered): warehouse names, sizes in logical order. */
  filters: z.object({ warehouses: z.array(z.string()), sizes: z.array(z.string()) }),
});
/** The shape of {@link stocksPage}. */
export type StocksPage = z.infer<typeof stocksPage>;

/** `GET /warehouses`. */
export const warehouseList = z.object({
  items: z.array(
    z.object({
      name: z.string(),
      /** WB `warehouseType` ("Склад WB", "Склад продавца"); null when unknown. */
      type: z.string().nullable(),
      /** Distinct products (nmId) with `quantity` > 0 here. */
      productCount: count,
      /** Σ `quantity` here. */
      totalQuantity: z.number().int(),
    }),
  ),
});
/** The shape of {@link warehouseList}. */
export type WarehouseList = z.infer<typeof warehouseList>;

/** `GET /sizes`. */
export const sizeList = z.object({ items: z.array(z.string()) });
/** The shape of {@link sizeList}. */
export type SizeList = z.infer<typeof sizeList>;

/** One order line as the dashboard shows it. */
export const orderView = z
  .object({
    srid: z.string(),
    /** When the buyer placed it, Moscow time with offset. */
    date: z.string(),
    nmId: z.number().int(),
    name: z.string().nullable(),
    supplierArticle: z.string(),
    techSize: z.string(),
    barcode: z.string(),
    warehouseName: z.string(),
    regionName: z.string().nullable(),
    totalPrice: roubles,
    discountPercent: z.number().int(),
    /** WB's discount for the buyer (СПП), %. */
    spp: z.number(),
    finishedPrice: roubles,
    priceWithDisc: roubles,
    isCancel: z.boolean(),
    cancelDate: z.string().nullable(),
  })
  .openapi("Order", { example: orderViewExample });
/** The shape of {@link orderView}. */
export type OrderView = z.infer<typeof orderView>;

/** Orders of one Moscow day. */
const dayFigure = z.object({ day, count, amount: roubles });

/** `GET /orders/recent`. */
export const recentOrdersPage = z.object({
  status: z.enum(orderStatuses),
  items: z.array(orderView),
  total: count,
  limit: z.number().int(),
  /** Rows skipped (0 on a `cursor` page). */
  offset: z.number().int(),
  nextCursor,
  /** Orders placed today and yesterday (Moscow days) with the same status filter. */
  today: dayFigure,
  yesterday: dayFigure,
});
/** The shape of {@link recentOrders}. */
export type RecentOrders = z.infer<typeof recentOrdersPage>;

const figure = z.object({ count, amount: roubles });

/** `GET /orders/{srid}`. */
export const orderDetail = z.object({
  order: orderView,
  product: z
    .object({
      nmId: z.number().int(),
      name: z.string(),
      supplierArticle: z.string(),
      brand: z.string(),
      subject: z.string(),
      category: z.string(),
    })
    .nullable(),
  /** The product's current stock per `techSize`, summed over warehouses, in logical size order. */
  stockBySize: z.array(
    z.object({ techSize: z.string(), quantity: z.number().int(), inWayToClient: z.number().int(), inWayFromClient: z.number().int() }),
  ),
  /** The product's orders and buyouts over the last 30 Moscow days, today included. */
  last30Days: z.object({ range: dayRange, orders: figure, buyouts: figure }),
});
/** The shape of {@link orderDetail}. */
export type OrderDetail = z.infer<typeof orderDetail>;
