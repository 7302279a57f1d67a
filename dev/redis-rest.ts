/**
 * Local Upstash Redis REST endpoint in front of a real Redis, so `@upstash/redis` and
 * `@upstash/ratelimit` run unchanged against a local URL and token.
 *
 * Engines: an external Redis (`redisUrl`), else a `redis-server` spawned from PATH, else an embedded
 * ioredis-mock (not a real Redis: announced on stderr).
 *
 * Protocol (what `@upstash/redis` 1.39 sends and expects):
 * - `POST /` with a JSON command array `["SET","k","v"]` → 200 `{"result": …}` or 400 `{"error": "ERR …"}`;
 * - `POST /pipeline` with an array of commands → 200 `[{"result": …} | {"error": "…"}, …]`, each
 *   command on its own (one failing does not fail the others);
 * - `POST /multi-exec` → the same, run atomically in MULTI/EXEC; a command rejected while queueing
 *   (EXECABORT) fails the whole request with 400;
 * - `GET|POST /{command}/{arg}/…` (path style; a POST body is appended as the last argument);
 * - `Authorization: Bearer <token>` or `?_token=<token>` on every path, else 401 `{"error":"Unauthorized"}`;
 * - `Upstash-Encoding: base64` → every string of the result (recursively in arrays) is base64 of its
 *   bytes; integers and null are unchanged. The client sends this header by default.
 * - `GET /__stats` → `{"requests": N, "byPath": {"/pipeline": N}}`, `POST /__stats/reset`: not counted,
 *   no token.
 * - `POST /__control/latency` `{"ms": N}` → 200 `{"latencyMs": N}`: from now on every counted request
 *   is answered N ms late (a slow, not down, Redis; tests of the callers' timeouts);
 *   `DELETE /__control/latency` restores the start option `latencyMs`; `GET` reads it. Not counted,
 *   no token.
 *
 * Lua: `@upstash/ratelimit` ≥ 2.1 starts its scripts with `#!lua flags=allow-key-locking`, an
 * Upstash-only flag that stock Redis rejects. EVAL/EVAL_RO/SCRIPT LOAD drop that flag (the whole
 * shebang line when nothing else is left, keeping line numbers) and remember
 * sha1(original) → sha1(rewritten), so EVALSHA/EVALSHA_RO/SCRIPT EXISTS with the client's sha (computed
 * on the original text) reach the rewritten script; SCRIPT LOAD answers the original sha. An unknown
 * sha still answers NOSCRIPT, so the client falls back to EVAL.
 *
 * @see https://upstash.com/docs/redis/features/restapi
 * @see node_modules/@upstash/redis (pkg/http.ts: request, base64 `decode`; pkg/pipeline.ts)
 * @see https://redis.io/docs/latest/develop/interact/programmability/eval-intro/#eval-flags
 */
import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import IORedis, { type Redis } from "ioredis";
import { findOnPath, type SpawnedRedisServer, spawnRedisServer } from "./redis-server";
import { runAsScript } from "./serve";

/** Which Redis answers the commands. */
export type RedisRestEngine = "redis-server" | "external" | "embedded";

/** Options of {@link startRedisRest}. */
export interface RedisRestOptions {
  /** Bearer token every request must carry. */
  token: string;
  /** An existing Redis (`redis://…`); given → engine `external`. */
  redisUrl?: string;
  /** Port to listen on; default 0 (a free port). */
  port?: number;
  /** Interface to listen on; default `127.0.0.1`. */
  host?: string;
  /** Force an engine; default `auto` (external if `redisUrl`, else `redis-server` if on PATH, else embedded). */
  engine?: RedisRestEngine | "auto";
  /** Artificial delay before answering each counted request, in ms (simulates the edge → Upstash hop). */
  latencyMs?: number;
  /** Largest accepted request body, in bytes; default 16 MiB (413 above). */
  maxBodyBytes?: number;
}

/** Request counts since start or the last reset; `byPath` keys are `/`, `/pipeline`, `/multi-exec`, `/{command}`. */
export interface RedisRestStats {
  requests: number;
  byPath: Record<string, number>;
}

