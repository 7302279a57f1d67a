/**
 * The shape of `src/`, checked with madge over the real import graph: no import cycle, and no
 * module of `src/` imports from `dev/` (the local stack may import the production code's wire
 * types, never the reverse).
 * @see https://github.com/pahen/madge
 */
import madge from "madge";
import { describe, expect, it } from "vitest";

describe("src/ import graph", async () => {
  const graph = await madge("src", { fileExtensions: ["ts"], tsConfig: "tsconfig.json" });

  it("has no import cycle", () => {
    expect(graph.circular()).toEqual([]);
  });

  it("never imports from dev/", () => {
    const offenders = Object.entries(graph.obj()).flatMap(([file, deps]) =>
      deps.filter((d) => d.startsWith("../dev/")).map((d) => `${file} → ${d}`),
    );
    expect(offenders).toEqual([]);
  });

  it("sees the whole tree (the checks above are not vacuous)", () => {
    expect(Object.keys(graph.obj()).length).toBeGreaterThan(60);
    expect(graph.obj()["workers/all.ts"]).toContain("core/worker.ts");
  });
});
