/**
 * Local Neon serverless-driver HTTP endpoint: `POST /sql` in front of a {@link SqlEngine}
 * (embedded PGlite or a real Postgres), so `@neondatabase/serverless` `neon()` and
 * `drizzle-orm/neon-http` run unchanged against it with `neonConfig.fetchEndpoint` pointed here.
 *
 * Protocol, as Neon's proxy implements it (`proxy/src/serverless/sql_over_http.rs`):
 * - request headers: `Neon-Connection-String` (required, a postgres:// URL; which database it names
 *   is not checked: the engine is the database), `Neon-Raw-Text-Output: true` (values as Postgres
 *   text), `Neon-Array-Mode: true` (rows as arrays), and for batches `Neon-Batch-Isolation-Level`
 *   (`ReadUncommitted` | `ReadCommitted` | `RepeatableRead` | `Serializable`),
 *   `Neon-Batch-Read-Only: true`, `Neon-Batch-Deferrable: true`. `Authorization` is ignored.
 * - body: `{query, params?, arrayMode?}` or `{queries: [{query, params?, arrayMode?}, ...]}`;
 *   params are JSON values turned into Postgres text (strings as is, arrays as `{...}` literals).
 * - 200 answer: `{fields: [{name, dataTypeID, tableID, columnID, dataTypeSize, dataTypeModifier,
 *   format}], command, rowCount, rows, rowAsArray}`, or `{results: [...]}` for a batch, which runs
 *   in one transaction (all or nothing).
 * - errors: HTTP 400 with `{message, code, detail, hint, position, internalPosition,
 *   internalQuery, severity, where, table, column, schema, dataType, constraint, file, line,
 *   routine}` (absent fields `null`), which the driver turns into `NeonDbError`.
 * Also `GET /__stats` → `{requests, byPath, byUser}` and `POST /__stats/reset` (neither counted), and fault
 * injection for tests and the soak bench: `POST /__control/faults` `{match, everyNth}` makes every
 * `everyNth`-th request whose SQL contains `match` fail with HTTP 503 before it reaches Postgres
 * (as a lost connection or a killed Worker would: nothing of it commits); `DELETE /__control/faults`
 * clears them; `GET /__control/faults` → `{faults: [{match, everyNth, seen, injected}]}`.
 *
 * @see https://github.com/neondatabase/neon/blob/main/proxy/src/serverless/sql_over_http.rs
 * @see https://github.com/neondatabase/serverless/blob/main/CONFIG.md#fetchendpoint-string--host-string-port-number--string
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  type IsolationLevel,
  POSTGRES_ERROR_FIELDS,
  PostgresError,
  type SqlEngine,
  type SqlField,
  type SqlParam,
  type SqlResult,
  type SqlStatement,
} from "./sql-engine";

/** Connection string the app is given locally: any valid Neon-style URL works; the host must exist. */
export const LOCAL_NEON_CONNECTION_STRING = "postgres://seller:edge@db.localtest.me:5432/seller_edge";

/** Largest request body accepted, in bytes (50 MiB). */
export const MAX_BODY_BYTES = 50 * 1024 * 1024;

/** Options for {@link startNeonHttp}. */
export interface NeonHttpOptions {
  engine: SqlEngine;
  /** TCP port; 0 (default) picks a free one. */
  port?: number;
  /** Interface to listen on; `127.0.0.1` by default. */
  host?: string;
}

/**
 * Request counts for round-trip budgets; `byPath` is keyed by URL path (`/sql`), `byUser` by the user
 * name of `Neon-Connection-String`, so a test that gives its Worker a connection string of its own
 * counts its requests alone, whatever else reaches the adapter meanwhile (job deliveries, retries).
 */
export interface RequestStats {
  requests: number;
  byPath: Record<string, number>;
  byUser: Record<string, number>;
}

/** A running adapter. */
export interface NeonHttpHandle {
  /** Base URL, e.g. `http://127.0.0.1:54321`. */
  url: string;
  /** Full `/sql` URL, to assign to `neonConfig.fetchEndpoint`. */
  fetchEndpoint: string;
  /** Connection string to hand to `neon()`; see {@link LOCAL_NEON_CONNECTION_STRING}. */
  connectionString: string;
  engine: SqlEngine;
  stats(): RequestStats;
  resetStats(): void;
  /** Stops the HTTP server; the engine stays open (its creator closes it). */
  close(): Promise<void>;
}

type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** One statement as the request body carries it, params already in text form. */
interface QueryData extends SqlStatement {
  params: SqlParam[];
  arrayMode: boolean | undefined;
}

/** Output options from the request headers. */
interface OutputOptions {
  rawText: boolean;
  arrayMode: boolean;
}

