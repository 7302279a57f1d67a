/**
 * The guard of a route: its access policy, its rate limit and its read cache, as one middleware
 * built from the route's declaration (`src/core/route.ts`), so the Redis work of a request
 * travels in one REST request.
 *
 * Order, for a token route:
 * 1. parse the Bearer credential (RFC 9110: the scheme is case-insensitive) and verify a JWT
 *    (CPU only); an API key is only hashed;
 * 2. in one tick (one auto-pipelined Redis request): the caller IP's failed-authentication
 *    count, the cached API key lookup, the rate limit, and the cache lookup of a JWT read;
 * 3. an IP over `AUTH_FAILURES_PER_MINUTE` failures is refused (429) before any credential is
 *    looked up, so a flood of guesses never reaches Postgres; each failure is counted;
 * 4. an API key not in Redis is looked up in Postgres once, and remembered (valid or not);
 * 5. a privileged route (every write) re-reads the user's membership in Postgres: a deleted
 *    user or org, or a removed member, is 401; a demoted one is 403 — a still-valid access
 *    token never carries authority its subject has lost;
 * 6. role or scope → 403; rate limit → 429 (or 503 when Redis is down and the policy fails
 *    closed in production); a cache hit answers from Redis.
 * The operator's routes compare a shared secret in constant time after step 3: `admin-token`
 * (`ADMIN_REGISTRATION_TOKEN`) and `metrics-token` (`METRICS_TOKEN`; a Worker without it answers
 * 404 before anything else). Cache lookups (hit, miss, bypass) and 429s are counted in the
 * request's metrics (`src/core/metrics.ts`).
 * @see https://owasp.org/API-Security/editions/2023/en/0xa2-broken-authentication/
 */

import type { Context, MiddlewareHandler } from "hono";
import { TELEGRAM_SECRET_TOKEN_HEADER } from "../integrations/telegram/types";
import { botCacheKey, loadBot, readCachedBot, secretTokenMatches } from "../telegram/bots";
import { MAX_WEBHOOK_BODY_BYTES } from "../webhooks/delivery";
import { integrationCacheKey } from "../webhooks/integration-cache";
import { readWebhookBody, verifyDelivery } from "../webhooks/verify-delivery";
import type { AccessPolicy } from "./access";
import { apiKeyCacheKey, apiKeyHash, lookupApiKey, readCachedApiKey } from "./auth/api-keys";
import { parseBearer } from "./auth/bearer";
import { type AuthContext, TokenError, verifyAccessToken } from "./auth/jwt";
import { currentMembership } from "./auth/membership";
import { cacheKeySuffix, cacheLookup, cacheStore, normalizeQuery } from "./cache";
import type { AppEnv, Services } from "./context";
import { timingSafeEqual } from "./crypto";
import { databaseFailure } from "./db/errors";
import { ApiError } from "./errors";
import { negotiateLanguage } from "./language";
import { verifyQStashDelivery } from "./queue";
import { assertWithinLimit, checkRateLimit, groupPolicy, type RateLimitDefaults, type RateLimitOutcome } from "./rate-limit";
import { moscowDay } from "./time";
import { isUuid } from "./validation";

/** A route's rate limit: a policy of its group, and whether a Redis outage refuses (503) in production. */
export interface RateLimitSpec {
  policy: string;
  failClosed: boolean;
}

/** A route's read cache: a name for its keys and the TTL in seconds. */
export interface CacheSpec {
  name: string;
  ttlSeconds: number;
  /**
   * Languages the route answers in (the first is the default): the cache keeps one entry per
   * language `Accept-Language` negotiates to ({@link negotiateLanguage}), and a hit says which
   * (`Content-Language`, `Vary: Accept-Language`).
   */
  languages?: readonly [string, ...string[]];
}

/** What the guard of one route enforces. */
export interface GuardSpec {
  group: { name: string; rateLimits: RateLimitDefaults };
  /** The route path as the spec writes it (`/jobs/wb-sync`); QStash signs the public URL of it. */
  path: string;
  access: AccessPolicy;
  rateLimit: RateLimitSpec | undefined;
  cache: CacheSpec | undefined;
  /** Re-check the user's membership in Postgres (writes). */
  privileged: boolean;
}

