/**
 * `npm run build`: a dry-run build (`wrangler deploy --dry-run`) of every Worker of the
 * route-group registry, into `.wrangler/dry-run/<group>`. Fails on an error or on any wrangler
 * warning (a warning today is a broken deploy tomorrow: e.g. `vars` not repeated in an env).
 * Extra arguments are passed to wrangler.
 */
import { spawnSync } from "node:child_process";
import { routeGroups } from "../src/routes/registry";

let failed = false;
for (const { name } of routeGroups) {
  const args = ["deploy", "--dry-run", "-e", name, "--outdir", `.wrangler/dry-run/${name}`, ...process.argv.slice(2)];
  const run = spawnSync("wrangler", args, { encoding: "utf8", env: { ...process.env, FORCE_COLOR: "0" } });
  const output = `${run.stdout}${run.stderr}`;
  const warnings = output.split("\n").filter((line) => /\[WARNING\]|▲/.test(line));
  const size = /Total Upload: ([^\n]+)/.exec(output)?.[1] ?? "?";
  if (run.status !== 0 || warnings.length > 0) {
    failed = true;
    console.error(`✗ ${name}: exit ${run.status}, ${warnings.length} warning(s)\n${output}`);
  } else {
    console.log(`✓ ${name}: built without warnings (${size})`);
  }
}
process.exit(failed ? 1 : 0);
