/**
 * Route middleware shared by every group: authentication, rate limiting and the
 * cached-read wrapper. Each route names what it needs next to its definition.
 */
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "./app";
import { type AuthContext, TokenError, verifyAccessToken } from "./auth/jwt";
import { cacheKeySuffix, cacheLookup, cacheStore, normalizeQuery } from "./cache";
import type { Role } from "./db/schema";
import type { AppConfig } from "./env";
import { ApiError } from "./errors";
import { assertWithinLimit, checkRateLimit, type RateLimitPolicy } from "./rate-limit";

type AuthedEnv = AppEnv & { Variables: { auth: AuthContext } };

/**
 * Requires a valid access token (`Authorization: Bearer <jwt>`) and, when `roles` are
 * given, one of them. Sets `c.var.auth`. No I/O: the JWT is verified locally.
 * 401 for a missing or invalid token (with `WWW-Authenticate`), 403 for a role not allowed.
 */
export const requireAuth = (...roles: Role[]) =>
  createMiddleware<AuthedEnv>(async (c, next) => {
    const header = c.req.header("Authorization") ?? "";
    const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(header);
    const challenge = { "WWW-Authenticate": 'Bearer realm="seller-edge"' };
    if (!match?.[1]) throw new ApiError("UNAUTHORIZED", { detail: "A bearer access token is required.", headers: challenge });
    let auth: AuthContext;
    try {
      auth = await verifyAccessToken(c.var.services.config, match[1]);
    } catch (err) {
      if (!(err instanceof TokenError)) throw err;
      c.var.services.logger.info("token rejected", { reason: err.message });
      throw new ApiError("UNAUTHORIZED", {
        detail: "The access token is invalid or expired.",
        headers: { ...challenge, "WWW-Authenticate": `${challenge["WWW-Authenticate"]}, error="invalid_token"` },
      });
    }
    c.set("auth", auth);
    if (roles.length > 0 && !roles.includes(auth.role)) {
      throw new ApiError("FORBIDDEN", { detail: `This operation needs one of the roles: ${roles.join(", ")}.` });
    }
    await next();
  });

/** The API policy: `RATE_LIMIT_PER_MINUTE` per identity. */
export const apiPolicy = (config: AppConfig): RateLimitPolicy => ({ name: "api", limit: config.RATE_LIMIT_PER_MINUTE, windowSeconds: 60 });

/** The identity a limit counts against: the user, else the client IP. */
export function rateLimitIdentity(c: {
  var: { auth: AuthContext | undefined };
  req: { header(name: string): string | undefined };
}): string {
  if (c.var.auth) return `user:${c.var.auth.userId}`;
  return `ip:${c.req.header("CF-Connecting-IP") ?? "unknown"}`;
}

/** Rate limits the request under `policy` (default: the API policy). 429 + `Retry-After` over it. */
export const rateLimit = (policy?: (config: AppConfig) => RateLimitPolicy) =>
  createMiddleware<AppEnv>(async (c, next) => {
    const { redis, config } = c.var.services;
    const outcome = await checkRateLimit(redis, (policy ?? apiPolicy)(config), rateLimitIdentity(c));
    for (const [k, v] of Object.entries(outcome.headers)) c.header(k, v);
    assertWithinLimit(outcome);
    await next();
  });

/**
 * Rate limit plus read-through cache for an org-scoped GET, in one Redis REST request:
 * the limiter's command and the cache lookup are issued in the same tick and travel in one
 * auto-pipeline. A hit answers from Redis (no Postgres); a miss runs the handler and stores
 * a 200 answer via `waitUntil`. Answers carry `X-Cache`, `X-Cache-TTL` and
 * `Cache-Control: private, max-age=N`. Put it after `requireAuth` and before validation:
 * only valid answers are ever stored, so a hit implies a valid query.
 */
export const cachedRead = (route: string, ttlSeconds: number) =>
  createMiddleware<AuthedEnv>(async (c, next) => {
    const { redis, config } = c.var.services;
    const auth = c.var.auth;
    // The path is hashed with the query: routes with path parameters (`/orders/{srid}`) get a key per resource.
    const url = new URL(c.req.url);
    const suffix = await cacheKeySuffix(route, `${url.pathname}?${normalizeQuery(url.searchParams)}`);
    const [outcome, lookup] = await Promise.all([
      checkRateLimit(redis, apiPolicy(config), rateLimitIdentity(c)),
      cacheLookup(redis, auth.orgId, suffix),
    ]);
    for (const [k, v] of Object.entries(outcome.headers)) c.header(k, v);
    assertWithinLimit(outcome);
    if (lookup.hit && lookup.value !== undefined) {
      const newline = lookup.value.indexOf("\n");
      const ttl = lookup.ttlSeconds ?? ttlSeconds;
      return c.body(lookup.value.slice(newline + 1), 200, {
        "Content-Type": lookup.value.slice(0, newline),
        "X-Cache": "HIT",
        "X-Cache-TTL": String(ttl),
        "Cache-Control": `private, max-age=${ttl}`,
      });
    }
    await next();
    c.res.headers.set("X-Cache", "MISS");
    c.res.headers.set("X-Cache-TTL", String(ttlSeconds));
    c.res.headers.set("Cache-Control", `private, max-age=${ttlSeconds}`);
    if (c.res.status === 200 && lookup.key) {
      const contentType = c.res.headers.get("Content-Type") ?? "application/json";
      const body = await c.res.clone().text();
      c.executionCtx.waitUntil(cacheStore(redis, lookup.key, `${contentType}\n${body}`, ttlSeconds));
    }
  });