const challenge = 'Bearer realm="seller-edge"';
const unauthorized = (detail: string, invalid: boolean) =>
  new ApiError("UNAUTHORIZED", { detail, headers: { "WWW-Authenticate": invalid ? `${challenge}, error="invalid_token"` : challenge } });

/** Redis key counting the failed authentications of one client IP in the current minute. */
const failureKey = (ip: string, minute: number) => `auth-failures:${ip}:${minute}`;

type GuardContext = Context<AppEnv>;

const clientIp = (c: GuardContext) => c.req.header("CF-Connecting-IP") ?? "unknown";

/**
 * Decides what a Redis outage means for a check that protects against abuse: in production with
 * `failClosed`, 503 + `Retry-After` (an attacker must not gain unlimited guesses or writes by an
 * outage); otherwise the request goes on, with a loud warning naming what was skipped.
 * @throws ApiError SERVICE_UNAVAILABLE when failing closed.
 */
export function onRedisOutage(services: Services, failClosed: boolean, what: string, cause?: unknown): void {
  if (failClosed && services.config.ENVIRONMENT === "production") {
    throw new ApiError("SERVICE_UNAVAILABLE", { detail: `${what} is unavailable; retry shortly.`, headers: { "Retry-After": "5" }, cause });
  }
  services.logger.warn(`${what.toUpperCase()} BYPASSED: Redis did not answer; the request was not counted`, {
    failClosed,
    error: cause === undefined ? undefined : String(cause),
  });
}

/** Sets the `RateLimit*` headers of `outcome`, handles an outage, and throws 429 (counted) over the limit of `policy`. */
function enforce(c: GuardContext, policy: string, outcome: RateLimitOutcome, failClosed: boolean): void {
  for (const [k, v] of Object.entries(outcome.headers)) c.header(k, v);
  if (outcome.degraded) onRedisOutage(c.var.services, failClosed, "Rate limit");
  if (!outcome.success) c.var.services.metrics.count("rate_limit_rejections_total", { policy });
  assertWithinLimit(outcome);
}

/**
 * `GET key` as a script: @upstash/redis auto-pipelines reads and writes (scripts count as writes)
 * in separate REST requests, so a plain GET would cost a request of its own next to the rate
 * limit's and the cache lookup's scripts.
 */
function pipelinedGet(services: Services, key: string): Promise<string | null> {
  return services.redis.eval("return redis.call('GET', KEYS[1])", [key], []) as Promise<string | null>;
}

/** The failure count of this IP (a failed read counts as 0: the limiter must not lock everyone out when Redis is down). */
async function readFailures(services: Services, key: string): Promise<number> {
  try {
    return Number((await pipelinedGet(services, key)) ?? 0);
  } catch {
    return 0;
  }
}

/** Counts one failed authentication of this IP (never throws). */
async function countFailure(services: Services, key: string): Promise<void> {
  try {
    const tx = services.redis.multi();
    tx.incr(key);
    tx.expire(key, 120);
    await tx.exec();
  } catch (err) {
    services.logger.warn("auth failure not counted: Redis did not answer", { error: String(err) });
  }
}

/**
 * Refuses (429 + `Retry-After`, counted in the metrics) an IP that has `failed`
 * `AUTH_FAILURES_PER_MINUTE` times or more this minute.
 * @throws ApiError TOO_MANY_REQUESTS.
 */
function refuseOverFailureLimit(services: Services, failed: number): void {
  if (failed < services.config.AUTH_FAILURES_PER_MINUTE) return;
  services.metrics.count("rate_limit_rejections_total", { policy: "auth-failures" });
  const retryAfter = 60 - (Math.floor(Date.now() / 1000) % 60);
  throw new ApiError("TOO_MANY_REQUESTS", {
    detail: "Too many failed authentications from this address; retry after the given delay.",
    headers: { "Retry-After": String(retryAfter) },
  });
}

/** The identity a rate limit counts against: the user or API key, else the client IP. */
function rateLimitIdentity(c: GuardContext, apiKeyId: string | undefined): string {
  const auth = c.var.auth;
  if (auth?.kind === "user") return `user:${auth.userId}`;
  if (apiKeyId) return `key:${apiKeyId}`;
  return `ip:${clientIp(c)}`;
}

