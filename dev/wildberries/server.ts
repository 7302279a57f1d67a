/**
 * Local double of the Wildberries statistics API (statistics-api.wildberries.ru): the orders,
 * sales and stocks feeds over generated data sets (`./dataset.ts`), one per token, and the host's
 * connectivity check, with WB's authorization, paging, rate limits and error bodies.
 *
 * Connectivity check: `GET /ping` → 200 `{"TS": "2026-11-20T14:03:11+03:00", "Status": "OK"}` for a
 * token the double accepts, WB's 401 otherwise (WB: the same check on every API host).
 *
 * Feeds: `GET /api/v1/supplier/orders`, `/api/v1/supplier/sales`, `/api/v1/supplier/stocks`.
 * - `Authorization: <token>` or `Authorization: Bearer <token>`; missing, unknown or revoked → 401.
 *   Tokens are plain strings (the local demo's) or JWT-shaped like WB's (`./tokens.ts`: `exp` and
 *   the category bitmask `s`); a JWT-shaped token past its `exp` → 401 `token expired`, one without
 *   the Statistics category → 401 `token scope not allowed`.
 * - `dateFrom` (required): RFC 3339 date or date-time (`2026-11-20`, `2026-11-20T14:03:11`,
 *   fractions allowed, `Z` or `±hh:mm` allowed); without an offset it is Moscow time. Bad → 400.
 * - `flag` (orders, sales; default 0):
 *   - `0`: rows with `lastChangeDate >= dateFrom`, sorted by `lastChangeDate` ascending, at most
 *     `rowLimit` rows (WB: 80,000), found by binary search and streamed in chunks of 64 rows
 *     (an 80,000-row page of the `large` data set, 60 MB, costs ~0.25 s of this process' CPU);
 *   - `1`: every row whose `date` falls on the calendar day written in `dateFrom` (the time and the
 *     offset are ignored), sorted by `lastChangeDate`, without a row limit (as WB).
 *   Stocks ignore `flag` and always answer like `flag=0` (WB: `dateFrom=2019-06-20` for everything).
 * - Paging with `flag=0` (the protocol a sync client follows): ask with `dateFrom = D`; if the page
 *   has fewer than `rowLimit` rows, it was the last; otherwise ask again with `dateFrom` = the last
 *   row's `lastChangeDate`, verbatim. The boundary is inclusive, so the first row of the next page
 *   repeats the last row of the previous one: deduplicate by `srid` (orders), `saleID` (sales),
 *   `nmId` + `barcode` + `warehouseName` (stocks). Generated data sets have distinct
 *   `lastChangeDate` values within each feed, so every page makes progress and the loop ends.
 * - Rate limit per token and feed (token bucket: `requests` burst, refilled evenly over `perMs`):
 *   over it → 429 with `X-Ratelimit-Retry` (seconds to wait), `X-Ratelimit-Limit`,
 *   `X-Ratelimit-Reset` (seconds until the bucket is full) and `X-Ratelimit-Remaining`.
 * - Errors: WB's gateway body (`title`, `detail`, `code`, `requestId`, `origin`, `status`,
 *   `statusText`, `timestamp`), `Content-Type: application/json; charset=utf-8` like the rows.
 *
 * Order of checks: path → method → token (401) → injected fault → rate limit (429) → query (400).
 *
 * Test and control endpoints (no token, not counted):
 * - `GET /__stats` → `{"requests": N, "byPath": {"/api/v1/supplier/orders": N}}`, `POST /__stats/reset`;
 * - `POST /__control/tokens` `{token?, categories?, expiresAt?, readOnly?, seed?, orders?, products?,
 *   days?, warehouses?, anchor?, rowLimit?}` → 201 `{token}`: registers (or replaces) a token with its
 *   own data set, generated on first use and cached. Without `token` the double issues a JWT-shaped
 *   one with `categories` (default `["statistics"]`) and `expiresAt` (default 180 days on).
 *   `rowLimit` overrides the double's page size for this token only (e.g. WB's 80,000 while the
 *   others page by 5,000);
 * - `POST /__control/tokens/revoke` `{token}` → 200: the token is refused from now on (401
 *   `token withdrawn`), as WB does with a token the seller deleted; 404 for an unknown token;
 * - `POST /__control/rows` `{token, feed: "orders"|"sales"|"stocks", index?, set, copy?}` → 200 `{row}`:
 *   overwrites fields of one row of the token's data set (default: the feed's newest), e.g. a value
 *   WB could send but a column cannot hold, or a late change of an old row (a cancellation); with
 *   `copy: true` the row is left alone and a copy of it with `set` applied is added (a return of an
 *   old sale); the feed is re-sorted by `lastChangeDate`;
 * - `POST /__control/faults` `{path, status?, body?, hold?, times, after?, retryAfterSeconds?}` → 201:
 *   after `after` more requests to `path` (a feed, `/ping`, or `*` for every one) pass, the next
 *   `times` fail: `status` 401 or 403 (WB's gateway refusing the token), 429, 500; or 200 with a
 *   `body` WB did not document: `not-json` (an HTML page, as a proxy in front of WB answers) or
 *   `renamed-field` (the rows with `nmId` renamed `nmID`: a changed response shape) or `reversed`
 *   (the page's rows newest first: a page out of `lastChangeDate` order). `hold: true`
 *   (no `status`) instead holds each of those requests unanswered until `POST
 *   /__control/faults/release` (→ `{released: N}`), then serves it normally: a request in flight at
 *   a moment the test chooses. `GET /__control/faults` → `{faults: N, held: N}`;
 *   `DELETE /__control/faults` clears them (and releases held requests);
 * - `POST /__control/rate-limit` `{requests, perMs}` sets the limit (buckets reset),
 *   `DELETE /__control/rate-limit` removes it.
 *
 * @see https://dev.wildberries.ru/openapi/reports (orders, sales, stocks; dateFrom, flag)
 * @see https://dev.wildberries.ru/openapi/api-information (401/429 bodies, X-Ratelimit-* headers, `GET /ping`)
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { z } from "zod";
import { wbTokenCategories } from "../../src/integrations/wildberries/token";
import type { WbErrorBody, WbOrder, WbSale, WbStatisticsPath, WbStock } from "../../src/integrations/wildberries/types";
import { listenOnLoopback, runAsScript } from "../serve";
import { fromWbDateTime, generateWbDataset, toWbDateTime, type WbDataset, type WbDatasetOptions, wbDatasetPreset } from "./dataset";
import { issueWbToken, wbTokenClaims } from "./tokens";

/** Token bucket: `requests` at once, refilled evenly over `perMs` milliseconds. */
export interface WbRateLimit {
  requests: number;
  perMs: number;
}

