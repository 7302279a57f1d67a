/**
 * The app factory: every Worker is `createApp(name, groups)`, so each behaves the same.
 * Middleware order, per the design: request id → services → structured log line and request
 * metrics → secure headers → CORS → body limit → (per route) guard: auth, rate limit, cache →
 * validation → handler; errors become problem+json in `onError` (an unexpected 5xx is reported to
 * Sentry), unknown paths 404, and known paths with another method 405 with `Allow`. After the
 * answer, the request's metrics go to Redis in `waitUntil`, batched with those of the isolate's
 * other requests into one transaction at most every `METRICS_FLUSH_INTERVAL_MS` (`src/core/metrics.ts`).
 * Each Worker also serves the platform routes: `/health`, `/ready`, `/metrics`, `/openapi.json`
 * (its own groups' contract) and `/docs`.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { requestId } from "hono/request-id";
import { PatternRouter } from "hono/router/pattern-router";
import { secureHeaders } from "hono/secure-headers";
import type { AuthContext } from "./auth/jwt";
import { type AppEnv, buildServices, type Services } from "./context";
import { ApiError, toApiError, toProblem } from "./errors";
import { createLogger } from "./logger";
import { registerSecuritySchemes } from "./openapi";
import { PLATFORM_GROUP, platformRoutes } from "./platform";
import type { RouteGroup } from "./route";
import { reportError } from "./sentry";
import { validationHook } from "./validation";

/** Request body cap in bytes (413 above it). */
export const MAX_BODY_BYTES = 1024 * 1024;

/** A request id from the client is kept only if it looks like one (no log injection). */
const requestIdPattern = /^[A-Za-z0-9._:-]{8,128}$/;

/** Methods kept as a metric label; any other is `other` (the label's values stay bounded). */
const metricMethods = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

/** Route and group label of a request no route answered (404, 405, CORS preflight). */
const UNMATCHED = "unmatched";

/** The request's execution context; none under `app.request()` (Hono throws on access then). */
function executionContext(c: Context<AppEnv>): Context<AppEnv>["executionCtx"] | undefined {
  try {
    return c.executionCtx;
  } catch {
    return undefined;
  }
}

/** Runs `work` after the answer (`waitUntil`), or awaits it where there is no execution context. */
async function afterAnswer(c: Context<AppEnv>, work: Promise<unknown>): Promise<void> {
  const ctx = executionContext(c);
  if (ctx) ctx.waitUntil(work);
  else await work;
}

/** The user or API key id a request acts as, for logs. */
function subjectOf(auth: AuthContext | undefined): string | undefined {
  if (!auth) return undefined;
  return auth.kind === "user" ? `user:${auth.userId}` : `key:${auth.keyId}`;
}

/**
 * `pathname` for logs and error reports: the segments bound to a path parameter whose name ends in
 * `Secret` in the matched `routePath` (Kommo's `/webhooks/kommo/:integrationId/:pathSecret`) become
 * `[redacted]` — a URL that carries a secret must not carry it into logs.
 */
export function redactedPath(pathname: string, routePath: string): string {
  const template = routePath.split("/");
  return pathname
    .split("/")
    .map((segment, i) => (/^:\w*Secret$/.test(template[i] ?? "") ? "[redacted]" : segment))
    .join("/");
}

/** Renders an error as RFC 9457 problem+json. */
export function problemResponse(c: Context<AppEnv>, err: unknown): Response {
  const apiError = toApiError(err);
  const id = c.get("requestId") ?? "unknown";
  const problem = toProblem(apiError, new URL(c.req.url).pathname, id);
  for (const [k, v] of Object.entries(apiError.headers)) c.header(k, v);
  return c.body(JSON.stringify(problem), apiError.status, { "Content-Type": "application/problem+json" });
}

