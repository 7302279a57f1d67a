/**
 * Wildberries sync end to end: `POST /api/v1/sync/wildberries` → QStash emulator → the HTTP
 * Worker (`WORKER_URL`) → WB double → Postgres, with faults injected into the double.
 * The double pages 5,000 rows (test/setup/global.ts), so 12,000 orders take three pages.
 */
import { sql } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import {
  adapterStats,
  adapterUrl,
  api,
  createTenant,
  db,
  problem,
  registerWbToken,
  resetAdapterStats,
  syncTenant,
  type Tenant,
} from "./helpers";
import {
  cacheVersion,
  clearWbFaults,
  getJob,
  injectWbFault,
  insertJob,
  jobEvents,
  orgFingerprint,
  publicJobUrl,
  publishTestJob,
  readWbFeed,
  rollupMismatches,
  signQStash,
  syncStates,
  waitForJobStatus,
} from "./sync-support";

const ORDERS_PATH = "/api/v1/supplier/orders";
const dataset = { orders: 12_000, products: 40, days: 60 };

afterEach(clearWbFaults);

/** Sum of money values in kopecks (exact). */
const kopecks = (values: Iterable<unknown>) => {
  let total = 0;
  for (const v of values) total += Math.round(Number(v) * 100);
  return total;
};

/** Counts of the double's feeds for `token`. */
async function doubleCounts(token: string) {
  const [orders, sales, stocks] = await Promise.all([readWbFeed(token, "orders"), readWbFeed(token, "sales"), readWbFeed(token, "stocks")]);
  return { orders, sales, stocks };
}

/**
 * A sync's time limit in these tests (a sync of their data sets takes seconds): well under the test
 * timeout, two syncs included, so a sync that never finishes fails naming its job, status and last
 * error instead of with a bare test timeout.
 */
const SYNC_LIMIT_MS = 50_000;

/**
 * A new tenant with its own WB data set, synced once (each test that needs a synced org makes
 * its own, so none depends on another having run).
 */
async function syncedTenant(data: { orders: number; products: number; days: number; seed: number }) {
  const wbToken = await registerWbToken(data);
  const tenant = await createTenant({ wbToken });
  expect((await syncTenant(tenant, SYNC_LIMIT_MS)).status).toBe("succeeded");
  return { tenant, fingerprint: await orgFingerprint(tenant.orgId) };
}

