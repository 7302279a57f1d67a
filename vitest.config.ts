import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

/**
 * Two projects: `node` (the local-stack adapters, tested with the official SDKs) and
 * `workers` (routes and jobs inside workerd via the Workers Vitest integration, against
 * the local stack started by `test/setup/global.ts`).
 */
export default defineConfig({
  test: {
    // Logs of passing tests are noise; a failing test shows its own (`--silent=false` shows all).
    silent: "passed-only",
    projects: [
      {
        test: {
          name: "node",
          include: ["test/dev/**/*.test.ts", "test/unit/**/*.test.ts"],
          environment: "node",
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        plugins: [
          cloudflareTest(({ inject }) => ({
            main: "./src/workers/all.ts",
            miniflare: {
              compatibilityDate: "2026-11-01",
              compatibilityFlags: ["nodejs_compat"],
              bindings: inject("stackEnv"),
            },
          })),
        ],
        test: {
          name: "workers",
          include: ["test/workers/**/*.test.ts"],
          globalSetup: ["test/setup/global.ts"],
          // An unhandled promise rejection inside workerd fails the test it happened in.
          setupFiles: ["test/setup/unhandled-rejections.ts"],
          testTimeout: 120_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