/** A running endpoint. */
export interface RedisRestHandle {
  /** Base URL, e.g. `http://127.0.0.1:41234` (no trailing slash). */
  url: string;
  token: string;
  /** `redis://…` of the engine; empty for the embedded engine. */
  redisUrl: string;
  engine: RedisRestEngine;
  stats(): RedisRestStats;
  resetStats(): void;
  /** Stops the HTTP server, disconnects, and stops a spawned `redis-server` (an external one is left running). */
  close(): Promise<void>;
}

/** One command: upper-cased name and its arguments as UTF-8 strings. */
interface RedisCommand {
  name: string;
  args: string[];
}

/** A Redis reply: bulk/simple strings as bytes, integers as bigint (real Redis) or number (embedded). */
type Reply = Buffer | bigint | number | null | Error | Reply[];

/** One item of a pipeline answer; also the body of a single-command answer. */
type Outcome = { result: Reply } | { error: string };

/** A Redis command error (answered 400 / per item), as opposed to a failure to reach Redis (500). */
class CommandError extends Error {
  override name = "CommandError";
}

/** What the HTTP layer needs from an engine. */
interface Engine {
  readonly kind: RedisRestEngine;
  readonly redisUrl: string;
  /** Rewrites a Lua script for this engine; `undefined` keeps it as is. */
  prepareScript(source: string): string | undefined;
  /** Runs one command. Rejects with {@link CommandError} for a Redis error. */
  call(command: RedisCommand): Promise<Reply>;
  /**
   * Runs the commands in order, each on its own: a Redis error is that command's `{error}` item.
   * Rejects only when Redis cannot be reached.
   */
  pipeline(commands: RedisCommand[]): Promise<Outcome[]>;
  /** Runs the commands in MULTI/EXEC. Rejects with {@link CommandError} on EXECABORT. */
  transaction(commands: RedisCommand[]): Promise<Outcome[]>;
  close(): Promise<void>;
}

const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;
const UPSTASH_ONLY_SCRIPT_FLAG = "allow-key-locking";

/** Commands that change or take over the shared connection's state; MULTI/EXEC go through `/multi-exec`. */
const UNAVAILABLE = new Set([
  "AUTH",
  "DISCARD",
  "EXEC",
  "HELLO",
  "MONITOR",
  "MULTI",
  "PSUBSCRIBE",
  "PSYNC",
  "PUNSUBSCRIBE",
  "QUIT",
  "REPLICAOF",
  "RESET",
  "SELECT",
  "SHUTDOWN",
  "SLAVEOF",
  "SSUBSCRIBE",
  "SUBSCRIBE",
  "SUNSUBSCRIBE",
  "SYNC",
  "UNSUBSCRIBE",
  "UNWATCH",
  "WATCH",
]);

/** Commands that may block; they get a connection of their own so they cannot stall the others. */
const BLOCKING = new Set(["BLMOVE", "BLMPOP", "BLPOP", "BRPOP", "BRPOPLPUSH", "BZMPOP", "BZPOPMAX", "BZPOPMIN", "WAIT", "WAITAOF"]);

function sha1Hex(text: string): string {
  return createHash("sha1").update(text, "utf8").digest("hex");
}

/**
 * Drops the Upstash-only `allow-key-locking` flag from a Lua shebang (`#!lua flags=a,b`).
 * With `dropShebang` any shebang line is blanked (for engines that do not parse shebangs).
 * The first line is replaced by an empty one when nothing is left, so error line numbers still match.
 * @returns the rewritten script, or `undefined` when there is nothing to change.
 */
