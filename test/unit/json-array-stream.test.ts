import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { JsonArrayStreamError, readJsonArraySlices } from "../../src/core/json-array-stream";

/** A stream of `text`'s UTF-8 bytes, cut at the given byte offsets (which may split characters). */
function streamOf(text: string, cuts: number[] = []): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  const points = [...new Set(cuts.map((c) => Math.min(bytes.length, Math.max(0, c))))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const p of [...points, bytes.length]) {
    if (p > from) chunks.push(bytes.slice(from, p));
    from = p;
  }
  return new ReadableStream({
    pull(controller) {
      const next = chunks.shift();
      if (next) controller.enqueue(next);
      else controller.close();
    },
  });
}

async function collect(text: string, sliceSize: number, cuts: number[] = []) {
  const slices: unknown[][] = [];
  for await (const slice of readJsonArraySlices(streamOf(text, cuts), sliceSize)) slices.push(slice);
  return slices;
}

async function failure(text: string) {
  try {
    await collect(text, 2);
  } catch (err) {
    return err;
  }
  throw new Error(`expected ${JSON.stringify(text)} to fail`);
}

describe("readJsonArraySlices", () => {
  it("yields every element once, in order, in slices of at most sliceSize, however the bytes are cut", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.jsonValue(), { maxLength: 40 }),
        fc.integer({ min: 1, max: 7 }),
        fc.array(fc.nat({ max: 4000 }), { maxLength: 12 }),
        fc.boolean(),
        async (values, sliceSize, cuts, pretty) => {
          const text = pretty ? JSON.stringify(values, null, 2) : JSON.stringify(values);
          const slices = await collect(text, sliceSize, cuts);
          expect(slices.flat()).toEqual(JSON.parse(text));
          for (const [i, slice] of slices.entries()) {
            expect(slice.length).toBeGreaterThan(0);
            if (i < slices.length - 1) expect(slice.length).toBe(sliceSize);
            else expect(slice.length).toBeLessThanOrEqual(sliceSize);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("keeps strings with brackets, commas, escaped quotes and Cyrillic intact across cuts", async () => {
    const rows = [{ a: 'x,]"}\\', b: ["[", "{"] }, { regionName: "Московская область", n: -1.5e3 }, "\u0000", null, [[]]];
    const text = JSON.stringify(rows);
    for (let cut = 0; cut <= new TextEncoder().encode(text).length; cut++) {
      expect((await collect(text, 2, [cut])).flat()).toEqual(rows);
    }
  });

  it("reads [] and null (a gateway's empty feed) as no slices", async () => {
    expect(await collect("[]", 3)).toEqual([]);
    expect(await collect(" [ ] \n", 3)).toEqual([]);
    expect(await collect("null", 3)).toEqual([]);
  });

  it("says 'not JSON' for bodies that are not JSON, and 'expected a JSON array' for other JSON", async () => {
    for (const text of ["", "<html>502</html>", "[1,]", "[1 2]", "[{]", "[1,2", "[1] x", "nul", "[1,2,3}"]) {
      const err = await failure(text);
      expect(err, text).toBeInstanceOf(JsonArrayStreamError);
      expect((err as JsonArrayStreamError).notJson, text).toBe(true);
    }
    for (const text of ['{"error":"x"}', "5", '"text"']) {
      const err = await failure(text);
      expect(err, text).toBeInstanceOf(JsonArrayStreamError);
      expect((err as JsonArrayStreamError).notJson, text).toBe(false);
      expect((err as Error).message).toBe("expected a JSON array");
    }
  });

  it("holds only about one slice of bytes at a time", async () => {
    // 20,000 rows of ~200 bytes = ~4 MB in 4 KB chunks; slices of 100 rows (~20 KB).
    const row = { srid: "x".repeat(150), nmId: 123456789, date: "2026-11-20T14:03:11" };
    const body = `[${Array.from({ length: 20_000 }, () => JSON.stringify(row)).join(",")}]`;
    const bytes = new TextEncoder().encode(body);
    let offset = 0;
    let peakBuffered = 0;
    let delivered = 0;
    let consumed = 0;
    const stream = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          if (offset >= bytes.length) return controller.close();
          const chunk = bytes.slice(offset, offset + 4096);
          offset += chunk.length;
          delivered += chunk.length;
          controller.enqueue(chunk);
        },
      },
      { highWaterMark: 0 },
    );
    let rows = 0;
    for await (const slice of readJsonArraySlices(stream, 100)) {
      rows += slice.length;
      consumed += new TextEncoder().encode(JSON.stringify(slice)).length;
      peakBuffered = Math.max(peakBuffered, delivered - consumed);
    }
    expect(rows).toBe(20_000);
    expect(peakBuffered).toBeLessThan(64 * 1024);
  });
});
