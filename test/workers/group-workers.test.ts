/// <reference types="vite/client" />
/**
 * The per-group Worker entries (`src/routes/<group>/worker.ts`), which production deploys, loaded
 * and called as the runtime calls them: each serves its own group's routes and nothing else, and
 * its `/health` and `/openapi.json` speak for it alone. The groups come from the registry, so a
 * new group is covered (and must have its entry) without touching this file.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { PLATFORM_GROUP } from "../../src/core/platform";
import { routeGroups } from "../../src/routes/registry";
import { api, buildRequest, problem, testEnv } from "./helpers";

/** Every group Worker module, by group name (`src/routes/<name>/worker.ts`). */
const entries = Object.fromEntries(
  Object.entries(import.meta.glob<{ default: ExportedHandler<Record<string, string>> }>("../../src/routes/*/worker.ts")).map(
    ([path, load]) => [path.split("/").at(-2) as string, load],
  ),
);

type OpenApi = { paths: Record<string, Record<string, { tags?: string[] }>> };

/** Calls group `name`'s Worker entry with the test env and waits for its `waitUntil` work. */
async function callGroupWorker(name: string, path: string, init: RequestInit = {}): Promise<Response> {
  const load = entries[name];
  if (!load) throw new Error(`no src/routes/${name}/worker.ts`);
  const handler = (await load()).default;
  if (!handler.fetch) throw new Error(`the ${name} Worker has no fetch handler`);
  const ctx = createExecutionContext();
  const res = await handler.fetch(buildRequest(path, init) as Request<unknown, IncomingRequestCfProperties>, testEnv, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

/** The paths (OpenAPI templates) of each group, from the all-in-one Worker's document (operations are tagged by group). */
async function pathsByGroup(): Promise<Map<string, { path: string; method: string }[]>> {
  const doc = (await (await api("/openapi.json")).json()) as OpenApi;
  const byGroup = new Map<string, { path: string; method: string }[]>();
  for (const [path, operations] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      for (const tag of operation.tags ?? []) byGroup.set(tag, [...(byGroup.get(tag) ?? []), { path, method }]);
    }
  }
  return byGroup;
}

/** A concrete URL of an OpenAPI path template (`{id}` → a UUID). */
const concrete = (template: string) => template.replace(/\{[^}]+\}/g, () => crypto.randomUUID());

const names = routeGroups.map((g) => g.name);

describe("per-group Worker entries", () => {
  it("exist for exactly the registry's groups", () => {
    expect(Object.keys(entries).sort()).toEqual([...names].sort());
  });

  it.each(names)("%s: /health names it; /openapi.json lists its group's paths and the platform's, no other group's", async (name) => {
    const health = await callGroupWorker(name, "/health");
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: "ok", service: name });

    const byGroup = await pathsByGroup();
    const own = byGroup.get(name) ?? [];
    expect(own.length, `${name} has routes`).toBeGreaterThan(0);
    const res = await callGroupWorker(name, "/openapi.json");
    expect(res.status).toBe(200);
    const doc = (await res.json()) as OpenApi;
    const expected = new Set([...own, ...(byGroup.get(PLATFORM_GROUP) ?? [])].map((r) => r.path));
    expect(Object.keys(doc.paths).sort()).toEqual([...expected].sort());
    for (const operations of Object.values(doc.paths)) {
      for (const operation of Object.values(operations)) expect([name, PLATFORM_GROUP]).toContain(operation.tags?.[0]);
    }
  });

  it.each(names)("%s: routes its own paths and answers every other group's with the 404 of an unknown route", async (name) => {
    const byGroup = await pathsByGroup();
    const unknown = await problem(await callGroupWorker(name, "/no-such-route"));
    expect(unknown).toMatchObject({ status: 404, detail: "No such route." });

    for (const { path, method } of byGroup.get(name) ?? []) {
      const res = await callGroupWorker(name, concrete(path), { method: method.toUpperCase() });
      const body = res.status === 404 ? await problem(res) : undefined;
      expect(body?.detail, `${name}: ${method.toUpperCase()} ${path} is routed`).not.toBe("No such route.");
    }
    for (const other of names.filter((n) => n !== name)) {
      for (const { path, method } of byGroup.get(other) ?? []) {
        const res = await callGroupWorker(name, concrete(path), { method: method.toUpperCase() });
        expect(res.status, `${name} must not serve ${other}'s ${method.toUpperCase()} ${path}`).toBe(404);
        expect((await problem(res)).detail).toBe("No such route.");
      }
    }
  });
});
