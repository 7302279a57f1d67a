/**
 * The isolate's metrics outbox (`src/core/metrics.ts`): requests hand their counts to it after the
 * answer, and it sends them to Redis in one transaction at most every `METRICS_FLUSH_INTERVAL_MS`.
 * No count is lost, however the requests interleave; the flush that schedules a send resolves once
 * it has landed, carrying the counts of the flushes that came before it went; a failed send is
 * logged and loses only its own batch.
 */
import { describe, expect, it } from "vitest";
import { createLogger } from "../../src/core/logger";
import { createMetrics, METRICS_FLUSH_INTERVAL_MS, metricKey } from "../../src/core/metrics";
import { createRedis } from "../../src/core/redis";
import { settle } from "./dashboard-support";
import { adapterStats, api, captureLogs, config, resetAdapterStats } from "./helpers";
import { sampleSum, scrape } from "./metrics-support";

const logger = createLogger({ service: "metrics-batching-test" });

/** A `jobs_total` label set no other test counts, and its stored value. */
function testSeries() {
  const kind = `batch-${crypto.randomUUID()}`;
  const field = `kind="${kind}",outcome="succeeded"`;
  const stored = async () => Number((await createRedis(config()).hget(metricKey("jobs_total"), field)) ?? 0);
  return { labels: { kind, outcome: "succeeded" }, stored };
}

const transactions = async () => (await adapterStats("redis")).byPath["/multi-exec"] ?? 0;

describe("metrics outbox", () => {
  it("a burst of concurrent requests: every count arrives, in a few transactions rather than one per request", async () => {
    const unmatched = { group: "unmatched", route: "unmatched", method: "GET", status: "404" };
    await settle();
    const before = await scrape();
    await settle();
    await resetAdapterStats("redis");
    const n = 40;
    const answers = await Promise.all(Array.from({ length: n }, (_, i) => api(`/nope/burst-${i}`)));
    expect(answers.map((r) => r.status)).toEqual(Array(n).fill(404));
    await settle();
    // A 404 costs no Redis request of its own: every transaction here is a metrics send.
    const sent = await transactions();
    expect(sent).toBeGreaterThanOrEqual(1);
    expect(sent).toBeLessThan(n / 4);
    const after = await scrape();
    expect(sampleSum(after, "http_requests_total", unmatched) - sampleSum(before, "http_requests_total", unmatched)).toBe(n);
  });

  it("flushes at the same moment share one send, which lands before the first of them resolves", async () => {
    const series = testSeries();
    const recorders = Array.from({ length: 25 }, () => createMetrics());
    recorders.forEach((metrics, i) => {
      metrics.count("jobs_total", series.labels, i + 1);
    });
    await settle();
    await resetAdapterStats("redis");
    const [scheduling, ...joining] = recorders.map((metrics) => metrics.flush({ config: config(), logger }));
    // The others found the send scheduled and left their counts to it.
    await Promise.all(joining);
    await scheduling;
    expect(await series.stored()).toBe((25 * 26) / 2);
    expect(await transactions()).toBe(1);
    // Nothing is left behind: a flush of an empty recorder sends nothing.
    await recorders[0]?.flush({ config: config(), logger });
    expect(await transactions()).toBe(1);
  });

  it("a flush soon after a send waits for the interval and carries what is recorded meanwhile", async () => {
    const series = testSeries();
    await settle();
    await resetAdapterStats("redis");
    const [first, second, third] = [createMetrics(), createMetrics(), createMetrics()];
    const started = Date.now();
    first?.count("jobs_total", series.labels);
    await first?.flush({ config: config(), logger });
    expect(await series.stored()).toBe(1);

    second?.count("jobs_total", series.labels, 2);
    const secondSent = second?.flush({ config: config(), logger });
    third?.count("jobs_total", series.labels, 3);
    await third?.flush({ config: config(), logger });
    await secondSent;
    // The second send started no sooner than the interval after the first.
    expect(Date.now() - started).toBeGreaterThanOrEqual(METRICS_FLUSH_INTERVAL_MS);
    expect(await series.stored()).toBe(6);
    expect(await transactions()).toBe(2);
  });

  it("a send that fails is logged and loses only its own batch; another Redis's outbox is unaffected", async () => {
    const series = testSeries();
    const dead = { ...config(), UPSTASH_REDIS_REST_URL: "http://127.0.0.1:9" };
    const [lost, kept] = [createMetrics(), createMetrics()];
    lost?.count("jobs_total", series.labels, 100);
    kept?.count("jobs_total", series.labels, 1);
    const { lines } = await captureLogs(async () => {
      // Neither rejects.
      await Promise.all([lost?.flush({ config: dead, logger }), kept?.flush({ config: config(), logger })]);
    });
    expect(lines.some((l) => l.msg === "metrics not recorded: Redis did not answer" && l.level === "warn")).toBe(true);
    expect(await series.stored()).toBe(1);

    // The dead outbox holds nothing back: the next send to it carries only what came after.
    const later = createMetrics();
    later.count("jobs_total", series.labels, 10);
    await later.flush({ config: config(), logger });
    expect(await series.stored()).toBe(11);
  });
});
