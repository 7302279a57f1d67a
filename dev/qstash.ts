/**
 * Local QStash (v2 API) emulator, faithful to what `@upstash/qstash`'s `Client` sends and what its
 * `Receiver` verifies. No Docker, no cloud account, all state in memory.
 *
 * Endpoints (bearer token required, else 401; errors are `{"error": "..."}`):
 * - `POST /v2/publish/{url}`, `POST /v2/enqueue/{queue}/{url}`, `POST /v2/batch`
 * - `POST /v2/schedules/{url}` (`Upstash-Cron`, optional `Upstash-Schedule-Id`),
 *   `GET /v2/schedules`, `GET|DELETE /v2/schedules/{id}`, `PATCH /v2/schedules/{id}/pause|resume`
 * - `GET|DELETE /v2/messages/{id}`, `DELETE /v2/messages` (bulk cancel)
 * - `GET /v2/dlq`, `DELETE /v2/dlq/{dlqId}`, `DELETE /v2/dlq` (bulk), `POST /v2/dlq/retry`
 * - `GET /v2/events`, `GET /v2/keys`
 * - `GET /__stats`, `POST /__stats/reset` (no token, not counted)
 *
 * Not emulated: URL groups (topics), queue parallelism, flow control, the LLM/email APIs,
 * workflows, per-plan limits. Destinations must be absolute http(s) URLs.
 *
 * @see https://upstash.com/docs/qstash/api/publish
 * @see node_modules/@upstash/qstash (client.ts, receiver.ts) for the request and response shapes.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { type DeliveryRecord, QStashEngine, type StoredMessage } from "./qstash/engine";
import { type MessageSpec, parseDestination, parseMessageSpec } from "./qstash/spec";

export type { DeliveryRecord, MessageState, StoredMessage } from "./qstash/engine";

/** Options of {@link startQStash}. */
export interface StartQStashOptions {
  /** Bearer token the API accepts (`QSTASH_TOKEN`). */
  token: string;
  /** Key deliveries are signed with (`QSTASH_CURRENT_SIGNING_KEY`). */
  currentSigningKey: string;
  /** Reported by `GET /v2/keys` (`QSTASH_NEXT_SIGNING_KEY`); never used to sign. */
  nextSigningKey: string;
  /** TCP port; 0 (default) picks a free one. */
  port?: number;
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /**
   * Multiplies every retry delay (backoff, `Retry-After`, `Upstash-Retry-Delay`); e.g. 0.001 in
   * tests turns the first 12 s backoff into 12 ms. `Upstash-Delay`/`Not-Before` are not scaled.
   * Default 1.
   */
  retryDelayFactor?: number;
  /** Retries when a publish sends no `Upstash-Retries`; default 3. */
  defaultRetries?: number;
  /** Delivery timeout when a publish sends no `Upstash-Timeout`, in ms; default 30 000. */
  defaultTimeoutMs?: number;
  /** How long a deduplication id is remembered, in ms; default 10 min. */
  deduplicationWindowMs?: number;
}

/** Request counters for round-trip-budget tests. `byPath` keys are route templates. */
export interface RequestStats {
  requests: number;
  byPath: Record<string, number>;
}

/** A running emulator. */
export interface QStashHandle {
  /** Base URL, e.g. `http://127.0.0.1:41234` (pass as the client's `baseUrl`). */
  url: string;
  token: string;
  currentSigningKey: string;
  nextSigningKey: string;
  /** Counters of API requests (the `/__stats` endpoints excluded). */
  stats(): RequestStats;
  resetStats(): void;
  /** Every message accepted so far (including callbacks), oldest first, with its state. */
  messages(): Array<Omit<StoredMessage, "body"> & { body: string }>;
  /** The DLQ, in the client's `DlqMessage` shape. */
  dlq(): Array<Record<string, unknown>>;
  /** Every delivery attempt, in completion order. */
  deliveries(): DeliveryRecord[];
  /**
   * Resolves once no message is pending (waiting, delivering or retrying). Schedules do not count.
   *
   * @param timeoutMs default 10 000.
   * @throws Error naming the pending messages when the timeout passes.
   */
  waitForIdle(timeoutMs?: number): Promise<void>;
  /** Stops the server, every timer and cron job, and aborts in-flight deliveries. */
  close(): Promise<void>;
}

interface Reply {
  status: number;
  /** JSON body; `undefined` sends an empty body. */
  body?: unknown;
}

