/**
 * Typed client of the Wildberries statistics API feeds the sync reads:
 * `GET /api/v1/supplier/orders|sales|stocks?dateFrom=<WB time>&flag=0`, and of the host's
 * connectivity check `GET /ping` (200 `{"TS": "…", "Status": "OK"}` for a token WB accepts).
 *
 * - Auth: `Authorization: <token>` (the raw token, no `Bearer`). The token is never logged and
 *   never put into an error message.
 * - With `flag=0` a feed answers rows with `lastChangeDate >= dateFrom`, sorted by
 *   `lastChangeDate`, at most ~80,000 per request; the caller pages by passing the last row's
 *   `lastChangeDate` back verbatim (see `src/jobs/wb-sync.ts`).
 * - Rate limit: WB allows about one request per minute per feed; a 429 carries
 *   `X-Ratelimit-Retry` (seconds).
 * - Responses are checked with zod: the fields the sync stores must be there with the right types;
 *   unknown fields are dropped; text fields WB omits or sends as null are read as "".
 *
 * Errors: 429 → {@link WbRateLimitError}; 401/403 → {@link WbAuthError}; 5xx, network failure or
 * timeout → {@link WbUnavailableError}; any other status or a body of the wrong shape →
 * {@link WbResponseError}. All extend {@link WbApiError}, which keeps the request (`GET /ping`)
 * and WB's own words (`title: detail` of its error body) apart, for readable failure causes.
 *
 * @see https://dev.wildberries.ru/openapi/reports (orders, sales, stocks; `dateFrom`, `flag`)
 * @see https://dev.wildberries.ru/openapi/api-information (429 and `X-Ratelimit-*` headers; `GET /ping`)
 */
import { z } from "zod";
import { JsonArrayStreamError, readJsonArraySlices } from "../../core/json-array-stream";
import { idleBody, readTimeoutError } from "../../core/read-timeout";
import { isWbDateTime } from "./time";
import type { WbDateTime, WbOrder, WbSale, WbStatisticsPath, WbStock } from "./types";

/** Where a {@link WbApiError} happened and what WB said, beyond the message. */
export interface WbApiErrorOptions {
  cause?: unknown;
  /** The request, e.g. `GET /api/v1/supplier/orders`. */
  request?: string;
  /** WB's own words: `title: detail` of its error body, or what went wrong without an answer. Never the token. */
  reason?: string;
}

/** Base of every error of this client; `status` is the HTTP status, 0 when there was no answer. */
export class WbApiError extends Error {
  override readonly name: string = "WbApiError";
  readonly request: string | undefined;
  readonly reason: string | undefined;
  constructor(
    message: string,
    readonly status: number,
    options: WbApiErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.request = options.request;
    this.reason = options.reason;
  }
}

/** 429: WB's rate limit. Retry after `retryAfterSeconds` (`X-Ratelimit-Retry`, else `Retry-After`, else 60). */
export class WbRateLimitError extends WbApiError {
  override readonly name = "WbRateLimitError";
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
    options: WbApiErrorOptions = {},
  ) {
    super(message, 429, options);
  }
}

/** 401/403: the token is missing, wrong, expired or lacks the statistics scope. */
export class WbAuthError extends WbApiError {
  override readonly name = "WbAuthError";
}

/** 5xx, a network failure or a timeout: WB is (temporarily) unavailable. */
export class WbUnavailableError extends WbApiError {
  override readonly name = "WbUnavailableError";
}

/** Any other status (400, 404…) or a 200 whose body is not the documented shape. */
export class WbResponseError extends WbApiError {
  override readonly name = "WbResponseError";
}

const wbTime = z.string().refine(isWbDateTime, "expected a WB time like 2026-11-20T14:03:11");
/**
 * Text fields WB sometimes omits or sends as null: validated as such, then read as "" by
 * {@link withTextDefaults}. Not a zod `.transform`: in workerd zod runs without its JIT, and eight
 * transforms per order row cost ~10 ms of CPU per 1,000 rows, ~12 % of the Worker's sync CPU
 * (docs/performance.md).
 */
const text = z.string().nullish();
const money = z.number().finite();

const commonFields = {
  lastChangeDate: wbTime,
  supplierArticle: text,
  nmId: z.number().int().positive(),
  barcode: text,
  techSize: text,
  warehouseName: z.string(),
  brand: text,
  subject: text,
  category: text,
};