/** An injected failure; see `POST /__control/faults`. */
export interface WbFault {
  /** Feed path (`/api/v1/supplier/orders`), `/ping`, or `*` for every one of them. */
  path: string;
  /** The answer instead of the rows; 200 needs `body`. Absent only with `hold`. */
  status?: 200 | 401 | 403 | 429 | 500;
  /** With status 200: `not-json` (an HTML page), `renamed-field` (rows with `nmId` renamed `nmID`) or `reversed` (the page newest first). */
  body?: "not-json" | "renamed-field" | "reversed";
  /** Hold the request until `POST /__control/faults/release`, then serve it normally. */
  hold?: boolean;
  /** How many requests fail. */
  times: number;
  /**
   * Requests to let through first, counted from injection: authenticated requests to `path` that
   * reach the fault check (they may still fail later on the rate limit or a bad query). Default 0.
   */
  after?: number;
  /** `X-Ratelimit-Retry` of an injected 429, seconds. Default 1. */
  retryAfterSeconds?: number;
}

/** Options of {@link startWbStatisticsDouble}. */
export interface WbStatisticsDoubleOptions {
  /** Port to listen on; default 0 (a free port). */
  port?: number;
  /** Interface to listen on; default `127.0.0.1`. */
  host?: string;
  /** Token → a ready data set, or the options to generate one on first use. */
  tokens?: Record<string, WbDataset | WbDatasetOptions>;
  /** Rows per `flag=0` page; default 80,000 like WB. At least 2. */
  rowLimit?: number;
  /** Rate limit per token and feed; default none. WB's statistics API: 1 per minute. */
  rateLimit?: WbRateLimit;
  /** Anchor of data sets generated from options without one; default: the time of generation. */
  anchor?: Date;
}

/** Request counts since start or the last reset; `byPath` keys are URL paths without the query. */
export interface WbRequestStats {
  requests: number;
  byPath: Record<string, number>;
}