export function stripUpstashScriptFlags(source: string, dropShebang = false): string | undefined {
  if (!source.startsWith("#!")) return undefined;
  const eol = source.indexOf("\n");
  const firstLine = eol === -1 ? source : source.slice(0, eol);
  const rest = eol === -1 ? "" : source.slice(eol);
  if (dropShebang) return rest;
  const [engine = "lua", ...params] = firstLine.slice(2).trim().split(/\s+/);
  let changed = false;
  const kept: string[] = [];
  for (const param of params) {
    if (!param.startsWith("flags=")) {
      kept.push(param);
      continue;
    }
    const flags = param
      .slice("flags=".length)
      .split(",")
      .filter((f) => f !== "");
    const remaining = flags.filter((flag) => flag !== UPSTASH_ONLY_SCRIPT_FLAG);
    if (remaining.length !== flags.length) changed = true;
    if (remaining.length > 0) kept.push(`flags=${remaining.join(",")}`);
  }
  if (!changed) return undefined;
  return kept.length > 0 ? `#!${engine} ${kept.join(" ")}${rest}` : rest;
}

/**
 * Rewrites script commands for the engine and keeps sha1(original) → sha1(rewritten).
 * Runs synchronously, so an EVAL earlier in a pipeline is known to a later EVALSHA.
 */
class ScriptShas {
  private readonly rewritten = new Map<string, string>();

  constructor(private readonly prepare: (source: string) => string | undefined) {}

  /** @returns the command to send and, for SCRIPT LOAD, how to map the reply back to the original sha. */
  rewrite(command: RedisCommand): { command: RedisCommand; mapReply?: (reply: Reply) => Reply } {
    const { name, args } = command;
    const [first, ...rest] = args;
    if (first === undefined) return { command };
    if (name === "EVAL" || name === "EVAL_RO") {
      const script = this.learn(first);
      return { command: script ? { name, args: [script.source, ...rest] } : command };
    }
    if (name === "EVALSHA" || name === "EVALSHA_RO") {
      const sha = this.rewritten.get(first.toLowerCase());
      return { command: sha ? { name, args: [sha, ...rest] } : command };
    }
    if (name === "SCRIPT") {
      const sub = first.toUpperCase();
      if (sub === "LOAD" && rest.length === 1 && rest[0] !== undefined) {
        const original = rest[0];
        const script = this.learn(original);
        if (!script) return { command };
        const originalSha = sha1Hex(original);
        return {
          command: { name, args: [first, script.source] },
          mapReply: (reply) => (Buffer.isBuffer(reply) ? Buffer.from(originalSha) : reply),
        };
      }
      if (sub === "EXISTS") {
        const shas = rest.map((sha) => this.rewritten.get(sha.toLowerCase()) ?? sha);
        return { command: { name, args: [first, ...shas] } };
      }
    }
    return { command };
  }

  private learn(original: string): { source: string } | undefined {
    const source = this.prepare(original);
    if (source === undefined) return undefined;
    this.rewritten.set(sha1Hex(original), sha1Hex(source));
    return { source };
  }
}

/** Turns an ioredis reply (Buffer replies, `stringNumbers`) into a {@link Reply}. */
function fromIoredis(value: unknown): Reply {
  if (value === null || value === undefined) return null;
  if (Buffer.isBuffer(value)) return value as Buffer;
  if (typeof value === "string") return /^-?\d+$/.test(value) ? BigInt(value) : Buffer.from(value);
  if (typeof value === "number") return value;
  if (value instanceof Error) return value;
  if (Array.isArray(value)) return value.map(fromIoredis);
  return Buffer.from(String(value));
}

/** Runs `commands` one by one through `call` (concurrently, in order); Redis errors become `{error}` items. */
function callEach(engine: Pick<Engine, "call">, commands: RedisCommand[]): Promise<Outcome[]> {
  return Promise.all(
    commands.map((command) =>
      engine.call(command).then(
        (result): Outcome => ({ result }),
        (error: unknown): Outcome => {
          if (error instanceof CommandError) return { error: error.message };
          throw error;
        },
      ),
    ),
  );
}

function isReplyError(error: unknown): error is Error {
  return error instanceof Error && error.name === "ReplyError";
}

/** Engine over ioredis: a spawned `redis-server` or an external Redis. */
class IoredisEngine implements Engine {
  private readonly blockingConnections = new Set<Redis>();