/** An orders-feed row as validated: every {@link WbOrder} field the sync stores; `warehouseType` free text. */
export type WbOrderRow = Pick<
  WbOrder,
  | "date"
  | "lastChangeDate"
  | "srid"
  | "gNumber"
  | "nmId"
  | "barcode"
  | "supplierArticle"
  | "techSize"
  | "warehouseName"
  | "regionName"
  | "brand"
  | "subject"
  | "category"
  | "totalPrice"
  | "discountPercent"
  | "spp"
  | "finishedPrice"
  | "priceWithDisc"
  | "isCancel"
  | "cancelDate"
> & { warehouseType?: string | undefined };

/** A sales-feed row as validated (see {@link WbSale}). */
export type WbSaleRow = Pick<
  WbSale,
  | "date"
  | "lastChangeDate"
  | "saleID"
  | "srid"
  | "nmId"
  | "barcode"
  | "supplierArticle"
  | "techSize"
  | "warehouseName"
  | "brand"
  | "subject"
  | "category"
  | "totalPrice"
  | "priceWithDisc"
  | "finishedPrice"
  | "forPay"
> & { warehouseType?: string | undefined };

/** A stocks-feed row as validated (see {@link WbStock}; `Price`/`Discount` capitalized as WB sends them). */
export type WbStockRow = Pick<
  WbStock,
  | "lastChangeDate"
  | "warehouseName"
  | "supplierArticle"
  | "nmId"
  | "barcode"
  | "techSize"
  | "brand"
  | "subject"
  | "category"
  | "quantity"
  | "inWayToClient"
  | "inWayFromClient"
  | "quantityFull"
  | "Price"
  | "Discount"
>;

const orderRow = z.object({
  ...commonFields,
  date: wbTime,
  srid: z.string().min(1),
  gNumber: text,
  regionName: text,
  warehouseType: z.string().optional(),
  totalPrice: money,
  discountPercent: z.number(),
  spp: z.number(),
  finishedPrice: money,
  priceWithDisc: money,
  isCancel: z.boolean(),
  cancelDate: z.string(),
}) satisfies z.ZodType<WithNullableText<WbOrderRow>>;

const saleRow = z.object({
  ...commonFields,
  date: wbTime,
  saleID: z.string().min(1),
  srid: text,
  warehouseType: z.string().optional(),
  totalPrice: money,
  priceWithDisc: money,
  finishedPrice: money,
  forPay: money,
}) satisfies z.ZodType<WithNullableText<WbSaleRow>>;

const count = z.number().int();
const stockRow = z.object({
  ...commonFields,
  quantity: count,
  inWayToClient: count,
  inWayFromClient: count,
  quantityFull: count,
  Price: money,
  Discount: z.number(),
}) satisfies z.ZodType<WithNullableText<WbStockRow>>;

/** A row type with its string fields also null or missing: what the row schemas accept before {@link withTextDefaults}. */
type WithNullableText<T> = { [K in keyof T as T[K] extends string ? never : K]: T[K] } & {
  [K in keyof T as T[K] extends string ? K : never]?: T[K] | null | undefined;
};

/** Options of {@link createWbStatisticsClient}. */
export interface WbStatisticsClientOptions {
  /** `WB_STATISTICS_API_URL`, e.g. `https://statistics-api.wildberries.ru`. */
  baseUrl: string;
  /** The seller's statistics API token (decrypted). */
  token: string;
  /**
   * Time limit in ms for WB's headers, then for each read of the body (time between the caller's
   * reads does not count); default 60,000.
   */
  timeoutMs?: number;
}

/** WB's answer to `GET /ping`: its time (`TS`, RFC 3339 with an offset) and `Status: "OK"`. */
export interface WbPing {
  TS: string;
  Status: string;
}

const pingAnswer = z.looseObject({ TS: z.string(), Status: z.literal("OK") }) satisfies z.ZodType<WbPing>;

/** The three feeds and the connectivity check. Each call is one request; `dateFrom` is a WB time, sent verbatim. */
export interface WbStatisticsClient {
  /**
   * `GET /ping`: whether WB accepts the token on this host (WB allows about 3 checks per 30 s).
   * @throws WbAuthError when WB rejects the token; WbApiError otherwise.
   */
  ping(): Promise<WbPing>;
  /** Orders with `lastChangeDate >= dateFrom`, ascending. @throws WbApiError */
  orders(dateFrom: WbDateTime): Promise<WbOrderRow[]>;
  /** Sales (buyouts, returns, other operations) with `lastChangeDate >= dateFrom`, ascending. @throws WbApiError */
  sales(dateFrom: WbDateTime): Promise<WbSaleRow[]>;
  /** Stock rows changed at or after `dateFrom`; `2019-06-20` gives the full current stock. @throws WbApiError */
  stocks(dateFrom: WbDateTime): Promise<WbStockRow[]>;
  /**
   * One page of a feed (one request), streamed: its rows in slices of at most `sliceRows`, in WB's
   * order, each slice validated as it arrives. Only about one slice is in memory at a time, so a
   * page of 100,000 rows (tens of MB of JSON) fits a Worker's 128 MB. A body that breaks off or
   * turns out malformed throws after the slices before it were yielded: the caller must not treat
   * a page as complete until the iteration ends.
   * @throws WbApiError (as the array forms; a bad row names its index within the page).
   */
  pageSlices<F extends WbFeed>(feed: F, dateFrom: WbDateTime, sliceRows: number): AsyncGenerator<WbFeedRow[F][]>;
}