/** Secure headers of the API: nothing may be framed, scripted or embedded. */
const apiHeaders = secureHeaders({
  strictTransportSecurity: "max-age=63072000; includeSubDomains; preload",
  xFrameOptions: "DENY",
  referrerPolicy: "no-referrer",
  contentSecurityPolicy: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
  crossOriginResourcePolicy: "same-site",
});

/** Secure headers of `/docs`, an HTML page that runs the Scalar script from `DOCS_SCRIPT_URL`. */
const docsHeaders = (scriptOrigin: string) =>
  secureHeaders({
    strictTransportSecurity: "max-age=63072000; includeSubDomains; preload",
    xFrameOptions: "DENY",
    referrerPolicy: "no-referrer",
    crossOriginResourcePolicy: "same-site",
    contentSecurityPolicy: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'", "'unsafe-inline'", scriptOrigin],
      styleSrc: ["'self'", "'unsafe-inline'", scriptOrigin],
      fontSrc: ["'self'", "data:", scriptOrigin],
      imgSrc: ["'self'", "data:"],
      connectSrc: ["'self'"],
      frameAncestors: ["'none'"],
    },
  });

/**
 * Creates the Worker app `name` (used in logs, health and Sentry) serving `groups`.
 * @throws Error at the first request when `RATE_LIMIT_OVERRIDES` names a policy no group has.
 */