/** A running double. */
export interface WbStatisticsDouble {
  /** Base URL, e.g. `http://127.0.0.1:40123`; feeds are under `/api/v1/supplier/…`. */
  url: string;
  stats(): WbRequestStats;
  resetStats(): void;
  /**
   * Registers or replaces a token; a data set from options is generated on first use.
   * `rowLimit` (≥ 2) overrides the double's page size for this token only.
   * @throws RangeError when `rowLimit` is below 2.
   */
  addToken(token: string, source: WbDataset | WbDatasetOptions, rowLimit?: number): void;
  /** Refuses `token` from now on (401 `token withdrawn`). @returns false for an unknown token. */
  revokeToken(token: string): boolean;
  /** The token's data set (generated now if needed), or `undefined` for an unknown token. */
  dataset(token: string): WbDataset | undefined;
  /**
   * Drops the token's generated data set from memory; the next request or {@link dataset} call
   * generates it again, the same rows (its seed and anchor are kept). For a process that has other
   * work to time: the `large` set holds ~2 GB of objects, whose garbage collections pause it.
   * @returns false when there is nothing to drop (unknown token, not generated yet, or a data set
   * registered as such rather than from options).
   */
  releaseDataset(token: string): boolean;
  injectFault(fault: WbFault): void;
  clearFaults(): void;
  /** Sets (or with `undefined` removes) the rate limit; resets every bucket. */
  setRateLimit(rateLimit: WbRateLimit | undefined): void;
  close(): Promise<void>;
}

const FEEDS: readonly WbStatisticsPath[] = ["/api/v1/supplier/orders", "/api/v1/supplier/sales", "/api/v1/supplier/stocks"];

/** WB's connectivity check. */
const PING = "/ping";

const JSON_TYPE = "application/json; charset=utf-8";

/** A feed prepared for queries: rows by `lastChangeDate` ascending, with that time in ms. */
interface Feed<Row> {
  rows: Row[];
  changedMs: Float64Array;
}

interface TokenData {
  dataset: WbDataset;
  orders: Feed<WbOrder>;
  sales: Feed<WbSale>;
  stocks: Feed<WbStock>;
}

interface TokenEntry {
  source: WbDataset | WbDatasetOptions;
  /** This token's page size, if not the double's. */
  rowLimit?: number;
  data?: TokenData;
  /** Refused from now on (the seller deleted it). */
  revoked?: boolean;
}

interface Bucket {
  tokens: number;
  updatedMs: number;
}

interface ActiveFault extends WbFault {
  passLeft: number;
}

class WbHttpError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly origin: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
  }
}

const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  429: "Too Many Requests",
  500: "Internal Server Error",
};

const hex = (bytes: number): string => randomBytes(bytes).toString("hex");

function errorBody(error: WbHttpError): WbErrorBody {
  return {
    title: error.title,
    detail: error.detail,
    code: `${hex(4)}-${hex(6)}-[WB-DOUBLE]`,
    requestId: hex(16),
    origin: error.origin,
    status: error.status,
    statusText: STATUS_TEXT[error.status] ?? "Error",
    timestamp: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
  };
}

function isDataset(source: WbDataset | WbDatasetOptions): source is WbDataset {
  return Array.isArray((source as Partial<WbDataset>).orders);
}

/**
 * A feed of `rows` sorted by `lastChangeDate` (stable). Generated feeds come sorted: then this is
 * one pass that parses the times (≈ 0.5 s for the `large` data set's 1.9 million rows), no sort.
 */
function feed<Row extends { lastChangeDate: string }>(rows: readonly Row[]): Feed<Row> {
  const changedMs = new Float64Array(rows.length);
  let sorted = true;
  rows.forEach((row, i) => {
    changedMs[i] = fromWbDateTime(row.lastChangeDate);
    if (i > 0 && (changedMs[i] ?? 0) < (changedMs[i - 1] ?? 0)) sorted = false;
  });
  if (sorted) return { rows: rows.slice(), changedMs };
  const order = Array.from(rows, (_, i) => i).sort((a, b) => (changedMs[a] ?? 0) - (changedMs[b] ?? 0) || a - b);
  return {
    rows: order.map((i) => rows[i] as Row),
    changedMs: Float64Array.from(order, (i) => changedMs[i] ?? 0),
  };
}

/**
 * Rows per chunk of a streamed page: 64 rows are ~45,000 characters of JSON, a string small enough
 * for V8's young generation, which frees it within milliseconds. Chunks of thousands of rows land in
 * the large-object space instead, which only a full GC frees: serving the `large` data set once
 * then left ~1.5 GB of dead JSON in this process, against none now (and 30 % less CPU).
 */