/** The statistics feeds the sync reads. */
export const wbFeeds = ["orders", "sales", "stocks"] as const;
/** One of {@link wbFeeds}. */
export type WbFeed = (typeof wbFeeds)[number];
/** A validated row of each feed. */
export type WbFeedRow = { orders: WbOrderRow; sales: WbSaleRow; stocks: WbStockRow };

const feedPaths: Record<WbFeed, WbStatisticsPath> = {
  orders: "/api/v1/supplier/orders",
  sales: "/api/v1/supplier/sales",
  stocks: "/api/v1/supplier/stocks",
};

/**
 * Rows decoded and parsed at a time within a streamed page (see `pageSlices`): workerd decodes
 * multi-MB UTF-8 with Cyrillic into one string slower per byte the longer it is.
 */
const PARSE_ROWS = 1_000;

const feedRows = { orders: z.array(orderRow), sales: z.array(saleRow), stocks: z.array(stockRow) };

/** The keys of `row`'s schema that are {@link text} fields. */
const textKeysOf = (row: z.ZodObject) => Object.keys(row.shape).filter((key) => row.shape[key] === text);
const feedTextKeys: Record<WbFeed, readonly string[]> = {
  orders: textKeysOf(orderRow),
  sales: textKeysOf(saleRow),
  stocks: textKeysOf(stockRow),
};

/**
 * Rows zod validated, with every {@link text} field that is null or missing set to "" (in place:
 * they are zod's own copies), so they are the feed's row type.
 */
function withTextDefaults<F extends WbFeed>(feed: F, rows: readonly Record<string, unknown>[]): WbFeedRow[F][] {
  const keys = feedTextKeys[feed];
  for (const row of rows) for (const key of keys) row[key] ??= "";
  return rows as unknown as WbFeedRow[F][];
}

