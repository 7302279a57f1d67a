/**
 * Terminal rendering of the local Worker's output for `npm run dev`.
 *
 * The Worker writes one JSON object per event on `console.log` (`src/core/logger.ts`):
 * `{"level":"warn","time":"2026-11-21T07:51:02.123Z","msg":"wb-sync attempt failed","service":"all",…}`.
 * `wrangler dev` passes those lines through (at its log level `log` or more verbose: `info`
 * hides every `console.log` of the Worker). Here each becomes one readable line:
 *
 * ```
 * 10:51:02 WARN  wb-sync attempt failed  jobId=… attempt=1 dataset=orders error="Wildberries answered 503"
 * 10:51:03 INFO  POST /api/v1/sync/wildberries 202 41.2ms  orgId=… subject=user:… requestId=…
 * ```
 *
 * Time is local, fields keep the order the Worker wrote them, strings are quoted only when they
 * need it, values longer than {@link MAX_VALUE_CHARS} are cut. An `error` level event with a stack
 * prints the stack indented below its line. `DEV_LOG_FORMAT=json` (read by `scripts/local-env.ts`)
 * shows wrangler's output untouched instead.
 * wrangler's own request lines (`[wrangler:info] GET /x 200 OK (3ms)`) are dropped: the Worker's
 * `request` event says the same and more. Requests whose `X-Request-Id` starts with
 * {@link QUIET_REQUEST_ID_PREFIX} (the dev script's own polling) are not shown.
 */

/** A Worker log event as `src/core/logger.ts` writes it. */
export interface LogEvent {
  level: string;
  time: string;
  msg: string;
  [field: string]: unknown;
}

/** Request id prefix of the dev tooling's own requests (health and progress polling); their `request` events are hidden. */
export const QUIET_REQUEST_ID_PREFIX = "dev-quiet-";

/** Rendering options. */
export interface LogFormatOptions {
  /** ANSI colours (when the terminal is a TTY and `NO_COLOR` is unset). */
  color: boolean;
}

const ansi = {
  reset: "\u001b[0m",
  dim: "\u001b[2m",
  bold: "\u001b[1m",
  red: "\u001b[31m",
  green: "\u001b[32m",
  yellow: "\u001b[33m",
  blue: "\u001b[34m",
  magenta: "\u001b[35m",
  cyan: "\u001b[36m",
  gray: "\u001b[90m",
} as const;

type Style = keyof typeof ansi;

const levelStyle: Record<string, Style> = { debug: "gray", info: "green", warn: "yellow", error: "red", sync: "cyan" };

/** Whether colours should be used on `stream` (a TTY, `NO_COLOR` unset; `FORCE_COLOR` forces them). */
export function useColor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR) return false;
  if (env.FORCE_COLOR && env.FORCE_COLOR !== "0") return true;
  return stream.isTTY === true;
}

function paint(text: string, style: Style, opts: LogFormatOptions): string {
  return opts.color ? `${ansi[style]}${text}${ansi.reset}` : text;
}

/** Local wall-clock `HH:MM:SS` of an ISO time (or of now when it does not parse). */
export function clockTime(iso?: string): string {
  const d = iso ? new Date(iso) : new Date();
  return (Number.isNaN(d.getTime()) ? new Date() : d).toTimeString().slice(0, 8);
}

/** The start of every rendered line: `10:51:02 WARN `. */
export function linePrefix(level: string, iso: string | undefined, opts: LogFormatOptions): string {
  const label = level.toUpperCase().padEnd(5);
  return `${paint(clockTime(iso), "dim", opts)} ${paint(label, levelStyle[level] ?? "magenta", opts)}`;
}

/** The JSON object on `line`, if it is a Worker log event. */
export function parseLogEvent(line: string): LogEvent | undefined {
  const text = line.trim();
  if (!text.startsWith("{") || !text.endsWith("}")) return undefined;
  try {
    const value = JSON.parse(text) as unknown;
    if (!value || typeof value !== "object") return undefined;
    const e = value as Record<string, unknown>;
    if (typeof e.level !== "string" || typeof e.msg !== "string") return undefined;
    return { ...e, level: e.level, msg: e.msg, time: typeof e.time === "string" ? e.time : "" };
  } catch {
    return undefined;
  }
}

/**
 * Longest value shown, in characters; a longer one (a query plan, a response body) is cut with
 * `…[+N chars]`, keeping an event on one line. `DEV_LOG_FORMAT=json` shows the raw lines instead.
 */
export const MAX_VALUE_CHARS = 240;