const ROWS_PER_CHUNK = 64;

/**
 * Writes `rows` as one JSON array, `ROWS_PER_CHUNK` rows at a time, waiting for the socket to drain
 * between chunks. The bytes are exactly `JSON.stringify(rows)`'s; a client that hangs up stops it.
 */
async function streamRows(res: ServerResponse, rows: readonly object[], headers: Record<string, string>): Promise<void> {
  res.writeHead(200, { "Content-Type": JSON_TYPE, ...headers });
  if (rows.length === 0) {
    res.end("[]");
    return;
  }
  for (let i = 0; i < rows.length; i += ROWS_PER_CHUNK) {
    const chunk = JSON.stringify(rows.slice(i, i + ROWS_PER_CHUNK));
    // Each chunk is `[a,b]`: the first keeps its `[`, the others continue the array after a comma.
    const ready = res.write(i === 0 ? chunk.slice(0, -1) : `,${chunk.slice(1, -1)}`);
    if (!ready) await drained(res);
    if (res.destroyed) return;
  }
  res.end("]");
}

/** Resolves when `res` can take more data, or when its connection closed. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

/** Index of the first value >= `ms`. */
function lowerBound(sorted: Float64Array, ms: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] ?? 0) < ms) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A parsed `dateFrom`: the instant, and the calendar day as written (for `flag=1`). */
interface DateFrom {
  ms: number;
  day: string;
}

/**
 * Parses WB's `dateFrom`: an RFC 3339 date or date-time, Moscow time when it has no offset.
 * @returns `undefined` when the text is not a valid date.
 */
export function parseDateFrom(text: string): DateFrom | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|z|[+-]\d{2}:?\d{2})?)?$/.exec(text);
  if (match === null) return undefined;
  const [, y, mo, d, h = "00", mi = "00", s = "00", fraction, offset] = match;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  const utc = Date.UTC(year, month - 1, day, hour, minute, second);
  const check = new Date(utc);
  if (
    check.getUTCFullYear() !== year ||
    check.getUTCMonth() !== month - 1 ||
    check.getUTCDate() !== day ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  ) {
    return undefined;
  }
  let offsetMinutes = 180;
  if (offset !== undefined) {
    if (offset === "Z" || offset === "z") offsetMinutes = 0;
    else {
      const digits = offset.slice(1).replace(":", "");
      const oh = Number(digits.slice(0, 2));
      const om = Number(digits.slice(2));
      if (oh > 23 || om > 59) return undefined;
      offsetMinutes = (offset.startsWith("-") ? -1 : 1) * (oh * 60 + om);
    }
  }
  const fractionMs = fraction === undefined ? 0 : Number(`0.${fraction}`) * 1000;
  return { ms: utc - offsetMinutes * 60_000 + fractionMs, day: `${y}-${mo}-${d}` };
}

const controlTokenSchema = z.object({
  /** Absent: the double issues a JWT-shaped token. */
  token: z.string().min(1).optional(),
  categories: z.array(z.enum(wbTokenCategories)).optional(),
  /** RFC 3339 instant: `exp` of an issued token. */
  expiresAt: z.string().optional(),
  readOnly: z.boolean().optional(),
  seed: z.number().finite().optional(),
  orders: z.number().int().min(0).optional(),
  products: z.number().int().min(1).optional(),
  days: z.number().int().min(1).optional(),
  warehouses: z.number().int().min(1).optional(),
  /** RFC 3339 instant. */
  anchor: z.string().optional(),
  /** Page size of this token's feeds (WB: 80,000). */
  rowLimit: z.number().int().min(2).optional(),
});

const revokeSchema = z.object({ token: z.string().min(1) });

const rowPatchSchema = z.object({
  token: z.string().min(1),
  feed: z.enum(["orders", "sales", "stocks"]),
  /** Index in the feed as served (by `lastChangeDate`); default: the last row. */
  index: z.number().int().min(0).optional(),
  set: z.record(z.string(), z.unknown()),
  /** Add a copy of the row with `set` applied, instead of changing the row. */
  copy: z.boolean().optional(),
});

