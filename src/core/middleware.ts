/**
 * Route middleware shared by every group: authentication, rate limiting and the
 * cached-read wrapper. Each route names what it needs next to its definition.
 */
import { createMiddleware } from "hono/factory";
import type { AppEnv, Services } from "./app";
import { isApiKey, verifyApiKey } from "./auth/api-keys";
import { type AuthContext, TokenError, verifyAccessToken } from "./auth/jwt";
import { cacheKeySuffix, cacheLookup, cacheStore, normalizeQuery } from "./cache";
import type { ApiKeyScope, Role } from "./db/schema";
import type { AppConfig } from "./env";
import { ApiError } from "./errors";
import { assertWithinLimit, checkRateLimit, groupPolicy, type RateLimitOutcome, type RateLimitPolicy, type RouteGroup } from "./rate-limit";

type AuthedEnv = AppEnv & { Variables: { auth: AuthContext } };

/**
 * What a route allows, declared next to its definition by its first middleware and
 * readable from the router (`accessOf(handler)`), so a test can prove every route has one.
 * - `token`: a user's access token with one of `roles`, or an API key with one of `scopes`;
 * - `public`: no credential (health, login);
 * - `qstash`: a QStash delivery, proven by `Upstash-Signature`;
 * - `admin-token`: the operator's shared secret `ADMIN_REGISTRATION_TOKEN` (registration).
 */
export type AccessPolicy =
  | { kind: "token"; roles: readonly Role[]; scopes: readonly ApiKeyScope[] }
  | { kind: "public" }
  | { kind: "qstash" }
  | { kind: "admin-token" };

const ACCESS = Symbol.for("seller-edge.access");

/** The access policy a middleware declares, if it is an access middleware. */
export function accessOf(handler: unknown): AccessPolicy | undefined {
  return (handler as { [ACCESS]?: AccessPolicy } | undefined)?.[ACCESS];
}

/** Tags `middleware` with `policy`. */
export function declareAccess<T extends object>(policy: AccessPolicy, middleware: T): T {
  Object.defineProperty(middleware, ACCESS, { value: policy });
  return middleware;
}

const challenge = 'Bearer realm="seller-edge"';
const unauthorized = (detail: string, invalid: boolean) =>
  new ApiError("UNAUTHORIZED", { detail, headers: { "WWW-Authenticate": invalid ? `${challenge}, error="invalid_token"` : challenge } });

/**
 * Requires a credential allowed by `policy`: `Authorization: Bearer <access JWT>` whose role
 * is in `roles`, or `Bearer se_live_…` (an API key, one Neon lookup) holding one of `scopes`.
 * Sets `c.var.auth`. 401 for a missing or invalid credential (with `WWW-Authenticate`),
 * 403 for a role or scope not allowed.
 */
export const access = (policy: { roles: readonly Role[]; scopes?: readonly ApiKeyScope[] }) => {
  const scopes = policy.scopes ?? [];
  return declareAccess(
    { kind: "token", roles: policy.roles, scopes },
    createMiddleware<AuthedEnv>(async (c, next) => {
      const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(c.req.header("Authorization") ?? "");
      const credential = match?.[1];
      if (!credential) throw unauthorized("A bearer access token is required.", false);
      const { config, db, logger } = c.var.services;
      let auth: AuthContext;
      if (isApiKey(credential)) {
        const key = await verifyApiKey(db, credential, (p) => c.executionCtx.waitUntil(p));
        if (!key) throw unauthorized("The API key is invalid or revoked.", true);
        auth = { kind: "api-key", keyId: key.keyId, orgId: key.orgId, role: "service", scopes: key.scopes };
      } else {
        try {
          auth = await verifyAccessToken(config, credential);
        } catch (err) {
          if (!(err instanceof TokenError)) throw err;
          logger.info("token rejected", { reason: err.message });
          throw unauthorized("The access token is invalid or expired.", true);
        }
      }
      c.set("auth", auth);
      const allowed = auth.kind === "api-key" ? auth.scopes.some((s) => scopes.includes(s)) : policy.roles.includes(auth.role);
      if (!allowed) {
        throw new ApiError("FORBIDDEN", {
          detail:
            auth.kind === "api-key"
              ? `This operation needs an API key with one of the scopes: ${scopes.join(", ") || "(none: users only)"}.`
              : `This operation needs one of the roles: ${policy.roles.join(", ")}.`,
        });
      }
      await next();
    }),
  );
};

/** `access({ roles })`: users with one of `roles`; no API key scope. */
export const requireAuth = (...roles: Role[]) => access({ roles });

