/**
 * The sync's failure paths, each run through the real stack: a delivery overtaken while it waits
 * on WB, a continuation QStash refuses, Redis or Postgres failing around the final commit, WB
 * answers the client cannot use, an encryption key rotation, a WB page larger than one write batch,
 * and late changes to old rows. Faults come from the protocol doubles (the WB double's held
 * requests and malformed answers, the Neon adapter's injected 503s) or from an env that points the
 * Worker at an unreachable service.
 */
import { and, eq, sql } from "drizzle-orm";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { decryptSecret } from "../../src/core/crypto";
import { dailyProductStats, deadLetters, jobs, orders, wbConnections } from "../../src/core/db/schema";
import { toWbDateTime, wbMoscowDay } from "../../src/integrations/wildberries/time";
import type { WbDateTime } from "../../src/integrations/wildberries/types";
import {
  adapterStats,
  api,
  buildRequest,
  config,
  createTenant,
  db,
  problem,
  registerWbToken,
  resetAdapterStats,
  type Tenant,
  waitForJob,
  workerFetch,
} from "./helpers";
import {
  cacheVersion,
  changeWbRow,
  clearNeonFaults,
  clearWbFaults,
  getJob,
  heldWbRequests,
  injectNeonFault,
  injectWbFault,
  insertJob,
  orgFingerprint,
  publicJobUrl,
  publishTestJob,
  readWbFeed,
  registerWbTokenWithPages,
  releaseWbRequests,
  rollupMismatches,
  runCron,
  signQStash,
  syncStates,
  unfinishedJobs,
} from "./sync-support";

const ORDERS_PATH = "/api/v1/supplier/orders";
const small = { orders: 300, products: 10, days: 14 };
/** An address nothing listens on: the service is down. */
const dead = "http://127.0.0.1:9";

/** Orgs made here: none may be left with unfinished work (checked in `afterAll`). */
const tenants: Tenant[] = [];
async function tenantWith(wbToken: string) {
  const tenant = await createTenant({ wbToken });
  tenants.push(tenant);
  return tenant;
}

afterEach(async () => {
  await clearWbFaults();
  await clearNeonFaults();
});

afterAll(async () => {
  const left = await unfinishedJobs(tenants.map((t) => t.orgId));
  if (left.length > 0) throw new Error(`sync-failures.test.ts left unfinished jobs behind: ${JSON.stringify(left)}`);
});

/** One signed delivery of job `jobId` to the Worker in this isolate, with the test env plus `overrides`. */
async function deliver(jobId: string, overrides: Record<string, string> = {}) {
  const body = JSON.stringify({ jobId });
  const headers = { "Content-Type": "application/json", "Upstash-Signature": await signQStash(body, publicJobUrl("/jobs/wb-sync")) };
  return workerFetch(buildRequest("/jobs/wb-sync", { method: "POST", body, headers }), overrides);
}

/** Ends a job a test left failed on purpose (as its dead letter would), so the org has no work left. */
async function bury(jobId: string) {
  await db().update(jobs).set({ status: "dead", finishedAt: sql`now()` }).where(eq(jobs.id, jobId));
}

/** Rows of the double's three feeds for `token`, by WB key. */
async function feedSizes(token: string) {
  const [o, s, st] = await Promise.all([readWbFeed(token, "orders"), readWbFeed(token, "sales"), readWbFeed(token, "stocks")]);
  return { orders: o.size, sales: s.size, stocks: st.size };
}

const storedSizes = async (orgId: string) => {
  const f = await orgFingerprint(orgId);
  return { orders: f.orders?.rows, sales: f.sales?.rows, stocks: f.stocks?.rows };
};

