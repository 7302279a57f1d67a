/**
 * `node --import tsx bench/cached-read-probe.ts`: where the time of a cached dashboard read goes.
 *
 * Starts the same local environment as `npm run bench` (same Worker vars), syncs the demo data
 * (unless `PROBE_SYNC=0` and the org's data is already in the database), then runs `PROBE_ROUNDS`
 * (default 3) back-to-back pairs of autocannon loads — `GET /health`, then the cached
 * `GET /api/v1/analytics/sales?period=30d` — and for each load reports requests/s, p50/p99 and
 * the CPU time (ms per request, from `/proc/<pid>/stat` utime+stime; in parentheses the time its
 * threads waited for a CPU, from `schedstat`) of:
 * - `workerd`: `wrangler dev`'s two workerd processes: its proxy, and the runtime that runs the
 *   Worker behind miniflare's entry worker (every request) and outbound worker (every subrequest);
 * - `node`: this process: the Redis REST double, the Neon adapter and the other doubles
 *   (and autocannon itself when `PROBE_LOADER=inproc`, as in `bench/run.ts`);
 * - `redis`: the spawned `redis-server`;
 * - `loader`: autocannon in a child process (`PROBE_LOADER=child`, the default, so its CPU is
 *   not mixed with the double's);
 * - `wrangler`: the rest of `wrangler dev`'s process tree (its Node process, esbuild);
 * and, per request, the Redis REST requests by path and the Redis commands by name (`INFO
 * commandstats`). `BENCH_SECONDS`, `BENCH_CONNECTIONS` as in `bench/run.ts`. Linux only.
 * `PROBE_PROFILE=<dir>`: a V8 CPU profile of this process (the doubles) during each cached load,
 * written to `<dir>/node-cached-<round>.cpuprofile`.
 * `PROBE_HOLD=<file>`: instead of loading, write the Worker URL, the token and the Redis URLs to
 * `<file>` and keep the environment up until SIGINT/SIGTERM (for measuring by hand).
 */
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { loadavg } from "node:os";
import autocannon from "autocannon";
import IORedis from "ioredis";
import { freePort } from "../dev/free-port";
import { startLocalEnvironment } from "../scripts/local-env";
import { benchEnvironment, type LoadSummary, loadSummary } from "./measure";
import { clockTicksPerSecond, descendants, type ProcStat, readStat, runQueueWaitMs } from "./proc";
import { runSyncBench } from "./sync";

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 10);
const rounds = Number(process.env.PROBE_ROUNDS ?? 3);
const loader = process.env.PROBE_LOADER === "inproc" ? "inproc" : "child";
/** CPU ms and run-queue wait ms of one process (`bench/proc.ts`), or undefined when it is gone. */
function cpuAndWait(stat: ProcStat | undefined): { cpuMs: number; waitMs: number } | undefined {
  if (!stat) return undefined;
  return { cpuMs: (stat.cpuTicks * 1000) / clockTicksPerSecond(), waitMs: runQueueWaitMs(stat.pid) };
}

/** CPU ms (and run-queue wait ms, as `<role>Wait`) of this process's descendants (and itself), by role. */
function cpuByRole(): Record<string, number> {
  const roles: Record<string, number> = { workerd: 0, node: 0, redis: 0, loader: 0, wrangler: 0 };
  const add = (role: string, stat: ProcStat | undefined) => {
    const p = cpuAndWait(stat);
    if (!p) return;
    roles[role] = (roles[role] ?? 0) + p.cpuMs;
    roles[`${role}Wait`] = (roles[`${role}Wait`] ?? 0) + p.waitMs;
  };
  add("node", readStat(process.pid));
  for (const child of descendants(process.pid)) {
    add(child.comm === "workerd" ? "workerd" : child.comm === "redis-server" ? "redis" : "wrangler", child);
  }
  return roles;
}

/** Runs autocannon, in this process or in a child; `during` is sampled right after it ends. */
async function load(url: string, headers: Record<string, string>): Promise<{ result: LoadSummary; cpu: Record<string, number> }> {
  if (loader === "inproc") {
    const before = cpuByRole();
    const r = await autocannon({ url, headers, connections, duration: seconds });
    const after = cpuByRole();
    return { result: loadSummary(r), cpu: Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)])) };
  }
  const args = ["--json", "-c", String(connections), "-d", String(seconds)];
  for (const [k, v] of Object.entries(headers)) args.push("-H", `${k}=${v}`);
  args.push(url);
  const before = cpuByRole();
  const child = spawn("node_modules/.bin/autocannon", args, { stdio: ["ignore", "pipe", "ignore"] });
  let out = "";
  child.stdout.on("data", (chunk: Buffer) => {
    out += chunk.toString();
  });
  // The loader's CPU, sampled while it still exists (a /proc scan of every process would itself
  // cost this process CPU worth measuring).
  let loaderCpu = { cpuMs: 0, waitMs: 0 };
  const sampler = setInterval(() => {
    const now = child.pid ? cpuAndWait(readStat(child.pid)) : undefined;
    if (now) loaderCpu = now;
  }, 250);
  await new Promise((resolve) => child.on("exit", resolve));
  clearInterval(sampler);
  const after = cpuByRole();
  const cpu = Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]));
  // The loader was not yet in the tree's CPU at the start: all it used is its own.
  cpu.loader = loaderCpu.cpuMs;
  cpu.loaderWait = loaderCpu.waitMs;
  return { result: loadSummary(JSON.parse(out) as Parameters<typeof loadSummary>[0]), cpu };
}