/** Creates the client for one seller token. */
export function createWbStatisticsClient(options: WbStatisticsClientOptions): WbStatisticsClient {
  const timeoutMs = options.timeoutMs ?? 60_000;

  /** Sends one request; answers the response of a 2xx. @throws WbApiError */
  async function send(path: WbStatisticsPath | "/ping", query: Record<string, string>): Promise<Response> {
    const url = new URL(path, options.baseUrl);
    for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
    const request = `GET ${path}`;
    // The limit is on WB: its headers within `timeoutMs`, then each read of the body. The time the
    // sync spends writing a slice before it reads on never counts (src/core/read-timeout.ts).
    const controller = new AbortController();
    const headersTimer = setTimeout(() => controller.abort(readTimeoutError(timeoutMs)), timeoutMs);
    let res: Response;
    try {
      res = await fetch(url, { headers: { Authorization: options.token, Accept: "application/json" }, signal: controller.signal });
    } catch (err) {
      throw unavailable(request, err);
    } finally {
      clearTimeout(headersTimer);
    }
    const timed =
      res.body === null
        ? res
        : new Response(
            idleBody(res.body, timeoutMs, (error) => controller.abort(error)),
            { status: res.status, statusText: res.statusText, headers: res.headers },
          );
    if (!timed.ok) throw await errorFor(request, timed);
    return timed;
  }

  const unavailable = (request: string, err: unknown) => {
    const reason = err instanceof Error && err.name === "TimeoutError" ? `timed out after ${timeoutMs} ms` : "network error";
    return new WbUnavailableError(`${request}: ${reason}`, 0, { cause: err, request, reason });
  };
  const badShape = (request: string, status: number, issue: z.core.$ZodIssue | undefined, indexOffset = 0) => {
    const [index, ...rest] = issue?.path ?? [];
    const path = typeof index === "number" ? [index + indexOffset, ...rest] : (issue?.path ?? []);
    const where = issue ? (path.length > 0 ? `${path.join(".")}: ${issue.message}` : issue.message) : "unexpected shape";
    return new WbResponseError(`${request}: unexpected response (${where})`, status, { request, reason: `unexpected response (${where})` });
  };
  const notJson = (request: string, status: number, err: unknown) =>
    new WbResponseError(`${request}: the body is not JSON`, status, { cause: err, request, reason: "the body is not JSON" });

  async function* pageSlices<F extends WbFeed>(feed: F, dateFrom: WbDateTime, sliceRows: number): AsyncGenerator<WbFeedRow[F][]> {
    const path = feedPaths[feed];
    const request = `GET ${path}`;
    const res = await send(path, { dateFrom, flag: "0" });
    const schema = feedRows[feed];
    let seen = 0;
    // Parsed in pieces of at most PARSE_ROWS, handed out `sliceRows` at a time.
    const slices = readJsonArraySlices(res.body, Math.min(sliceRows, PARSE_ROWS));
    const pending: WbFeedRow[F][] = [];
    for (;;) {
      let next: IteratorResult<unknown[]>;
      try {
        next = await slices.next();
      } catch (err) {
        if (err instanceof JsonArrayStreamError) {
          if (err.notJson) throw notJson(request, res.status, err);
          throw badShape(request, res.status, {
            code: "invalid_type",
            expected: "array",
            path: [],
            message: err.message,
            input: undefined,
          });
        }
        throw unavailable(request, err);
      }
      if (next.done) {
        if (pending.length > 0) yield pending;
        return;
      }
      const parsed = schema.safeParse(next.value);
      if (!parsed.success) throw badShape(request, res.status, parsed.error.issues[0], seen);
      seen += parsed.data.length;
      for (const row of withTextDefaults(feed, parsed.data)) pending.push(row);
      while (pending.length >= sliceRows) yield pending.splice(0, sliceRows);
    }
  }

  async function page<F extends WbFeed>(feed: F, dateFrom: WbDateTime): Promise<WbFeedRow[F][]> {
    const rows: WbFeedRow[F][] = [];
    for await (const slice of pageSlices(feed, dateFrom, 10_000)) for (const row of slice) rows.push(row);
    return rows;
  }

  return {
    async ping() {
      const request = "GET /ping";
      const res = await send("/ping", {});
      let body: unknown;
      try {
        body = await res.json();
      } catch (err) {
        throw notJson(request, res.status, err);
      }
      const parsed = pingAnswer.safeParse(body);
      if (!parsed.success) throw badShape(request, res.status, parsed.error.issues[0]);
      return parsed.data;
    },
    orders: (dateFrom) => page("orders", dateFrom),
    sales: (dateFrom) => page("sales", dateFrom),
    stocks: (dateFrom) => page("stocks", dateFrom),
    pageSlices,
  };
}

/** Seconds to wait after a 429: `X-Ratelimit-Retry`, else `Retry-After` (seconds or HTTP date), else 60. */
export function retryAfterSeconds(headers: Headers, now = Date.now()): number {
  const wb = Number(headers.get("X-Ratelimit-Retry"));
  if (headers.get("X-Ratelimit-Retry") !== null && Number.isFinite(wb) && wb >= 0) return Math.ceil(wb);
  const retryAfter = headers.get("Retry-After");
  if (retryAfter !== null) {
    const seconds = Number(retryAfter);
    if (retryAfter.trim() !== "" && Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds);
    const at = Date.parse(retryAfter);
    if (!Number.isNaN(at)) return Math.max(0, Math.ceil((at - now) / 1000));
  }
  return 60;
}

/** WB's error body says what went wrong in `title`/`detail`; keep a short, token-free summary. */
async function errorFor(request: string, res: Response): Promise<WbApiError> {
  let summary = "";
  try {
    const body = (await res.json()) as { title?: unknown; detail?: unknown };
    summary = [body.title, body.detail]
      .filter((v) => typeof v === "string" && v !== "")
      .join(": ")
      .slice(0, 300);
  } catch {
    // Not JSON (a proxy's HTML page): the status says enough.
  }
  const message = `${request}: ${res.status}${summary ? ` ${summary}` : ""}`;
  const options = { request, ...(summary ? { reason: summary } : {}) };
  if (res.status === 429) return new WbRateLimitError(message, retryAfterSeconds(res.headers), options);
  if (res.status === 401 || res.status === 403) return new WbAuthError(message, res.status, options);
  if (res.status >= 500) return new WbUnavailableError(message, res.status, options);
  return new WbResponseError(message, res.status, options);
}