  constructor(
    readonly kind: "redis-server" | "external",
    readonly redisUrl: string,
    private readonly redis: Redis,
    private readonly onClose: () => Promise<void>,
  ) {}

  prepareScript(source: string): string | undefined {
    return stripUpstashScriptFlags(source);
  }

  async call(command: RedisCommand): Promise<Reply> {
    const connection = this.isBlocking(command) ? this.redis.duplicate() : this.redis;
    if (connection !== this.redis) this.blockingConnections.add(connection);
    try {
      return fromIoredis(await connection.callBuffer(command.name, ...command.args));
    } catch (error) {
      throw isReplyError(error) ? new CommandError(error.message) : error;
    } finally {
      if (connection !== this.redis) {
        this.blockingConnections.delete(connection);
        connection.disconnect();
      }
    }
  }

  /**
   * One ioredis pipeline: the commands leave in one write and their replies are read together,
   * instead of a write per command. A blocking command takes its own connection, so a pipeline
   * holding one runs its commands one by one.
   */
  async pipeline(commands: RedisCommand[]): Promise<Outcome[]> {
    if (commands.length === 1 || commands.some((c) => this.isBlocking(c))) return callEach(this, commands);
    const pipeline = this.redis.pipeline();
    // Upper-case names skip ioredis's reply transformers (HGETALL → object), so replies stay raw.
    for (const { name, args } of commands) pipeline.callBuffer(name, ...args);
    const replies = (await pipeline.exec()) ?? [];
    return commands.map((_, i): Outcome => {
      const [error, reply] = replies[i] ?? [new Error("ERR no reply"), null];
      if (!error) return { result: fromIoredis(reply) };
      if (isReplyError(error)) return { error: error.message };
      throw error;
    });
  }

  async transaction(commands: RedisCommand[]): Promise<Outcome[]> {
    const multi = this.redis.multi();
    // Upper-case names skip ioredis's reply transformers (HGETALL → object), so replies stay raw.
    for (const { name, args } of commands) multi.callBuffer(name, ...args);
    let replies: [Error | null, unknown][] | null;
    try {
      replies = await multi.exec();
    } catch (error) {
      if (!isReplyError(error)) throw error;
      const previous = (error as Error & { previousErrors?: Error[] }).previousErrors ?? [];
      const causes = previous.map((e) => e.message).join("; ");
      throw new CommandError(causes ? `${error.message} ${causes}` : error.message);
    }
    if (!replies) throw new CommandError("EXECABORT Transaction discarded");
    return replies.map(([error, reply]) => (error ? { error: error.message } : { result: fromIoredis(reply) }));
  }

  async close(): Promise<void> {
    for (const connection of this.blockingConnections) connection.disconnect();
    await this.redis.quit().catch(() => this.redis.disconnect());
    await this.onClose();
  }

  private isBlocking({ name, args }: RedisCommand): boolean {
    if (BLOCKING.has(name)) return true;
    return (name === "XREAD" || name === "XREADGROUP") && args.some((a) => a.toUpperCase() === "BLOCK");
  }
}

type MockMethod = (...args: string[]) => unknown;

/** Turns an ioredis-mock reply (strings, numbers, objects for HGETALL) into a {@link Reply}. */
function fromMock(value: unknown): Reply {
  if (value === null || value === undefined || value === false) return null;
  if (value === true) return 1;
  if (Buffer.isBuffer(value)) return value as Buffer;
  if (typeof value === "string") return Buffer.from(value);
  if (typeof value === "number") return value;
  if (value instanceof Error) return value;
  if (Array.isArray(value)) return value.map(fromMock);
  if (typeof value === "object") {
    return Object.entries(value).flatMap(([k, v]) => [Buffer.from(k), fromMock(v)]);
  }
  return Buffer.from(String(value));
}

function mockError(error: unknown): CommandError {
  const message = error instanceof Error ? error.message : String(error);
  return new CommandError(/^[A-Z]+ /.test(message) ? message : `ERR ${message}`);
}