describe("wildberries sync", () => {
  it("stores exactly the double's rows and a rollup equal to independent SQL; bumps the cache version", async () => {
    const wbToken = await registerWbToken({ ...dataset, seed: 101 });
    const tenant: Tenant = await createTenant({ wbToken });
    const versionBefore = await cacheVersion(tenant.orgId);

    const started = performance.now();
    const job = await syncTenant(tenant, SYNC_LIMIT_MS);
    const seconds = (performance.now() - started) / 1000;
    expect(job.status).toBe("succeeded");

    const wb = await doubleCounts(wbToken);
    const firstFingerprint = await orgFingerprint(tenant.orgId);
    expect(firstFingerprint.orders?.rows).toBe(wb.orders.size);
    expect(firstFingerprint.sales?.rows).toBe(wb.sales.size);
    expect(firstFingerprint.stocks?.rows).toBe(wb.stocks.size);
    const nmIds = new Set([...wb.orders.values(), ...wb.sales.values(), ...wb.stocks.values()].map((r) => r.nmId));
    expect(firstFingerprint.products?.rows).toBe(nmIds.size);
    console.log(
      `[measure] full sync: ${wb.orders.size} orders + ${wb.sales.size} sales + ${wb.stocks.size} stocks in ${seconds.toFixed(2)} s (enqueue → succeeded)`,
    );

    expect(await rollupMismatches(tenant.orgId)).toBe(0);
    const [totals] = (
      await db().execute<{ orders: string; orders_amount: string; buyouts: string; returns: string }>(sql`
        select sum(orders_count)::text as orders, sum(orders_amount)::text as orders_amount,
          sum(buyouts_count)::text as buyouts, sum(returns_count)::text as returns
        from daily_product_stats where org_id = ${tenant.orgId}`)
    ).rows;
    const wbSales = [...wb.sales.values()];
    expect(Number(totals?.orders)).toBe(wb.orders.size);
    expect(Math.round(Number(totals?.orders_amount) * 100)).toBe(kopecks([...wb.orders.values()].map((o) => o.priceWithDisc)));
    expect(Number(totals?.buyouts)).toBe(wbSales.filter((s) => String(s.saleID).startsWith("S")).length);
    expect(Number(totals?.returns)).toBe(wbSales.filter((s) => String(s.saleID).startsWith("R")).length);

    expect(await cacheVersion(tenant.orgId)).toBe(versionBefore + 1);

    const maxChange = (rows: Map<string, Record<string, unknown>>) =>
      [...rows.values()]
        .map((r) => String(r.lastChangeDate))
        .sort()
        .at(-1);
    const states = await syncStates(tenant.orgId);
    expect(states.orders?.cursor).toBe(maxChange(wb.orders));
    expect(states.sales?.cursor).toBe(maxChange(wb.sales));
    expect(states.stocks?.cursor).toBe(maxChange(wb.stocks));
  });

  it("answers the sync status: cursor, last run and success, rows, errors, latest jobs", async () => {
    const { tenant, fingerprint } = await syncedTenant({ orders: 2000, products: 20, days: 30, seed: 108 });
    const res = await api("/api/v1/sync/status", { token: tenant.token });
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      connected: boolean;
      datasets: Array<Record<string, unknown>>;
      jobs: Array<Record<string, unknown>>;
    };
    expect(body.connected).toBe(true);
    expect(body.datasets.map((d) => d.dataset)).toEqual(["orders", "sales", "stocks"]);
    for (const d of body.datasets) {
      expect(Object.keys(d).sort()).toEqual(["cursor", "dataset", "lastError", "lastRunAt", "lastRunRows", "lastSuccessAt", "totalRows"]);
      expect(d.lastError).toBeNull();
      expect(d.cursor).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/);
      expect(d.lastSuccessAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
      expect(d.totalRows).toBe(fingerprint[d.dataset as string]?.rows);
      expect(d.totalRows).toEqual(expect.any(Number));
      expect(d.lastRunRows).toBe(d.totalRows);
    }
    expect(body.jobs).toHaveLength(1);
    expect(body.jobs[0]).toMatchObject({ kind: "wb-sync", status: "succeeded", attempts: 1, lastError: null });
    expect(Object.keys(body.jobs[0] ?? {}).sort()).toEqual([
      "attempts",
      "createdAt",
      "finishedAt",
      "id",
      "kind",
      "lastError",
      "startedAt",
      "status",
    ]);
  });

  it("gives identical rows when run twice (counts and checksums), and bumps the cache version again", async () => {
    // The paged data set (three orders pages), so the second run starts from a cursor at a page boundary.
    const { tenant, fingerprint: firstFingerprint } = await syncedTenant({ ...dataset, seed: 109 });
    const versionBefore = await cacheVersion(tenant.orgId);
    await resetAdapterStats("wb");
    const job = await syncTenant(tenant, SYNC_LIMIT_MS);
    expect(job.status).toBe("succeeded");
    expect(await orgFingerprint(tenant.orgId)).toEqual(firstFingerprint);
    expect(await cacheVersion(tenant.orgId)).toBe(versionBefore + 1);
    // Caught up: one request per data set, which brings only the rows at the cursor.
    expect((await adapterStats("wb")).requests).toBe(3);
    const states = await syncStates(tenant.orgId);
    expect([states.orders?.lastRunRows, states.sales?.lastRunRows, states.stocks?.lastRunRows]).toEqual([0, 0, 0]);
  });

  it("hands over to continuations when the wall-time budget runs out (same job, still running) and completes", async () => {
    const token = await registerWbToken({ ...dataset, seed: 102 });
    const other = await createTenant({ wbToken: token });
    const jobId = await insertJob(other.orgId, { payload: { budgetMs: 1 } });
    const statuses = new Set<string>();
    await publishTestJob(jobId);
    for (let job = await getJob(jobId); job.status !== "succeeded"; job = await getJob(jobId)) {
      statuses.add(job.status);
      if (job.status === "dead" || job.status === "failed") throw new Error(`job ${job.status}: ${job.lastError}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const job = await getJob(jobId);
    // A 1 ms budget: one WB request per delivery (3 + 2 + 1 pages and a caught-up check per data set).
    expect(job.attempts).toBeGreaterThanOrEqual(8);
    expect([...statuses].filter((s) => s !== "queued" && s !== "running")).toEqual([]);
    const wb = await doubleCounts(token);
    const fingerprint = await orgFingerprint(other.orgId);
    expect([fingerprint.orders?.rows, fingerprint.sales?.rows, fingerprint.stocks?.rows]).toEqual([
      wb.orders.size,
      wb.sales.size,
      wb.stocks.size,
    ]);
    expect(await rollupMismatches(other.orgId)).toBe(0);
    console.log(`[measure] continuation sync: ${job.attempts} deliveries with a 1 ms budget`);
  });

  it("resumes from the last committed page after a WB 500 mid-paging, without duplicates", async () => {
    const token = await registerWbToken({ ...dataset, seed: 103 });
    const other = await createTenant({ wbToken: token });
    await resetAdapterStats("wb");
    // Two orders pages pass, the third request fails once; QStash retries the delivery.
    await injectWbFault({ path: ORDERS_PATH, status: 500, times: 1, after: 2 });
    const job = await syncTenant(other, SYNC_LIMIT_MS);
    expect(job.status).toBe("succeeded");
    expect((await getJob(job.id)).attempts).toBe(2);
    // 2 pages + the failure + the retry from the cursor (page 3 and the caught-up check): no page refetched.
    expect((await adapterStats("wb")).byPath[ORDERS_PATH]).toBe(5);
    const wb = await doubleCounts(token);
    const fingerprint = await orgFingerprint(other.orgId);
    expect([fingerprint.orders?.rows, fingerprint.sales?.rows, fingerprint.stocks?.rows]).toEqual([
      wb.orders.size,
      wb.sales.size,
      wb.stocks.size,
    ]);
    expect(await rollupMismatches(other.orgId)).toBe(0);
  });

  it("keeps the cursor at the last committed page when retries run out; the dead letter replays to completion", async () => {
    const token = await registerWbToken({ ...dataset, seed: 104 });
    const other = await createTenant({ wbToken: token });
    await injectWbFault({ path: ORDERS_PATH, status: 500, times: 1000, after: 2 });
    const jobId = await insertJob(other.orgId);
    await publishTestJob(jobId, { retries: 1 });
    const dead = await waitForJobStatus(jobId, "dead");
    expect(dead.lastError).toContain("QStash gave up");
    await clearWbFaults();

    // What two pages of the double hold: the first 5,000 orders and the next 4,999 (inclusive boundary).
    const firstPage = (await (
      await fetch(`${adapterUrl("wb")}${ORDERS_PATH}?dateFrom=2019-06-20&flag=0`, { headers: { Authorization: token } })
    ).json()) as Array<{
      lastChangeDate: string;
      srid: string;
    }>;
    const lastOfFirst = firstPage.at(-1)?.lastChangeDate as string;
    const secondPage = (await (
      await fetch(`${adapterUrl("wb")}${ORDERS_PATH}?dateFrom=${lastOfFirst}&flag=0`, { headers: { Authorization: token } })
    ).json()) as Array<{ lastChangeDate: string; srid: string }>;
    const committed = new Set([...firstPage, ...secondPage].map((o) => o.srid));
    const states = await syncStates(other.orgId);
    expect(states.orders?.cursor).toBe(secondPage.at(-1)?.lastChangeDate);
    expect(states.orders?.lastError).toContain("500");
    const [stored] = (
      await db().execute<{ rows: string; distinct_srids: string; outside: string }>(sql`
        select count(*)::text as rows, count(distinct srid)::text as distinct_srids,
          count(*) filter (where not (srid = any(${`{${[...committed].join(",")}}`}::text[])))::text as outside
        from orders where org_id = ${other.orgId}`)
    ).rows;
    expect(Number(stored?.rows)).toBe(committed.size);
    expect(Number(stored?.distinct_srids)).toBe(committed.size);
    expect(Number(stored?.outside)).toBe(0);
    expect(await rollupMismatches(other.orgId)).toBe(0);

    const list = await api("/api/v1/admin/dead-letters", { token: other.token });
    const { deadLetters } = (await list.json()) as {
      deadLetters: Array<{ id: string; jobId: string; lastStatus: number; retried: number }>;
    };
    expect(deadLetters).toHaveLength(1);
    expect(deadLetters[0]).toMatchObject({ jobId, lastStatus: 503, retried: 1 });

    const replay = await api(`/api/v1/admin/dead-letters/${deadLetters[0]?.id}/replay`, { method: "POST", token: other.token });
    expect(replay.status).toBe(202);
    await waitForJobStatus(jobId, "succeeded");
    const wb = await doubleCounts(token);
    const fingerprint = await orgFingerprint(other.orgId);
    expect([fingerprint.orders?.rows, fingerprint.sales?.rows, fingerprint.stocks?.rows]).toEqual([
      wb.orders.size,
      wb.sales.size,
      wb.stocks.size,
    ]);
    expect(await rollupMismatches(other.orgId)).toBe(0);
  });

  it("answers a WB 429 with 429 and Retry-After from X-Ratelimit-Retry, records it, and completes on redelivery", async () => {
    const token = await registerWbToken({ orders: 2000, products: 20, days: 30, seed: 105 });
    const other = await createTenant({ wbToken: token });
    const jobId = await insertJob(other.orgId);
    await injectWbFault({ path: ORDERS_PATH, status: 429, times: 1, retryAfterSeconds: 7 });
    const body = JSON.stringify({ jobId });
    const res = await api("/jobs/wb-sync", {
      method: "POST",
      body,
      headers: { "Content-Type": "application/json", "Upstash-Signature": await signQStash(body, publicJobUrl("/jobs/wb-sync")) },
    });
    expect(res.status).toBe(429);
    expect(res.headers.get("Retry-After")).toBe("7");
    expect((await problem(res)).status).toBe(429);
    const failed = await getJob(jobId);
    expect(failed).toMatchObject({ status: "failed", attempts: 1 });
    expect(failed.lastError).toContain("429");
    expect((await syncStates(other.orgId)).orders?.lastError).toContain("429");

    await publishTestJob(jobId);
    const done = await waitForJobStatus(jobId, "succeeded");
    expect(done.attempts).toBe(2);
    expect((await syncStates(other.orgId)).orders?.lastError).toBeNull();
  });

  it("completes after QStash retries a 429 answer", async () => {
    const token = await registerWbToken({ orders: 2000, products: 20, days: 30, seed: 106 });
    const other = await createTenant({ wbToken: token });
    await injectWbFault({ path: ORDERS_PATH, status: 429, times: 1, retryAfterSeconds: 2 });
    const job = await syncTenant(other, SYNC_LIMIT_MS);
    const row = await getJob(job.id);
    expect(row.attempts).toBe(2);
    const events = await jobEvents(job.id);
    expect(new Set(events.map((e) => e.messageId)).size).toBe(1);
    expect(events.some((e) => e.state === "ERROR" && e.responseStatus === 429)).toBe(true);
    expect(events.some((e) => e.state === "DELIVERED" && e.responseStatus === 200)).toBe(true);
  });

  it("turns a 429 after progress into a delayed continuation instead of spending a QStash retry", async () => {
    const token = await registerWbToken({ orders: 2000, products: 20, days: 30, seed: 107 });
    const other = await createTenant({ wbToken: token });
    await injectWbFault({ path: "/api/v1/supplier/sales", status: 429, times: 1, retryAfterSeconds: 1 });
    const started = Date.now();
    const job = await syncTenant(other, SYNC_LIMIT_MS);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    const row = await getJob(job.id);
    expect(row.attempts).toBe(2);
    const events = await jobEvents(job.id);
    expect(new Set(events.map((e) => e.messageId)).size).toBe(2);
    expect(events.filter((e) => e.state === "ERROR")).toEqual([]);
    const fingerprint = await orgFingerprint(other.orgId);
    const wb = await doubleCounts(token);
    expect([fingerprint.orders?.rows, fingerprint.sales?.rows, fingerprint.stocks?.rows]).toEqual([
      wb.orders.size,
      wb.sales.size,
      wb.stocks.size,
    ]);
  });
});
