/**
 * Row types of the Wildberries statistics API, field for field as WB returns them.
 *
 * Pure types, no imports and no runtime values: the production client and the sync import them,
 * and so does the local double under `dev/wildberries/` (dev may import `src/`, never the reverse).
 *
 * Conventions of every feed:
 * - timestamps ({@link WbDateTime}) are Moscow time (UTC+3, no DST) without an offset;
 * - money is in roubles as a JSON number with at most two decimals (kopecks);
 * - percentages are plain numbers (`25` means 25 %).
 *
 * @see https://dev.wildberries.ru/openapi/reports (statistics-api.wildberries.ru, "Main reports")
 */

/** Moscow-time timestamp without an offset, second resolution: `2026-11-20T14:03:11`. */
export type WbDateTime = string;

/**
 * `cancelDate` of an order that is not canceled: WB sends the zero time `0001-01-01T00:00:00`
 * instead of `null`.
 */
export type WbZeroDateTime = "0001-01-01T00:00:00";

/** Who stores and ships the item: a WB warehouse (FBW) or the seller's own (FBS). */
export type WbWarehouseType = "Склад WB" | "Склад продавца";

/**
 * One order line (`GET /api/v1/supplier/orders`): one unit of one size, keyed by `srid`.
 * A later cancellation changes `isCancel`, `cancelDate` and `lastChangeDate` of the same row.
 */
export interface WbOrder {
  /** When the buyer placed the order. */
  date: WbDateTime;
  /** Last update of this row; the feed filters and pages by it. */
  lastChangeDate: WbDateTime;
  warehouseName: string;
  warehouseType: WbWarehouseType;
  countryName: string;
  /** Federal district, e.g. "Центральный федеральный округ"; empty outside Russia. */
  oblastOkrugName: string;
  regionName: string;
  /** Seller's article. */
  supplierArticle: string;
  /** WB article (product card id). */
  nmId: number;
  /** 13-digit EAN of the size. */
  barcode: string;
  category: string;
  subject: string;
  brand: string;
  /** Size as the seller wrote it: `0` (no size), `XS`…`3XL`, `42`, `42-43`. */
  techSize: string;
  /** Supply (delivery to WB) number; `0` when shipped from the seller's warehouse. */
  incomeID: number;
  isSupply: boolean;
  isRealization: boolean;
  /** Price before the seller's discount, ₽. */
  totalPrice: number;
  /** Seller's discount, %. */
  discountPercent: number;
  /** WB's discount for the buyer (СПП), %. */
  spp: number;
  /** What the buyer pays after every discount, ₽. */
  finishedPrice: number;
  /** Price after the seller's discount, ₽ (the seller's revenue base). */
  priceWithDisc: number;
  isCancel: boolean;
  /** When canceled, or {@link WbZeroDateTime} when not. */
  cancelDate: WbDateTime | WbZeroDateTime;
  /** FBS sticker number; empty for WB warehouses. */
  sticker: string;
  /** Buyer's basket number: the lines of one checkout share it. */
  gNumber: string;
  /** Unique id of the order line; sales rows point back to it. */
  srid: string;
}

/**
 * One sales-feed row (`GET /api/v1/supplier/sales`), keyed by `saleID`. The prefix of `saleID`
 * says what happened: `S` a buyout, `R` a return; other prefixes (`D` surcharges, `A`/`B`
 * reversals) are other operations that an order analytics consumer ignores.
 *
 * Returns carry negative `forPay`, `finishedPrice` and `priceWithDisc` in some rows and positive in
 * others (WB's feeds differ), so take the magnitude and the sign from the prefix.
 */
export interface WbSale {
  /** When the operation happened (buyout, return). */
  date: WbDateTime;
  lastChangeDate: WbDateTime;
  warehouseName: string;
  warehouseType: WbWarehouseType;
  countryName: string;
  oblastOkrugName: string;
  regionName: string;
  supplierArticle: string;
  nmId: number;
  barcode: string;
  category: string;
  subject: string;
  brand: string;
  techSize: string;
  incomeID: number;
  isSupply: boolean;
  isRealization: boolean;
  /** Price before the seller's discount, ₽. */
  totalPrice: number;
  discountPercent: number;
  spp: number;
  /** Part paid from the buyer's WB wallet, ₽. */
  paymentSaleAmount: number;
  /** What WB transfers to the seller for this row, ₽. */
  forPay: number;
  finishedPrice: number;
  priceWithDisc: number;
  /** `S…` buyout, `R…` return, anything else another operation. */
  saleID: string;
  sticker: string;
  gNumber: string;
  /** The order line this row belongs to ({@link WbOrder.srid}). */
  srid: string;
}

/**
 * One stock row (`GET /api/v1/supplier/stocks`): one size (barcode) at one WB warehouse.
 * WB keeps no stock history: the feed is the current state.
 */
export interface WbStock {
  lastChangeDate: WbDateTime;
  warehouseName: string;
  supplierArticle: string;
  nmId: number;
  barcode: string;
  /** Available for sale. */
  quantity: number;
  inWayToClient: number;
  inWayFromClient: number;
  /** `quantity + inWayToClient + inWayFromClient`. */
  quantityFull: number;
  category: string;
  subject: string;
  brand: string;
  techSize: string;
  /** Price before discount, ₽. Capitalized as WB sends it. */
  Price: number;
  /** Seller's discount, %. Capitalized as WB sends it. */
  Discount: number;
  isSupply: boolean;
  isRealization: boolean;
  /** Contract code, e.g. `Tech`. Capitalized as WB sends it. */
  SCCode: string;
}

/**
 * Error body of the WB API gateway (401, 400, 429, 5xx).
 * @example {"title":"too many requests","detail":"Limited by …","code":"…","requestId":"…",
 *   "origin":"s2s-api-auth-stat","status":429,"statusText":"Too Many Requests",
 *   "timestamp":"2026-11-20T11:03:11Z"}
 */
export interface WbErrorBody {
  title: string;
  detail: string;
  code: string;
  requestId: string;
  origin: string;
  status: number;
  statusText: string;
  /** UTC, RFC 3339. */
  timestamp: string;
}

/** The three statistics feeds by path. */
export type WbStatisticsPath = "/api/v1/supplier/orders" | "/api/v1/supplier/sales" | "/api/v1/supplier/stocks";