/** Engine over an in-process ioredis-mock: no Redis needed, but not a real Redis. */
class EmbeddedEngine implements Engine {
  readonly kind = "embedded" as const;
  readonly redisUrl = "";

  constructor(private readonly mock: Record<string, unknown>) {}

  prepareScript(source: string): string | undefined {
    return stripUpstashScriptFlags(source, true);
  }

  call(command: RedisCommand): Promise<Reply> {
    try {
      return Promise.resolve(this.invoke(command)).then(fromMock, (error: unknown) => {
        throw mockError(error);
      });
    } catch (error) {
      return Promise.reject(error instanceof CommandError ? error : mockError(error));
    }
  }

  pipeline(commands: RedisCommand[]): Promise<Outcome[]> {
    return callEach(this, commands);
  }

  async transaction(commands: RedisCommand[]): Promise<Outcome[]> {
    const unknown = commands.find((c) => !this.method(c.name.toLowerCase()));
    if (unknown) {
      throw new CommandError(
        `EXECABORT Transaction discarded because of previous errors. ERR unknown command '${unknown.name.toLowerCase()}'`,
      );
    }
    // ioredis-mock runs each command synchronously when called, so calling them all before the
    // first await keeps other requests from interleaving: the transaction is atomic.
    const pending = commands.map((c) => this.call(c));
    const settled = await Promise.allSettled(pending);
    return settled.map((s) => (s.status === "fulfilled" ? { result: s.value } : { error: mockError(s.reason).message }));
  }

  async close(): Promise<void> {
    const disconnect = this.method("disconnect");
    disconnect?.call(this.mock);
  }

  private method(name: string): MockMethod | undefined {
    const candidate = this.mock[name];
    return typeof candidate === "function" ? (candidate as MockMethod) : undefined;
  }

  /** Prefers the `…Buffer` variant (binary replies); ioredis-mock stubs unsupported ones with a throwing function. */
  private invoke({ name, args }: RedisCommand): unknown {
    const lower = name.toLowerCase();
    const plain = this.method(lower);
    if (!plain) throw new CommandError(`ERR unknown command '${lower}'`);
    const buffered = this.method(`${lower}Buffer`);
    if (buffered) {
      try {
        return buffered.apply(this.mock, args);
      } catch (error) {
        if (!(error instanceof TypeError && /Unsupported command/.test(error.message))) throw error;
      }
    }
    try {
      return plain.apply(this.mock, args);
    } catch (error) {
      if (error instanceof TypeError && /Unsupported command/.test(error.message)) {
        throw new CommandError(`ERR unknown command '${lower}' (not supported by the embedded engine)`);
      }
      throw error;
    }
  }
}

/** Connects ioredis with Buffer replies and integers as strings (no precision loss), failing fast. */
async function connectIoredis(url: string): Promise<Redis> {
  const redis = new IORedis(url, { lazyConnect: true, stringNumbers: true, maxRetriesPerRequest: 3 });
  let lastError = "";
  redis.on("error", (error: Error) => {
    if (error.message === lastError) return;
    lastError = error.message;
    process.stderr.write(`[redis-rest] redis connection error: ${error.message}\n`);
  });
  try {
    await redis.connect();
  } catch (error) {
    redis.disconnect();
    throw new Error(`redis-rest: cannot connect to ${url}: ${(error as Error).message}`);
  }
  return redis;
}

function warnEmbedded(forced: boolean): void {
  const lines = [
    "redis-rest: EMBEDDED ENGINE (ioredis-mock), NOT A REAL REDIS",
    forced
      ? "Requested with engine: 'embedded'. Data lives in this process only."
      : "No redis-server on PATH and no REDIS_URL given. Data lives in this process only.",
    "Lua scripts (rate limits) and some commands behave differently from Redis.",
    "Install redis-server or set REDIS_URL for production-like behaviour.",
  ];
  const width = Math.max(...lines.map((l) => l.length));
  const bar = "═".repeat(width + 2);
  process.stderr.write(`╔${bar}╗\n${lines.map((l) => `║ ${l.padEnd(width)} ║`).join("\n")}\n╚${bar}╝\n`);
}

