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
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { createServer } from "node:net";
import { loadavg } from "node:os";
import autocannon from "autocannon";
import IORedis from "ioredis";
import { startLocalEnvironment } from "../scripts/local-env";

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 10);
const rounds = Number(process.env.PROBE_ROUNDS ?? 3);
const loader = process.env.PROBE_LOADER === "inproc" ? "inproc" : "child";
/** Clock ticks per second of `/proc/<pid>/stat` (USER_HZ; 100 on Linux x86-64). */
const TICKS_PER_SECOND = 100;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

interface ProcInfo {
  pid: number;
  ppid: number;
  comm: string;
  /** utime + stime of every thread, ms. */
  cpuMs: number;
  /** Time its threads waited on a run queue for a CPU, ms (`/proc/<pid>/task/<tid>/schedstat`). */
  waitMs: number;
}

/** One `/proc/<pid>/stat` (and its threads' schedstat), or undefined when the process is gone. */
function readProc(pid: number): ProcInfo | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const close = stat.lastIndexOf(")");
    const comm = stat.slice(stat.indexOf("(") + 1, close);
    const fields = stat.slice(close + 2).split(" ");
    // fields[0] = state (field 3); utime = field 14, stime = field 15.
    const ticks = Number(fields[11]) + Number(fields[12]);
    let waitNs = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        waitNs += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[1]);
      } catch {
        // the thread ended
      }
    }
    return { pid, ppid: Number(fields[1]), comm, cpuMs: (ticks * 1000) / TICKS_PER_SECOND, waitMs: waitNs / 1e6 };
  } catch {
    return undefined;
  }
}

/** CPU ms (and run-queue wait ms, as `<role>Wait`) of this process's descendants (and itself), by role. */
function cpuByRole(): Record<string, number> {
  const all = readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .map((d) => readProc(Number(d)))
    .filter((p): p is ProcInfo => p !== undefined);
  const children = new Map<number, ProcInfo[]>();
  for (const p of all) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  const roles: Record<string, number> = { workerd: 0, node: 0, redis: 0, loader: 0, wrangler: 0 };
  const add = (role: string, p: ProcInfo) => {
    roles[role] = (roles[role] ?? 0) + p.cpuMs;
    roles[`${role}Wait`] = (roles[`${role}Wait`] ?? 0) + p.waitMs;
  };
  const self = readProc(process.pid);
  if (self) add("node", self);
  const walk = (pid: number) => {
    for (const child of children.get(pid) ?? []) {
      add(child.comm === "workerd" ? "workerd" : child.comm === "redis-server" ? "redis" : "wrangler", child);
      walk(child.pid);
    }
  };
  walk(process.pid);
  return roles;
}

interface LoadResult {
  requestsPerSecond: number;
  requests: number;
  p50ms: number;
  p99ms: number;
  non2xx: number;
  errors: number;
}

/** Runs autocannon, in this process or in a child; `during` is sampled right after it ends. */
async function load(url: string, headers: Record<string, string>): Promise<{ result: LoadResult; cpu: Record<string, number> }> {
  if (loader === "inproc") {
    const before = cpuByRole();
    const r = await autocannon({ url, headers, connections, duration: seconds });
    const after = cpuByRole();
    return {
      result: {
        requestsPerSecond: Math.round(r.requests.average),
        requests: r.requests.total,
        p50ms: r.latency.p50,
        p99ms: r.latency.p99,
        non2xx: r.non2xx,
        errors: r.errors,
      },
      cpu: Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)])),
    };
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
    const now = child.pid ? readProc(child.pid) : undefined;
    if (now) loaderCpu = now;
  }, 250);
  await new Promise((resolve) => child.on("exit", resolve));
  clearInterval(sampler);
  const after = cpuByRole();
  const cpu = Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]));
  // The loader was not yet in the tree's CPU at the start: all it used is its own.
  cpu.loader = loaderCpu.cpuMs;
  cpu.loaderWait = loaderCpu.waitMs;
  const r = JSON.parse(out) as {
    requests: { average: number; total: number };
    latency: { p50: number; p99: number };
    non2xx: number;
    errors: number;
  };
  return {
    result: {
      requestsPerSecond: Math.round(r.requests.average),
      requests: r.requests.total,
      p50ms: r.latency.p50,
      p99ms: r.latency.p99,
      non2xx: r.non2xx,
      errors: r.errors,
    },
    cpu,
  };
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
    port: await freePort(),
    vars: {
      RATE_LIMIT_PER_MINUTE: "100000000",
      RATE_LIMIT_OVERRIDES: JSON.stringify({ "assistant-stats": 100_000_000 }),
      LOG_LEVEL: "error",
    },
    qstashRetryDelayFactor: 0.001,
    wbRateLimit: { requests: 1000, perMs: 1000 },
    wranglerLogLevel: "warn",
  });
  const redis = new IORedis(env.stack.redis.redisUrl);
  try {
    const token = await env.login();
    const auth = { Authorization: `Bearer ${token}` };
    if (process.env.PROBE_SYNC !== "0") {
      const enqueue = await fetch(`${env.workerUrl}/api/v1/sync/wildberries`, { method: "POST", headers: auth });
      const { jobId } = (await enqueue.json()) as { jobId: string };
      for (;;) {
        const status = (await (await fetch(`${env.workerUrl}/api/v1/sync/status`, { headers: auth })).json()) as {
          jobs: { id: string; status: string }[];
        };
        const job = status.jobs.find((j) => j.id === jobId);
        if (job?.status === "succeeded") break;
        if (job?.status === "dead") throw new Error("sync job died");
        await new Promise((r) => setTimeout(r, 200));
      }
    }
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
