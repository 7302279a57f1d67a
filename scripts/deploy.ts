/**
 * `npm run deploy`: `wrangler deploy -e <group>` for every Worker of the route-group registry
 * (`src/routes/registry.ts`), in its order. `npm run build` is this script with `--dry-run`.
 *
 * - `--group <name>` (repeatable) deploys only those groups; every other argument goes to each
 *   `wrangler deploy` as is (`npm run deploy -- --var RELEASE:$(git rev-parse --short HEAD)`).
 * - With `--dry-run` (`npm run build`, CI) each Worker is bundled into `.wrangler/dry-run/<group>`
 *   and nothing is uploaded; every group is built, and the run fails on an error or on any wrangler
 *   warning (a warning today is a broken deploy tomorrow: e.g. `vars` not repeated in an env).
 * - A real deploy first checks that every group's `[env.<group>]` gives it a URL (`routes`/`route`
 *   or `workers_dev = true`: wrangler would deploy a Worker nobody can reach, and QStash could not
 *   deliver to the jobs Worker), then shows wrangler's output and stops at the first group that
 *   fails, naming the groups already deployed (roll one back with `wrangler rollback -e <group>`).
 *
 * @see docs/deployment.md
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { parse } from "smol-toml";
import { routeGroups } from "../src/routes/registry";

/** What a run does: which groups, whether it is a dry run, and the arguments passed to wrangler. */
export interface DeployPlan {
  groups: string[];
  dryRun: boolean;
  /** Arguments for wrangler, after `deploy -e <group>` (the dry run's `--outdir` included). */
  wranglerArgs(group: string): string[];
}

/**
 * Reads the script's arguments against the registry's group names.
 * @throws Error for `--group` without a value or with a name the registry does not have.
 */
export function planDeploy(argv: readonly string[], groupNames: readonly string[]): DeployPlan {
  const selected: string[] = [];
  const passthrough: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--group" || arg.startsWith("--group=")) {
      const name = arg === "--group" ? argv[++i] : arg.slice("--group=".length);
      if (!name) throw new Error("--group needs a route group name");
      if (!groupNames.includes(name)) throw new Error(`no route group "${name}" (the registry has: ${groupNames.join(", ")})`);
      selected.push(name);
    } else passthrough.push(arg);
  }
  const dryRun = passthrough.includes("--dry-run");
  const ownOutdir = passthrough.some((a) => a === "--outdir" || a.startsWith("--outdir="));
  return {
    groups: selected.length > 0 ? groupNames.filter((g) => selected.includes(g)) : [...groupNames],
    dryRun,
    wranglerArgs: (group) => [
      "deploy",
      "-e",
      group,
      ...(dryRun && !ownOutdir ? ["--outdir", `.wrangler/dry-run/${group}`] : []),
      ...passthrough,
    ],
  };
}

/** The `[env.<group>]` settings that decide where a deployed Worker answers. */
interface EnvTargets {
  route?: unknown;
  routes?: unknown[];
  workers_dev?: boolean;
}

/**
 * The groups of `groups` whose Worker would have no URL after a deploy: no `route`/`routes` in its
 * `[env.<group>]` and `workers_dev` not true there (nor at the top level, which environments inherit).
 */
export function groupsWithoutUrl(wranglerToml: string, groups: readonly string[]): string[] {
  const config = parse(wranglerToml) as EnvTargets & { env?: Record<string, EnvTargets> };
  return groups.filter((group) => {
    const env = config.env?.[group] ?? {};
    const routed = env.route !== undefined || (env.routes?.length ?? 0) > 0;
    return !routed && (env.workers_dev ?? config.workers_dev) !== true;
  });
}

/** wrangler's warning lines (`▲ [WARNING] …`) in its output. */
export function wranglerWarnings(output: string): string[] {
  return output.split("\n").filter((line) => /\[WARNING\]|▲/.test(line));
}

function main(): number {
  const plan = planDeploy(
    process.argv.slice(2),
    routeGroups.map((g) => g.name),
  );
  if (plan.dryRun) {
    let failed = false;
    for (const group of plan.groups) {
      const run = spawnSync("wrangler", plan.wranglerArgs(group), { encoding: "utf8", env: { ...process.env, FORCE_COLOR: "0" } });
      const output = `${run.stdout}${run.stderr}`;
      const warnings = wranglerWarnings(output);
      const size = /Total Upload: ([^\n]+)/.exec(output)?.[1] ?? "?";
      if (run.status !== 0 || warnings.length > 0) {
        failed = true;
        console.error(`✗ ${group}: exit ${run.status}, ${warnings.length} warning(s)\n${output}`);
      } else {
        console.log(`✓ ${group}: built without warnings (${size})`);
      }
    }
    return failed ? 1 : 0;
  }
  const unreachable = groupsWithoutUrl(readFileSync("wrangler.toml", "utf8"), plan.groups);
  if (unreachable.length > 0) {
    console.error(
      `✗ no URL for ${unreachable.join(", ")}: give each [env.<group>] in wrangler.toml a custom domain or route ` +
        "(or `workers_dev = true`); see docs/deployment.md#2-urls. Nothing was deployed.",
    );
    return 1;
  }
  const deployed: string[] = [];
  for (const group of plan.groups) {
    console.log(`\n== ${group}: wrangler ${plan.wranglerArgs(group).join(" ")}`);
    const run = spawnSync("wrangler", plan.wranglerArgs(group), { stdio: "inherit" });
    if (run.status !== 0) {
      const rest = plan.groups.slice(deployed.length + 1);
      console.error(
        `\n✗ ${group}: wrangler exited ${run.status ?? run.signal}. Deployed: ${deployed.join(", ") || "none"}; ` +
          `not attempted: ${rest.join(", ") || "none"}. Fix and re-run (deploying is idempotent), ` +
          `or roll a group back with \`npx wrangler rollback -e <group>\`.`,
      );
      return 1;
    }
    deployed.push(group);
  }
  console.log(`\n✓ deployed ${deployed.join(", ")}`);
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    process.exit(main());
  } catch (err) {
    console.error(`✗ ${err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
  }
}
