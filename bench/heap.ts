/**
 * The Worker isolate's own memory, sampled through the DevTools protocol of `wrangler dev`'s
 * inspector (`--inspector-port`): `Runtime.getHeapUsage` answers the V8 heap's `usedSize` and
 * `totalSize` and the `backingStorageSize` of its ArrayBuffers (bytes). What Cloudflare caps at
 * 128 MB per isolate is this heap with its buffers — not the `workerd` process's RSS, which also
 * holds the runtime, its caches and whatever V8 has not returned to the OS yet.
 *
 * Used size counts garbage not yet collected, and `wrangler dev`'s isolate has no 128 MB cap to
 * make V8 collect early. So whenever a sample is over `gcAboveMB` (default 64), the sampler asks
 * V8 for a full collection (`HeapProfiler.collectGarbage`) and samples again: the peak it reports
 * is the heap a capped isolate would have kept (its live data, or the raw figure while that is
 * under the threshold), an upper bound of the live peak. Forced collections are counted.
 *
 * The inspector proxy refuses a connection without an allowed `Origin` (miniflare checks it), so
 * the socket sends `Origin: http://127.0.0.1` (Node 22's WebSocket takes headers).
 * @see https://chromedevtools.github.io/devtools-protocol/v8/Runtime/#method-getHeapUsage
 * @see https://developers.cloudflare.com/workers/platform/limits/#memory
 */

/** Peaks of the isolate's heap over the sampling, MB. */
export interface IsolateHeapPeak {
  /** max(`usedSize` + `backingStorageSize`) over the samples, garbage collected above `gcAboveMB` (see the module comment). */
  peakUsedMB: number;
  /** The same before any forced collection: live data plus garbage V8 had not collected yet. */
  peakRawMB: number;
  /** Full collections the sampler forced. */
  forcedGcs: number;
  /** max(`totalSize` + `backingStorageSize`): what V8 had reserved. */
  peakTotalMB: number;
  /** The first sample's used MB (before the measured work). */
  baselineUsedMB: number;
  samples: number;
}

/** A running sampler; `stop()` closes the socket and answers the peaks. */
export interface IsolateHeapSampler {
  stop(): Promise<IsolateHeapPeak>;
}

interface HeapUsage {
  usedSize: number;
  totalSize: number;
  backingStorageSize?: number;
}

const MB = 1024 * 1024;

/**
 * Samples the isolate behind `ws://127.0.0.1:<port>/ws` every `intervalMs` (one request in flight
 * at a time). Resolves once the socket is open.
 * @throws Error when the inspector cannot be reached (e.g. `wrangler dev` started without `--inspector-port`).
 */
export async function sampleIsolateHeap(port: number, intervalMs = 25, gcAboveMB = 64): Promise<IsolateHeapSampler> {
  const WebSocketWithHeaders = WebSocket as unknown as new (url: string, init: { headers: Record<string, string> }) => WebSocket;
  const ws = new WebSocketWithHeaders(`ws://127.0.0.1:${port}/ws`, { headers: { Origin: "http://127.0.0.1" } });
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener("open", () => resolve(), { once: true });
    ws.addEventListener("error", () => reject(new Error(`no DevTools inspector on port ${port}`)), { once: true });
  });
  let nextId = 1;
  const waiting = new Map<number, (result: unknown) => void>();
  ws.addEventListener("message", (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown };
    if (message.id !== undefined && message.result) waiting.get(message.id)?.(message.result);
  });
  const call = <T>(method: string) =>
    new Promise<T>((resolve) => {
      const id = nextId++;
      waiting.set(id, (result) => {
        waiting.delete(id);
        resolve(result as T);
      });
      ws.send(JSON.stringify({ id, method }));
    });
  const withTimeout = <T>(promise: Promise<T>) => Promise.race([promise, new Promise<undefined>((r) => setTimeout(r, 5_000))]);
  const usedMB = (usage: HeapUsage) => (usage.usedSize + (usage.backingStorageSize ?? 0)) / MB;
  const ask = async (): Promise<HeapUsage | undefined> => {
    const usage = await withTimeout(call<HeapUsage>("Runtime.getHeapUsage"));
    if (!usage) return undefined;
    peak.raw = Math.max(peak.raw, usedMB(usage));
    if (usedMB(usage) <= gcAboveMB) return usage;
    await withTimeout(call("HeapProfiler.collectGarbage"));
    peak.forcedGcs++;
    return (await withTimeout(call<HeapUsage>("Runtime.getHeapUsage"))) ?? usage;
  };

  const peak = { used: 0, raw: 0, total: 0, baseline: -1, samples: 0, forcedGcs: 0 };
  let running = true;
  const loop = (async () => {
    while (running) {
      const usage = await ask();
      if (usage) {
        const backing = usage.backingStorageSize ?? 0;
        const used = usedMB(usage);
        if (peak.baseline < 0) peak.baseline = used;
        peak.used = Math.max(peak.used, used);
        peak.total = Math.max(peak.total, (usage.totalSize + backing) / MB);
        peak.samples++;
      }
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      ws.close();
      const round = (n: number) => Math.round(n * 10) / 10;
      return {
        peakUsedMB: round(peak.used),
        peakRawMB: round(peak.raw),
        forcedGcs: peak.forcedGcs,
        peakTotalMB: round(peak.total),
        baselineUsedMB: round(Math.max(0, peak.baseline)),
        samples: peak.samples,
      };
    },
  };
}