/** `key=value`, the value bare when it is a plain word, else as JSON; cut at {@link MAX_VALUE_CHARS}. */
function field(key: string, value: unknown, opts: LogFormatOptions): string {
  let text: string;
  if (typeof value === "string") text = /^[^\s"'=\\]+$/.test(value) ? value : JSON.stringify(value);
  else if (value !== null && typeof value === "object" && "message" in value && typeof value.message === "string") {
    // An Error as the logger serialises it: { name, message, stack? }.
    const name = "name" in value && typeof value.name === "string" ? `${value.name}: ` : "";
    text = JSON.stringify(`${name}${value.message}`);
  } else text = JSON.stringify(value) ?? String(value);
  if (text.length > MAX_VALUE_CHARS)
    text = `${text.slice(0, MAX_VALUE_CHARS)}${paint(`…[+${text.length - MAX_VALUE_CHARS} chars]`, "dim", opts)}`;
  return `${paint(`${key}=`, "dim", opts)}${text}`;
}

/** Fields every line has or that say nothing locally (the all-in-one Worker is the only service). */
const hiddenFields = new Set(["level", "time", "msg", "service"]);

/** One Worker log event as one line (plus its stack, indented, for an `error` event that has one). */
export function formatLogEvent(e: LogEvent, opts: LogFormatOptions): string {
  const rest = Object.entries(e).filter(([k, v]) => !hiddenFields.has(k) && v !== undefined);
  let head: string;
  if (e.msg === "request" && typeof e.method === "string" && typeof e.path === "string") {
    // The per-request event: `GET /path 200 4.1ms` reads better than five fields.
    const status = typeof e.status === "number" ? e.status : 0;
    const statusStyle: Style = status >= 500 ? "red" : status >= 400 ? "yellow" : "green";
    head = `${paint(e.method, "bold", opts)} ${e.path} ${paint(String(status), statusStyle, opts)}${typeof e.durationMs === "number" ? ` ${e.durationMs}ms` : ""}`;
    const shown = new Set(["method", "path", "status", "durationMs"]);
    // The route pattern only adds something when it differs from the path (`/orders/:id`).
    if (e.route === e.path || e.route === "*" || e.route === "/*") shown.add("route");
    for (let i = rest.length - 1; i >= 0; i--) if (shown.has((rest[i] as [string, unknown])[0])) rest.splice(i, 1);
  } else {
    head = paint(e.msg, e.level === "error" || e.level === "warn" ? "bold" : "reset", opts);
  }
  // The request id goes last: long, and only needed to find a request again.
  rest.sort(([a], [b]) => Number(a === "requestId") - Number(b === "requestId"));
  const fields = rest.map(([k, v]) => field(k, v, opts)).join(" ");
  let out = `${linePrefix(e.level, e.time, opts)} ${head}${fields ? `  ${fields}` : ""}`;
  const stack = e.level === "error" ? findStack(e) : undefined;
  if (stack) {
    const frames = stack
      .split("\n")
      .slice(1)
      .map((l) => `    ${l.trim()}`);
    if (frames.length > 0) out += `\n${paint(frames.join("\n"), "dim", opts)}`;
  }
  return out;
}

function findStack(e: LogEvent): string | undefined {
  for (const v of Object.values(e)) {
    if (v && typeof v === "object" && "stack" in v && typeof v.stack === "string") return v.stack;
  }
  return undefined;
}

/** wrangler's own per-request line, e.g. `[wrangler:info] GET /health 200 OK (3ms)`. */
const wranglerRequestLine = /^\s*\[wrangler:info\]\s+[A-Z]+ \/\S* \d{3}\b/;

/** SGR colour codes (`ESC [ … m`), which wrangler may write when colours are forced. */
const sgrCode = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g");

/**
 * Renders one line of `wrangler dev` output: a Worker log event formatted, a wrangler request line
 * or a quiet request's event dropped (`undefined`), anything else unchanged (less its colour codes
 * without `color`).
 */
export function formatOutputLine(line: string, opts: LogFormatOptions): string | undefined {
  const event = parseLogEvent(line);
  if (!event) {
    const plain = line.replace(sgrCode, "");
    if (wranglerRequestLine.test(plain)) return undefined;
    // wrangler colours its build errors even into a pipe; keep them only for a terminal.
    return opts.color ? line : plain;
  }
  if (event.msg === "request" && typeof event.requestId === "string" && event.requestId.startsWith(QUIET_REQUEST_ID_PREFIX))
    return undefined;
  return formatLogEvent(event, opts);
}

/**
 * Splits a stream into lines and calls `onLine` for each (a last line without a newline is
 * delivered when the stream ends).
 */
export function forEachLine(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let buffered = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    buffered += chunk;
    let newline = buffered.indexOf("\n");
    while (newline >= 0) {
      onLine(buffered.slice(0, newline).replace(/\r$/, ""));
      buffered = buffered.slice(newline + 1);
      newline = buffered.indexOf("\n");
    }
  });
  stream.on("end", () => {
    if (buffered) onLine(buffered);
    buffered = "";
  });
}