/** An error answered with a status and Neon's error body, outside Postgres' own errors. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const ISOLATION_LEVELS: readonly IsolationLevel[] = ["ReadUncommitted", "ReadCommitted", "RepeatableRead", "Serializable"];

/**
 * A JSON parameter as Postgres text, as Neon's proxy converts it: null → NULL, strings unchanged,
 * booleans, numbers and objects as their JSON text, arrays as array literals.
 */
function jsonToPgText(value: JsonValue): SqlParam {
  if (value === null) return null;
  if (typeof value === "string") return value;
  if (Array.isArray(value)) return jsonArrayToPgArray(value);
  return JSON.stringify(value);
}

/** An array literal (`{1,"a\"b",NULL,{2,3}}`); strings are quoted and escaped, objects as JSON strings. */
function jsonArrayToPgArray(value: JsonValue): string {
  if (value === null) return "NULL";
  if (Array.isArray(value)) return `{${value.map(jsonArrayToPgArray).join(",")}}`;
  if (typeof value === "object") return JSON.stringify(JSON.stringify(value));
  return JSON.stringify(value);
}

/** Validates one `{query, params?, arrayMode?}` entry. */
function parseQueryData(raw: unknown, where: string): QueryData {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new HttpError(400, `${where}: expected an object with a "query" string`);
  }
  const { query, params, arrayMode } = raw as Record<string, unknown>;
  if (typeof query !== "string") throw new HttpError(400, `${where}: "query" must be a string`);
  if (params !== undefined && !Array.isArray(params)) throw new HttpError(400, `${where}: "params" must be an array`);
  if (arrayMode !== undefined && typeof arrayMode !== "boolean") {
    throw new HttpError(400, `${where}: "arrayMode" must be a boolean`);
  }
  return { sql: query, params: ((params ?? []) as JsonValue[]).map(jsonToPgText), arrayMode };
}

