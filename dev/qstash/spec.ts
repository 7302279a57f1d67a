/**
 * Turns the `Upstash-*` headers of a publish, batch entry or schedule into a message spec.
 *
 * Header names are matched case-insensitively. `Upstash-Forward-X: v` becomes `X: v` on delivery
 * (names canonicalized, `x-org-id` → `X-Org-Id`, as QStash reports them); `Content-Type` is forwarded as is; every other
 * header of the publish request (Authorization, telemetry, ...) stays with QStash.
 *
 * @see https://upstash.com/docs/qstash/api/publish
 * @see https://upstash.com/docs/qstash/features/callbacks#configuring-callbacks
 */
import { parseDuration } from "./timing";

/** Multi-valued header map, the shape QStash uses for `header` fields: name → values. */
export type HeaderMap = Record<string, string[]>;

/** Where and how a callback (success or failure) is published. */
export interface CallbackSpec {
  url: string;
  /** Delivery method, default POST. */
  method: string;
  /** Retries of the callback itself; the source message's when absent. */
  retries?: number;
  timeoutMs?: number;
  delayMs: number;
  /** Headers forwarded to the callback (`Upstash-[Failure-]Callback-Forward-*`). */
  header: HeaderMap;
}

/** Everything a publish asks for, before it becomes a stored message. */
export interface MessageSpec {
  /** Destination URL, absolute http(s). */
  url: string;
  method: string;
  /** Headers sent to the destination: forwarded ones plus `Content-Type`. */
  header: HeaderMap;
  body: Buffer;
  /** `Upstash-Retries`, or undefined for the emulator's default. */
  retries?: number;
  retryDelayExpression?: string;
  /** `Upstash-Delay`, milliseconds. */
  delayMs: number;
  /** `Upstash-Not-Before`, epoch milliseconds. */
  notBefore?: number;
  timeoutMs?: number;
  callback?: CallbackSpec;
  failureCallback?: CallbackSpec;
  deduplicationId?: string;
  contentBasedDeduplication: boolean;
  queueName?: string;
  labels: string[];
}

/** A spec, or the 400 message explaining why the headers are invalid. */
export type SpecResult = { ok: true; spec: MessageSpec } | { ok: false; error: string };

const FORWARD = "upstash-forward-";
const CALLBACK = "upstash-callback";
const FAILURE_CALLBACK = "upstash-failure-callback";

/**
 * Canonical form of a header name, as QStash (Go's `textproto.CanonicalMIMEHeaderKey`) reports
 * it in `header` fields: `x-org-id` → `X-Org-Id`.
 */
export function canonicalHeaderName(name: string): string {
  return name
    .toLowerCase()
    .split("-")
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join("-");
}

/** Appends `value` under the canonical form of `name`. */
export function addHeader(map: HeaderMap, name: string, value: string): void {
  const key = canonicalHeaderName(name);
  const values = map[key] ?? [];
  values.push(value);
  map[key] = values;
}

/** Validates an absolute http(s) URL, decoding a percent-encoded one (`https%3A%2F%2F...`). */
export function parseDestination(raw: string): string | undefined {
  const text = /^https?%3A/i.test(raw) ? safeDecode(raw) : raw;
  if (text === undefined) return undefined;
  try {
    const url = new URL(text);
    return url.protocol === "http:" || url.protocol === "https:" ? text : undefined;
  } catch {
    return undefined;
  }
}

function safeDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

function parseCount(value: string): number | undefined {
  return /^\d+$/.test(value.trim()) ? Number(value.trim()) : undefined;
}

/**
 * Parses publish headers.
 *
 * @param url the destination, already validated with {@link parseDestination}.
 * @param headers name/value pairs in the order received (names in any case).
 * @param body the raw body.
 */
