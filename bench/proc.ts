/**
 * CPU time and memory of the local stack's processes, read from Linux `/proc` (the bench's Worker
 * measures): `utime + stime` of `/proc/<pid>/stat` (fields 14 and 15, in clock ticks:
 * `getconf CLK_TCK`, normally 100 per second) and `VmRSS` of `/proc/<pid>/status` (kB).
 * Processes are found by walking the tree below a root pid (`wrangler dev`, or this process) by
 * each process's parent pid (field 4 of `stat`); the Worker's runtime is the `workerd` binary.
 * Off Linux every reading is empty (no pids, 0 ms, 0 MB).
 * @see https://man7.org/linux/man-pages/man5/proc_pid_stat.5.html
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

/** One process as `/proc/<pid>/stat` describes it. */
export interface ProcStat {
  pid: number;
  ppid: number;
  /** The executable's name (`comm`, at most 15 characters: `workerd`, `redis-server`, `node`). */
  comm: string;
  /** `utime + stime`, clock ticks. */
  cpuTicks: number;
}

let ticksPerSecond: number | undefined;

/** Clock ticks per second of `/proc/<pid>/stat` times (`getconf CLK_TCK`; 100 when it cannot be asked). */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** `/proc/<pid>/stat` of one process, or `undefined` when it is gone (or this is not Linux). */
export function readStat(pid: number): ProcStat | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // `comm` is in parentheses and may itself hold spaces or `)`: the fields follow the last `)`.
    const close = stat.lastIndexOf(")");
    const fields = stat.slice(close + 2).split(" ");
    // fields[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
    return {
      pid,
      ppid: Number(fields[1]),
      comm: stat.slice(stat.indexOf("(") + 1, close),
      cpuTicks: Number(fields[11]) + Number(fields[12]),
    };
  } catch {
    return undefined;
  }
}

/** Every live process below `root` (children, their children…), `root` excluded. */
export function descendants(root: number): ProcStat[] {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return [];
  }
  const children = new Map<number, ProcStat[]>();
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat) children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), stat]);
  }
  const found: ProcStat[] = [];
  const walk = (pid: number) => {
    for (const child of children.get(pid) ?? []) {
      found.push(child);
      walk(child.pid);
    }
  };
  walk(root);
  return found;
}

/** Pids of the processes named `comm` below `root` (e.g. the `workerd` of a `wrangler dev`). */
export function pidsNamed(root: number, comm: string): number[] {
  return descendants(root)
    .filter((p) => p.comm === comm)
    .map((p) => p.pid);
}

/** CPU time of `pids` (`utime + stime`), ms; processes that are gone count 0. */
export function cpuMs(pids: readonly number[]): number {
  const ticks = pids.reduce((sum, pid) => sum + (readStat(pid)?.cpuTicks ?? 0), 0);
  return (ticks * 1000) / clockTicksPerSecond();
}

/**
 * Time the threads of `pid` have waited on a run queue for a CPU (field 2 of each
 * `/proc/<pid>/task/<tid>/schedstat`, ns), ms; 0 when the process is gone.
 * @see https://docs.kernel.org/scheduler/sched-stats.html
 */
export function runQueueWaitMs(pid: number): number {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return 0;
  }
  let waitNs = 0;
  for (const tid of tids) {
    try {
      waitNs += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[1]);
    } catch {
      // the thread ended
    }
  }
  return waitNs / 1e6;
}

/** Resident memory of `pids` (Σ `VmRSS`), MB (2^20 bytes); processes that are gone count 0. */
export function rssMB(pids: readonly number[]): number {
  let kB = 0;
  for (const pid of pids) {
    try {
      const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      kB += Number(match?.[1] ?? 0);
    } catch {
      // gone
    }
  }
  return kB / 1024;
}

/** A running {@link sampleRss}: `stop()` ends it and gives the highest sum seen, MB. */
export interface RssSampler {
  stop(): { peakMB: number; samples: number };
}

/**
 * Samples Σ `VmRSS` of the processes `pids()` returns every `intervalMs` (default 50) until
 * `stop()`; the pids are asked again every 20 samples (a runtime restarted by wrangler counts too).
 */
export function sampleRss(pids: () => number[], intervalMs = 50): RssSampler {
  let current = pids();
  let peakMB = rssMB(current);
  let samples = 1;
  const timer = setInterval(() => {
    if (samples % 20 === 0) current = pids();
    peakMB = Math.max(peakMB, rssMB(current));
    samples++;
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      peakMB = Math.max(peakMB, rssMB(current));
      return { peakMB, samples: samples + 1 };
    },
  };
}

/**
 * CPU time of every process named `comm` on the machine from now until `stop()`, ms: processes
 * that start in between count from 0, those that end in between are missed (use it for long-lived
 * ones, e.g. the Postgres server and its pooled backends).
 */
export function cpuOfNamed(comm: string): { stop(): { processes: number; cpuMs: number } } {
  const ticksOf = () =>
    new Map(
      descendants(1)
        .filter((p) => p.comm === comm)
        .map((p) => [p.pid, p.cpuTicks] as const),
    );
  const before = ticksOf();
  return {
    stop() {
      const after = ticksOf();
      let ticks = 0;
      for (const [pid, t] of after) ticks += t - (before.get(pid) ?? 0);
      return { processes: after.size, cpuMs: Math.round((ticks * 1000) / clockTicksPerSecond()) };
    },
  };
}