describe("a lease lost mid-sync", () => {
  it("the overtaken delivery writes nothing and stops: rows, sync state and job stay the new owner's", async () => {
    const tenant = await tenantWith(await registerWbToken({ ...small, seed: 601 }));
    const jobId = await insertJob(tenant.orgId);
    // The first delivery claims the job, then waits on WB (the double holds its first request).
    await injectWbFault({ path: ORDERS_PATH, hold: true, times: 1 });
    const stale = deliver(jobId);
    await expect.poll(heldWbRequests, { timeout: 30_000 }).toBe(1);
    expect(await getJob(jobId)).toMatchObject({ status: "running", attempts: 1 });
    // Its lease runs out; another delivery claims the job and syncs everything.
    await db().update(jobs).set({ leaseUntil: sql`now() - interval '1 second'` }).where(eq(jobs.id, jobId));
    const owner = await deliver(jobId);
    expect(await owner.json()).toMatchObject({ outcome: "succeeded", status: "succeeded" });
    const rows = await orgFingerprint(tenant.orgId);
    const states = await syncStates(tenant.orgId);
    await resetAdapterStats("wb");

    // WB answers the stale delivery at last: its first write finds the lease gone.
    expect(await releaseWbRequests()).toBe(1);
    const res = await stale;
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      outcome: "ignored",
      status: "running",
      reason: expect.stringMatching(/^lease lost: attempt 1 was overtaken/),
    });
    expect(await orgFingerprint(tenant.orgId)).toEqual(rows);
    expect(await syncStates(tenant.orgId)).toEqual(states);
    // A finished job keeps its outcome: the stale delivery's note is not written over it.
    expect(await getJob(jobId)).toMatchObject({ status: "succeeded", attempts: 2, lastError: null });
    // It stopped at its first write: no further page was asked for.
    expect((await adapterStats("wb")).requests).toBe(0);
  });
});

describe("a continuation QStash refuses", () => {
  it("answers 503 so QStash retries the message; the committed page stays, and the retry continues to the same rows", async () => {
    const token = await registerWbToken({ orders: 12_000, products: 40, days: 60, seed: 602 });
    const tenant = await tenantWith(token);
    const jobId = await insertJob(tenant.orgId, { payload: { budgetMs: 1 } });

    const res = await deliver(jobId, { QSTASH_URL: dead });
    expect(res.status).toBe(503);
    const { detail } = await problem(res);
    expect(detail).toMatch(/^could not queue the continuation: /);
    expect(await getJob(jobId)).toMatchObject({ status: "failed", attempts: 1, lastError: detail });
    // The page written before the publish failed is committed, cursor and all.
    const states = await syncStates(tenant.orgId);
    expect(states.orders).toMatchObject({ lastRunRows: 5_000, lastError: detail });
    expect(states.orders?.cursor).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    expect((await storedSizes(tenant.orgId)).orders).toBe(5_000);

    // QStash's retry of the message (here: a publish like it) claims the failed job and continues.
    await publishTestJob(jobId);
    const done = await waitForJob(jobId, 120_000);
    expect(done.status).toBe("succeeded");
    expect(await storedSizes(tenant.orgId)).toEqual(await feedSizes(token));
    expect((await getJob(jobId)).payload).toMatchObject({ rows: { orders: (await feedSizes(token)).orders } });
  });
});