async function createEngine(options: RedisRestOptions): Promise<Engine> {
  const wanted = options.engine ?? "auto";
  if (wanted === "external" || (wanted === "auto" && options.redisUrl)) {
    if (!options.redisUrl) throw new Error("redis-rest: engine 'external' needs redisUrl");
    const redis = await connectIoredis(options.redisUrl);
    return new IoredisEngine("external", options.redisUrl, redis, async () => {});
  }
  if (wanted === "redis-server" || (wanted === "auto" && findOnPath("redis-server"))) {
    const server: SpawnedRedisServer = await spawnRedisServer();
    try {
      const redis = await connectIoredis(server.url);
      return new IoredisEngine("redis-server", server.url, redis, () => server.close());
    } catch (error) {
      await server.close();
      throw error;
    }
  }
  warnEmbedded(wanted === "embedded");
  const { default: RedisMock } = await import("ioredis-mock");
  // ioredis-mock shares data between instances of the same host:port; a unique host isolates this one.
  const mock = new RedisMock({ host: `embedded-${randomUUID()}`, port: 6379 });
  return new EmbeddedEngine(mock as unknown as Record<string, unknown>);
}

/** JSON text of a reply; strings as base64 of their bytes when `base64`, integers as exact digits. */
function replyJson(reply: Reply, base64: boolean): string {
  if (reply === null) return "null";
  // (Casts keep the narrowing the same under @types/node 20 and 22, whose Buffer types differ.)
  if (Buffer.isBuffer(reply)) return JSON.stringify((reply as Buffer).toString(base64 ? "base64" : "utf8"));
  if (typeof reply === "bigint") return reply.toString();
  if (typeof reply === "number") return Number.isFinite(reply) ? String(reply) : "null";
  if (reply instanceof Error) return replyJson(Buffer.from(reply.message), base64);
  return `[${(reply as Reply[]).map((item) => replyJson(item, base64)).join(",")}]`;
}

function outcomeJson(outcome: Outcome, base64: boolean): string {
  return "error" in outcome ? JSON.stringify({ error: outcome.error }) : `{"result":${replyJson(outcome.result, base64)}}`;
}

/**
 * Validates one command of a request body: a non-empty array of strings, numbers or booleans.
 * @throws CommandError otherwise.
 */
function parseCommand(value: unknown): RedisCommand {
  if (!Array.isArray(value) || value.length === 0) {
    throw new CommandError("ERR a command must be a non-empty JSON array");
  }
  const parts = value.map((part: unknown) => {
    if (typeof part === "string") return part;
    if (typeof part === "number" || typeof part === "boolean") return String(part);
    throw new CommandError(`ERR invalid command argument: ${JSON.stringify(part)}`);
  });
  const [name = "", ...args] = parts;
  const upper = name.toUpperCase();
  if (UNAVAILABLE.has(upper)) {
    throw new CommandError(`ERR Command is not available: '${name.toLowerCase()}'`);
  }
  return { name: upper, args };
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new HttpError(413, "ERR request body too large"));
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(chunks.length === 1 && chunks[0] ? chunks[0] : Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    throw new HttpError(400, "ERR failed to parse the request body as JSON");
  }
}