export function parseMessageSpec(url: string, headers: Array<[string, string]>, body: Buffer): SpecResult {
  const spec: MessageSpec = {
    url,
    method: "POST",
    header: {},
    body,
    delayMs: 0,
    contentBasedDeduplication: false,
    labels: [],
  };
  const callbacks: Record<"callback" | "failureCallback", Partial<CallbackSpec> & { header: HeaderMap }> = {
    callback: { header: {} },
    failureCallback: { header: {} },
  };
  const fail = (error: string): SpecResult => ({ ok: false, error });

  for (const [name, value] of headers) {
    const lower = name.toLowerCase();
    if (lower === "content-type") {
      addHeader(spec.header, "Content-Type", value);
      continue;
    }
    if (lower.startsWith(FORWARD)) {
      addHeader(spec.header, name.slice(FORWARD.length), value);
      continue;
    }
    // Failure callback first: "upstash-failure-callback" does not start with "upstash-callback",
    // but keeping the more specific prefix first keeps the intent obvious.
    const callbackKind = lower.startsWith(FAILURE_CALLBACK)
      ? { key: "failureCallback" as const, rest: lower.slice(FAILURE_CALLBACK.length), prefixLength: FAILURE_CALLBACK.length }
      : lower.startsWith(CALLBACK)
        ? { key: "callback" as const, rest: lower.slice(CALLBACK.length), prefixLength: CALLBACK.length }
        : undefined;
    if (callbackKind !== undefined) {
      const target = callbacks[callbackKind.key];
      const { rest } = callbackKind;
      if (rest === "") {
        const destination = parseDestination(value.trim());
        if (destination === undefined) return fail(`invalid ${name} url: ${value}`);
        target.url = destination;
      } else if (rest.startsWith("-forward-")) {
        addHeader(target.header, name.slice(callbackKind.prefixLength + "-forward-".length), value);
      } else if (rest === "-method") {
        target.method = value.trim().toUpperCase();
      } else if (rest === "-retries") {
        const retries = parseCount(value);
        if (retries === undefined) return fail(`invalid ${name}: ${value}`);
        target.retries = retries;
      } else if (rest === "-timeout") {
        const timeout = parseDuration(value);
        if (timeout === undefined) return fail(`invalid ${name}: ${value}`);
        target.timeoutMs = timeout;
      } else if (rest === "-delay") {
        const delay = parseDuration(value);
        if (delay === undefined) return fail(`invalid ${name}: ${value}`);
        target.delayMs = delay;
      }
      continue;
    }
    switch (lower) {
      case "upstash-method":
        spec.method = value.trim().toUpperCase();
        break;
      case "upstash-delay": {
        const delay = parseDuration(value);
        if (delay === undefined) return fail(`invalid Upstash-Delay: ${value}`);
        spec.delayMs = delay;
        break;
      }
      case "upstash-not-before": {
        const seconds = parseCount(value);
        if (seconds === undefined) return fail(`invalid Upstash-Not-Before: ${value}`);
        spec.notBefore = seconds * 1_000;
        break;
      }
      case "upstash-retries": {
        const retries = parseCount(value);
        if (retries === undefined) return fail(`invalid Upstash-Retries: ${value}`);
        spec.retries = retries;
        break;
      }
      case "upstash-retry-delay":
        spec.retryDelayExpression = value;
        break;
      case "upstash-timeout": {
        const timeout = parseDuration(value);
        if (timeout === undefined) return fail(`invalid Upstash-Timeout: ${value}`);
        spec.timeoutMs = timeout;
        break;
      }
      case "upstash-deduplication-id":
        spec.deduplicationId = value;
        break;
      case "upstash-content-based-deduplication":
        spec.contentBasedDeduplication = value.trim().toLowerCase() === "true";
        break;
      case "upstash-queue-name":
        spec.queueName = value;
        break;
      case "upstash-label":
        spec.labels.push(
          ...value
            .split(",")
            .map((label) => label.trim())
            .filter(Boolean),
        );
        break;
      default:
        break;
    }
  }

  for (const key of ["callback", "failureCallback"] as const) {
    const target = callbacks[key];
    if (target.url === undefined) continue;
    spec[key] = {
      url: target.url,
      method: target.method ?? "POST",
      delayMs: target.delayMs ?? 0,
      header: target.header,
      ...(target.retries === undefined ? {} : { retries: target.retries }),
      ...(target.timeoutMs === undefined ? {} : { timeoutMs: target.timeoutMs }),
    };
  }
  return { ok: true, spec };
}
