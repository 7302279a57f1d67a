/**
 * What `npm run dev` prints: the Worker's JSON log lines rendered one line per event
 * (`scripts/log-format.ts`), and the first sync's progress told from `GET /api/v1/sync/status`
 * answers (`scripts/sync-progress.ts`).
 */
import { describe, expect, it } from "vitest";
import {
  formatLogEvent,
  formatOutputLine,
  MAX_VALUE_CHARS,
  parseLogEvent,
  QUIET_REQUEST_ID_PREFIX,
  useColor,
} from "../../scripts/log-format";
import { followSync, type SyncStatusView } from "../../scripts/sync-progress";

const plain = { color: false };
const time = /^\d\d:\d\d:\d\d /;
const event = (fields: Record<string, unknown>) =>
  JSON.stringify({ level: "info", time: "2026-11-21T07:51:02.123Z", msg: "x", service: "all", ...fields });

describe("Worker log lines", () => {
  it("renders an event as time, level, message and its fields in order", () => {
    const line = formatOutputLine(
      event({ level: "warn", msg: "wb-sync attempt failed", jobId: "j1", attempt: 2, dataset: "orders", error: "WB answered 503" }),
      plain,
    );
    expect(line).toMatch(time);
    expect(line?.slice(9)).toBe('WARN  wb-sync attempt failed  jobId=j1 attempt=2 dataset=orders error="WB answered 503"');
  });

  it("writes a request event as method, path, status and duration, the request id last", () => {
    const line = formatOutputLine(
      event({
        msg: "request",
        requestId: "r-123456789",
        method: "GET",
        route: "/api/v1/orders/:srid",
        path: "/api/v1/orders/abc",
        status: 404,
        durationMs: 3.2,
        orgId: "o1",
      }),
      plain,
    );
    expect(line?.slice(9)).toBe("INFO  GET /api/v1/orders/abc 404 3.2ms  route=/api/v1/orders/:srid orgId=o1 requestId=r-123456789");
    const same = formatOutputLine(
      event({ msg: "request", method: "GET", route: "/health", path: "/health", status: 200, durationMs: 1 }),
      plain,
    );
    expect(same?.slice(9)).toBe("INFO  GET /health 200 1ms");
  });

  it("hides the dev tooling's own requests and wrangler's request lines, keeps everything else", () => {
    expect(
      formatOutputLine(event({ msg: "request", requestId: `${QUIET_REQUEST_ID_PREFIX}sync-status-4`, method: "GET", path: "/" }), plain),
    ).toBe(undefined);
    expect(formatOutputLine("[wrangler:info] GET /api/v1/sync/status 200 OK (12ms)", plain)).toBe(undefined);
    expect(formatOutputLine("[wrangler:info] Ready on http://127.0.0.1:8787", plain)).toBe(
      "[wrangler:info] Ready on http://127.0.0.1:8787",
    );
    expect(formatOutputLine("⎔ Reloading local server...", plain)).toBe("⎔ Reloading local server...");
    expect(formatOutputLine("{not json", plain)).toBe("{not json");
    expect(formatOutputLine('{"a":1}', plain)).toBe('{"a":1}');
    // Colour codes of a passed-through line stay only for a terminal.
    const red = "\u001b[31m✘ [ERROR]\u001b[0m Build failed";
    expect(formatOutputLine(red, plain)).toBe("✘ [ERROR] Build failed");
    expect(formatOutputLine(red, { color: true })).toBe(red);
  });

  it("quotes values that need it and shows an error as its message, its stack below at level error", () => {
    const e = parseLogEvent(
      event({
        level: "error",
        msg: "unhandled error",
        error: { name: "TypeError", message: "x is undefined", stack: "TypeError: x is undefined\n    at f (a.ts:1:1)" },
        rows: { orders: 5 },
        note: null,
      }),
    );
    expect(e).toBeDefined();
    const out = formatLogEvent(e as NonNullable<typeof e>, plain).split("\n");
    expect(out[0]?.slice(9)).toBe('ERROR unhandled error  error="TypeError: x is undefined" rows={"orders":5} note=null');
    expect(out[1]).toBe("    at f (a.ts:1:1)");
  });

  it("cuts a long value, keeping the event on one line", () => {
    const plan = `-- statement 1: select jobs\n${"Result  (cost=8.18..8.20 rows=1 width=4)\n".repeat(20)}`;
    const line = formatOutputLine(event({ level: "warn", msg: "slow query", durationMs: 3265, plan }), plain) ?? "";
    expect(line.split("\n")).toHaveLength(1);
    expect(line).toContain('plan="-- statement 1: select jobs\\nResult');
    expect(line).toMatch(/…\[\+\d+ chars\]$/);
    expect(line.length).toBeLessThan(MAX_VALUE_CHARS + 100);
  });

  it("colours only when asked", () => {
    const coloured = formatOutputLine(event({ level: "warn", msg: "m" }), { color: true }) ?? "";
    expect(coloured).toContain("\u001b[33mWARN \u001b[0m");
    expect(formatOutputLine(event({ level: "warn", msg: "m" }), plain)).not.toContain("\u001b[");
    expect(useColor({ isTTY: true }, {})).toBe(true);
    expect(useColor({ isTTY: false }, {})).toBe(false);
    expect(useColor({ isTTY: true }, { NO_COLOR: "1" })).toBe(false);
    expect(useColor({ isTTY: false }, { FORCE_COLOR: "1" })).toBe(true);
  });
});