/** The request body: a single statement or a batch. */
function parsePayload(body: string): QueryData | QueryData[] {
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch (err) {
    throw new HttpError(400, `request body is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof raw === "object" && raw !== null && "queries" in raw) {
    const { queries } = raw as { queries: unknown };
    if (!Array.isArray(queries)) throw new HttpError(400, `"queries" must be an array`);
    return queries.map((entry, i) => parseQueryData(entry, `queries[${i}]`));
  }
  return parseQueryData(raw, "body");
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

const emptyStats = (): RequestStats => ({ requests: 0, byPath: {}, byUser: {} });

/** The user name of a request's `Neon-Connection-String`, if it is a URL (for {@link RequestStats}). */
function connectionUser(req: IncomingMessage): string | undefined {
  const value = header(req, "neon-connection-string");
  if (!value || !URL.canParse(value)) return undefined;
  return decodeURIComponent(new URL(value).username);
}

/** Checks `Neon-Connection-String` is a postgres:// URL with user, host and database. */
function checkConnectionString(req: IncomingMessage): void {
  const value = header(req, "neon-connection-string");
  if (!value) throw new HttpError(400, "missing Neon-Connection-String header");
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new HttpError(400, "Neon-Connection-String is not a valid URL");
  }
  if ((url.protocol !== "postgres:" && url.protocol !== "postgresql:") || !url.username || !url.hostname) {
    throw new HttpError(400, "Neon-Connection-String must be postgres://user[:password]@host/database");
  }
}

/** `Neon-Batch-Isolation-Level`, validated on every request as Neon does. */
function isolationLevelHeader(req: IncomingMessage): IsolationLevel | undefined {
  const value = header(req, "neon-batch-isolation-level");
  if (value === undefined) return undefined;
  const level = ISOLATION_LEVELS.find((candidate) => candidate === value);
  if (!level) throw new HttpError(400, "invalid isolation level");
  return level;
}

/** Element type OIDs of the built-in array types whose elements change JSON form (non-raw mode). */
const ARRAY_ELEMENT_TYPES: Readonly<Record<number, number>> = {
  1000: 16, // bool[]
  1005: 21, // int2[]
  1007: 23, // int4[]
  1016: 20, // int8[]
  1021: 700, // float4[]
  1022: 701, // float8[]
  199: 114, // json[]
  3807: 3802, // jsonb[]
  1009: 25, // text[]
  1015: 1043, // varchar[]
  1014: 1042, // bpchar[]
  1231: 1700, // numeric[]
  1182: 1082, // date[]
  1115: 1114, // timestamp[]
  1185: 1184, // timestamptz[]
  2951: 2950, // uuid[]
  1001: 17, // bytea[]
};

/**
 * A text value as JSON (non-raw mode), as Neon's proxy does: bool → boolean, int2/int4/float
 * → number (NaN and infinities stay strings), json/jsonb → parsed, arrays → JSON arrays of
 * converted elements; everything else (int8, numeric, dates) stays a string.
 */
function pgTextToJson(text: string, typeId: number): JsonValue {
  const elementType = ARRAY_ELEMENT_TYPES[typeId];
  if (elementType !== undefined) return parsePgArray(text, elementType);
  switch (typeId) {
    case 16:
      return text === "t";
    case 21:
    case 23:
      return Number.parseInt(text, 10);
    case 700:
    case 701: {
      const number = Number(text);
      return Number.isFinite(number) ? number : text;
    }
    case 114:
    case 3802:
      return JSON.parse(text) as JsonValue;
    default:
      return text;
  }
}

/** Parses a Postgres array literal (`[1:2]={"a b",NULL,{1,2}}`) into JSON with converted elements. */
function parsePgArray(text: string, elementType: number): JsonValue[] {
  let pos = 0;
  if (text.startsWith("[")) pos = text.indexOf("=") + 1;
  const parseArray = (): JsonValue[] => {
    const out: JsonValue[] = [];
    pos += 1; // `{`
    if (text[pos] === "}") {
      pos += 1;
      return out;
    }
    for (;;) {
      if (text[pos] === "{") out.push(parseArray());
      else if (text[pos] === '"') {
        let value = "";
        pos += 1;
        while (text[pos] !== '"') {
          if (text[pos] === "\\") pos += 1;
          value += text[pos] ?? "";
          pos += 1;
          if (pos > text.length) throw new Error("unbalanced quoted string in array");
        }
        pos += 1;
        out.push(pgTextToJson(value, elementType));
      } else {
        let end = pos;
        while (end < text.length && text[end] !== "," && text[end] !== "}") end += 1;
        const item = text.slice(pos, end).trim();
        pos = end;
        out.push(item === "NULL" ? null : pgTextToJson(item, elementType));
      }
      if (text[pos] === ",") pos += 1;
      else if (text[pos] === "}") {
        pos += 1;
        return out;
      } else throw new Error("unbalanced array");
    }
  };
  return parseArray();
}

/** One statement's result in Neon's JSON shape. */
function resultToJson(result: SqlResult, output: OutputOptions, arrayMode: boolean | undefined) {
  const asArray = arrayMode ?? output.arrayMode;
  const convert = (cell: string | null, field: SqlField): JsonValue =>
    cell === null || output.rawText ? cell : pgTextToJson(cell, field.dataTypeID);
  const rows = result.rows.map((row) => {
    const cells = row.map((cell, i) => {
      const field = result.fields[i];
      return field ? convert(cell, field) : cell;
    });
    if (asArray) return cells;
    const object: Record<string, JsonValue> = {};
    result.fields.forEach((field, i) => {
      object[field.name] = cells[i] ?? null;
    });
    return object;
  });
  return {
    fields: result.fields,
    command: result.command,
    rowCount: result.rowCount,
    rows,
    rowAsArray: asArray,
  };
}

/** Neon's error body: `message` plus every ErrorResponse field (`null` when absent). */
function errorBody(err: PostgresError | HttpError): Record<string, string | null> {
  const body: Record<string, string | null> = { message: err.message };
  for (const key of POSTGRES_ERROR_FIELDS) {
    body[key] = err instanceof PostgresError ? (err.fields[key] ?? null) : null;
  }
  // Neon answers non-Postgres errors with empty `code` and `severity`, not null.
  if (err instanceof HttpError) {
    body.code = "";
    body.severity = "";
  }
  return body;
}

/** Reads the request body up to {@link MAX_BODY_BYTES}; a larger body is a 413. */
async function readBody(req: IncomingMessage): Promise<string> {
  const declared = Number(header(req, "content-length") ?? "0");
  if (declared > MAX_BODY_BYTES) throw new HttpError(413, `request body is larger than ${MAX_BODY_BYTES} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `request body is larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(payload),
    "Access-Control-Allow-Origin": "*",
    ...headers,
  });
  res.end(payload);
}

/** An injected fault: every `everyNth`-th request whose SQL contains `match` fails with 503. */
interface Fault {
  match: string;
  everyNth: number;
  seen: number;
  injected: number;
}

/** Reads a fault from a control request body; throws a 400 for a bad one. */
function parseFault(body: string): Fault {
  const input = JSON.parse(body || "{}") as { match?: unknown; everyNth?: unknown };
  if (typeof input.match !== "string" || input.match === "") throw new HttpError(400, "match must be a non-empty string");
  const everyNth = input.everyNth ?? 1;
  if (typeof everyNth !== "number" || !Number.isInteger(everyNth) || everyNth < 1)
    throw new HttpError(400, "everyNth must be an integer ≥ 1");
  return { match: input.match, everyNth, seen: 0, injected: 0 };
}

/** Handles `POST /sql`: one statement (autocommit) or a batch (one transaction). */
async function handleSql(engine: SqlEngine, req: IncomingMessage, res: ServerResponse, faults: Fault[]): Promise<void> {
  if (req.method !== "POST") throw new HttpError(405, "use POST /sql");
  checkConnectionString(req);
  const output: OutputOptions = {
    rawText: header(req, "neon-raw-text-output") === "true",
    arrayMode: header(req, "neon-array-mode") === "true",
  };
  const isolationLevel = isolationLevelHeader(req);
  const readOnly = header(req, "neon-batch-read-only") === "true";
  const deferrable = header(req, "neon-batch-deferrable") === "true";
  const payload = parsePayload(await readBody(req));
  const texts = Array.isArray(payload) ? payload.map((q) => q.sql) : [payload.sql];
  for (const fault of faults) {
    if (!texts.some((text) => text.includes(fault.match))) continue;
    fault.seen += 1;
    if (fault.seen % fault.everyNth === 0) {
      fault.injected += 1;
      throw new HttpError(503, `injected fault (${fault.match})`);
    }
  }

  if (!Array.isArray(payload)) {
    const result = await engine.query(payload.sql, payload.params);
    sendJson(res, 200, resultToJson(result, output, payload.arrayMode));
    return;
  }
  const results = await engine.transaction(payload, {
    ...(isolationLevel ? { isolationLevel } : {}),
    ...(readOnly ? { readOnly } : {}),
    ...(deferrable ? { deferrable } : {}),
  });
  // Neon echoes the transaction characteristics it applied.
  const echoed: Record<string, string> = {};
  if (readOnly) echoed["Neon-Batch-Read-Only"] = "true";
  if (deferrable) echoed["Neon-Batch-Deferrable"] = "true";
  if (isolationLevel) echoed["Neon-Batch-Isolation-Level"] = isolationLevel;
  sendJson(res, 200, { results: results.map((result, i) => resultToJson(result, output, payload[i]?.arrayMode)) }, echoed);
}

/**
 * Starts the adapter on `host:port` (127.0.0.1, a free port by default).
 * Use from the app or another process:
 * ```ts
 * neonConfig.fetchEndpoint = handle.fetchEndpoint; // e.g. "http://127.0.0.1:54321/sql"
 * const sql = neon(handle.connectionString);
 * ```
 * @throws when the port cannot be bound.
 */
export async function startNeonHttp(opts: NeonHttpOptions): Promise<NeonHttpHandle> {
  const { engine } = opts;
  let stats = emptyStats();
  let faults: Fault[] = [];

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    if (path === "/__control/faults") {
      if (req.method === "GET") return sendJson(res, 200, { faults });
      if (req.method === "DELETE") {
        faults = [];
        return sendJson(res, 200, { faults });
      }
      readBody(req)
        .then((body) => {
          const fault = parseFault(body);
          faults.push(fault);
          sendJson(res, 201, fault);
        })
        .catch((err: unknown) =>
          sendJson(res, err instanceof HttpError ? err.status : 400, { message: String(err instanceof Error ? err.message : err) }),
        );
      return;
    }
    if (path === "/__stats" && req.method === "GET") return sendJson(res, 200, stats);
    if (path === "/__stats/reset" && req.method === "POST") {
      stats = emptyStats();
      return sendJson(res, 200, stats);
    }
    stats.requests += 1;
    stats.byPath[path] = (stats.byPath[path] ?? 0) + 1;
    const user = connectionUser(req);
    if (user !== undefined) stats.byUser[user] = (stats.byUser[user] ?? 0) + 1;

    const handled =
      path === "/sql"
        ? handleSql(engine, req, res, faults)
        : Promise.reject(new HttpError(404, `no route for ${req.method ?? "?"} ${path}; use POST /sql`));
    handled.catch((err: unknown) => {
      if (err instanceof PostgresError || err instanceof HttpError) {
        sendJson(res, err instanceof HttpError ? err.status : 400, errorBody(err));
        return;
      }
      console.error("[neon-http] internal error:", err);
      sendJson(res, 500, { message: `internal error: ${err instanceof Error ? err.message : String(err)}` });
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, opts.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;

  return {
    url,
    fetchEndpoint: `${url}/sql`,
    connectionString: LOCAL_NEON_CONNECTION_STRING,
    engine,
    stats: () => ({ requests: stats.requests, byPath: { ...stats.byPath }, byUser: { ...stats.byUser } }),
    resetStats: () => {
      stats = emptyStats();
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