const faultSchema = z
  .object({
    path: z.string().min(1),
    status: z.union([z.literal(200), z.literal(401), z.literal(403), z.literal(429), z.literal(500)]).optional(),
    body: z.enum(["not-json", "renamed-field", "reversed"]).optional(),
    hold: z.boolean().optional(),
    times: z.number().int().min(1),
    after: z.number().int().min(0).optional(),
    retryAfterSeconds: z.number().int().min(0).optional(),
  })
  .refine((f) => (f.hold === true) !== (f.status !== undefined), "give either status or hold: true")
  .refine((f) => (f.status === 200) === (f.body !== undefined), "status 200 needs a body, and only 200 takes one");

const rateLimitSchema = z.object({
  requests: z.number().int().min(1),
  perMs: z.number().int().min(1),
});

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  try {
    return text === "" ? {} : (JSON.parse(text) as unknown);
  } catch {
    throw new WbHttpError(400, "bad request", "body is not JSON", "wb-double-control");
  }
}

/** A control body's RFC 3339 instant, or a 400. */
function controlDate(field: string, text: string | undefined): Date | undefined {
  if (text === undefined) return undefined;
  const date = new Date(text);
  if (Number.isNaN(date.getTime()))
    throw new WbHttpError(400, "bad request", `${field}: invalid date ${JSON.stringify(text)}`, "wb-double-control");
  return date;
}

function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; ");
    throw new WbHttpError(400, "bad request", detail, "wb-double-control");
  }
  return parsed.data;
}

/**
 * Starts the double on `host:port` (default `127.0.0.1:0`).
 *
 * @throws RangeError when `rowLimit` is below 2 (paging with an inclusive boundary needs 2).
 * @see the module comment for the protocol and the paging semantics.
 */
