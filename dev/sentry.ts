/**
 * Local Sentry ingestion endpoint: what toucan-js (and every Sentry SDK) sends, stored in memory so
 * tests and `npm run dev` can see exactly what would reach Sentry.
 *
 * Endpoints:
 * - `POST /api/{projectId}/envelope/` (trailing slash optional): an envelope, authenticated by the
 *   project's public key in `?sentry_key=` (with `sentry_version=7`), in `X-Sentry-Auth: Sentry
 *   sentry_key=…, sentry_version=7, …`, or in the envelope header's `dsn`. Missing key → 401, another
 *   key → 403, another project → 404, a malformed envelope → 400 (`{"detail": "…"}`, as Relay
 *   answers); else 200 `{"id": "<event_id>"}`. `Content-Encoding: gzip`, `deflate` and `br` are read.
 * - `GET /__events` → `{"events": [{eventId, type, receivedAt, event}, …]}`, oldest first;
 *   `DELETE /__events` empties it;
 * - `GET /__stats` → `{"requests": N, "byPath": {…}}`, `POST /__stats/reset` (neither counted).
 *
 * The envelope format: newline-separated; the first line is the envelope header (JSON); then each
 * item is an item-header line (JSON, with `type` and optionally `length`) and its payload: exactly
 * `length` bytes (then an optional newline), or without `length` up to the next newline or the end.
 * Items of type `event` and `transaction` are stored (their JSON payload); others (`session`,
 * `client_report`, `attachment`…) are accepted and counted in the stats by type.
 *
 * Not emulated: the legacy `/store/` endpoint, rate limits and quotas, secret keys, minidumps.
 * @see https://develop.sentry.dev/sdk/data-model/envelopes/
 * @see https://develop.sentry.dev/sdk/overview/#authentication
 */
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { brotliDecompressSync, gunzipSync, inflateSync } from "node:zlib";

/** Options of {@link startSentry}. */
export interface StartSentryOptions {
  /** The project's public key (the DSN's user part); default random. */
  publicKey?: string;
  /** The project id (the DSN's path); default `1`. */
  projectId?: string;
  /** TCP port; 0 (default) picks a free one. */
  port?: number;
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
}

/** One stored event or transaction. */
export interface StoredSentryEvent {
  eventId: string;
  type: "event" | "transaction";
  receivedAt: string;
  /** The item's payload as sent. */
  event: Record<string, unknown>;
}

/** Request counters; `byPath` keys are route templates, plus `item:<type>` per envelope item. */
export interface SentryStats {
  requests: number;
  byPath: Record<string, number>;
}

/** A running endpoint. */
export interface SentryHandle {
  /** Base URL (`http://127.0.0.1:port`). */
  url: string;
  /** `http://<publicKey>@127.0.0.1:<port>/<projectId>`, for `SENTRY_DSN`. */
  dsn: string;
  publicKey: string;
  projectId: string;
  events(): StoredSentryEvent[];
  stats(): SentryStats;
  close(): Promise<void>;
}

/** An envelope item: its header and payload bytes. */
export interface EnvelopeItem {
  header: Record<string, unknown> & { type?: unknown; length?: unknown };
  payload: Buffer;
}

/** A parsed envelope. */
export interface Envelope {
  header: Record<string, unknown>;
  items: EnvelopeItem[];
}

/** A malformed envelope. */
export class EnvelopeError extends Error {
  override readonly name = "EnvelopeError";
}

const MAX_BODY_BYTES = 20 * 1024 * 1024;
const NEWLINE = 0x0a;

/** Parses one JSON header line. */
function headerLine(bytes: Buffer, what: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString("utf8"));
  } catch {
    throw new EnvelopeError(`invalid ${what}: not JSON`);
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new EnvelopeError(`invalid ${what}: not an object`);
  return parsed as Record<string, unknown>;
}

/**
 * Parses an envelope (see the module comment).
 * @throws EnvelopeError when it is malformed.
 */
export function parseEnvelope(body: Buffer): Envelope {
  let at = body.indexOf(NEWLINE);
  const header = headerLine(body.subarray(0, at < 0 ? body.length : at), "envelope header");
  const items: EnvelopeItem[] = [];
  at = at < 0 ? body.length : at + 1;
  while (at < body.length) {
    // Blank lines between items are tolerated, as Relay does.
    if (body[at] === NEWLINE) {
      at += 1;
      continue;
    }
    const end = body.indexOf(NEWLINE, at);
    const itemHeader = headerLine(body.subarray(at, end < 0 ? body.length : end), "item header");
    if (typeof itemHeader.type !== "string") throw new EnvelopeError("invalid item header: no type");
    at = end < 0 ? body.length : end + 1;
    let payload: Buffer;
    if (itemHeader.length !== undefined) {
      const length = itemHeader.length;
      if (typeof length !== "number" || !Number.isInteger(length) || length < 0) throw new EnvelopeError("invalid item header: length");
      if (at + length > body.length) throw new EnvelopeError(`item ${itemHeader.type}: payload shorter than its length ${length}`);
      payload = body.subarray(at, at + length);
      at += length;
      if (body[at] === NEWLINE) at += 1;
    } else {
      const stop = body.indexOf(NEWLINE, at);
      payload = body.subarray(at, stop < 0 ? body.length : stop);
      at = stop < 0 ? body.length : stop + 1;
    }
    items.push({ header: itemHeader, payload });
  }
  return { header, items };
}