interface RouteContext {
  request: http.IncomingMessage;
  path: string;
  query: string;
  params: string[];
  body: Buffer;
  callerIp: string;
}

interface Route {
  method: string;
  /** Stats key. */
  key: string;
  /** Returns the captured parameters when the path matches. */
  match: (path: string) => string[] | undefined;
  handle: (context: RouteContext) => Reply;
}

const MAX_BODY_BYTES = 10 * 1024 * 1024;

const error = (status: number, message: string): Reply => ({ status, body: { error: message } });

function exact(path: string): (candidate: string) => string[] | undefined {
  return (candidate) => (candidate === path ? [] : undefined);
}

/** Matches `prefix` + one segment (no further `/`), capturing the decoded segment. */
function segment(prefix: string, suffix = ""): (candidate: string) => string[] | undefined {
  return (candidate) => {
    if (!candidate.startsWith(prefix) || !candidate.endsWith(suffix)) return undefined;
    const value = candidate.slice(prefix.length, candidate.length - suffix.length);
    return value !== "" && !value.includes("/") ? [decodeURIComponent(value)] : undefined;
  };
}

/** Matches `prefix` + a destination URL (which contains `/`), capturing the raw rest. */
function destination(prefix: string): (candidate: string) => string[] | undefined {
  return (candidate) => {
    if (!candidate.startsWith(prefix)) return undefined;
    const rest = candidate.slice(prefix.length);
    return /^https?(:|%3A)/i.test(rest) ? [rest] : undefined;
  };
}

/** Name/value pairs of a request's headers, names in the case they were sent. */
function headerPairs(request: http.IncomingMessage): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  const raw = request.rawHeaders;
  for (let index = 0; index + 1 < raw.length; index += 2) {
    const name = raw[index];
    const value = raw[index + 1];
    if (name !== undefined && value !== undefined) pairs.push([name, value]);
  }
  return pairs;
}

function destinationUrl(rawPath: string, query: string): string | undefined {
  return parseDestination(query === "" ? rawPath : `${rawPath}?${query}`);
}

function specFrom(context: RouteContext, rawDestination: string): MessageSpec | Reply {
  const url = destinationUrl(rawDestination, context.query);
  if (url === undefined) return error(400, `invalid destination url: ${rawDestination}`);
  const result = parseMessageSpec(url, headerPairs(context.request), context.body);
  return result.ok ? result.spec : error(400, result.error);
}

function isReply(value: MessageSpec | Reply): value is Reply {
  return "status" in value;
}

