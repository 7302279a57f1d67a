/**
 * Setup file of the `workers` project (runs inside workerd, in each test file's isolate): a promise
 * rejected with no handler while a test runs — a floating promise in the Worker under test, a
 * `waitUntil` without a catch — fails that test, naming the rejection. Vitest does not see these
 * inside workerd on its own.
 *
 * Not caught here, because they are no JavaScript rejection: workerd logs `uncaught exception;
 * source = Uncaught (in promise); stack = Error: Network connection lost.` from its own network
 * layer whenever a `fetch` cannot connect, even when the script awaits and catches that fetch (the
 * tests that point a Worker at an unreachable URL print it). Deliveries QStash makes to the
 * `wrangler dev` Worker run in another process and are not covered either.
 * @see https://developers.cloudflare.com/workers/runtime-apis/handlers/fetch/ (unhandledrejection)
 */
import { afterEach } from "vitest";

const rejections: string[] = [];

addEventListener("unhandledrejection", (event: Event) => {
  const { reason } = event as Event & { reason?: unknown };
  rejections.push(reason instanceof Error ? (reason.stack ?? `${reason.name}: ${reason.message}`) : String(reason));
});

afterEach(() => {
  if (rejections.length === 0) return;
  const found = rejections.splice(0);
  throw new Error(`${found.length} unhandled promise rejection(s) during this test:\n${found.join("\n---\n")}`);
});
