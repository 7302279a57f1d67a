/**
 * A route's whole contract, written once: `group.route({...})` takes a `createRoute` config
 * (`@hono/zod-openapi`: method, path, request params/query/body, success responses) plus the
 * route's access policy, rate-limit policy and read cache, and returns the route with:
 * - its guard (`src/core/guard.ts`) as its only middleware, so the router enforces exactly
 *   what is declared;
 * - every problem+json answer it can give, derived from the declaration (400 always — unknown
 *   query parameters are refused on every route; 401/403 from the access policy; 413/415 with a
 *   body; 429, and 503 where a Redis outage fails closed, from the rate limit; 500), plus the
 *   route's own (`errors: { 404: "…" }`), with `Retry-After` and `RateLimit` headers;
 * - `X-Request-Id` on every answer, `RateLimit*` on limited ones, `X-Cache`, `X-Cache-TTL` and
 *   `Cache-Control` on cached ones;
 * - `security` and the extensions `x-access`, `x-rate-limit`, `x-cache` in `/openapi.json`, which
 *   the security tests enumerate.
 * @see https://github.com/honojs/middleware/tree/main/packages/zod-openapi
 * @see https://spec.openapis.org/oas/v3.1.0#operation-object
 */
import { createRoute, OpenAPIHono, type RouteConfig, type RouteConfigToEnv, type RouteHandler, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { TelegramBotRef } from "../telegram/bots";
import type { WebhookDelivery } from "../webhooks/delivery";
import { type AccessPolicy, describeAccess } from "./access";
import type { AuthContext } from "./auth/jwt";
import type { AppEnv, Services } from "./context";
import { type CacheSpec, createGuard } from "./guard";
import { type RateLimitDefaults, standardRateLimits } from "./rate-limit";
import { validationHook } from "./validation";

/** The RFC 9457 problem document every error answers with. */
export const problemSchema = z
  .object({
    type: z.string().openapi({ example: "https://seller-edge.dev/problems/validation-failed" }),
    title: z.string().openapi({ example: "Validation failed" }),
    status: z.number().int().min(400).max(599).openapi({ example: 400 }),
    detail: z.string().optional().openapi({ example: "Invalid query: limit" }),
    instance: z.string().openapi({ example: "/api/v1/stocks" }),
    requestId: z.string().openapi({ example: "0b6f1c7e-5f7a-4f7c-9a51-1f0f5d4d8a3e" }),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .openapi("Problem", { description: "RFC 9457 problem details (application/problem+json)." });

/** Problem statuses and their descriptions in the spec. */
const problemDescriptions = {
  400: "Invalid path, query or body (each failing field in `errors`), or an unknown query parameter.",
  401: "No credential, or an invalid, expired or revoked one (`WWW-Authenticate` says which scheme).",
  403: "The credential is valid but its role or API key scope is not allowed here.",
  404: "No such resource in the caller's org (another org's resource is answered the same way).",
  409: "The request conflicts with the current state.",
  413: "The request body is larger than 1 MiB.",
  415: "The request body is not JSON.",
  422: "The request is well-formed but cannot be processed.",
  429: "Too many requests, or too many failed authentications from this address; retry after `Retry-After` seconds.",
  500: "An unexpected error; the body names only the request id.",
  502: "An upstream service answered with an error.",
  503: "A dependency is unavailable (rate limiting fails closed in production); retry after `Retry-After` seconds.",
} as const;

/** A problem status a route can declare beyond the derived ones. */
export type ProblemStatus = keyof typeof problemDescriptions;

/**
 * The problem answers in a route's static type, for the typed client (`res.status === 401`
 * narrows the body to a problem). Every problem status is listed: a superset of the route's
 * (its spec lists exactly those it can give), since deriving the set per route in types would
 * cost more than the extra branches do.
 */
export type ProblemResponses = Record<
  ProblemStatus,
  { description: string; content: { "application/problem+json": { schema: typeof problemSchema } } }
>;

const header = (description: string, example?: string) => ({
  description,
  schema: { type: "string" as const, ...(example ? { example } : {}) },
});
const requestIdHeader = { "X-Request-Id": header("The request id, also in logs and problem documents.") };
const rateLimitHeaders = {
  RateLimit: header("Remaining requests and seconds until the window resets (IETF draft).", '"dashboard-read";r=119;t=60'),
  "RateLimit-Policy": header("The policy: requests per window.", '"dashboard-read";q=120;w=60'),
};
const retryAfterHeader = { "Retry-After": header("Seconds to wait before retrying.", "30") };
const cacheHeaders = {
  "X-Cache": header("HIT when answered from the cache, MISS otherwise.", "HIT"),
  "X-Cache-TTL": header("Seconds the cached answer stays fresh.", "300"),
  "Cache-Control": header("`private, max-age=N`.", "private, max-age=300"),
};

/** What a route declares beyond `createRoute`. */
export interface RouteDeclaration {
  /** Who may call it. */
  access: AccessPolicy;
  /**
   * Its rate limit: a policy of the group (default `read` for GET, `write` otherwise) and whether
   * a Redis outage refuses it in production (default: writes do). `false`: not limited (QStash,
   * health).
   */
  rateLimit?: { policy?: string; failClosed?: boolean } | false;
  /** A read-through cache of its 200 answers, per org. */
  cache?: CacheSpec;
  /** Problem statuses it answers beyond the derived ones, with what they mean here. */
  errors?: Partial<Record<ProblemStatus, string>>;
  /** Re-read the caller's membership in Postgres (default: every method but GET). */
  privileged?: boolean;
}

/** A `createRoute` config without what the declaration derives. */
export type RouteInput = Omit<RouteConfig, "middleware" | "security"> & RouteDeclaration;

/** The declaration as the spec and the security tests read it (`x-access`, `x-rate-limit`, `x-cache`). */
export interface RouteExtensions {
  "x-access": AccessPolicy;
  "x-rate-limit": { policy: string; failClosed: boolean } | null;
  "x-cache": CacheSpec | null;
}

/** A route group's identity and defaults; `route()` binds operations to it. */
export interface GroupOptions<Name extends string> {
  name: Name;
  /** Title of its section in `/docs`. */
  description: string;
  /** Its rate-limit policies beyond `read` and `write`, or other defaults for them. */
  rateLimits?: RateLimitDefaults;
  /** Cron expressions (as in its `wrangler.toml` triggers) and the job each runs. */
  crons?: Readonly<Record<string, CronJob>>;
}

/** A cron job: the services of the run and the scheduled time (epoch ms). */
export type CronJob = (services: Services, scheduledTime: number) => Promise<unknown>;

/** Security requirement names (see `securitySchemes` in `src/core/openapi.ts`). */
function securityOf(access: AccessPolicy): Record<string, string[]>[] {
  switch (access.kind) {
    case "token":
      return access.scopes.length > 0 ? [{ bearerAuth: [] }, { apiKey: [] }] : [{ bearerAuth: [] }];
    case "admin-token":
      return [{ adminToken: [] }];
    case "metrics-token":
      return [{ metricsToken: [] }];
    case "qstash":
      return [{ qstashSignature: [] }];
    case "webhook":
      // Kommo's path secret is part of the URL, which OpenAPI cannot name as a security scheme.
      return access.scheme === "kommo"
        ? []
        : [{ [access.scheme === "standard-webhooks" ? "standardWebhooksSignature" : "kommoChatsSignature"]: [] }];
    case "telegram":
      return [{ telegramSecretToken: [] }];
    case "public":
      return [];
  }
}

/** Adds `headers` to every response of `responses`. */
function withHeaders(responses: RouteConfig["responses"], headers: Record<string, unknown>): RouteConfig["responses"] {
  return Object.fromEntries(
    Object.entries(responses).map(([status, response]) => [
      status,
      "$ref" in response ? response : { ...response, headers: { ...(response.headers as object), ...headers } },
    ]),
  ) as RouteConfig["responses"];
}

/**
 * A route group: its name (rate-limit buckets `<name>-<policy>`, `/docs` tag) and `route()`,
 * which turns a declaration into a route of this group (see the module comment).
 */
export function defineGroup<const Name extends string>(options: GroupOptions<Name>) {
  const group = {
    name: options.name,
    description: options.description,
    rateLimits: { ...standardRateLimits, ...options.rateLimits } as RateLimitDefaults,
    crons: options.crons ?? {},
  };
  return {
    ...group,
    /** The route of `input`, with its guard, derived responses, security and extensions. */
    route<const R extends RouteInput>(input: R) {
      const { access, rateLimit, cache, errors, privileged, ...config } = input;
      const isRead = config.method === "get" || config.method === "head";
      const limit =
        // QStash and CRM senders burst; a webhook's guard limits failed verifications per IP instead.
        rateLimit === false || access.kind === "qstash" || access.kind === "webhook" || access.kind === "telegram"
          ? null
          : { policy: rateLimit?.policy ?? (isRead ? "read" : "write"), failClosed: rateLimit?.failClosed ?? !isRead };
      if (limit && !(limit.policy in group.rateLimits))
        throw new Error(`${config.path}: group ${group.name} has no rate-limit policy ${limit.policy}`);
      // A write without a body still refuses one: a field sent to it (`orgId`, `role`…) is a 400, never ignored.
      const request = {
        ...config.request,
        query: config.request?.query ?? z.object({}).strict(),
        ...(config.request?.body === undefined && !isRead && access.kind !== "qstash"
          ? { body: { required: false, content: { "application/json": { schema: z.object({}).strict() } } } }
          : {}),
      };
      const hasBody = request.body !== undefined;
      const statuses = new Set<ProblemStatus>([400, 500]);
      if (access.kind !== "public") statuses.add(401);
      if (access.kind === "token" || access.kind === "admin-token" || access.kind === "metrics-token") statuses.add(403).add(429);
      if (access.kind === "webhook" || access.kind === "telegram") statuses.add(429);
      if (hasBody) statuses.add(413).add(415);
      if (limit) statuses.add(429);
      if (limit?.failClosed || access.kind === "admin-token") statuses.add(503);
      for (const status of Object.keys(errors ?? {})) statuses.add(Number(status) as ProblemStatus);
      const problems = Object.fromEntries(
        [...statuses].sort().map((status) => [
          status,
          {
            description: errors?.[status] ?? problemDescriptions[status],
            headers: {
              ...requestIdHeader,
              ...(status === 429 || status === 503 ? retryAfterHeader : {}),
              ...(status === 429 && limit ? rateLimitHeaders : {}),
            },
            content: { "application/problem+json": { schema: problemSchema } },
          },
        ]),
      );
      const successHeaders = { ...requestIdHeader, ...(limit ? rateLimitHeaders : {}), ...(cache ? cacheHeaders : {}) };
      const extensions: RouteExtensions = { "x-access": access, "x-rate-limit": limit, "x-cache": cache ?? null };
      const guard: MiddlewareHandler<AppEnv> = createGuard({
        group,
        path: config.path,
        access,
        rateLimit: limit ?? undefined,
        cache,
        privileged: privileged ?? !isRead,
      });
      const route = createRoute({
        ...config,
        tags: config.tags ?? [group.name],
        description: [config.description, describeAccess(access)].filter(Boolean).join("\n\n"),
        request,
        security: securityOf(access),
        middleware: [guard],
        responses: { ...withHeaders(config.responses, successHeaders), ...problems },
        ...extensions,
      });
      return route as unknown as Omit<R, keyof RouteDeclaration | "responses"> & {
        responses: R["responses"] & ProblemResponses;
      } & RouteExtensions & { [extension: `x-${string}`]: unknown } & {
          middleware: [
            MiddlewareHandler<
              R["access"] extends { kind: "token" }
                ? AuthedEnv
                : R["access"] extends { kind: "webhook" }
                  ? WebhookEnv
                  : R["access"] extends { kind: "telegram" }
                    ? TelegramEnv
                    : AppEnv
            >,
          ];
          getRoutingPath(): string;
        };
    },
  };
}

/** The environment of a handler behind a token guard: `c.var.auth` is set. */
export type AuthedEnv = { Variables: { auth: AuthContext } };

/** The environment of a handler behind a webhook guard: `c.var.webhook` is the verified delivery. */
export type WebhookEnv = { Variables: { webhook: WebhookDelivery } };

/** The environment of a handler behind a Telegram guard: `c.var.telegramBot` is the bot the update is for. */
export type TelegramEnv = { Variables: { telegramBot: TelegramBotRef } };

/**
 * One operation: its route (from `group.route`) and its handler, typed by the route (params,
 * query, body, and the responses it may return). `router.openapiRoutes([...] as const)` mounts them.
 */
export const defineOperation = <R extends RouteConfig>(operation: { route: R; handler: RouteHandler<R, AppEnv & RouteConfigToEnv<R>> }) =>
  operation;

/** A group's definition with its router: one entry of the route-group registry. */
export interface RouteGroup<Routes extends OpenAPIHono<AppEnv> = OpenAPIHono<AppEnv>> {
  name: string;
  description: string;
  rateLimits: RateLimitDefaults;
  crons: Readonly<Record<string, CronJob>>;
  routes: Routes;
}

/** A router for a group's routes, with the project's validation hook. */
export function createRouter(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
}
