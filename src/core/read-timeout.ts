/**
 * A response body whose every read must be answered within a time limit: the limit is on the
 * sender (how long one read waits for bytes), not on the reader (how long it takes between reads).
 * A timeout over the whole fetch (`AbortSignal.timeout` on `fetch`) also aborts a body the reader
 * is slow to consume: a sync that writes each slice of a 100,000-row WB page before reading the
 * next lost the page after 60 s whenever its own writes were slow, and fetched it again.
 *
 * `idleBody(body, ms, onTimeout)` answers a stream of the same bytes; a read that waits longer
 * than `ms` calls `onTimeout` (which should abort the request, e.g. `controller.abort(reason)`)
 * and fails with a `DOMException` named `TimeoutError`, like `AbortSignal.timeout`. Time spent
 * between reads never counts. Cancelling the answer cancels `body`.
 */

/** The error of a read that waited longer than the limit, named as `AbortSignal.timeout`'s. */
export const readTimeoutError = (ms: number): DOMException => new DOMException(`no bytes within ${ms} ms`, "TimeoutError");

/**
 * `body` with a limit of `ms` per read (see the module comment).
 * @param onTimeout called once when a read times out, before the read fails.
 */
export function idleBody(
  body: ReadableStream<Uint8Array>,
  ms: number,
  onTimeout: (error: DOMException) => void,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const timedOut = new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            const error = readTimeoutError(ms);
            onTimeout(error);
            reject(error);
          }, ms);
        });
        try {
          const { done, value } = await Promise.race([reader.read(), timedOut]);
          if (done) controller.close();
          else controller.enqueue(value);
        } finally {
          if (timer !== undefined) clearTimeout(timer);
        }
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    },
    // Read only when the consumer asks: no read runs (or is timed) between the consumer's reads.
    { highWaterMark: 0 },
  );
}
