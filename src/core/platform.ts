/**
 * The routes every Worker serves besides its groups: `GET /health` (no I/O), `GET /ready`
 * (Postgres, Redis and QStash reachable, with their latency), `GET /metrics` (Prometheus, with
 * `METRICS_TOKEN`), `GET /openapi.json` (the Worker's OpenAPI 3.1 document) and `GET /docs` (the
 * Scalar API reference over it).
 * @see https://github.com/scalar/scalar/tree/main/integrations/hono
 */
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { Scalar } from "@scalar/hono-api-reference";
import { metricsTokenAccess, publicAccess } from "./access";
import type { AppEnv, Services } from "./context";
import { ApiError } from "./errors";
import { type GaugeValues, readGauges, readRecorded, renderMetrics } from "./metrics";
import { openApiDocument, type Tag } from "./openapi";
import { createRouter, defineGroup } from "./route";

/** The group name of the platform routes (metric labels, `/docs` tag). */
export const PLATFORM_GROUP = "platform";

const platform = defineGroup({ name: PLATFORM_GROUP, description: "Health, readiness, metrics and this contract." });

const healthRoute = platform.route({
  method: "get",
  path: "/health",
  summary: "Liveness: the Worker runs (no I/O)",
  access: publicAccess,
  rateLimit: false,
  responses: {
    200: {
      description: "The Worker runs.",
      content: {
        "application/json": {
          schema: z.object({ status: z.literal("ok"), service: z.string(), release: z.string() }),
        },
      },
    },
  },
});

/** Time a readiness check may take before its dependency counts as down, in ms. */
export const READY_TIMEOUT_MS = 2000;

const dependencySchema = z.object({
  status: z.enum(["ok", "down"]),
  latencyMs: z.number().nonnegative().openapi({ description: "Time the check took, in ms (until the timeout when down).", example: 4.2 }),
});
const readySchema = z.object({
  status: z.enum(["ready", "degraded"]),
  postgres: dependencySchema,
  redis: dependencySchema,
  qstash: dependencySchema,
});
const readyRoute = platform.route({
  method: "get",
  path: "/ready",
  summary: "Readiness: Postgres, Redis and QStash answer",
  description:
    "Checks each dependency once, in parallel, each within 2 s: Postgres `select 1`, Redis `PING`, QStash an " +
    "authenticated `GET /v2/schedules`. `ready` (200) when all answer, else `degraded` (503) naming the one that did not.",
  access: publicAccess,
  rateLimit: false,
  responses: {
    200: { description: "Ready.", content: { "application/json": { schema: readySchema } } },
    503: { description: "A dependency is down.", content: { "application/json": { schema: readySchema } } },
  },
});

/** The Content-Type of the Prometheus text exposition format. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

const metricsRoute = platform.route({
  method: "get",
  path: "/metrics",
  summary: "Prometheus metrics, summed over every Worker",
  description:
    "The Prometheus text exposition format 0.0.4: request counts and durations by route group and route template, " +
    "cache lookups, rate-limit rejections, database request durations, job outcomes, Wildberries rows synced (all " +
    "recorded by every Worker into the shared Redis), and gauges read from Postgres now: dead letters not replayed, " +
    "the oldest last successful sync, the first WB token to expire. See docs/operations.md.",
  access: metricsTokenAccess,
  rateLimit: false,
  errors: {
    404: "This Worker has no `METRICS_TOKEN`: metrics are not enabled.",
    503: "Redis, where the metrics are kept, did not answer.",
  },
  responses: {
    200: { description: "The metrics.", content: { "text/plain": { schema: z.string() } } },
  },
});

const openApiRoute = platform.route({
  method: "get",
  path: "/openapi.json",
  summary: "This Worker's OpenAPI 3.1 document",
  access: publicAccess,
  responses: {
    200: { description: "The OpenAPI document.", content: { "application/json": { schema: z.record(z.string(), z.unknown()) } } },
  },
});

const docsRoute = platform.route({
  method: "get",
  path: "/docs",
  summary: "The API reference (Scalar) over /openapi.json",
  access: publicAccess,
  responses: { 200: { description: "An HTML page.", content: { "text/html": { schema: z.string() } } } },
});

const documents = new WeakMap<object, Map<string, unknown>>();

/**
 * Runs `check` within {@link READY_TIMEOUT_MS} (its `signal` aborts then): its status and the time
 * it took, in ms.
 */