/** `INFO commandstats` as command → calls. */
async function commandCalls(redis: IORedis): Promise<Record<string, number>> {
  const info = await redis.info("commandstats");
  const calls: Record<string, number> = {};
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls[m[1] as string] = Number(m[2]);
  return calls;
}

const perRequest = (n: number, requests: number) => Math.round((n / Math.max(1, requests)) * 1000) / 1000;

async function main() {
  const env = await startLocalEnvironment({
    ...benchEnvironment,
    port: await freePort(),
  });
  const redis = new IORedis(env.stack.redis.redisUrl);
  try {
    const token = await env.login();
    const auth = { Authorization: `Bearer ${token}` };
    if (process.env.PROBE_SYNC !== "0") await runSyncBench(env, () => env.login());
    const dashboard = `${env.workerUrl}/api/v1/analytics/sales?period=30d`;
    await (await fetch(dashboard, { headers: auth })).arrayBuffer();
    const check = await fetch(dashboard, { headers: auth });
    const body = await check.arrayBuffer();
    if (check.headers.get("X-Cache") !== "HIT") throw new Error(`expected a cache HIT, got ${check.headers.get("X-Cache")}`);
    console.log(`cached body: ${body.byteLength} bytes; loader: ${loader}; ${rounds} rounds of ${seconds} s, ${connections} connections`);
    // Let the sync's stragglers and the warm-up settle.
    await new Promise((r) => setTimeout(r, 2000));
    if (process.env.PROBE_HOLD) {
      // Keep the environment up for manual measuring until SIGINT/SIGTERM.
      const info = {
        workerUrl: env.workerUrl,
        dashboard,
        token,
        redisRest: env.stack.redis.url,
        redisUrl: env.stack.redis.redisUrl,
        pid: process.pid,
      };
      writeFileSync(process.env.PROBE_HOLD, JSON.stringify(info));
      console.log(`holding: ${JSON.stringify(info)}`);
      await new Promise((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      });
      return;
    }

    const rows: string[] = [];
    const ratios: number[] = [];
    for (let round = 1; round <= rounds; round++) {
      let healthRate = 0;
      for (const [name, url, headers] of [
        ["health", `${env.workerUrl}/health`, {}],
        ["cached", dashboard, auth],
      ] as const) {
        env.stack.redis.resetStats();
        const commandsBefore = await commandCalls(redis);
        const profiling = process.env.PROBE_PROFILE && name === "cached" ? new Session() : undefined;
        if (profiling) {
          profiling.connect();
          await profiling.post("Profiler.enable");
          await profiling.post("Profiler.start");
        }
        const { result, cpu } = await load(url, headers);
        if (profiling) {
          const { profile } = await profiling.post("Profiler.stop");
          writeFileSync(`${process.env.PROBE_PROFILE}/node-cached-${round}.cpuprofile`, JSON.stringify(profile));
          profiling.disconnect();
        }
        await new Promise((r) => setTimeout(r, 300)); // the last flushes (waitUntil)
        const rest = env.stack.redis.stats();
        const commandsAfter = await commandCalls(redis);
        const commands = Object.entries(commandsAfter)
          .map(([k, v]) => [k, v - (commandsBefore[k] ?? 0)] as const)
          .filter(([k, v]) => v > 0 && k !== "info")
          .map(([k, v]) => `${k} ${perRequest(v, result.requests)}`)
          .join(", ");
        const restText = Object.entries(rest.byPath)
          .map(([k, v]) => `${k} ${perRequest(v, result.requests)}`)
          .join(", ");
        const cpuText = Object.entries(cpu)
          .filter(([k]) => !k.endsWith("Wait"))
          .map(
            ([k, v]) =>
              `${k} ${perRequest(v, result.requests).toFixed(3)} (wait ${perRequest(cpu[`${k}Wait`] ?? 0, result.requests).toFixed(3)})`,
          )
          .join("  ");
        if (name === "health") healthRate = result.requestsPerSecond;
        else ratios.push(Math.round((100 * result.requestsPerSecond) / Math.max(1, healthRate)));
        rows.push(
          `round ${round} ${name.padEnd(6)} ${String(result.requestsPerSecond).padStart(5)} req/s  p50 ${result.p50ms} ms  p99 ${result.p99ms} ms  non2xx ${result.non2xx}  errors ${result.errors}  load ${loadavg()[0]?.toFixed(1)}`,
          `               CPU ms/request: ${cpuText}`,
          `               REST/request: ${restText || "-"}; commands/request: ${commands || "-"}`,
        );
        console.log(rows.slice(-3).join("\n"));
      }
    }
    console.log(`\n${rows.join("\n")}\ncached/health per round: ${ratios.map((r) => `${r} %`).join(", ")}`);
  } finally {
    redis.disconnect();
    await env.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