function buildRoutes(engine: QStashEngine, options: StartQStashOptions): Route[] {
  const publishWith = (context: RouteContext, rawDestination: string, queueName?: string): Reply => {
    const spec = specFrom(context, rawDestination);
    if (isReply(spec)) return spec;
    if (queueName !== undefined) spec.queueName = queueName;
    return { status: 200, body: engine.publish(spec, context.callerIp) };
  };

  return [
    {
      method: "POST",
      key: "/v2/publish",
      match: destination("/v2/publish/"),
      handle: (context) => publishWith(context, context.params[0] ?? ""),
    },
    {
      method: "POST",
      key: "/v2/enqueue",
      match: (path) => {
        const match = /^\/v2\/enqueue\/([^/]+)\/(https?(?::|%3A).*)$/i.exec(path);
        return match?.[1] !== undefined && match[2] !== undefined ? [decodeURIComponent(match[1]), match[2]] : undefined;
      },
      handle: (context) => publishWith(context, context.params[1] ?? "", context.params[0]),
    },
    {
      method: "POST",
      key: "/v2/batch",
      match: exact("/v2/batch"),
      handle: (context) => {
        let entries: unknown;
        try {
          entries = JSON.parse(context.body.toString("utf8"));
        } catch {
          return error(400, "batch body must be a JSON array");
        }
        if (!Array.isArray(entries)) return error(400, "batch body must be a JSON array");
        const specs: MessageSpec[] = [];
        for (const [index, entry] of entries.entries()) {
          if (typeof entry !== "object" || entry === null) return error(400, `batch[${index}] must be an object`);
          const { destination: target, headers, body, queue } = entry as Record<string, unknown>;
          const url = typeof target === "string" ? parseDestination(target) : undefined;
          if (url === undefined) return error(400, `batch[${index}]: invalid destination url`);
          const pairs: Array<[string, string]> =
            typeof headers === "object" && headers !== null
              ? Object.entries(headers).filter((pair): pair is [string, string] => typeof pair[1] === "string")
              : [];
          const raw = typeof body === "string" ? Buffer.from(body, "utf8") : Buffer.alloc(0);
          const result = parseMessageSpec(url, pairs, raw);
          if (!result.ok) return error(400, `batch[${index}]: ${result.error}`);
          if (typeof queue === "string") result.spec.queueName = queue;
          specs.push(result.spec);
        }
        return { status: 200, body: specs.map((spec) => engine.publish(spec, context.callerIp)) };
      },
    },
    {
      method: "POST",
      key: "/v2/schedules",
      match: destination("/v2/schedules/"),
      handle: (context) => {
        const spec = specFrom(context, context.params[0] ?? "");
        if (isReply(spec)) return spec;
        const cron = context.request.headers["upstash-cron"];
        if (typeof cron !== "string" || cron.trim() === "") return error(400, "Upstash-Cron header is required");
        const requestedId = context.request.headers["upstash-schedule-id"];
        try {
          const scheduleId = engine.createSchedule(
            spec,
            cron,
            context.callerIp,
            typeof requestedId === "string" && requestedId !== "" ? requestedId : undefined,
          );
          return { status: 200, body: { scheduleId } };
        } catch (cause) {
          return error(400, `invalid cron expression "${cron}": ${cause instanceof Error ? cause.message : String(cause)}`);
        }
      },
    },
    { method: "GET", key: "/v2/schedules", match: exact("/v2/schedules"), handle: () => ({ status: 200, body: engine.listSchedules() }) },
    {
      method: "GET",
      key: "/v2/schedules/:scheduleId",
      match: segment("/v2/schedules/"),
      handle: ({ params }) => {
        const schedule = engine.getSchedule(params[0] ?? "");
        return schedule === undefined ? error(404, "schedule not found") : { status: 200, body: schedule };
      },
    },
    {
      method: "DELETE",
      key: "/v2/schedules/:scheduleId",
      match: segment("/v2/schedules/"),
      handle: ({ params }) => (engine.deleteSchedule(params[0] ?? "") ? { status: 200 } : error(404, "schedule not found")),
    },
    ...(["pause", "resume"] as const).map(
      (action): Route => ({
        method: "PATCH",
        key: `/v2/schedules/:scheduleId/${action}`,
        match: segment("/v2/schedules/", `/${action}`),
        handle: ({ params }) =>
          engine.setSchedulePaused(params[0] ?? "", action === "pause") ? { status: 200 } : error(404, "schedule not found"),
      }),
    ),
    {
      method: "GET",
      key: "/v2/messages/:messageId",
      match: segment("/v2/messages/"),
      handle: ({ params }) => {
        const message = engine.getMessage(params[0] ?? "");
        return message === undefined ? error(404, "message not found") : { status: 200, body: message };
      },
    },
    {
      method: "DELETE",
      key: "/v2/messages/:messageId",
      match: segment("/v2/messages/"),
      handle: ({ params }) => (engine.cancel(params[0] ?? "") ? { status: 200, body: { cancelled: 1 } } : error(404, "message not found")),
    },
    {
      method: "DELETE",
      key: "/v2/messages",
      match: exact("/v2/messages"),
      handle: ({ query }) => ({ status: 200, body: { cancelled: engine.cancelMany(new URLSearchParams(query)) } }),
    },
    {
      method: "GET",
      key: "/v2/dlq",
      match: exact("/v2/dlq"),
      handle: ({ query }) => ({ status: 200, body: engine.listDlq(new URLSearchParams(query)) }),
    },
    {
      method: "DELETE",
      key: "/v2/dlq",
      match: exact("/v2/dlq"),
      handle: ({ query }) => ({ status: 200, body: engine.deleteDlqMany(new URLSearchParams(query)) }),
    },
    {
      method: "POST",
      key: "/v2/dlq/retry",
      match: exact("/v2/dlq/retry"),
      handle: ({ query }) => ({ status: 200, body: engine.retryDlq(new URLSearchParams(query)) }),
    },
    {
      method: "DELETE",
      key: "/v2/dlq/:dlqId",
      match: segment("/v2/dlq/"),
      handle: ({ params }) => (engine.deleteDlq(params[0] ?? "") ? { status: 200 } : error(404, "dlq message not found")),
    },
    {
      method: "GET",
      key: "/v2/events",
      match: exact("/v2/events"),
      handle: ({ query }) => ({ status: 200, body: engine.listEvents(new URLSearchParams(query)) }),
    },
    {
      method: "GET",
      key: "/v2/keys",
      match: exact("/v2/keys"),
      handle: () => ({ status: 200, body: { current: options.currentSigningKey, next: options.nextSigningKey } }),
    },
  ];
}

