/**
 * Bench part `memory`: the Worker isolate's heap while a sync delivery streams big WB pages. A
 * second org (`memory-probe@seller-edge.dev`, seeded like the demo's with the same WB token) syncs
 * the same data set from scratch while `bench/heap.ts` samples the isolate every 100 ms and, whenever
 * its heap is over 64 MB, has V8 collect garbage first: the peak is what an isolate capped at
 * 128 MB (Cloudflare's limit) would hold. A separate sync from the `sync` part's, because forced
 * collections cost the Worker CPU and would skew that part's CPU figures. Run it with
 * `BENCH_WB_PAGE_ROWS=100000` for 100,000-row pages.
 */
import type { LocalEnvironment } from "../scripts/local-env";
import { seedDemo } from "../scripts/seed";
import { runSyncBench } from "./sync";

/** The probe org's login. */
const PROBE_USER = { email: "memory-probe@seller-edge.dev", password: "memory-probe-password-2026" } as const;

/** Heap collected above this before a sample counts, MB. */
const GC_ABOVE_MB = 64;

/** What the part reports. */
export interface MemoryBench {
  rows: number;
  seconds: number;
  wbPageRows: number;
  baselineMB: number;
  /** Peak heap with garbage collected above {@link GC_ABOVE_MB}. */
  peakMB: number;
  /** Peak before any forced collection. */
  peakRawMB: number;
  forcedGcs: number;
}

/**
 * Seeds the probe org, syncs it, and answers the isolate's peaks.
 * @throws Error when the environment has no inspector port, or the sync fails.
 */
export async function runMemoryBench(env: LocalEnvironment, wbToken: string, wbPageRows: number): Promise<MemoryBench> {
  if (env.inspectorPort === undefined) throw new Error("the memory part needs wrangler's inspector (inspectorPort)");
  const e = env.stack.env;
  await seedDemo(
    { DATABASE_URL: e.DATABASE_URL as string, NEON_FETCH_ENDPOINT: e.NEON_FETCH_ENDPOINT, ENCRYPTION_KEY: e.ENCRYPTION_KEY as string },
    wbToken,
    PROBE_USER,
    "Memory probe",
  );
  const login = async () => {
    const res = await fetch(`${env.workerUrl}/api/v1/auth/login`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(PROBE_USER),
    });
    if (!res.ok) throw new Error(`probe login failed: ${res.status} ${await res.text()}`);
    return ((await res.json()) as { accessToken: string }).accessToken;
  };
  const sync = await runSyncBench(env, login, { heapGcAboveMB: GC_ABOVE_MB });
  const isolate = sync.worker.isolate;
  if (!isolate) throw new Error("no heap samples");
  return {
    rows: sync.rows,
    seconds: sync.seconds,
    wbPageRows,
    baselineMB: isolate.baselineUsedMB,
    peakMB: isolate.peakUsedMB,
    peakRawMB: isolate.peakRawMB,
    forcedGcs: isolate.forcedGcs,
  };
}

/** The human line of {@link MemoryBench}. */
export function memoryLines(m: MemoryBench): string[] {
  return [
    `sync, Worker memory      peak ${m.peakMB} MB of isolate heap (limit 128 MB; ${m.baselineMB} MB before) streaming ${m.wbPageRows.toLocaleString("en-US")}-row WB pages (${m.rows.toLocaleString("en-US")} rows in ${m.seconds} s; garbage collected above ${GC_ABOVE_MB} MB: ${m.forcedGcs} times; ${m.peakRawMB} MB with garbage)`,
  ];
}