async function timed(check: (signal: AbortSignal) => Promise<unknown>): Promise<z.infer<typeof dependencySchema>> {
  const started = performance.now();
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new Error("timeout"));
    }, READY_TIMEOUT_MS);
  });
  const work = check(controller.signal);
  // Past the timeout its failure has no one to tell.
  work.catch(() => undefined);
  try {
    await Promise.race([work, timeout]);
    return { status: "ok", latencyMs: Math.round((performance.now() - started) * 10) / 10 };
  } catch {
    return { status: "down", latencyMs: Math.round((performance.now() - started) * 10) / 10 };
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

/** QStash answers an authenticated read: `GET /v2/schedules` (cheap; the project keeps no schedules there). */
async function pingQStash(config: Services["config"], signal: AbortSignal): Promise<void> {
  const res = await fetch(new URL("/v2/schedules", config.QSTASH_URL), {
    headers: { Authorization: `Bearer ${config.QSTASH_TOKEN}` },
    signal,
  });
  await res.body?.cancel();
  if (!res.ok) throw new Error(`QStash answered ${res.status}`);
}

/** The scraped gauges, or none when Postgres does not answer (the recorded metrics still render). */
async function gaugesOrNone(services: Services): Promise<GaugeValues> {
  try {
    return await readGauges(services.db);
  } catch (err) {
    services.logger.warn("metrics gauges not read: Postgres did not answer", { error: err });
    return {};
  }
}

/**
 * The platform routes of the Worker `name`; `app()` is the Worker's app, whose registry holds
 * every route mounted in it (its document is built once per isolate and server URL).
 */
export function platformRoutes(name: string, app: () => OpenAPIHono<AppEnv>, tags: readonly Tag[]) {
  const router = createRouter();
  return router
    .openapi(healthRoute, (c) => c.json({ status: "ok" as const, service: name, release: c.var.services.config.RELEASE }, 200))
    .openapi(readyRoute, async (c) => {
      const { db, redis, config } = c.var.services;
      const [postgres, cache, qstash] = await Promise.all([
        timed(() => db.execute("select 1")),
        timed(() => redis.ping()),
        timed((signal) => pingQStash(config, signal)),
      ]);
      const checks = { postgres, redis: cache, qstash };
      return [postgres, cache, qstash].every((d) => d.status === "ok")
        ? c.json({ status: "ready" as const, ...checks }, 200)
        : c.json({ status: "degraded" as const, ...checks }, 503);
    })
    .openapi(metricsRoute, async (c) => {
      const services = c.var.services;
      const [recorded, gauges] = await Promise.all([
        readRecorded(services.redis).catch((err: unknown) => {
          throw new ApiError("SERVICE_UNAVAILABLE", {
            detail: "The metrics store (Redis) did not answer; retry shortly.",
            headers: { "Retry-After": "5" },
            cause: err,
          });
        }),
        gaugesOrNone(services),
      ]);
      return c.text(renderMetrics(recorded, gauges), 200, { "Content-Type": METRICS_CONTENT_TYPE });
    })
    .openapi(openApiRoute, (c) => {
      const worker = app();
      const origin = new URL(c.req.url).origin;
      const byOrigin = documents.get(worker) ?? new Map<string, unknown>();
      documents.set(worker, byOrigin);
      const document = byOrigin.get(origin) ?? openApiDocument(worker, name, c.var.services.config.RELEASE, origin, [platform, ...tags]);
      byOrigin.set(origin, document);
      return c.json(document as Record<string, unknown>, 200);
    })
    .openapi(docsRoute, (c) => {
      const render = Scalar<AppEnv>({
        url: "/openapi.json",
        pageTitle: name === "all" ? "Seller Edge API" : `Seller Edge API: ${name}`,
        cdn: c.var.services.config.DOCS_SCRIPT_URL,
        withDefaultFonts: false,
      });
      return render(c, async () => {}) as Promise<Response>;
    });
}