function send(response: http.ServerResponse, reply: Reply): void {
  if (reply.body === undefined) {
    response.writeHead(reply.status, { "Content-Length": "0" }).end();
    return;
  }
  const text = JSON.stringify(reply.body);
  response.writeHead(reply.status, { "Content-Type": "application/json", "Content-Length": String(Buffer.byteLength(text)) }).end(text);
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

/**
 * Starts the emulator on `host:port` (127.0.0.1, a free port by default).
 *
 * @returns the handle; its `url` is the client's `baseUrl`.
 * @throws when the port cannot be bound.
 */
export async function startQStash(options: StartQStashOptions): Promise<QStashHandle> {
  const engine = new QStashEngine({
    currentSigningKey: options.currentSigningKey,
    retryDelayFactor: options.retryDelayFactor ?? 1,
    defaultRetries: options.defaultRetries ?? 3,
    defaultTimeoutMs: options.defaultTimeoutMs ?? 30_000,
    deduplicationWindowMs: options.deduplicationWindowMs ?? 10 * 60_000,
  });
  const routes = buildRoutes(engine, options);
  let stats: RequestStats = { requests: 0, byPath: {} };

  const handleRequest = async (request: http.IncomingMessage, response: http.ServerResponse): Promise<void> => {
    const rawUrl = request.url ?? "/";
    const queryAt = rawUrl.indexOf("?");
    const path = queryAt === -1 ? rawUrl : rawUrl.slice(0, queryAt);
    const query = queryAt === -1 ? "" : rawUrl.slice(queryAt + 1);
    const method = request.method ?? "GET";

    if (path === "/__stats" && method === "GET") return send(response, { status: 200, body: stats });
    if (path === "/__stats/reset" && method === "POST") {
      stats = { requests: 0, byPath: {} };
      return send(response, { status: 200, body: stats });
    }

    const candidates = routes
      .map((route) => ({ route, params: route.match(path) }))
      .filter((candidate): candidate is { route: Route; params: string[] } => candidate.params !== undefined);
    const matched = candidates.find((candidate) => candidate.route.method === method);
    const key = matched?.route.key ?? candidates[0]?.route.key ?? path;
    stats.requests += 1;
    stats.byPath[key] = (stats.byPath[key] ?? 0) + 1;

    const body = await readBody(request);
    if (request.headers.authorization !== `Bearer ${options.token}`) return send(response, error(401, "Unauthorized"));
    if (body === undefined) return send(response, error(413, `body exceeds ${MAX_BODY_BYTES} bytes`));
    if (matched === undefined) {
      return send(response, candidates.length > 0 ? error(405, "method not allowed") : error(404, "not found"));
    }
    const callerIp = (request.socket.remoteAddress ?? "127.0.0.1").replace(/^::ffff:/, "");
    send(response, matched.route.handle({ request, path, query, params: matched.params, body, callerIp }));
  };

  const server = http.createServer((request, response) => {
    handleRequest(request, response).catch((cause: unknown) => {
      if (!response.headersSent) send(response, error(500, cause instanceof Error ? cause.message : String(cause)));
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
    token: options.token,
    currentSigningKey: options.currentSigningKey,
    nextSigningKey: options.nextSigningKey,
    stats: () => ({ requests: stats.requests, byPath: { ...stats.byPath } }),
    resetStats: () => {
      stats = { requests: 0, byPath: {} };
    },
    messages: () => engine.messages(),
    dlq: () => engine.dlq(),
    deliveries: () => engine.deliveries(),
    waitForIdle: (timeoutMs = 10_000) =>
      new Promise<void>((resolve, reject) => {
        const deadline = Date.now() + timeoutMs;
        const check = (): void => {
          if (!engine.busy()) {
            resolve();
          } else if (Date.now() >= deadline) {
            reject(new Error(`QStash emulator not idle after ${timeoutMs} ms; pending: ${engine.pendingIds().join(", ")}`));
          } else {
            setTimeout(check, 5).unref();
          }
        };
        check();
      }),
    close: async () => {
      engine.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