/** The public key a request authenticates with: query, `X-Sentry-Auth`, or the envelope header's DSN. */
function publicKeyOf(url: URL, authHeader: string | undefined, envelopeDsn: unknown): string | undefined {
  const fromQuery = url.searchParams.get("sentry_key");
  if (fromQuery) return fromQuery;
  const fromHeader = authHeader ? /sentry_key=([^,\s]+)/.exec(authHeader)?.[1] : undefined;
  if (fromHeader) return fromHeader;
  if (typeof envelopeDsn === "string") {
    try {
      return new URL(envelopeDsn).username || undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** The request body, decompressed per `Content-Encoding`. */
function decode(body: Buffer, encoding: string | undefined): Buffer {
  switch ((encoding ?? "").toLowerCase()) {
    case "":
    case "identity":
      return body;
    case "gzip":
      return gunzipSync(body);
    case "deflate":
      return inflateSync(body);
    case "br":
      return brotliDecompressSync(body);
    default:
      throw new EnvelopeError(`unsupported Content-Encoding ${encoding}`);
  }
}

function readBody(request: http.IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    request.on("end", () => resolve(size <= MAX_BODY_BYTES ? Buffer.concat(chunks) : undefined));
    request.on("error", reject);
  });
}

function send(response: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  response.end(text);
}

/**
 * Starts the endpoint on `host:port` (127.0.0.1, a free port by default).
 * @returns the handle; its `dsn` is what `SENTRY_DSN` takes.
 */
export async function startSentry(options: StartSentryOptions = {}): Promise<SentryHandle> {
  const publicKey = options.publicKey ?? randomBytes(16).toString("hex");
  const projectId = options.projectId ?? "1";
  const events: StoredSentryEvent[] = [];
  let stats: SentryStats = { requests: 0, byPath: {} };
  const count = (key: string) => {
    stats.byPath[key] = (stats.byPath[key] ?? 0) + 1;
  };

  const handle = async (request: http.IncomingMessage, response: http.ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? "/", "http://localhost");
    const method = request.method ?? "GET";
    if (url.pathname === "/__stats" && method === "GET") return send(response, 200, stats);
    if (url.pathname === "/__stats/reset" && method === "POST") {
      stats = { requests: 0, byPath: {} };
      return send(response, 200, stats);
    }
    if (url.pathname === "/__events" && method === "GET") return send(response, 200, { events });
    if (url.pathname === "/__events" && method === "DELETE") {
      events.length = 0;
      return send(response, 200, { events });
    }

    const route = /^\/api\/([^/]+)\/envelope\/?$/.exec(url.pathname);
    stats.requests += 1;
    count(route ? "/api/:projectId/envelope/" : url.pathname);
    const body = await readBody(request);
    if (!route) return send(response, 404, { detail: "not found" });
    if (method !== "POST") return send(response, 405, { detail: "method not allowed" });
    if (body === undefined) return send(response, 413, { detail: "envelope exceeded size limits" });

    let envelope: Envelope;
    try {
      envelope = parseEnvelope(decode(body, request.headers["content-encoding"]));
    } catch (error) {
      // A malformed envelope, or a body that does not decompress.
      if (error instanceof Error) return send(response, 400, { detail: `invalid envelope: ${error.message}` });
      throw error;
    }
    const key = publicKeyOf(url, request.headers["x-sentry-auth"] as string | undefined, envelope.header.dsn);
    if (!key) return send(response, 401, { detail: "missing authorization information" });
    if (key !== publicKey) return send(response, 403, { detail: "event submission rejected: unknown public key" });
    if (route[1] !== projectId) return send(response, 404, { detail: `no such project: ${route[1]}` });

    let eventId = typeof envelope.header.event_id === "string" ? envelope.header.event_id : undefined;
    for (const item of envelope.items) {
      const type = String(item.header.type);
      count(`item:${type}`);
      if (type !== "event" && type !== "transaction") continue;
      let event: Record<string, unknown>;
      try {
        event = JSON.parse(item.payload.toString("utf8")) as Record<string, unknown>;
      } catch {
        return send(response, 400, { detail: `invalid envelope: ${type} payload is not JSON` });
      }
      const id = typeof event.event_id === "string" ? event.event_id : (eventId ?? randomBytes(16).toString("hex"));
      eventId ??= id;
      events.push({ eventId: id, type, receivedAt: new Date().toISOString(), event });
    }
    send(response, 200, eventId ? { id: eventId } : {});
  };

  const server = http.createServer((request, response) => {
    handle(request, response).catch((cause: unknown) => {
      if (!response.headersSent) send(response, 500, { detail: cause instanceof Error ? cause.message : String(cause) });
      else response.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    dsn: `http://${publicKey}@${host}:${address.port}/${projectId}`,
    publicKey,
    projectId,
    events: () => [...events],
    stats: () => ({ requests: stats.requests, byPath: { ...stats.byPath } }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
