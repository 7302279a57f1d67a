/**
 * `npm run deploy` / `npm run build` (`scripts/deploy.ts`): which groups, which wrangler arguments,
 * and the refusal to deploy a Worker that would have no URL.
 */
import { describe, expect, it } from "vitest";
import { groupsWithoutUrl, planDeploy, wranglerWarnings } from "../../scripts/deploy";

const groups = ["auth", "dashboard", "jobs"];

describe("planDeploy", () => {
  it("deploys every group of the registry, in its order, passing the other arguments through", () => {
    const plan = planDeploy(["--var", "RELEASE:abc123"], groups);
    expect(plan.groups).toEqual(groups);
    expect(plan.dryRun).toBe(false);
    expect(plan.wranglerArgs("jobs")).toEqual(["deploy", "-e", "jobs", "--var", "RELEASE:abc123"]);
  });

  it("builds into .wrangler/dry-run/<group> with --dry-run (npm run build), unless --outdir is given", () => {
    const plan = planDeploy(["--dry-run"], groups);
    expect(plan.dryRun).toBe(true);
    expect(plan.wranglerArgs("auth")).toEqual(["deploy", "-e", "auth", "--outdir", ".wrangler/dry-run/auth", "--dry-run"]);
    expect(planDeploy(["--dry-run", "--outdir=out"], groups).wranglerArgs("auth")).toEqual([
      "deploy",
      "-e",
      "auth",
      "--dry-run",
      "--outdir=out",
    ]);
  });

  it("selects groups with --group, keeping the registry's order", () => {
    expect(planDeploy(["--group", "jobs", "--group=auth"], groups).groups).toEqual(["auth", "jobs"]);
    expect(() => planDeploy(["--group", "nope"], groups)).toThrow(/no route group "nope"/);
    expect(() => planDeploy(["--group"], groups)).toThrow(/needs a route group name/);
  });
});

describe("groupsWithoutUrl", () => {
  it("names each env with neither a route nor workers_dev", () => {
    const toml = `
workers_dev = false
[env.auth]
routes = [{ pattern = "auth.api.example.com", custom_domain = true }]
[env.dashboard]
route = { pattern = "api.example.com/api/v1/*", zone_name = "example.com" }
[env.jobs]
main = "src/routes/jobs/worker.ts"
`;
    expect(groupsWithoutUrl(toml, groups)).toEqual(["jobs"]);
    expect(groupsWithoutUrl(`${toml}workers_dev = true\n`, groups)).toEqual([]);
    expect(groupsWithoutUrl("workers_dev = true\n[env.jobs]\nname = 'x'\n", groups)).toEqual([]);
  });
});

describe("wranglerWarnings", () => {
  it("finds wrangler's warning lines", () => {
    expect(wranglerWarnings("ok\n▲ [WARNING] Processing wrangler.toml\nTotal Upload: 1 KiB")).toEqual([
      "▲ [WARNING] Processing wrangler.toml",
    ]);
  });
});