export function createApp(name: string, groups: readonly RouteGroup[]): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  const platform = platformRoutes(name, () => app, groups);
  /** The group of each route template (`/api/v1/orders/:srid` → `dashboard`), for metric labels. */
  const groupOfRoute = new Map<string, string>([
    ...platform.routes.map((r) => [r.path, PLATFORM_GROUP] as const),
    ...groups.flatMap((g) => g.routes.routes.map((r) => [r.path, g.name] as const)),
  ]);
  const policyNames = new Set(groups.flatMap((g) => Object.keys(g.rateLimits).map((p) => `${g.name}-${p}`)));

  app.use(
    requestId({
      headerName: "X-Request-Id",
      generator: () => crypto.randomUUID(),
      limitLength: 128,
    }),
  );
  app.use(async (c, next) => {
    const incoming = c.req.header("X-Request-Id");
    if (incoming && !requestIdPattern.test(incoming)) c.set("requestId", crypto.randomUUID());
    c.header("X-Request-Id", c.get("requestId"));
    const services = buildServices(c.env, { service: name, requestId: c.get("requestId") });
    const unknown = Object.keys(services.config.RATE_LIMIT_OVERRIDES).filter((p) => !policyNames.has(p) && !p.startsWith("platform-"));
    if (unknown.length > 0) throw new Error(`Invalid environment: RATE_LIMIT_OVERRIDES: no such policy: ${unknown.join(", ")}`);
    c.set("services", services);
    const started = performance.now();
    await next();
    const seconds = (performance.now() - started) / 1000;
    c.header("X-Request-Id", c.get("requestId"));
    const group = groupOfRoute.get(c.req.routePath);
    const labels = {
      group: group ?? UNMATCHED,
      route: group ? c.req.routePath : UNMATCHED,
      method: metricMethods.has(c.req.method) ? c.req.method : "other",
    };
    // `/health` stays free of I/O, even after the answer: liveness probes are not traffic, and
    // a probe every few seconds per Worker would otherwise be a billed Redis request each.
    if (c.req.routePath !== "/health") {
      services.metrics.count("http_requests_total", { ...labels, status: String(c.res.status) });
      services.metrics.observe("http_request_duration_seconds", labels, seconds);
      await afterAnswer(c, services.metrics.flush(services));
    }
    services.logger.info("request", {
      method: c.req.method,
      route: c.req.routePath,
      path: redactedPath(new URL(c.req.url).pathname, c.req.routePath),
      status: c.res.status,
      durationMs: Math.round(seconds * 10_000) / 10,
      orgId: c.get("auth")?.orgId,
      subject: subjectOf(c.get("auth")),
    });
  });
  app.use(async (c, next) =>
    c.req.path === "/docs" ? docsHeaders(new URL(c.var.services.config.DOCS_SCRIPT_URL).origin)(c, next) : apiHeaders(c, next),
  );
  app.use(async (c, next) => {
    const allowed = c.var.services.config.CORS_ORIGINS;
    return cors({
      origin: (origin) => (allowed.includes(origin) ? origin : null),
      allowMethods: ["GET", "POST", "PUT", "PATCH", "DELETE"],
      allowHeaders: ["Authorization", "Content-Type", "X-Request-Id"],
      exposeHeaders: ["X-Request-Id", "X-Cache", "X-Cache-TTL", "RateLimit", "RateLimit-Policy", "Retry-After"],
      maxAge: 600,
      credentials: true,
    })(c, next);
  });
  app.use(
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: () => {
        throw new ApiError("PAYLOAD_TOO_LARGE", { detail: `Request body exceeds ${MAX_BODY_BYTES} bytes.` });
      },
    }),
  );

  registerSecuritySchemes(app);
  app.route("/", platform);
  for (const group of groups) app.route("/", group.routes);

  app.notFound((c) => {
    const path = new URL(c.req.url).pathname;
    // The method-matching router is looser than the app's (it accepts a trailing slash, which no
    // route has): only a path the app routes exactly can be a 405.
    const allowed = path.length > 1 && path.endsWith("/") ? [] : allowedMethods(app, path);
    const method = c.req.method === "HEAD" ? "GET" : c.req.method;
    if (allowed.length > 0 && !allowed.includes(method)) {
      c.header("Allow", allowed.join(", "));
      return problemResponse(c, new ApiError("METHOD_NOT_ALLOWED", { detail: `Use ${allowed.join(", ")}.` }));
    }
    return problemResponse(c, new ApiError("NOT_FOUND", { detail: "No such route." }));
  });

  app.onError((err, c) => {
    const apiError = toApiError(err);
    const services = c.get("services") as Services | undefined;
    const logger = services?.logger ?? createLogger({ service: name, requestId: c.get("requestId") });
    // A deliberate 5xx (fail-closed 503, upstream 502) is an operating condition, not a bug.
    if (err instanceof ApiError && apiError.status >= 500 && apiError.code !== "INTERNAL") {
      logger.warn("request refused", { status: apiError.status, code: apiError.code, detail: apiError.detail });
    } else if (apiError.status >= 500) {
      logger.error("unhandled error", {
        error: err instanceof Error ? { name: err.name, message: err.message, stack: err.stack } : String(err),
      });
      if (services) {
        const group = groupOfRoute.get(c.req.routePath);
        const url = new URL(c.req.url);
        const path = redactedPath(url.pathname, c.req.routePath);
        reportError(services.config, err, {
          request:
            path === url.pathname ? c.req.raw : new Request(new URL(path, url), { method: c.req.method, headers: c.req.raw.headers }),
          context: executionContext(c) ?? { waitUntil: () => undefined },
          tags: { requestId: c.get("requestId"), route: group ? c.req.routePath : UNMATCHED, group, service: name },
        });
      }
    }
    return problemResponse(c, apiError);
  });

  return app;
}

const methodRouters = new WeakMap<OpenAPIHono<AppEnv>, { size: number; router: PatternRouter<string> }>();

/** Methods routed for `path`, for 405 answers (middleware-only entries ignored). */
function allowedMethods(app: OpenAPIHono<AppEnv>, path: string): string[] {
  let cached = methodRouters.get(app);
  if (!cached || cached.size !== app.routes.length) {
    const router = new PatternRouter<string>();
    for (const r of app.routes) if (r.method !== "ALL") router.add("ALL", r.path, r.method);
    cached = { size: app.routes.length, router };
    methodRouters.set(app, cached);
  }
  const [matches] = cached.router.match("GET", path);
  return [...new Set(matches.map(([m]) => m))].sort();
}