describe("first sync progress", () => {
  const jobId = "11111111-1111-4111-8111-111111111111";
  const status = (
    rows: Partial<Record<"orders" | "sales" | "stocks", [number, number]>>,
    job: Partial<SyncStatusView["jobs"][number]>,
    errors: Partial<Record<"orders" | "sales" | "stocks", string>> = {},
  ): SyncStatusView => ({
    connected: true,
    connection: null,
    datasets: (["orders", "sales", "stocks"] as const).map((dataset) => ({
      dataset,
      cursor: null,
      lastRunAt: null,
      lastSuccessAt: null,
      totalRows: rows[dataset]?.[0] ?? 0,
      lastRunRows: rows[dataset]?.[1] ?? 0,
      lastError: errors[dataset] ?? null,
    })),
    jobs: [
      {
        id: jobId,
        kind: "wb-sync",
        status: "queued",
        attempts: 0,
        lastError: null,
        createdAt: "2026-11-21T07:51:00.000Z",
        startedAt: null,
        finishedAt: null,
        ...job,
      },
    ],
  });

  it("reports rows per data set as they change, then the end with the rows stored", () => {
    const follow = followSync(jobId);
    expect(follow.next(status({}, {}), 1000)).toEqual({ lines: [] });
    expect(follow.next(status({ orders: [10_000, 10_000] }, { status: "running", attempts: 1 }), 2000).lines).toEqual([
      { level: "sync", text: "orders  10,000 rows stored (+10,000 in this sync)" },
      { level: "sync", text: `job ${jobId} running (delivery 1)` },
    ]);
    expect(follow.next(status({ orders: [10_000, 10_000] }, { status: "running", attempts: 1 }), 3000).lines).toEqual([]);
    const end = follow.next(
      status(
        { orders: [49_793, 49_793], sales: [34_864, 34_864], stocks: [2_230, 2_230] },
        { status: "succeeded", attempts: 2, finishedAt: "2026-11-21T07:51:31.000Z" },
      ),
      40_000,
    );
    expect(end.lines.map((l) => l.text)).toEqual([
      "orders  49,793 rows stored (+49,793 in this sync)",
      "sales   34,864 rows stored (+34,864 in this sync)",
      "stocks  2,230 rows stored (+2,230 in this sync)",
    ]);
    expect(end.end).toEqual({ ok: true, text: "First sync done in 31.0 s: orders 49,793, sales 34,864, stocks 2,230" });
  });

  it("does not count rows of earlier syncs as progress", () => {
    const follow = followSync(jobId);
    expect(follow.next(status({ orders: [500, 500] }, {}), 0).lines).toEqual([]);
  });

  it("given the status before the job, reports what changed since then from the first answer on", () => {
    const follow = followSync(jobId, status({ orders: [500, 500] }, {}));
    expect(follow.next(status({ orders: [509, 9] }, {}), 0).lines).toEqual([
      { level: "sync", text: "orders  509 rows stored (+9 in this sync)" },
    ]);
  });

  it("reports a failed attempt and the data set's error, and a dead job as the failure", () => {
    const follow = followSync(jobId);
    follow.next(status({}, {}), 0);
    const failed = follow.next(
      status(
        {},
        { status: "failed", attempts: 1, lastError: "orders: WB rejected the token (401)" },
        { orders: "WB rejected the token (401)" },
      ),
      1000,
    );
    expect(failed.lines).toEqual([
      { level: "warn", text: "orders  error: WB rejected the token (401)" },
      { level: "warn", text: "attempt 1 failed: orders: WB rejected the token (401); QStash retries it" },
    ]);
    expect(failed.end).toBeUndefined();
    const dead = follow.next(status({}, { status: "dead", attempts: 6, lastError: "orders: WB rejected the token (401)" }), 65_000);
    expect(dead.end).toEqual({ ok: false, text: "First sync failed after 65.0 s (dead-lettered): orders: WB rejected the token (401)" });
  });
});
