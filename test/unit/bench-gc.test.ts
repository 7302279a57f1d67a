/** The bench's count of its own process' garbage-collection pauses (`bench/measure.ts`). */
import { describe, expect, it } from "vitest";
import { countGcPauses } from "../../bench/measure";

describe("countGcPauses", () => {
  it("counts the pauses between start and stop: how many, their sum and the longest", async () => {
    const stop = countGcPauses();
    // Short-lived garbage: young-generation collections.
    let kept = 0;
    for (let i = 0; i < 200; i++) kept += new Array(100_000).fill(i).length;
    expect(kept).toBe(20_000_000);
    // The observer hears of collections asynchronously.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const seen = stop();
    expect(seen.count).toBeGreaterThan(0);
    expect(seen.maxMs).toBeGreaterThan(0);
    expect(seen.totalMs).toBeGreaterThanOrEqual(seen.maxMs);
  });
});
