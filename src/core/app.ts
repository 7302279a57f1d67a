/**
 * The app factory: every Worker entry is `createApp(name)` plus its route groups, so
 * each group behaves the same. Middleware order, per the design:
 * request id → env + services → structured log line → secure headers → CORS →
 * body limit → (per route) auth → rate limit → validation → handler; errors become
 * problem+json in `onError`, unknown paths 404 and known paths with another method 405.
 */
import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { requestId } from "hono/request-id";
import { PatternRouter } from "hono/router/pattern-router";
import { secureHeaders } from "hono/secure-headers";
import { Toucan } from "toucan-js";
import type { AuthContext } from "./auth/jwt";
import { createDatabase, type Database } from "./db/client";
import { type AppConfig, type Env, parseEnv } from "./env";
import { ApiError, toApiError, toProblem } from "./errors";
import { createLogger, type Logger } from "./logger";
import { publicRoute } from "./middleware";
import { createQueue, type QueueClient } from "./queue";
import { createRedis, type Redis } from "./redis";

/** Per-request services, built once in the services middleware. */
export interface Services {
  config: AppConfig;
  db: Database;
  redis: Redis;
  queue: QueueClient;
  logger: Logger;
}

/** The one Hono environment type of every route. */
export type AppEnv = {
  Bindings: Env;
  Variables: {
    requestId: string;
    services: Services;
    /** Set by `requireAuth`; absent on public routes. */
    auth: AuthContext | undefined;
  };
};

/** Request body cap in bytes (413 above it). */
export const MAX_BODY_BYTES = 1024 * 1024;

/** A request id from the client is kept only if it looks like one (no log injection). */
const requestIdPattern = /^[A-Za-z0-9._:-]{8,128}$/;

/** The user or API key id a request acts as, for logs. */
function subjectOf(auth: AuthContext | undefined): string | undefined {
  if (!auth) return undefined;
  return auth.kind === "user" ? `user:${auth.userId}` : `key:${auth.keyId}`;
}

/** Renders an error as RFC 9457 problem+json and reports unexpected ones. */
export function problemResponse(c: Context<AppEnv>, err: unknown): Response {
  const apiError = toApiError(err);
  const id = c.get("requestId") ?? "unknown";
  const problem = toProblem(apiError, new URL(c.req.url).pathname, id);
  for (const [k, v] of Object.entries(apiError.headers)) c.header(k, v);
  return c.body(JSON.stringify(problem), apiError.status, { "Content-Type": "application/problem+json" });
}

/** Creates a Worker app named `name` (used in logs, health and Sentry). */
export function createApp(name: string): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

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
    const config = parseEnv(c.env);
    const logger = createLogger({ service: name, requestId: c.get("requestId") }, config.LOG_LEVEL);
    c.set("services", {
      config,
      logger,
      db: createDatabase(config),
      redis: createRedis(config),
      queue: createQueue(config),
    });
    const started = performance.now();
    await next();
    c.header("X-Request-Id", c.get("requestId"));
    logger.info("request", {
      method: c.req.method,
      route: c.req.routePath,
      path: new URL(c.req.url).pathname,
      status: c.res.status,
      durationMs: Math.round((performance.now() - started) * 10) / 10,
      orgId: c.get("auth")?.orgId,
      subject: subjectOf(c.get("auth")),
    });
  });
  app.use(
    secureHeaders({
      strictTransportSecurity: "max-age=63072000; includeSubDomains; preload",
      xFrameOptions: "DENY",
      referrerPolicy: "no-referrer",
      contentSecurityPolicy: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
      crossOriginResourcePolicy: "same-site",
    }),
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

  app.get("/health", publicRoute(), (c) => c.json({ status: "ok", service: name, release: c.var.services.config.RELEASE }));
  app.get("/ready", publicRoute(), async (c) => {
    const { db, redis } = c.var.services;
    const checks = await Promise.allSettled([db.execute("select 1"), redis.ping()]);
    const [postgres, cache] = checks.map((r) => (r.status === "fulfilled" ? "ok" : "down"));
    const ready = postgres === "ok" && cache === "ok";
    return c.json({ status: ready ? "ready" : "degraded", postgres, redis: cache }, ready ? 200 : 503);
  });

  app.notFound((c) => {
    const allowed = allowedMethods(app, new URL(c.req.url).pathname);
    if (allowed.length > 0) {
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
      const dsn = services?.config.SENTRY_DSN;
      if (dsn) {
        const sentry = new Toucan({
          dsn,
          request: c.req.raw,
          context: c.executionCtx,
          release: services.config.RELEASE,
          environment: services.config.ENVIRONMENT,
        });
        sentry.setTag("requestId", c.get("requestId"));
        sentry.captureException(err);
      }
    }
    return problemResponse(c, apiError);
  });

  return app;
}

const methodRouters = new WeakMap<Hono<AppEnv>, { size: number; router: PatternRouter<string> }>();

/** Methods routed for `path`, for 405 answers (middleware-only entries ignored). */
function allowedMethods(app: Hono<AppEnv>, path: string): string[] {
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