function tokenMatches(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Paths answered without parsing the URL: the client's own, with no query string. */
const FIXED_PATHS = new Set(["/", "/pipeline", "/multi-exec"]);

function bearer(req: IncomingMessage, url: URL | undefined): string | undefined {
  const header = req.headers.authorization;
  const match = header ? /^Bearer\s+(.+)$/i.exec(header.trim()) : null;
  return match?.[1] ?? url?.searchParams.get("_token") ?? undefined;
}

function send(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
}

/**
 * Starts the local Upstash Redis REST endpoint.
 * @returns a handle with the base URL, the engine used, request counters and `close()`.
 * @throws when `engine: 'external'` lacks `redisUrl`, when the Redis cannot be reached, or when
 *   `engine: 'redis-server'` is forced and none is on PATH.
 * @see the module comment for the protocol.
 */
export async function startRedisRest(options: RedisRestOptions): Promise<RedisRestHandle> {
  if (!options.token) throw new Error("redis-rest: a token is required");
  /** Delay before answering each counted request, ms (`POST /__control/latency` changes it). */
  let latencyMs = options.latencyMs ?? 0;
  const engine = await createEngine(options);
  const scripts = new ScriptShas((source) => engine.prepareScript(source));
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  let stats: RedisRestStats = { requests: 0, byPath: {} };

  /** Runs one command through the script rewriting; Redis errors become `{error}`. */
  const run = (command: RedisCommand): Promise<Outcome> => {
    const { command: sent, mapReply } = scripts.rewrite(command);
    return engine.call(sent).then(
      (reply) => ({ result: mapReply ? mapReply(reply) : reply }),
      (error: unknown) => {
        if (error instanceof CommandError) return { error: error.message };
        throw error;
      },
    );
  };

  const runPipeline = async (body: unknown): Promise<Outcome[]> => {
    if (!Array.isArray(body) || body.length === 0) {
      throw new HttpError(400, "ERR a pipeline must be a non-empty JSON array of commands");
    }
    // Commands are sent in order, each on its own: an invalid one answers an error item.
    const outcomes: Outcome[] = new Array(body.length);
    const valid: { index: number; command: RedisCommand; mapReply?: (reply: Reply) => Reply }[] = [];
    body.forEach((item: unknown, index) => {
      try {
        valid.push({ index, ...scripts.rewrite(parseCommand(item)) });
      } catch (error) {
        if (!(error instanceof CommandError)) throw error;
        outcomes[index] = { error: error.message };
      }
    });
    const replies = valid.length > 0 ? await engine.pipeline(valid.map((v) => v.command)) : [];
    valid.forEach(({ index, mapReply }, i) => {
      const outcome = replies[i] ?? { error: "ERR no reply" };
      outcomes[index] = mapReply && "result" in outcome ? { result: mapReply(outcome.result) } : outcome;
    });
    return outcomes;
  };

  const runTransaction = async (body: unknown): Promise<Outcome[]> => {
    if (!Array.isArray(body) || body.length === 0) {
      throw new HttpError(400, "ERR a transaction must be a non-empty JSON array of commands");
    }
    let parsed: RedisCommand[];
    try {
      parsed = body.map(parseCommand);
    } catch (error) {
      if (error instanceof CommandError) {
        throw new HttpError(400, `EXECABORT Transaction discarded because of previous errors. ${error.message}`);
      }
      throw error;
    }
    const rewritten = parsed.map((c) => scripts.rewrite(c));
    try {
      const outcomes = await engine.transaction(rewritten.map((r) => r.command));
      return outcomes.map((outcome, i) => {
        const mapReply = rewritten[i]?.mapReply;
        return mapReply && "result" in outcome ? { result: mapReply(outcome.result) } : outcome;
      });
    } catch (error) {
      if (error instanceof CommandError) throw new HttpError(400, error.message);
      throw error;
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // The client's own paths (no query string) need no URL parsing.
    const raw = req.url ?? "/";
    const url = FIXED_PATHS.has(raw) ? undefined : new URL(raw, "http://localhost");
    const path = url ? url.pathname.replace(/\/+$/, "") || "/" : raw;
    const method = req.method ?? "GET";
    if (path === "/__stats" && method === "GET") return send(res, 200, JSON.stringify(stats));
    if (path === "/__stats/reset" && method === "POST") {
      stats = { requests: 0, byPath: {} };
      return send(res, 200, JSON.stringify(stats));
    }
    if (path === "/__control/latency") {
      if (method === "POST") {
        const { ms } = JSON.parse((await readBody(req, maxBody)).toString() || "{}") as { ms?: unknown };
        if (typeof ms !== "number" || !Number.isInteger(ms) || ms < 0)
          return send(res, 400, JSON.stringify({ error: "ms must be an integer >= 0" }));
        latencyMs = ms;
      } else if (method === "DELETE") latencyMs = options.latencyMs ?? 0;
      else req.resume();
      return send(res, 200, JSON.stringify({ latencyMs }));
    }

    const segments = path
      .split("/")
      .filter((s) => s !== "")
      .map((s) => decodeURIComponent(s));
    const statsKey = path === "/pipeline" || path === "/multi-exec" || path === "/" ? path : `/${(segments[0] ?? "").toLowerCase()}`;
    stats.requests += 1;
    stats.byPath[statsKey] = (stats.byPath[statsKey] ?? 0) + 1;
    if (latencyMs > 0) await new Promise((r) => setTimeout(r, latencyMs));

    if (!tokenMatches(bearer(req, url), options.token)) {
      req.resume();
      return send(res, 401, JSON.stringify({ error: "Unauthorized" }));
    }
    if (method !== "GET" && method !== "POST") {
      req.resume();
      return send(res, 405, JSON.stringify({ error: "ERR method not allowed" }));
    }
    const body = await readBody(req, maxBody);
    const base64 = String(req.headers["upstash-encoding"] ?? "").toLowerCase() === "base64";

    if (path === "/pipeline" || path === "/multi-exec") {
      if (method !== "POST") throw new HttpError(405, "ERR method not allowed");
      const json = parseJson(body);
      const outcomes = path === "/pipeline" ? await runPipeline(json) : await runTransaction(json);
      return send(res, 200, `[${outcomes.map((o) => outcomeJson(o, base64)).join(",")}]`);
    }

    let command: RedisCommand;
    try {
      if (path === "/" && method === "POST") {
        command = parseCommand(parseJson(body));
      } else {
        const parts = body.length > 0 && method === "POST" ? [...segments, body.toString("utf8")] : segments;
        if (parts.length === 0) throw new CommandError("ERR empty command");
        command = parseCommand(parts);
      }
    } catch (error) {
      if (error instanceof CommandError) throw new HttpError(400, error.message);
      throw error;
    }
    const outcome = await run(command);
    return send(res, "error" in outcome ? 400 : 200, outcomeJson(outcome, base64));
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      const status = error instanceof HttpError ? error.status : error instanceof URIError ? 400 : 500;
      const message = error instanceof Error ? error.message : String(error);
      if (!res.headersSent) send(res, status, JSON.stringify({ error: message }));
      else res.destroy();
    });
  });
  const host = options.host ?? "127.0.0.1";
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port ?? 0, host, () => resolve());
    });
  } catch (error) {
    await engine.close();
    throw error;
  }
  const { port } = server.address() as AddressInfo;

  let closing: Promise<void> | undefined;
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    token: options.token,
    redisUrl: engine.redisUrl,
    engine: engine.kind,
    stats: () => ({ requests: stats.requests, byPath: { ...stats.byPath } }),
    resetStats: () => {
      stats = { requests: 0, byPath: {} };
    },
    close() {
      closing ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await engine.close();
      })();
      return closing;
    },
  };
}

/**
 * `npx tsx dev/redis-rest.ts`: runs the endpoint until SIGINT/SIGTERM.
 * Env: `UPSTASH_REDIS_REST_TOKEN` (default `dev-token`), `REDIS_URL` (optional),
 * `REDIS_REST_PORT` (default 8079).
 */
async function main(): Promise<void> {
  const handle = await startRedisRest({
    token: process.env.UPSTASH_REDIS_REST_TOKEN || "dev-token",
    redisUrl: process.env.REDIS_URL || undefined,
    port: Number(process.env.REDIS_REST_PORT ?? 8079),
  });
  process.stdout.write(`redis-rest: ${handle.url} (engine ${handle.engine}${handle.redisUrl ? ` ${handle.redisUrl}` : ""})\n`);
  const stop = () => void handle.close().then(() => process.exit(0));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

runAsScript(import.meta.url, main);
