/**
 * Structured JSON logger: one line per event on `console.log`, which Workers Logs
 * and `wrangler tail` collect as is.
 *
 * Fields whose names look like secrets or personal data (token, password, secret,
 * authorization, cookie, email, phone) are replaced by `"[redacted]"` at any depth,
 * so a careless `logger.info("x", { body })` cannot leak them. In every string, e-mail
 * addresses, bearer credentials, JWTs (access tokens, Wildberries tokens), API keys,
 * `password=…`-style pairs and the parameters of a failed query (drizzle's `params:` line)
 * are replaced too. Sentry reports are scrubbed with the same function (`src/core/sentry.ts`).
 */
export type LogLevel = "debug" | "info" | "warn" | "error";

const levels: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const sensitiveKey = /pass(word)?|secret|token|authorization|cookie|e-?mail|phone|api[-_]?key|signature/i;
const emailPattern = /[^\s@"']+@[^\s@"']+\.[a-z]{2,}/gi;

/** Secrets inside free text, and what replaces them. */
const textPatterns: [RegExp, string][] = [
  // drizzle's DrizzleQueryError: "Failed query: …\nparams: <every parameter>".
  [/(\bparams: )[^\n]*/g, "$1[redacted]"],
  [/\b(Bearer|Basic)\s+[^\s"',;]+/gi, "$1 [redacted]"],
  [/\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]*)?/g, "[jwt]"],
  [/\bse_live_[A-Za-z0-9_-]+/g, "se_live_[redacted]"],
  [/\b(pass(?:word)?|secret|token|api[-_]?key|key)=[^\s&"',;]+/gi, "$1=[redacted]"],
  [emailPattern, "[email]"],
];

/** `text` with the secrets of {@link textPatterns} replaced. */
function redactText(text: string): string {
  return textPatterns.reduce((out, [pattern, replacement]) => out.replace(pattern, replacement), text);
}

/** Deep copy of `value` with sensitive keys, e-mail addresses and credentials in text redacted. */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6) return "[depth]";
  if (typeof value === "string") return redactText(value);
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  if (value instanceof Error) return { name: value.name, message: redact(value.message, depth + 1) };
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = sensitiveKey.test(k) ? "[redacted]" : redact(v, depth + 1);
    return out;
  }
  return value;
}

/** A logger bound to fixed context fields (service, request id, org id...). */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** A child logger with more context fields. */
  with(fields: Record<string, unknown>): Logger;
}

/** Creates a logger writing JSON lines at or above `minLevel`. */
export function createLogger(context: Record<string, unknown>, minLevel: LogLevel = "info"): Logger {
  const write = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (levels[level] < levels[minLevel]) return;
    const line = { level, time: new Date().toISOString(), msg, ...context, ...(fields ? (redact(fields) as object) : {}) };
    console.log(JSON.stringify(line));
  };
  return {
    debug: (m, f) => write("debug", m, f),
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
    with: (fields) => createLogger({ ...context, ...(redact(fields) as object) }, minLevel),
  };
}
