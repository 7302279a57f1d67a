/** `idleBody` (src/core/read-timeout.ts): a time limit per read of a body, not over its whole reading. */
import { describe, expect, it } from "vitest";
import { idleBody } from "../../src/core/read-timeout";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const bytes = (n: number) => new Uint8Array([n]);

/** A body that answers `chunks` one per read, each after `delayMs`, then ends (or, with `stallAfter`, never answers again). */
function source(chunks: number, delayMs: number, stallAfter?: number) {
  let sent = 0;
  let cancelled: unknown;
  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (stallAfter !== undefined && sent >= stallAfter) return new Promise<void>(() => {});
        await sleep(delayMs);
        if (sent === chunks) controller.close();
        else controller.enqueue(bytes(sent++));
      },
      cancel(reason) {
        cancelled = reason;
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, cancelled: () => cancelled };
}

async function readAll(stream: ReadableStream<Uint8Array>, pauseMs: number): Promise<number[]> {
  const reader = stream.getReader();
  const seen: number[] = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return seen;
    seen.push(...value);
    await sleep(pauseMs);
  }
}

describe("idleBody", () => {
  it("never times the reader: pauses between reads far over the limit do not count", async () => {
    const timeouts: unknown[] = [];
    const body = idleBody(source(5, 1).stream, 40, (e) => timeouts.push(e));
    expect(await readAll(body, 100)).toEqual([0, 1, 2, 3, 4]);
    expect(timeouts).toEqual([]);
  });

  it("fails a read that waits longer than the limit with a TimeoutError, after telling onTimeout once", async () => {
    const timeouts: DOMException[] = [];
    const body = idleBody(source(5, 1, 2).stream, 50, (e) => timeouts.push(e));
    const reader = body.getReader();
    expect((await reader.read()).value).toEqual(bytes(0));
    expect((await reader.read()).value).toEqual(bytes(1));
    const started = Date.now();
    const stalled = await reader.read().catch((err: unknown) => err);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    expect(stalled).toBeInstanceOf(DOMException);
    expect((stalled as DOMException).name).toBe("TimeoutError");
    expect(timeouts).toEqual([stalled]);
  });

  it("passes a slow sender within the limit, and a cancel through to the body", async () => {
    const slow = idleBody(source(3, 20).stream, 200, () => {
      throw new Error("no read waited 200 ms");
    });
    expect(await readAll(slow, 0)).toEqual([0, 1, 2]);
    const inner = source(10, 1);
    const body = idleBody(inner.stream, 200, () => {});
    const reader = body.getReader();
    await reader.read();
    await reader.cancel("enough");
    expect(inner.cancelled()).toBe("enough");
  });
});
