/**
 * The routes every Worker serves besides its groups: `GET /health` (no I/O), `GET /ready`
 * (Postgres and Redis reachable), `GET /openapi.json` (the Worker's OpenAPI 3.1 document) and
 * `GET /docs` (the Scalar API reference over it).
 * @see https://github.com/scalar/scalar/tree/main/integrations/hono
 */
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { Scalar } from "@scalar/hono-api-reference";
import { publicAccess } from "./access";
import type { AppEnv } from "./context";
import { openApiDocument, type Tag } from "./openapi";
import { createRouter, defineGroup } from "./route";

const platform = defineGroup({ name: "platform", description: "Health, readiness and this contract." });

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

const readySchema = z.object({
  status: z.enum(["ready", "degraded"]),
  postgres: z.enum(["ok", "down"]),
  redis: z.enum(["ok", "down"]),
});
const readyRoute = platform.route({
  method: "get",
  path: "/ready",
  summary: "Readiness: Postgres and Redis answer",
  access: publicAccess,
  rateLimit: false,
  responses: {
    200: { description: "Ready.", content: { "application/json": { schema: readySchema } } },
    503: { description: "A dependency is down.", content: { "application/json": { schema: readySchema } } },
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
 * The platform routes of the Worker `name`; `app()` is the Worker's app, whose registry holds
 * every route mounted in it (its document is built once per isolate and server URL).
 */
export function platformRoutes(name: string, app: () => OpenAPIHono<AppEnv>, tags: readonly Tag[]) {
  const router = createRouter();
  return router
    .openapi(healthRoute, (c) => c.json({ status: "ok" as const, service: name, release: c.var.services.config.RELEASE }, 200))
    .openapi(readyRoute, async (c) => {
      const { db, redis } = c.var.services;
      const checks = await Promise.allSettled([db.execute("select 1"), redis.ping()]);
      const [postgres = "down", cache = "down"] = checks.map((r) => (r.status === "fulfilled" ? ("ok" as const) : ("down" as const)));
      const ready = postgres === "ok" && cache === "ok";
      return ready
        ? c.json({ status: "ready" as const, postgres, redis: cache }, 200)
        : c.json({ status: "degraded" as const, postgres, redis: cache }, 503);
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