/**
 * The guard middleware of a route; see the module comment.
 * @throws ApiError 401, 403, 429, 503 as described there.
 */
export function createGuard(spec: GuardSpec): MiddlewareHandler<AppEnv> {
  const { access } = spec;
  return async (c, next) => {
    const services = c.var.services;
    const { config, redis } = services;
    const waitUntil = (p: Promise<unknown>) => c.executionCtx.waitUntil(p);

    if (access.kind === "qstash") {
      // Decoded here rather than with `text()`, which warns on a body whose type is not text.
      const raw = new TextDecoder().decode(await c.req.arrayBuffer());
      if (!(await verifyQStashDelivery(config, c.req.header("Upstash-Signature"), raw, spec.path))) {
        services.logger.warn("qstash signature rejected", { path: spec.path, present: c.req.header("Upstash-Signature") !== undefined });
        throw new ApiError("UNAUTHORIZED", { detail: "Missing or invalid Upstash-Signature." });
      }
      // A verified delivery is JSON whatever Content-Type it carries (QStash forwards the
      // publisher's header; its failure callbacks are documented by body only), and a NUL in its
      // strings (a binary answer quoted in a failure callback) becomes U+FFFD: refusing it would
      // only make QStash retry the same bytes forever.
      const json = raw.replace(/(?<!\\)((?:\\\\)*)\\u0000/g, "$1\\uFFFD");
      if (json !== raw || !/^application\/json\b/i.test(c.req.header("Content-Type") ?? "")) {
        const headers = new Headers(c.req.raw.headers);
        headers.set("Content-Type", "application/json");
        c.req.raw = new Request(c.req.raw.url, { method: c.req.raw.method, headers, body: json });
        c.req.bodyCache = {};
      }
      return next();
    }

    if (access.kind === "webhook") {
      const rawBody = await readWebhookBody(c.req, MAX_WEBHOOK_BODY_BYTES);
      const integrationId = c.req.param("integrationId")?.toLowerCase();
      const failures = failureKey(clientIp(c), Math.floor(Date.now() / 60_000));
      // One tick, one Redis request: the IP's failures and the cached integration.
      const [failed, cached] = await Promise.all([
        readFailures(services, failures),
        isUuid(integrationId) ? pipelinedGet(services, integrationCacheKey(integrationId)).catch(() => undefined) : undefined,
      ]);
      refuseOverFailureLimit(services, failed);
      const input = {
        scheme: access.scheme,
        integrationId,
        pathSecret: c.req.param("pathSecret"),
        headers: c.req.raw.headers,
        rawBody,
        cached,
      };
      const verified = await verifyDelivery(services, input, waitUntil);
      if (!verified.ok) {
        services.logger.info("webhook rejected", {
          scheme: access.scheme,
          integrationId,
          reason: verified.reason,
          status: verified.error.status,
        });
        services.metrics.count("webhook_deliveries_total", { scheme: access.scheme, outcome: "rejected" });
        await countFailure(services, failures);
        throw verified.error;
      }
      c.set("webhook", verified.delivery);
      return next();
    }

    if (access.kind === "telegram") {
      const botId = c.req.param("botId")?.toLowerCase();
      const failures = failureKey(clientIp(c), Math.floor(Date.now() / 60_000));
      // One tick, one Redis request: the IP's failures and the cached bot.
      const [failed, cached] = await Promise.all([
        readFailures(services, failures),
        isUuid(botId) ? pipelinedGet(services, botCacheKey(botId)).catch(() => undefined) : undefined,
      ]);
      refuseOverFailureLimit(services, failed);
      let bot = isUuid(botId) ? readCachedBot(cached) : null;
      if (bot === undefined && isUuid(botId)) {
        bot = await loadBot(services.db, redis, botId, waitUntil).catch((err: unknown) => {
          throw databaseFailure(err);
        });
      }
      const reject = async (error: ApiError, reason: string) => {
        services.logger.info("telegram update rejected", { purpose: access.purpose, botId, reason });
        services.metrics.count("telegram_messages_received_total", { purpose: access.purpose, outcome: "rejected" });
        await countFailure(services, failures);
        return error;
      };
      if (!bot || bot.disabledAt !== null || bot.purpose !== access.purpose) {
        throw await reject(new ApiError("NOT_FOUND", { detail: "No such bot." }), bot ? "disabled or another purpose" : "unknown bot");
      }
      if (!(await secretTokenMatches(c.req.header(TELEGRAM_SECRET_TOKEN_HEADER), bot.webhookSecretHash))) {
        throw await reject(new ApiError("UNAUTHORIZED", { detail: "Invalid secret token." }), "secret token");
      }
      c.set("telegramBot", { id: bot.id, orgId: bot.orgId, purpose: bot.purpose });
      return next();
    }

    // A Worker without METRICS_TOKEN has no metrics: the route is not there, whatever the credential.
    if (access.kind === "metrics-token" && !config.METRICS_TOKEN) {
      throw new ApiError("NOT_FOUND", { detail: "Metrics are not enabled on this Worker." });
    }

    // 1. The credential, without I/O.
    const credential = access.kind === "public" ? undefined : parseBearer(c.req.header("Authorization"));
    if (access.kind !== "public" && credential === undefined) {
      if (access.kind === "admin-token") {
        throw new ApiError("UNAUTHORIZED", {
          detail: "The registration token is required.",
          headers: { "WWW-Authenticate": 'Bearer realm="seller-edge-admin"' },
        });
      }
      if (access.kind === "metrics-token") {
        throw new ApiError("UNAUTHORIZED", {
          detail: "The metrics token is required.",
          headers: { "WWW-Authenticate": 'Bearer realm="seller-edge-metrics"' },
        });
      }
      throw unauthorized("A bearer access token is required.", false);
    }
    let tokenError: TokenError | undefined;
    let keyHash: string | null = null;
    if (access.kind === "token" && credential !== undefined) {
      if (credential.startsWith("se_live_")) {
        keyHash = await apiKeyHash(credential);
        if (keyHash === null) tokenError = new TokenError("malformed API key");
      } else {
        try {
          c.set("auth", await verifyAccessToken(config, credential));
        } catch (err) {
          if (!(err instanceof TokenError)) throw err;
          tokenError = err;
        }
      }
    }

    // 2. One tick, one Redis request: failures, cached key, rate limit, cache lookup. (The
    // cache key is a hash, computed first: an await between the commands would split the pipeline.)
    const auth = c.var.auth;
    const suffix = spec.cache && auth ? await cacheSuffix(c, spec.cache) : undefined;
    const ip = clientIp(c);
    const failures = failureKey(ip, Math.floor(Date.now() / 60_000));
    const checksFailures = access.kind !== "public";
    const failureCount = checksFailures ? readFailures(services, failures) : Promise.resolve(0);
    const cachedKey = keyHash ? pipelinedGet(services, apiKeyCacheKey(keyHash)).catch(() => undefined) : Promise.resolve(undefined);
    const policy = spec.rateLimit
      ? groupPolicy(config, spec.group.name, spec.rateLimit.policy, spec.group.rateLimits[spec.rateLimit.policy]?.(config) ?? 0)
      : undefined;
    const limited = policy ? checkRateLimit(redis, policy, rateLimitIdentity(c, keyHash?.slice(0, 32))) : undefined;
    const lookup = suffix && auth ? cacheLookup(redis, auth.orgId, suffix) : undefined;
    const [failed, cached, outcome, hit] = await Promise.all([failureCount, cachedKey, limited, lookup]);

    // 3. Failed authentication per IP, before any lookup.
    if (checksFailures) refuseOverFailureLimit(services, failed);
    const fail = async (error: ApiError, reason: string) => {
      services.logger.info("credential rejected", { reason, access: access.kind });
      await countFailure(services, failures);
      return error;
    };

    if (access.kind === "admin-token") {
      if (!timingSafeEqual(credential ?? "", config.ADMIN_REGISTRATION_TOKEN)) {
        services.logger.warn("registration token rejected", { ip });
        throw await fail(new ApiError("FORBIDDEN", { detail: "The registration token is wrong." }), "operator token");
      }
    }

    if (access.kind === "metrics-token") {
      if (!timingSafeEqual(credential ?? "", config.METRICS_TOKEN ?? "")) {
        services.logger.warn("metrics token rejected", { ip });
        throw await fail(new ApiError("FORBIDDEN", { detail: "The metrics token is wrong." }), "metrics token");
      }
    }

    if (access.kind === "token") {
      if (tokenError) throw await fail(unauthorized("The access token is invalid or expired.", true), tokenError.message);
      // 4. API keys: Redis first, Postgres once.
      if (keyHash) {
        let identity = readCachedApiKey(cached);
        if (identity === undefined) identity = await lookupApiKey(services.db, redis, keyHash, waitUntil);
        if (!identity) throw await fail(unauthorized("The API key is invalid, expired or revoked.", true), "api key");
        c.set("auth", { kind: "api-key", keyId: identity.keyId, orgId: identity.orgId, role: "service", scopes: identity.scopes });
      }
      // 5. Privileged routes: the membership as it is now.
      let current = c.var.auth as AuthContext;
      if (spec.privileged && current.kind === "user") {
        const role = await currentMembership(services.db, current.userId, current.orgId);
        if (!role) throw await fail(unauthorized("The user or the membership no longer exists.", true), "subject gone");
        current = { ...current, role };
        c.set("auth", current);
      }
      // 6. Role or scope.
      const allowed =
        current.kind === "api-key" ? current.scopes.some((s) => access.scopes.includes(s)) : access.roles.includes(current.role);
      if (!allowed) {
        throw new ApiError("FORBIDDEN", {
          detail:
            current.kind === "api-key"
              ? `This operation needs an API key with one of the scopes: ${access.scopes.join(", ") || "(none: users only)"}.`
              : `This operation needs one of the roles: ${access.roles.join(", ")}.`,
        });
      }
    }

    if (outcome && policy && spec.rateLimit) enforce(c, policy.name, outcome, spec.rateLimit.failClosed);

    if (!spec.cache) return next();
    // API keys learn their org only now: their cache lookup is a second Redis request.
    const orgId = (c.var.auth as AuthContext).orgId;
    const entry = hit ?? (await cacheLookup(redis, orgId, await cacheSuffix(c, spec.cache)));
    const result = entry.hit && entry.value !== undefined ? "hit" : entry.key ? "miss" : "bypass";
    services.metrics.count("cache_requests_total", { cache: spec.cache.name, result });
    if (entry.hit && entry.value !== undefined) {
      const newline = entry.value.indexOf("\n");
      const ttl = entry.ttlSeconds ?? spec.cache.ttlSeconds;
      return c.body(entry.value.slice(newline + 1), 200, {
        "Content-Type": entry.value.slice(0, newline),
        "X-Cache": "HIT",
        "X-Cache-TTL": String(ttl),
        "Cache-Control": `private, max-age=${ttl}`,
        ...(spec.cache.languages
          ? { "Content-Language": negotiateLanguage(c.req.header("Accept-Language"), spec.cache.languages), Vary: "Accept-Language" }
          : {}),
      });
    }
    await next();
    c.res.headers.set("X-Cache", "MISS");
    if (c.res.status !== 200) return; // errors are neither stored nor marked cacheable
    const ttl = spec.cache.ttlSeconds;
    c.res.headers.set("X-Cache-TTL", String(ttl));
    c.res.headers.set("Cache-Control", `private, max-age=${ttl}`);
    if (entry.key) {
      const contentType = c.res.headers.get("Content-Type") ?? "application/json";
      const body = await c.res.clone().text();
      waitUntil(cacheStore(redis, entry.key, `${contentType}\n${body}`, ttl));
    }
  };
}

/**
 * The route-and-query part of a cache key. The Moscow calendar day is part of it (periods end
 * "today", so an answer cached before midnight is not served after it), and the path, so a route
 * with path parameters (`/orders/{srid}`) gets a key per resource; a route with `languages`, one per
 * negotiated language (not per raw `Accept-Language` value). Only valid queries are ever
 * stored (validation runs after the guard and errors are not stored), so a hit implies a valid query.
 */
function cacheSuffix(c: GuardContext, cache: CacheSpec): Promise<string> {
  const url = new URL(c.req.url);
  const language = cache.languages ? `:lang=${negotiateLanguage(c.req.header("Accept-Language"), cache.languages)}` : "";
  return cacheKeySuffix(cache.name, `${moscowDay()}:${url.pathname}?${normalizeQuery(url.searchParams)}${language}`);
}
