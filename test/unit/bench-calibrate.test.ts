/**
 * The bench's machine-speed line and CPU ceiling (`bench/calibrate.ts`, `cpuCeiling` of
 * `bench/sync.ts`): the arithmetic exactly, and the Postgres workload against the real server when
 * `DATABASE_URL` is set (as in CI).
 */
import { describe, expect, it } from "vitest";
import { CALIBRATION_ROWS, calibrationLine, nodeCalibration, postgresCalibration } from "../../bench/calibrate";
import { cpuCeiling, type SyncBench, syncLines } from "../../bench/sync";

const cpu = (cpuMsPer1000Rows: number) => ({ processes: 1, cpuMs: 0, cpuMsPer1000Rows });

/** A sync of 9,462 rows/s that cost Worker 53.6, Node 28.8, Redis 0.5 and Postgres 49.3 ms per 1,000 rows. */
const sync: SyncBench = {
  rows: 1_886_249,
  seconds: 199.3,
  rowsPerSecond: 9_462,
  datasets: [],
  worker: { ...cpu(53.6), rssBaselineMB: 240, rssPeakMB: 750, rssSamples: 10, isolate: undefined },
  node: { ...cpu(28.8), rssBaselineMB: 1_456, rssPeakMB: 2_926 },
  redis: cpu(0.5),
  postgres: cpu(49.3),
};

describe("the sync's CPU ceiling", () => {
  it("adds every process' CPU per 1,000 rows and divides the cores' time by it", () => {
    // 132.2 ms per 1,000 rows: 2 cores give 2,000 ms of CPU per second = 15,129 rows/s; 9,462 is 63 % of it.
    expect(cpuCeiling(sync, 2)).toEqual({ cpuMsPer1000Rows: 132.2, rowsPerSecond: 15_129, used: 63 });
    expect(cpuCeiling(sync, 4).rowsPerSecond).toBe(30_257);
    expect(syncLines(sync, 2).at(-1)).toBe(
      "sync, all processes      CPU 132.2 ms per 1,000 rows: 2 cores sustain at most 15,129 rows/s at that cost; the sync reached 63 % of it",
    );
  });

  it("answers 0, not Infinity, when nothing was measured", () => {
    const idle = { ...sync, worker: { ...sync.worker, ...cpu(0) }, node: { ...sync.node, ...cpu(0) }, redis: cpu(0), postgres: cpu(0) };
    expect(cpuCeiling(idle, 2)).toEqual({ cpuMsPer1000Rows: 0, rowsPerSecond: 0, used: 0 });
  });
});

describe("the machine-speed line", () => {
  it("names both workloads, their size and how to read them", () => {
    expect(calibrationLine({ nodeJsonMs: 203.3, postgresJsonMs: 229.9 })).toBe(
      "machine speed            50,000 WB-like rows: Node JSON stringify+parse 203.3 ms, Postgres json_to_recordset 229.9 ms (best of 5; lower is faster; compare figures only between runs of similar speed)",
    );
    expect(calibrationLine({ nodeJsonMs: 150 })).not.toContain("Postgres");
    expect(CALIBRATION_ROWS).toBe(50_000);
  });

  it("times the Node workload", async () => {
    const ms = await nodeCalibration();
    expect(ms).toBeGreaterThan(0);
    expect(Number.isFinite(ms)).toBe(true);
  });

  it.skipIf(!process.env.DATABASE_URL)("times the Postgres workload on the server, by the server's clock", async () => {
    const ms = await postgresCalibration(process.env.DATABASE_URL as string);
    expect(ms).toBeGreaterThan(0);
    expect(Number.isFinite(ms)).toBe(true);
  });
});
