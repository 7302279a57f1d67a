/**
 * Error reports to Sentry (toucan-js), scrubbed before they leave the Worker.
 *
 * A report carries the release, the environment and, as tags, the request id, the route template,
 * the route group, the Worker and the release. It carries no credential and no personal data:
 * - the request keeps its method, its URL without the query string and an allowlist of headers
 *   (no `Authorization`, `Cookie`, `X-Forwarded-For`…); no cookies, no query string, no body, no IP;
 * - every message, exception value, breadcrumb and extra is passed through `redact`
 *   (`src/core/logger.ts`): e-mail addresses, bearer credentials, JWTs (access tokens, Wildberries
 *   tokens), API keys, `password=`/`token=`-style pairs and the parameters of a failed query
 *   (drizzle's `params:` line) are replaced.
 * @see https://github.com/robertcepa/toucan-js
 * @see https://develop.sentry.dev/sdk/data-model/event-payloads/
 */
import { Toucan } from "toucan-js";
import type { AppConfig } from "./env";
import { redact } from "./logger";

/** Request headers a report may carry (lower case); every other header is dropped. */
export const REPORTED_HEADERS = ["accept", "content-type", "content-length", "user-agent", "cf-ray", "cf-ipcountry", "x-request-id"];

/** Where a failure happened, for the report's tags. */
export interface ErrorScope {
  /** The request that failed; absent for a cron run. */
  request?: Request;
  /** Keeps the Worker alive until the report is sent. */
  context: { waitUntil(promise: Promise<unknown>): void };
  /** Tags: requestId, route, group, service, cron… (values are scrubbed too). */
  tags: Record<string, string | undefined>;
}

/** A Sentry event as `beforeSend` sees it (only the parts scrubbed here are typed). */
interface SentryEvent {
  message?: string;
  logentry?: { message?: string; params?: unknown[] };
  exception?: { values?: { value?: string; type?: string }[] };
  breadcrumbs?: { message?: string; data?: Record<string, unknown> }[];
  extra?: Record<string, unknown>;
  contexts?: Record<string, unknown>;
  tags?: Record<string, unknown>;
  user?: Record<string, unknown>;
  request?: {
    url?: string;
    query_string?: unknown;
    data?: unknown;
    cookies?: unknown;
    env?: unknown;
    headers?: Record<string, string>;
  };
}

const scrubText = (text: string): string => redact(text) as string;

/** The event with every credential and personal datum removed; see the module comment. */
export function scrubEvent<E extends SentryEvent>(event: E): E {
  if (event.message) event.message = scrubText(event.message);
  if (event.logentry) event.logentry = { message: event.logentry.message ? scrubText(event.logentry.message) : undefined };
  for (const value of event.exception?.values ?? []) if (value.value) value.value = scrubText(value.value);
  for (const crumb of event.breadcrumbs ?? []) {
    if (crumb.message) crumb.message = scrubText(crumb.message);
    if (crumb.data) crumb.data = redact(crumb.data) as Record<string, unknown>;
  }
  if (event.extra) event.extra = redact(event.extra) as Record<string, unknown>;
  if (event.contexts) event.contexts = redact(event.contexts) as Record<string, unknown>;
  if (event.tags) event.tags = redact(event.tags) as Record<string, unknown>;
  if (event.user) event.user = typeof event.user.id === "string" ? { id: event.user.id } : undefined;
  if (event.request) {
    const { request } = event;
    delete request.query_string;
    delete request.data;
    delete request.cookies;
    delete request.env;
    if (request.url) request.url = scrubText(request.url.split("?")[0] ?? "");
    if (request.headers) {
      const kept = Object.entries(request.headers).filter(([name]) => REPORTED_HEADERS.includes(name.toLowerCase()));
      request.headers = Object.fromEntries(kept.map(([name, value]) => [name, scrubText(String(value))]));
    }
  }
  return event;
}

/**
 * Reports `error` to Sentry when `SENTRY_DSN` is set (sent in `waitUntil`, never awaited).
 * @returns the event id, or undefined when not reported.
 */
export function reportError(config: Pick<AppConfig, "SENTRY_DSN" | "RELEASE" | "ENVIRONMENT">, error: unknown, scope: ErrorScope) {
  if (!config.SENTRY_DSN) return undefined;
  const sentry = new Toucan({
    dsn: config.SENTRY_DSN,
    release: config.RELEASE,
    environment: config.ENVIRONMENT,
    context: scope.context,
    ...(scope.request ? { request: scope.request } : {}),
    requestDataOptions: { allowedHeaders: REPORTED_HEADERS, allowedCookies: false, allowedSearchParams: false, allowedIps: false },
    beforeSend: (event) => scrubEvent(event as SentryEvent) as typeof event,
  });
  sentry.setTag("release", config.RELEASE);
  for (const [name, value] of Object.entries(scope.tags)) if (value !== undefined) sentry.setTag(name, value);
  return sentry.captureException(error);
}
