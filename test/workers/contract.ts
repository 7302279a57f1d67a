/**
 * The contract check of every response a test receives: the route that answered (matched by
 * method and path against the route declarations, literal paths before parameterized ones) must
 * declare the status, and the body must parse with the zod schema the route declares for that
 * status and media type. So the spec cannot drift from what the API answers. An unrouted path
 * must answer a 404 or 405 problem.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { ZodType } from "zod";
import type { AppEnv } from "../../src/core/context";
import { app } from "../../src/workers/all";

interface DeclaredRoute {
  method: string;
  specPath: string;
  pattern: RegExp;
  params: number;
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
}

const cache = new WeakMap<OpenAPIHono<AppEnv>, DeclaredRoute[]>();

/** The declared routes of `worker` (its OpenAPI registry), literal paths first. */
function declaredRoutes(worker: OpenAPIHono<AppEnv>): DeclaredRoute[] {
  let routes = cache.get(worker);
  if (!routes) {
    routes = worker.openAPIRegistry.definitions
      .flatMap((d) => (d.type === "route" ? [d.route] : []))
      .map((r) => ({
        method: r.method.toUpperCase(),
        specPath: r.path,
        pattern: new RegExp(`^${r.path.replace(/[.]/g, "\\.").replace(/\{\w+\}/g, "[^/]+")}$`),
        params: (r.path.match(/\{/g) ?? []).length,
        responses: r.responses as DeclaredRoute["responses"],
      }))
      .sort((a, b) => a.params - b.params);
    cache.set(worker, routes);
  }
  return routes;
}

const isJson = (mediaType: string) => /^application\/([\w.-]+\+)?json$/.test(mediaType);

/**
 * Checks `res` (the answer to `method` `url`) against the declared contract.
 * @throws Error naming the route, the status and what does not match.
 */
export async function checkContract(method: string, url: string, res: Response, worker: OpenAPIHono<AppEnv> = app): Promise<void> {
  const path = new URL(url).pathname;
  const m = method.toUpperCase() === "HEAD" ? "GET" : method.toUpperCase();
  const route = declaredRoutes(worker).find((r) => r.method === m && r.pattern.test(path));
  const mediaType = (res.headers.get("Content-Type") ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  if (!route) {
    if ((res.status === 404 || res.status === 405 || res.status === 400) && mediaType === "application/problem+json") return;
    // CORS preflights are answered by the CORS middleware, not a route.
    if (m === "OPTIONS") return;
    throw new Error(`${method} ${path} answered ${res.status} but no route declares it`);
  }
  const name = `${route.method} ${route.specPath}`;
  const declared = route.responses[String(res.status)];
  if (!declared)
    throw new Error(`${name} answered ${res.status}, which it does not declare (declared: ${Object.keys(route.responses).join(", ")})`);
  if (method.toUpperCase() === "HEAD" || res.status === 204) return;
  const content = declared.content ?? {};
  const entry = content[mediaType];
  if (!entry)
    throw new Error(`${name} ${res.status} answered ${mediaType || "no Content-Type"}, declared: ${Object.keys(content).join(", ")}`);
  if (!isJson(mediaType)) return;
  const body = await res.clone().text();
  const parsed = (entry.schema as ZodType).safeParse(JSON.parse(body));
  if (!parsed.success) {
    throw new Error(
      `${name} ${res.status}: the body does not match the declared schema: ${JSON.stringify(parsed.error.issues.slice(0, 5))}\n${body.slice(0, 500)}`,
    );
  }
}
