/**
 * The published contract and the deployment config, derived from the route-group registry:
 * - every Worker's `/openapi.json` document (the all-in-one Worker's and each group's) is a valid
 *   OpenAPI 3.1 document (`@seriousme/openapi-schema-validator`, 0 errors), and each operation
 *   declares its access, rate limit and cache;
 * - wrangler.toml has an `[env.<group>]` per registered group whose `main` is the group's entry
 *   (`src/routes/<group>/worker.ts`), whose crons are the group's declared `crons`, and whose
 *   `vars` repeat the top level's (wrangler does not inherit them).
 */
import { readFileSync } from "node:fs";
import { Validator } from "@seriousme/openapi-schema-validator";
import { parse } from "smol-toml";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/core/app";
import { openApiDocument } from "../../src/core/openapi";
import { routeGroups } from "../../src/routes/registry";

const workers = [{ name: "all", groups: routeGroups }, ...routeGroups.map((g) => ({ name: g.name, groups: [g] }))];

type Operation = { "x-access"?: { kind: string }; "x-rate-limit"?: unknown; "x-cache"?: unknown; responses: Record<string, unknown> };

describe.each(workers)("the OpenAPI document of Worker $name", ({ name, groups }) => {
  const document = openApiDocument(createApp(name, groups), name, "test", "https://edge.test", groups) as unknown as {
    openapi: string;
    paths: Record<string, Record<string, Operation>>;
  };
  const operations = Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => ({ path, method, op })),
  );

  it("is valid OpenAPI 3.1 (0 errors)", async () => {
    const result = await new Validator().validate(document as never);
    if (!result.valid) console.error(JSON.stringify(result.errors, null, 2).slice(0, 4000));
    console.log(`openapi ${name}: ${operations.length} operations, ${result.valid ? 0 : (result.errors as unknown[]).length} errors`);
    expect(result.valid).toBe(true);
    expect(document.openapi).toBe("3.1.0");
  });

  it("declares access, rate limit, cache and a problem answer on every operation", () => {
    for (const { path, method, op } of operations) {
      expect(op["x-access"]?.kind, `${method} ${path}`).toMatch(/^(token|public|qstash|admin-token|metrics-token|webhook|telegram)$/);
      expect(op, `${method} ${path}`).toHaveProperty("x-rate-limit");
      expect(op, `${method} ${path}`).toHaveProperty("x-cache");
      expect(op.responses, `${method} ${path}`).toHaveProperty("500");
    }
  });

  it("holds exactly its groups' routes and the platform routes", () => {
    const prefixes = groups.flatMap((g) => [...g.routes.routes].map((r) => r.path));
    const platform = ["/health", "/ready", "/metrics", "/openapi.json", "/docs"];
    const specPaths = new Set(Object.keys(document.paths).map((p) => p.replace(/\{(\w+)\}/g, ":$1")));
    expect(specPaths).toEqual(new Set([...prefixes, ...platform]));
  });
});

describe("wrangler.toml", () => {
  const config = parse(readFileSync("wrangler.toml", "utf8")) as {
    main: string;
    vars: Record<string, string>;
    triggers?: { crons: string[] };
    env: Record<string, { main: string; vars?: Record<string, string>; triggers?: { crons: string[] } }>;
  };

  it("has one [env.<group>] per registered group, with its entry and its crons, and no other", () => {
    expect(Object.keys(config.env).sort()).toEqual(routeGroups.map((g) => g.name).sort());
    for (const group of routeGroups) {
      const env = config.env[group.name];
      expect(env?.main, group.name).toBe(`src/routes/${group.name}/worker.ts`);
      expect(env?.triggers?.crons ?? [], group.name).toEqual(Object.keys(group.crons));
    }
    expect(config.main).toBe("src/workers/all.ts");
    expect(config.triggers?.crons.sort()).toEqual(routeGroups.flatMap((g) => Object.keys(g.crons)).sort());
  });

  it("repeats the top-level vars in every environment", () => {
    for (const group of routeGroups) {
      const vars = config.env[group.name]?.vars ?? {};
      for (const name of Object.keys(config.vars)) expect(vars, `${group.name}: ${name}`).toHaveProperty(name);
    }
  });
});