describe("Redis or Postgres failing around the final commit", () => {
  it("Redis down at the end: every row is committed, the job fails with the cause, and the retry only bumps the cache version", async () => {
    const token = await registerWbToken({ ...small, seed: 603 });
    const tenant = await tenantWith(token);
    const jobId = await insertJob(tenant.orgId);
    const version = await cacheVersion(tenant.orgId);

    const res = await deliver(jobId, { UPSTASH_REDIS_REST_URL: dead });
    expect(res.status).toBe(500);
    const { detail } = await problem(res);
    expect(detail).toMatch(/ while bumping the org's cache version$/);
    expect(await getJob(jobId)).toMatchObject({ status: "failed", lastError: detail });
    // Not one data set's failure: every data set shows it.
    const states = await syncStates(tenant.orgId);
    expect([states.orders?.lastError, states.sales?.lastError, states.stocks?.lastError]).toEqual([detail, detail, detail]);
    expect(await storedSizes(tenant.orgId)).toEqual(await feedSizes(token));
    expect(await cacheVersion(tenant.orgId)).toBe(version);

    await resetAdapterStats("wb");
    const retry = await deliver(jobId);
    expect(await retry.json()).toMatchObject({ outcome: "succeeded", rows: {} });
    // Every data set was already caught up: the retry asked WB nothing.
    expect((await adapterStats("wb")).requests).toBe(0);
    expect(await cacheVersion(tenant.orgId)).toBe(version + 1);
    const after = await syncStates(tenant.orgId);
    expect([after.orders?.lastError, after.sales?.lastError, after.stocks?.lastError]).toEqual([null, null, null]);
  });

  it("Postgres failing while the failure is recorded: the answer still carries the cause; the job is claimable once its lease runs out", async () => {
    const tenant = await tenantWith(await registerWbToken({ ...small, seed: 604 }));
    const jobId = await insertJob(tenant.orgId);
    await injectWbFault({ path: ORDERS_PATH, status: 500, times: 1 });
    // The statement that records a failed attempt (markFailed) cannot reach Postgres.
    await injectNeonFault({ match: `update "jobs" set "status" = $1, "lease_until" = now(), "last_error" = $2` });

    const res = await deliver(jobId);
    expect(res.status).toBe(503);
    expect((await problem(res)).detail).toBe(
      "orders: WB server error (500): internal server error: injected fault [GET /api/v1/supplier/orders]",
    );
    // Nothing was recorded (the whole batch failed): the job is still the delivery's, until its lease ends.
    expect(await getJob(jobId)).toMatchObject({ status: "running", attempts: 1, lastError: null });
    expect((await syncStates(tenant.orgId)).orders?.lastError ?? null).toBeNull();
    await clearNeonFaults();
    const early = await deliver(jobId);
    expect(await early.json()).toMatchObject({ outcome: "ignored", reason: "another delivery holds the lease" });

    await db().update(jobs).set({ leaseUntil: sql`now() - interval '1 second'` }).where(eq(jobs.id, jobId));
    const retry = await deliver(jobId);
    expect(await retry.json()).toMatchObject({ outcome: "succeeded" });
    expect((await getJob(jobId)).attempts).toBe(2);
  });

  it("Postgres unreachable: the claim fails with 500 and the cause, nothing to record it on", async () => {
    const tenant = await tenantWith(await registerWbToken({ ...small, seed: 605 }));
    const jobId = await insertJob(tenant.orgId);
    const res = await deliver(jobId, { NEON_FETCH_ENDPOINT: `${dead}/sql` });
    expect(res.status).toBe(500);
    expect((await problem(res)).detail).toMatch(/^could not claim the job: database unreachable: /);
    expect(await getJob(jobId)).toMatchObject({ status: "queued", attempts: 0 });
    await bury(jobId);
  });
});

describe("WB answers the client cannot use", () => {
  const cases = [
    {
      name: "403",
      fault: { status: 403 as const },
      cause: /^orders: WB rejected the token \(403\): forbidden: injected fault \[GET \/api\/v1\/supplier\/orders\]$/,
    },
    {
      name: "a body that is not JSON",
      fault: { status: 200 as const, body: "not-json" as const },
      cause: /^orders: WB answered unexpectedly \(200\): the body is not JSON \[GET \/api\/v1\/supplier\/orders\]$/,
    },
    {
      name: "a changed response shape",
      fault: { status: 200 as const, body: "renamed-field" as const },
      cause: /^orders: WB answered unexpectedly \(200\): unexpected response \(0\.nmId: .+\) \[GET \/api\/v1\/supplier\/orders\]$/,
    },
  ];

  it.each(cases)(
    "$name: 502 with a cause that says what WB did; recorded on the job and the data set; nothing written",
    async ({ fault, cause }) => {
      const tenant = await tenantWith(await registerWbToken({ ...small, seed: 606 }));
      const jobId = await insertJob(tenant.orgId);
      await injectWbFault({ path: ORDERS_PATH, times: 1, ...fault });
      const res = await deliver(jobId);
      expect(res.status).toBe(502);
      const { detail } = await problem(res);
      expect(detail).toMatch(cause);
      expect(await getJob(jobId)).toMatchObject({ status: "failed", lastError: detail });
      expect((await syncStates(tenant.orgId)).orders?.lastError).toBe(detail);
      expect((await storedSizes(tenant.orgId)).orders).toBe(0);
      await bury(jobId);
    },
  );
});

describe("encryption key rotation", () => {
  it("re-encrypts a token made with ENCRYPTION_KEY_PREVIOUS on use, so the previous key can be retired", async () => {
    const wbToken = await registerWbToken({ ...small, seed: 607 });
    const tenant = await tenantWith(wbToken);
    const previousKey = config().ENCRYPTION_KEY;
    const newKey = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
    const stored = async () =>
      (await db().select().from(wbConnections).where(eq(wbConnections.orgId, tenant.orgId)))[0]?.tokenCiphertext as string;
    const before = await stored();

    const first = await insertJob(tenant.orgId);
    const rotated = await deliver(first, { ENCRYPTION_KEY: newKey, ENCRYPTION_KEY_PREVIOUS: previousKey });
    expect(await rotated.json()).toMatchObject({ outcome: "succeeded" });
    const after = await stored();
    expect(after).not.toBe(before);
    expect(await decryptSecret(after, newKey)).toBe(wbToken);
    await expect(decryptSecret(after, previousKey)).rejects.toThrow();

    // With the previous key retired, the sync still reads the token.
    const second = await insertJob(tenant.orgId);
    expect(await (await deliver(second, { ENCRYPTION_KEY: newKey })).json()).toMatchObject({ outcome: "succeeded" });
    // And a Worker that only knows the old key cannot: the cause says what to do.
    const third = await insertJob(tenant.orgId);
    const refused = await deliver(third);
    expect(refused.status).toBe(500);
    expect((await problem(refused)).detail).toBe(
      "the stored Wildberries token cannot be decrypted with ENCRYPTION_KEY or ENCRYPTION_KEY_PREVIOUS; connect it again",
    );
    await bury(third);
  });
});

describe("a WB page larger than one write batch", () => {
  it("streams an 80,000-row page in slices of 10,000, one batch each; the cursor moves with the last one, so a crash between slices loses nothing", async () => {
    const token = await registerWbTokenWithPages({ rowLimit: 80_000, orders: 22_000, products: 40, days: 60, seed: 608 });
    const tenant = await tenantWith(token);
    const feed = [...(await readWbFeed(token, "orders")).values()] as Array<{ lastChangeDate: string }>;
    expect(feed.length).toBeGreaterThan(20_000);
    const jobId = await insertJob(tenant.orgId);
    await resetAdapterStats("wb");

    // The second slice's batch is lost on the way to Postgres (as a dropped connection would lose it).
    await injectNeonFault({ match: 'insert into "orders"', everyNth: 2 });
    const res = await deliver(jobId);
    expect(res.status).toBe(500);
    expect((await problem(res)).detail).toMatch(/^orders: database unreachable: .* while writing a page$/);
    await clearNeonFaults();
    // One WB request brought the page; the first slice of 10,000 rows is committed, but the cursor
    // has not moved: it moves only with the page's last slice, once every row before it is stored.
    expect((await adapterStats("wb")).byPath[ORDERS_PATH]).toBe(1);
    const states = await syncStates(tenant.orgId);
    expect(states.orders).toMatchObject({ cursor: null, lastRunRows: 0, totalRows: 10_000 });
    expect((await storedSizes(tenant.orgId)).orders).toBe(10_000);

    // The retry reads the page again from the old cursor and rewrites the first slice (same values).
    const retry = await deliver(jobId);
    expect(await retry.json()).toMatchObject({ outcome: "succeeded", rows: { orders: feed.length } });
    expect((await syncStates(tenant.orgId)).orders).toMatchObject({ cursor: feed.at(-1)?.lastChangeDate, totalRows: feed.length });
    expect(await storedSizes(tenant.orgId)).toEqual(await feedSizes(token));
    expect(await rollupMismatches(tenant.orgId)).toBe(0);
  });
});

describe("a page out of lastChangeDate order", () => {
  it("the cursor moves to the page's newest row only once the whole page is stored: a crash mid-page loses no row", async () => {
    const token = await registerWbTokenWithPages({ rowLimit: 80_000, orders: 22_000, products: 40, days: 60, seed: 611 });
    const tenant = await tenantWith(token);
    const feed = [...(await readWbFeed(token, "orders")).values()] as Array<{ lastChangeDate: string }>;
    const jobId = await insertJob(tenant.orgId);
    // The orders page comes newest first; its second slice is lost on the way to Postgres.
    await injectWbFault({ path: ORDERS_PATH, status: 200, body: "reversed", times: 1 });
    await injectNeonFault({ match: 'insert into "orders"', everyNth: 2 });
    const res = await deliver(jobId);
    expect(res.status).toBe(500);
    await clearNeonFaults();
    // The newest 10,000 rows are stored, and the cursor has not moved: moving it to the first
    // slice's last row (what a per-slice cursor would do) would skip the 12,000 older rows.
    expect((await syncStates(tenant.orgId)).orders).toMatchObject({ cursor: null, totalRows: 10_000 });
    expect((await storedSizes(tenant.orgId)).orders).toBe(10_000);

    const retry = await deliver(jobId);
    expect(await retry.json()).toMatchObject({ outcome: "succeeded" });
    expect(await storedSizes(tenant.orgId)).toEqual(await feedSizes(token));
    expect((await syncStates(tenant.orgId)).orders).toMatchObject({ cursor: feed.at(-1)?.lastChangeDate, totalRows: feed.length });
    expect(await rollupMismatches(tenant.orgId)).toBe(0);
  });
});

describe("an incremental sync that changes old rows", () => {
  it("a late cancellation and a return days later: only the changes are fetched, and the rollup of the old day is recomputed", async () => {
    const token = await registerWbToken({ orders: 600, products: 10, days: 30, seed: 609 });
    const tenant = await tenantWith(token);
    expect(await (await deliver(await insertJob(tenant.orgId))).json()).toMatchObject({ outcome: "succeeded" });

    const weekAgo = toWbDateTime(Date.now() - 7 * 86_400_000);
    const ordersFeed = [...(await readWbFeed(token, "orders")).values()] as Array<{
      srid: string;
      date: WbDateTime;
      isCancel: boolean;
      nmId: number;
    }>;
    const oldIndex = ordersFeed.findIndex((o) => !o.isCancel && o.date < weekAgo);
    const old = ordersFeed[oldIndex];
    if (!old) throw new Error("no old order that is not cancelled");
    const salesFeed = [...(await readWbFeed(token, "sales")).values()] as Array<{
      saleID: string;
      date: WbDateTime;
      priceWithDisc: number;
      forPay: number;
      totalPrice: number;
    }>;
    const saleIndex = salesFeed.findIndex((s) => s.saleID.startsWith("S") && s.date < weekAgo);
    const sale = salesFeed[saleIndex];
    if (!sale) throw new Error("no old buyout");
    const oldDay = wbMoscowDay(old.date);
    const cancellationsOn = async (day: string, nmId: number) =>
      Number(
        (
          await db()
            .select({ n: dailyProductStats.cancellationsCount })
            .from(dailyProductStats)
            .where(and(eq(dailyProductStats.orgId, tenant.orgId), eq(dailyProductStats.day, day), eq(dailyProductStats.nmId, nmId)))
        )[0]?.n ?? 0,
      );
    const cancelledBefore = await cancellationsOn(oldDay, old.nmId);

    // Days later WB reports the order cancelled, and a return of the old buyout (a new sale row).
    const now = toWbDateTime(Date.now() + 1_000);
    await changeWbRow({ token, feed: "orders", index: oldIndex, set: { isCancel: true, cancelDate: now, lastChangeDate: now } });
    await changeWbRow({
      token,
      feed: "sales",
      index: saleIndex,
      copy: true,
      set: {
        saleID: `R${sale.saleID.slice(1)}`,
        date: now,
        lastChangeDate: now,
        priceWithDisc: -sale.priceWithDisc,
        forPay: -sale.forPay,
        totalPrice: -sale.totalPrice,
      },
    });

    const second = await deliver(await insertJob(tenant.orgId));
    expect(await second.json()).toMatchObject({ outcome: "succeeded", rows: { orders: 1, sales: 1 } });
    const [stored] = await db()
      .select()
      .from(orders)
      .where(and(eq(orders.orgId, tenant.orgId), eq(orders.srid, old.srid)));
    expect(stored?.isCancel).toBe(true);
    expect(await cancellationsOn(oldDay, old.nmId)).toBe(cancelledBefore + 1);
    expect(await rollupMismatches(tenant.orgId)).toBe(0);
  });
});

describe("a sync status read while Redis is down", () => {
  it("still answers from Postgres (a read fails open)", async () => {
    const tenant = await tenantWith(await registerWbToken({ ...small, seed: 610 }));
    const res = await workerFetch(buildRequest("/api/v1/sync/status", { token: tenant.token }), {
      UPSTASH_REDIS_REST_URL: dead,
      ENVIRONMENT: "production",
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { connected: boolean }).connected).toBe(true);
    expect((await api("/api/v1/sync/status", { token: tenant.token })).status).toBe(200);
  });
});

describe("replay and the reaper's window", () => {
  /** A dead `wb-sync` job of `orgId` with its dead letter, as the failure callback or the reaper leaves it. */
  async function deadJob(orgId: string) {
    const jobId = await insertJob(orgId, { status: "failed" });
    await db().update(jobs).set({ status: "dead", finishedAt: sql`now()`, leaseUntil: null, attempts: 5 }).where(eq(jobs.id, jobId));
    await db()
      .insert(deadLetters)
      .values({ jobId, orgId, kind: "wb-sync", qstashMessageId: `test:${jobId}`, destination: "test", payload: { jobId }, retried: 5 });
    return jobId;
  }
  const replay = (tenant: Tenant, jobId: string) => api(`/api/v1/admin/jobs/${jobId}/replay`, { method: "POST", token: tenant.token });

  it("refuses to replay a job in flight (409), one that is not dead (409), or one that is gone (404), changing nothing", async () => {
    const tenant = await tenantWith(await registerWbToken({ ...small, seed: 611 }));
    const dead = await deadJob(tenant.orgId);
    const running = await insertJob(tenant.orgId, { status: "running", leaseSecondsFromNow: 600 });
    const notDead = await replay(tenant, running);
    expect(notDead.status).toBe(409);
    expect((await problem(notDead)).detail).toMatch(/not dead/);
    expect(await getJob(running)).toMatchObject({ status: "running", attempts: 0 });

    // A dead sync of the org while another sync of it runs: replaying would run two at once.
    const inFlight = await replay(tenant, dead);
    expect(inFlight.status).toBe(409);
    expect((await problem(inFlight)).detail).toMatch(/in flight/);
    expect((await getJob(dead)).status).toBe("dead");
    expect((await db().select().from(deadLetters).where(eq(deadLetters.jobId, dead)))[0]?.replayedAt).toBeNull();

    const gone = await replay(tenant, crypto.randomUUID());
    expect(gone.status).toBe(404);
    expect((await problem(gone)).detail).toBe("No such job.");
    await bury(running);
  });

  it("buries a failed job only after 48 h without a delivery: 47 h is left alone", async () => {
    const tenant = await tenantWith(await registerWbToken({ ...small, seed: 612 }));
    const jobId = await insertJob(tenant.orgId, { status: "failed" });
    const since = async (hours: number) =>
      db()
        .update(jobs)
        .set({ leaseUntil: sql`now() - make_interval(hours => ${hours})`, lastError: "WB server error (500)" })
        .where(eq(jobs.id, jobId));
    await since(47);
    await runCron("* * * * *", Date.now(), { QSTASH_URL: dead });
    expect((await getJob(jobId)).status).toBe("failed");
    expect(await db().select().from(deadLetters).where(eq(deadLetters.jobId, jobId))).toEqual([]);
    await since(49);
    await runCron("* * * * *", Date.now(), { QSTASH_URL: dead });
    expect(await getJob(jobId)).toMatchObject({
      status: "dead",
      lastError: "WB server error (500) (abandoned: no delivery after the last failure)",
    });
    expect(await db().select().from(deadLetters).where(eq(deadLetters.jobId, jobId))).toHaveLength(1);
  });
});