export async function startWbStatisticsDouble(options: WbStatisticsDoubleOptions = {}): Promise<WbStatisticsDouble> {
  const rowLimit = options.rowLimit ?? 80_000;
  if (!Number.isInteger(rowLimit) || rowLimit < 2) {
    throw new RangeError(`rowLimit must be an integer >= 2, got ${rowLimit}`);
  }
  const tokens = new Map<string, TokenEntry>();
  for (const [token, source] of Object.entries(options.tokens ?? {})) tokens.set(token, { source });
  let rateLimit = options.rateLimit;
  const buckets = new Map<string, Bucket>();
  let faults: ActiveFault[] = [];
  /** Requests held by a `hold` fault: each resolves to let its request go on. */
  let held: Array<() => void> = [];
  const releaseHeld = (): number => {
    const released = held.length;
    for (const release of held) release();
    held = [];
    return released;
  };
  let stats: WbRequestStats = { requests: 0, byPath: {} };

  const load = (entry: TokenEntry): TokenData => {
    if (entry.data === undefined) {
      const { source } = entry;
      const dataset = isDataset(source) ? source : generateWbDataset({ ...source, anchor: source.anchor ?? options.anchor ?? new Date() });
      entry.data = {
        dataset,
        orders: feed(dataset.orders),
        sales: feed(dataset.sales),
        stocks: feed(dataset.stocks),
      };
    }
    return entry.data;
  };

  const revokeToken = (token: string): boolean => {
    const entry = tokens.get(token);
    if (entry === undefined) return false;
    entry.revoked = true;
    return true;
  };

  const injectFault = (fault: WbFault): void => {
    faults.push({ ...fault, passLeft: fault.after ?? 0 });
  };

  /**
   * Applies the injected fault due for this request, if any: throws its failure, waits while it
   * holds the request, or returns the malformed body a 200 must carry instead of the rows.
   */
  const applyFaults = async (path: string): Promise<WbFault["body"]> => {
    for (const fault of faults) {
      if (fault.path !== path && fault.path !== "*") continue;
      if (fault.passLeft > 0) {
        fault.passLeft--;
        continue;
      }
      fault.times--;
      faults = faults.filter((f) => f.times > 0);
      if (fault.hold) {
        await new Promise<void>((resolve) => held.push(resolve));
        return undefined;
      }
      if (fault.status === 200) return fault.body;
      if (fault.status === 401 || fault.status === 403) {
        throw new WbHttpError(fault.status, fault.status === 401 ? "unauthorized" : "forbidden", "injected fault", "s2s-api-auth-stat");
      }
      if (fault.status === 429) {
        const retry = fault.retryAfterSeconds ?? 1;
        throw new WbHttpError(429, "too many requests", "Limited by injected fault", "s2s-api-auth-stat", {
          "X-Ratelimit-Retry": String(retry),
          "X-Ratelimit-Limit": String(rateLimit?.requests ?? 1),
          "X-Ratelimit-Reset": String(retry),
          "X-Ratelimit-Remaining": "0",
        });
      }
      throw new WbHttpError(500, "internal server error", "injected fault", "api-statistics");
    }
    return undefined;
  };

  /** Takes a token from the bucket or throws 429; returns headers for a success. */
  const applyRateLimit = (key: string): Record<string, string> => {
    if (rateLimit === undefined) return {};
    const { requests, perMs } = rateLimit;
    const intervalMs = perMs / requests;
    const now = Date.now();
    const bucket = buckets.get(key) ?? { tokens: requests, updatedMs: now };
    bucket.tokens = Math.min(requests, bucket.tokens + (now - bucket.updatedMs) / intervalMs);
    bucket.updatedMs = now;
    buckets.set(key, bucket);
    if (bucket.tokens < 1) {
      const retry = Math.max(1, Math.ceil(((1 - bucket.tokens) * intervalMs) / 1000));
      const reset = Math.max(1, Math.ceil(((requests - bucket.tokens) * intervalMs) / 1000));
      throw new WbHttpError(429, "too many requests", `Limited by ${requests} per ${perMs} ms`, "s2s-api-auth-stat", {
        "X-Ratelimit-Retry": String(retry),
        "X-Ratelimit-Limit": String(requests),
        "X-Ratelimit-Reset": String(reset),
        "X-Ratelimit-Remaining": "0",
      });
    }
    bucket.tokens -= 1;
    return {
      "X-Ratelimit-Limit": String(requests),
      "X-Ratelimit-Remaining": String(Math.floor(bucket.tokens)),
    };
  };

  const send = (res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) => {
    res.writeHead(status, { "Content-Type": JSON_TYPE, ...headers });
    res.end(body);
  };

  /**
   * The method check, then the token: missing, unknown, revoked, expired (a JWT-shaped token's
   * `exp`) or without the Statistics category (its `s`) → 401, as WB's gateway answers.
   * @returns the token and its entry.
   */
  const authenticate = (req: IncomingMessage, path: string): { token: string; entry: TokenEntry } => {
    if (req.method !== "GET") {
      throw new WbHttpError(405, "method not allowed", `${req.method} ${path}`, "api-statistics", { Allow: "GET" });
    }
    const header = req.headers.authorization?.trim() ?? "";
    if (header === "") {
      throw new WbHttpError(401, "unauthorized", "empty Authorization header", "s2s-api-auth-stat");
    }
    const token = /^bearer\s+/i.test(header) ? header.replace(/^bearer\s+/i, "") : header;
    const entry = tokens.get(token);
    if (entry === undefined) {
      throw new WbHttpError(401, "unauthorized", "token is not valid: unknown token", "s2s-api-auth-stat");
    }
    if (entry.revoked) throw new WbHttpError(401, "unauthorized", "token is not valid: token withdrawn", "s2s-api-auth-stat");
    const claims = wbTokenClaims(token);
    if (claims && claims.expiresAt.getTime() <= Date.now()) {
      throw new WbHttpError(401, "unauthorized", "token is not valid: token expired", "s2s-api-auth-stat");
    }
    if (claims && !claims.categories.includes("statistics")) {
      throw new WbHttpError(401, "unauthorized", "token scope not allowed", "s2s-api-auth-stat");
    }
    return { token, entry };
  };

  /** `GET /ping`: WB's connectivity check, answered with the current Moscow time like WB's `TS`. */
  const servePing = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const { token } = authenticate(req, PING);
    await applyFaults(PING);
    const limitHeaders = applyRateLimit(`${token} ${PING}`);
    send(res, 200, JSON.stringify({ TS: `${toWbDateTime(Date.now())}+03:00`, Status: "OK" }), limitHeaders);
  };

  const serveFeed = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const path = url.pathname as WbStatisticsPath;
    const { token, entry } = authenticate(req, path);
    const malformed = await applyFaults(path);
    const limitHeaders = applyRateLimit(`${token} ${path}`);

    const dateFromText = url.searchParams.get("dateFrom");
    if (dateFromText === null || dateFromText === "") {
      throw new WbHttpError(400, "bad request", "dateFrom: field is required", "api-statistics");
    }
    const dateFrom = parseDateFrom(dateFromText);
    if (dateFrom === undefined) {
      throw new WbHttpError(400, "bad request", `dateFrom: invalid date ${JSON.stringify(dateFromText)}`, "api-statistics");
    }
    const flagText = url.searchParams.get("flag") ?? "0";
    if (flagText !== "0" && flagText !== "1") {
      throw new WbHttpError(400, "bad request", `flag: must be 0 or 1, got ${JSON.stringify(flagText)}`, "api-statistics");
    }

    const data = load(entry);
    const limit = entry.rowLimit ?? rowLimit;
    let rows: readonly object[];
    if (path === "/api/v1/supplier/stocks") {
      rows = page(data.stocks, dateFrom.ms, limit);
    } else {
      const source = (path === "/api/v1/supplier/orders" ? data.orders : data.sales) as Feed<WbOrder | WbSale>;
      rows = flagText === "1" ? source.rows.filter((row) => row.date.startsWith(dateFrom.day)) : page(source, dateFrom.ms, limit);
    }
    if (malformed === "not-json") {
      return send(res, 200, "<html><body><h1>502 Bad Gateway</h1></body></html>", { ...limitHeaders, "Content-Type": "text/html" });
    }
    if (malformed === "renamed-field") rows = rows.map(({ nmId, ...rest }: { nmId?: unknown }) => ({ ...rest, nmID: nmId }));
    if (malformed === "reversed") rows = [...rows].reverse();
    await streamRows(res, rows, limitHeaders);
  };

  const serveControl = async (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> => {
    const route = `${req.method} ${path}`;
    if (route === "GET /__stats") return send(res, 200, JSON.stringify(stats));
    if (route === "POST /__stats/reset") {
      stats = { requests: 0, byPath: {} };
      return send(res, 200, JSON.stringify(stats));
    }
    if (route === "POST /__control/tokens") {
      const {
        token: given,
        anchor,
        categories,
        expiresAt,
        readOnly,
        rowLimit: tokenRowLimit,
        ...rest
      } = parseBody(controlTokenSchema, await readJson(req));
      const anchorDate = controlDate("anchor", anchor);
      const expiry = controlDate("expiresAt", expiresAt);
      const token = given ?? issueWbToken({ categories, expiresAt: expiry, readOnly });
      tokens.set(token, {
        source: { ...rest, ...(anchorDate ? { anchor: anchorDate } : {}) },
        ...(tokenRowLimit === undefined ? {} : { rowLimit: tokenRowLimit }),
      });
      return send(res, 201, JSON.stringify({ token }));
    }
    if (route === "POST /__control/tokens/revoke") {
      const { token } = parseBody(revokeSchema, await readJson(req));
      if (!revokeToken(token)) throw new WbHttpError(404, "not found", "unknown token", "wb-double-control");
      return send(res, 200, JSON.stringify({ revoked: true }));
    }
    if (route === "POST /__control/rows") {
      const { token, feed: name, index, set, copy } = parseBody(rowPatchSchema, await readJson(req));
      const entry = tokens.get(token);
      if (entry === undefined) throw new WbHttpError(404, "not found", "unknown token", "wb-double-control");
      const data = load(entry);
      const rows = data[name].rows as object[];
      const at = index ?? rows.length - 1;
      const row = rows[at];
      if (row === undefined) throw new WbHttpError(400, "bad request", `index: ${name} has ${rows.length} rows`, "wb-double-control");
      const changed = copy ? { ...row, ...set } : Object.assign(row, set);
      if (copy) (data.dataset[name] as object[]).push(changed);
      // The row objects are the data set's own: re-sort the feed, since `lastChangeDate` may have changed.
      if (name === "orders") data.orders = feed(data.dataset.orders);
      else if (name === "sales") data.sales = feed(data.dataset.sales);
      else data.stocks = feed(data.dataset.stocks);
      return send(res, 200, JSON.stringify({ row: changed }));
    }
    if (route === "POST /__control/faults") {
      injectFault(parseBody(faultSchema, await readJson(req)));
      return send(res, 201, JSON.stringify({ faults: faults.length }));
    }
    if (route === "GET /__control/faults") return send(res, 200, JSON.stringify({ faults: faults.length, held: held.length }));
    if (route === "POST /__control/faults/release") return send(res, 200, JSON.stringify({ released: releaseHeld() }));
    if (route === "DELETE /__control/faults") {
      faults = [];
      releaseHeld();
      return send(res, 200, JSON.stringify({ faults: 0 }));
    }
    if (route === "POST /__control/rate-limit") {
      rateLimit = parseBody(rateLimitSchema, await readJson(req));
      buckets.clear();
      return send(res, 200, JSON.stringify({ rateLimit }));
    }
    if (route === "DELETE /__control/rate-limit") {
      rateLimit = undefined;
      buckets.clear();
      return send(res, 200, JSON.stringify({ rateLimit: null }));
    }
    throw new WbHttpError(404, "not found", route, "wb-double-control");
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const path = url.pathname;
    if (path === "/__stats" || path.startsWith("/__stats/") || path.startsWith("/__control/")) {
      return serveControl(req, res, path);
    }
    stats.requests++;
    stats.byPath[path] = (stats.byPath[path] ?? 0) + 1;
    if (path === PING) return servePing(req, res);
    if (!(FEEDS as readonly string[]).includes(path)) {
      throw new WbHttpError(404, "not found", `no route ${path}`, "api-statistics");
    }
    await serveFeed(req, res, url);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      const wbError =
        error instanceof WbHttpError
          ? error
          : new WbHttpError(500, "internal server error", error instanceof Error ? error.message : String(error), "wb-double");
      if (res.headersSent) {
        res.destroy();
        return;
      }
      send(res, wbError.status, JSON.stringify(errorBody(wbError)), wbError.headers);
    });
  });
  // Node closes an idle keep-alive connection after 5 s; a client still reading a 100,000-row page
  // (tens of MB) may reuse it just then and get ECONNRESET. WB's gateway keeps them longer.
  server.keepAliveTimeout = 65_000;
  const { url } = await listenOnLoopback(server, options.port, options.host);

  let closing: Promise<void> | undefined;
  return {
    url,
    stats: () => ({ requests: stats.requests, byPath: { ...stats.byPath } }),
    resetStats: () => {
      stats = { requests: 0, byPath: {} };
    },
    addToken: (token, source, tokenRowLimit) => {
      if (tokenRowLimit !== undefined && (!Number.isInteger(tokenRowLimit) || tokenRowLimit < 2)) {
        throw new RangeError(`rowLimit must be an integer >= 2, got ${tokenRowLimit}`);
      }
      tokens.set(token, { source, ...(tokenRowLimit === undefined ? {} : { rowLimit: tokenRowLimit }) });
    },
    revokeToken,
    dataset: (token) => {
      const entry = tokens.get(token);
      return entry === undefined ? undefined : load(entry).dataset;
    },
    releaseDataset: (token) => {
      const entry = tokens.get(token);
      if (entry?.data === undefined || isDataset(entry.source)) return false;
      const { seed, anchor } = entry.data.dataset;
      entry.source = { ...entry.source, seed, anchor: new Date(anchor) };
      entry.data = undefined;
      return true;
    },
    injectFault,
    clearFaults: () => {
      faults = [];
      releaseHeld();
    },
    setRateLimit: (next) => {
      rateLimit = next;
      buckets.clear();
    },
    close() {
      releaseHeld();
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/** Rows with `lastChangeDate >= fromMs`, at most `limit`. */
function page<Row>(source: Feed<Row>, fromMs: number, limit: number): Row[] {
  const start = lowerBound(source.changedMs, fromMs);
  return source.rows.slice(start, start + limit);
}

/**
 * `npx tsx dev/wildberries/server.ts`: runs the double until SIGINT/SIGTERM.
 * Env: `WB_TOKEN` (default `dev-wb-token`), `WB_DATASET` (its data set: `demo`, the default, or
 * `large`; see `WB_DATASET_PRESETS`), `WB_PORT` (default 8083), `WB_ROW_LIMIT` (default 80000).
 */
async function main(): Promise<void> {
  const token = process.env.WB_TOKEN || "dev-wb-token";
  const preset = wbDatasetPreset(process.env.WB_DATASET);
  const handle = await startWbStatisticsDouble({
    tokens: { [token]: preset.options },
    port: Number(process.env.WB_PORT ?? 8083),
    rowLimit: Number(process.env.WB_ROW_LIMIT ?? 80_000),
  });
  handle.dataset(token); // generate now, not on the first request
  process.stdout.write(`wildberries statistics double: ${handle.url} (token ${token}, data set ${preset.name})\n`);
  const stop = () => void handle.close().then(() => process.exit(0));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

runAsScript(import.meta.url, main);
