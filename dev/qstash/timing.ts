/**
 * Time arithmetic of the QStash emulator: duration headers, the default retry backoff, the
 * `Retry-After` family of response headers and the `Upstash-Retry-Delay` expression language.
 *
 * Every function here returns milliseconds and never throws on bad input from a destination;
 * bad input from a publisher is reported as `undefined` so the caller can answer 400.
 *
 * @see https://upstash.com/docs/qstash/features/retry
 */

/** Longest retry delay QStash ever waits: one day, in milliseconds. */
export const MAX_RETRY_DELAY_MS = 86_400_000;

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/**
 * Parses a QStash duration (`Upstash-Delay`, `Upstash-Timeout`, `Retry-After`): a bare number of
 * seconds (`"10"`) or a Go-style duration (`"10s"`, `"6m5s"`, `"1.5h"`, `"300ms"`, `"2d"`).
 *
 * @returns milliseconds, or `undefined` when the text is not a duration.
 */
export function parseDuration(text: string): number | undefined {
  const value = text.trim();
  if (value === "") return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1_000;
  const part = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)/gy;
  let total = 0;
  let consumed = 0;
  for (let match = part.exec(value); match !== null; match = part.exec(value)) {
    const [whole, amount, unit] = match;
    const scale = unit === undefined ? undefined : UNIT_MS[unit];
    if (amount === undefined || scale === undefined) return undefined;
    total += Number(amount) * scale;
    consumed += whole.length;
  }
  return consumed === value.length && consumed > 0 ? total : undefined;
}

/**
 * The default backoff before retry number `retry` (1 for the first retry):
 * `min(86400, e ** (2.5 * retry))` seconds.
 *
 * @returns milliseconds.
 * @see https://upstash.com/docs/qstash/features/retry
 */
export function defaultBackoffMs(retry: number): number {
  return Math.min(MAX_RETRY_DELAY_MS, Math.exp(2.5 * retry) * 1_000);
}

/**
 * Reads the delay a failed destination asked for: seconds, an RFC 1123 date, or a duration
 * (`6m5s`). A value beyond one day is ignored, as QStash then applies its own backoff.
 *
 * @param now current time, epoch milliseconds (for dates).
 * @returns milliseconds, or `undefined` when absent, unparsable or out of range.
 * @see https://upstash.com/docs/qstash/features/retry#retry-after-headers
 */
export function parseRetryAfter(value: string, now: number): number | undefined {
  let delay = parseDuration(value);
  if (delay === undefined && /[a-z]{3},/i.test(value)) {
    const at = Date.parse(value);
    if (!Number.isNaN(at)) delay = Math.max(0, at - now);
  }
  if (delay === undefined || delay < 0 || delay > MAX_RETRY_DELAY_MS) return undefined;
  return delay;
}

type Token = { kind: "number"; value: number } | { kind: "name"; value: string } | { kind: "op"; value: string };

const FUNCTIONS: Record<string, (...args: number[]) => number> = {
  pow: (a = 0, b = 0) => a ** b,
  sqrt: (a = 0) => Math.sqrt(a),
  abs: (a = 0) => Math.abs(a),
  exp: (a = 0) => Math.exp(a),
  floor: (a = 0) => Math.floor(a),
  ceil: (a = 0) => Math.ceil(a),
  round: (a = 0) => Math.round(a),
  min: (...args) => Math.min(...args),
  max: (...args) => Math.max(...args),
};

function tokenize(expression: string): Token[] | undefined {
  const tokens: Token[] = [];
  const pattern = /\s*(?:(\d+(?:\.\d+)?)|([A-Za-z_]\w*)|([-+*/%(),]))/y;
  let index = 0;
  while (index < expression.length) {
    if (/^\s*$/.test(expression.slice(index))) break;
    pattern.lastIndex = index;
    const match = pattern.exec(expression);
    if (match === null) return undefined;
    const [whole, number, name, op] = match;
    if (number !== undefined) tokens.push({ kind: "number", value: Number(number) });
    else if (name !== undefined) tokens.push({ kind: "name", value: name });
    else if (op !== undefined) tokens.push({ kind: "op", value: op });
    index += whole.length;
  }
  return tokens;
}

/**
 * Evaluates an `Upstash-Retry-Delay` expression such as `pow(2, retried) * 1000` with a small
 * recursive-descent parser (no `eval`). Supports `+ - * / %`, parentheses, unary minus, the
 * variable `retried` and the functions pow, sqrt, abs, exp, floor, ceil, round, min, max.
 *
 * @param retried how many times the message has been retried so far (0 before the first retry).
 * @returns milliseconds (clamped to 0..1 day), or `undefined` when the expression is invalid.
 * @see https://upstash.com/docs/qstash/features/retry#custom-retry-delay
 */
export function evaluateRetryDelay(expression: string, retried: number): number | undefined {
  const tokens = tokenize(expression);
  if (tokens === undefined || tokens.length === 0) return undefined;
  let position = 0;
  const peek = (): Token | undefined => tokens[position];
  const isOp = (value: string): boolean => {
    const token = peek();
    return token?.kind === "op" && token.value === value;
  };
  const expect = (value: string): void => {
    if (!isOp(value)) throw new SyntaxError(`expected ${value}`);
    position++;
  };

  const primary = (): number => {
    const token = peek();
    if (token === undefined) throw new SyntaxError("unexpected end");
    position++;
    if (token.kind === "number") return token.value;
    if (token.kind === "op" && token.value === "(") {
      const value = sum();
      expect(")");
      return value;
    }
    if (token.kind === "op" && token.value === "-") return -primary();
    if (token.kind === "op" && token.value === "+") return primary();
    if (token.kind === "name") {
      if (token.value === "retried") return retried;
      const fn = FUNCTIONS[token.value];
      if (fn === undefined) throw new SyntaxError(`unknown name ${token.value}`);
      expect("(");
      const args: number[] = [];
      if (!isOp(")")) {
        args.push(sum());
        while (isOp(",")) {
          position++;
          args.push(sum());
        }
      }
      expect(")");
      return fn(...args);
    }
    throw new SyntaxError(`unexpected ${token.value}`);
  };
  const product = (): number => {
    let value = primary();
    while (isOp("*") || isOp("/") || isOp("%")) {
      const op = peek()?.value;
      position++;
      const right = primary();
      value = op === "*" ? value * right : op === "/" ? value / right : value % right;
    }
    return value;
  };
  const sum = (): number => {
    let value = product();
    while (isOp("+") || isOp("-")) {
      const op = peek()?.value;
      position++;
      const right = product();
      value = op === "+" ? value + right : value - right;
    }
    return value;
  };

  try {
    const value = sum();
    if (position !== tokens.length || !Number.isFinite(value)) return undefined;
    return Math.min(MAX_RETRY_DELAY_MS, Math.max(0, value));
  } catch {
    return undefined;
  }
}
