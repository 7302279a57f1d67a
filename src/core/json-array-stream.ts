/**
 * Reads a JSON array from a byte stream in slices of at most `sliceSize` elements, so a body of
 * tens of MB (a Wildberries page of 80,000+ rows) never sits in memory whole, neither as bytes,
 * nor as one string, nor as one array of objects: the Workers limit is 128 MB per isolate.
 *
 * How: a byte scanner (RFC 8259 structure only: strings with escapes, nesting of `[`/`{`) finds
 * the commas between top-level elements; every `sliceSize` elements, the bytes since the last cut
 * are decoded and handed to `JSON.parse` wrapped in `[…]`, which does the real validation. Cuts
 * fall on ASCII commas outside strings, so UTF-8 sequences are never split. A top-level `null`
 * reads as no elements (some gateways answer `null` for an empty feed).
 *
 * Why not a streaming JSON library: the ones that run on Workers tokenize every character in
 * JavaScript (about 10× the CPU of this scan plus native `JSON.parse`), and Worker CPU is what is
 * billed and capped per invocation.
 *
 * Errors: {@link JsonArrayStreamError} when the body is not JSON, or is JSON but not an array (or
 * `null`); its `notJson` says which.
 * @see https://www.rfc-editor.org/rfc/rfc8259
 */

/** The body is not JSON (`notJson`), or is JSON but not an array. */
export class JsonArrayStreamError extends Error {
  override readonly name = "JsonArrayStreamError";
  constructor(
    message: string,
    readonly notJson: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;

const isSpace = (b: number) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;

/**
 * The elements of the JSON array in `body`, `sliceSize` (≥ 1) at a time, in order; the last
 * slice may be shorter, and an empty array (or `null`) yields nothing.
 * @throws JsonArrayStreamError (not JSON, or not an array); errors of the stream itself pass through.
 */
export async function* readJsonArraySlices(body: ReadableStream<Uint8Array> | null, sliceSize: number): AsyncGenerator<unknown[]> {
  if (!Number.isInteger(sliceSize) || sliceSize < 1) throw new RangeError(`sliceSize must be a positive integer, got ${sliceSize}`);
  const decoder = new TextDecoder();
  /** Bytes not yet handed out: `buffer[0, length)`; inside the array, `buffer[0]` follows the last cut. */
  let buffer = new Uint8Array(64 * 1024);
  let length = 0;
  /** Where the scan goes on. */
  let scan = 0;
  /** Before the top-level value, inside the array, after its `]`, or some other top-level value. */
  let state: "start" | "array" | "closed" | "other" = "start";
  let depth = 0;
  let inString = false;
  let escaped = false;
  /** Elements completed since the last cut, and whether the current one has begun. */
  let elements = 0;
  let elementBegun = false;
  let total = 0;

  const notJson = (detail: string, cause?: unknown) =>
    new JsonArrayStreamError(`not JSON (${detail}, after ${total} elements)`, true, cause === undefined ? undefined : { cause });
  /** Parses the elements in `buffer[0, end)` and drops `buffer[0, end]` (the cut comma or `]` too). */
  const cut = (end: number): unknown[] => {
    let rows: unknown[];
    try {
      rows = JSON.parse(`[${decoder.decode(buffer.subarray(0, end))}]`) as unknown[];
    } catch (err) {
      throw notJson("invalid element", err);
    }
    buffer.copyWithin(0, end + 1, length);
    length -= end + 1;
    scan = 0;
    elements = 0;
    total += rows.length;
    return rows;
  };

  const reader = body?.getReader();
  try {
    for (;;) {
      const { done, value } = reader ? await reader.read() : { done: true, value: undefined };
      if (value && value.length > 0) {
        if (length + value.length > buffer.length) {
          const grown = new Uint8Array(Math.max(buffer.length * 2, length + value.length));
          grown.set(buffer.subarray(0, length));
          buffer = grown;
        }
        buffer.set(value, length);
        length += value.length;
      }
      if (state === "start") {
        while (scan < length && isSpace(buffer[scan] as number)) scan++;
        if (scan < length) {
          if (buffer[scan] === OPEN_BRACKET) {
            state = "array";
            buffer.copyWithin(0, scan + 1, length);
            length -= scan + 1;
            scan = 0;
          } else state = "other";
        }
      }
      if (state === "array") {
        // The hot loop: one pass over the bytes, a cut every `sliceSize` top-level commas.
        for (; scan < length; scan++) {
          const b = buffer[scan] as number;
          if (inString) {
            if (escaped) escaped = false;
            else if (b === BACKSLASH) escaped = true;
            else if (b === QUOTE) inString = false;
          } else if (b === QUOTE) {
            inString = true;
            elementBegun = true;
          } else if (b === OPEN_BRACE || b === OPEN_BRACKET) {
            depth++;
            elementBegun = true;
          } else if (b === CLOSE_BRACE || b === CLOSE_BRACKET) {
            if (depth > 0) {
              depth--;
              continue;
            }
            if (b !== CLOSE_BRACKET) throw notJson("unbalanced }");
            // The array's own `]`.
            if (elementBegun) elements++;
            let rows: unknown[] = [];
            if (elements > 0) rows = cut(scan);
            else {
              buffer.copyWithin(0, scan + 1, length);
              length -= scan + 1;
            }
            state = "closed";
            scan = 0;
            if (rows.length > 0) yield rows;
            break;
          } else if (b === COMMA && depth === 0) {
            elements++;
            elementBegun = false;
            if (elements >= sliceSize) {
              yield cut(scan);
              scan = -1; // the loop's scan++ makes it 0
            }
          } else if (!isSpace(b)) {
            elementBegun = true;
          }
        }
      }
      if (done) break;
    }
  } finally {
    reader?.releaseLock();
  }

  const rest = decoder.decode(buffer.subarray(0, length)).trim();
  switch (state) {
    case "start":
      throw notJson("the body is empty");
    case "array":
      throw notJson("the body ends inside the array");
    case "closed":
      if (rest !== "") throw notJson("bytes after the array");
      return;
    default:
      if (rest === "null") return; // some gateways answer `null` for "no rows"
      try {
        JSON.parse(rest);
      } catch (err) {
        throw notJson("not a JSON value", err);
      }
      throw new JsonArrayStreamError("expected a JSON array", false);
  }
}