/** Declares a route public (no credential). */
export const publicRoute = () =>
  declareAccess(
    { kind: "public" },
    createMiddleware<AppEnv>(async (_c, next) => {
      await next();
    }),
  );

/** Read policy of `group`: `RATE_LIMIT_PER_MINUTE` per identity (or its override `<group>-read`). */
export const readPolicy = (config: AppConfig, group: RouteGroup) => groupPolicy(config, group, "read", config.RATE_LIMIT_PER_MINUTE);
/** Write policy of `group`: `RATE_LIMIT_WRITE_PER_MINUTE` per identity (or its override `<group>-write`). */
export const writePolicy = (config: AppConfig, group: RouteGroup) =>
  groupPolicy(config, group, "write", config.RATE_LIMIT_WRITE_PER_MINUTE);

/** The identity a limit counts against: the user or API key, else the client IP. */
export function rateLimitIdentity(c: {
  var: { auth: AuthContext | undefined };
  req: { header(name: string): string | undefined };
}): string {
  const auth = c.var.auth;
  if (auth?.kind === "user") return `user:${auth.userId}`;
  if (auth?.kind === "api-key") return `key:${auth.keyId}`;
  return `ip:${c.req.header("CF-Connecting-IP") ?? "unknown"}`;
}

/**
 * Applies a rate-limit outcome: sets the `RateLimit*` headers, throws 429 over the limit,
 * and when Redis did not answer either lets the request through (reads; and everything in
 * development, with a loud warning) or, in production with `failClosed`, answers
 * 503 + `Retry-After` — an attacker must not gain unlimited logins or writes by an outage.
 */
function enforce(
  c: { header(name: string, value: string): void; var: { services: Services } },
  outcome: RateLimitOutcome,
  failClosed: boolean,
): void {
  for (const [k, v] of Object.entries(outcome.headers)) c.header(k, v);
  if (outcome.degraded) {
    const { config, logger } = c.var.services;
    if (failClosed && config.ENVIRONMENT === "production") {
      throw new ApiError("SERVICE_UNAVAILABLE", {
        detail: "Rate limiting is unavailable; retry shortly.",
        headers: { "Retry-After": "5" },
      });
    }
    logger.warn("RATE LIMIT BYPASSED: Redis did not answer; the request was not counted", { failClosed });
  }
  assertWithinLimit(outcome);
}

/**
 * Rate limits the request under a policy of `group` (default: reads → `<group>-read`, other
 * methods → `<group>-write`; or `options.policy`). Writes (and auth, via `failClosed: true`)
 * fail closed in production.
 */
export const rateLimit = (group: RouteGroup, options: { policy?: (config: AppConfig) => RateLimitPolicy; failClosed?: boolean } = {}) =>
  createMiddleware<AppEnv>(async (c, next) => {
    const { redis, config } = c.var.services;
    const isRead = c.req.method === "GET" || c.req.method === "HEAD";
    const policy = options.policy ? options.policy(config) : isRead ? readPolicy(config, group) : writePolicy(config, group);
    const outcome = await checkRateLimit(redis, policy, rateLimitIdentity(c));
    enforce(c, outcome, options.failClosed ?? !isRead);
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
export const cachedRead = (group: RouteGroup, route: string, ttlSeconds: number) =>
  createMiddleware<AuthedEnv>(async (c, next) => {
    const { redis, config } = c.var.services;
    const auth = c.var.auth;
    // The path is hashed with the query: routes with path parameters (`/orders/{srid}`) get a key per resource.
    const url = new URL(c.req.url);
    // The Moscow calendar day is part of the key: periods end "today", so an answer cached
    // before midnight must not be served after it.
    const moscowDay = new Date(Date.now() + 3 * 3600_000).toISOString().slice(0, 10);
    const suffix = await cacheKeySuffix(route, `${moscowDay}:${url.pathname}?${normalizeQuery(url.searchParams)}`);
    const [outcome, lookup] = await Promise.all([
      checkRateLimit(redis, readPolicy(config, group), rateLimitIdentity(c)),
      cacheLookup(redis, auth.orgId, suffix),
    ]);
    enforce(c, outcome, false);
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
    if (c.res.status !== 200) return; // errors are neither stored nor marked cacheable
    c.res.headers.set("X-Cache-TTL", String(ttlSeconds));
    c.res.headers.set("Cache-Control", `private, max-age=${ttlSeconds}`);
    if (lookup.key) {
      const contentType = c.res.headers.get("Content-Type") ?? "application/json";
      const body = await c.res.clone().text();
      c.executionCtx.waitUntil(cacheStore(redis, lookup.key, `${contentType}\n${body}`, ttlSeconds));
    }
  });
