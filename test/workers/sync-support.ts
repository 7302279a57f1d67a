/**
 * Support of the sync and jobs tests: an independent reader of the WB double (plain `fetch`,
 * its own paging), fault control, QStash signatures made with jose, and table fingerprints.
 */
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { Redis } from "@upstash/redis/cloudflare";
import { and, eq, inArray, sql } from "drizzle-orm";
import { SignJWT } from "jose";
import { jobs, syncState } from "../../src/core/db/schema";
import type { Env } from "../../src/core/env";
import { createQueue } from "../../src/core/queue";
import { FAILURE_CALLBACK_PATH, publishRequest } from "../../src/jobs/ledger";
import jobsWorker from "../../src/routes/jobs/worker";
import { adapterUrl, config, db, envWith, testEnv } from "./helpers";

/** Rows of a feed of the double, fetched with its own paging (inclusive boundary, dedupe by WB key). */
export async function readWbFeed(token: string, feed: "orders" | "sales" | "stocks"): Promise<Map<string, Record<string, unknown>>> {
  const key = (r: Record<string, unknown>) =>
    feed === "orders" ? String(r.srid) : feed === "sales" ? String(r.saleID) : `${r.nmId}|${r.barcode}|${r.warehouseName}`;
  const rows = new Map<string, Record<string, unknown>>();
  let dateFrom = "2019-06-20T00:00:00";
  for (let page = 0; page < 1000; page++) {
    const res = await fetch(`${adapterUrl("wb")}/api/v1/supplier/${feed}?dateFrom=${encodeURIComponent(dateFrom)}&flag=0`, {
      headers: { Authorization: token },
    });
    if (!res.ok) throw new Error(`WB double ${feed}: ${res.status} ${await res.text()}`);
    const batch = (await res.json()) as Array<Record<string, unknown> & { lastChangeDate: string }>;
    const fresh = page === 0 ? batch.length : batch.filter((r) => r.lastChangeDate > dateFrom).length;
    for (const r of batch) rows.set(key(r), r);
    const last = batch[batch.length - 1];
    if (fresh === 0 || !last) return rows;
    dateFrom = last.lastChangeDate;
  }
  throw new Error("WB double paging did not end");
}

/**
 * Injects a fault into the WB double (`POST /__control/faults`): a status (401/403/429/500, or 200
 * with a `body` WB did not document), or `hold` (the request waits for {@link releaseWbRequests}).
 */
export async function injectWbFault(
  fault: { path: string; times: number; after?: number; retryAfterSeconds?: number } & (
    | { status: 401 | 403 | 429 | 500 }
    | { status: 200; body: "not-json" | "renamed-field" | "reversed" }
    | { hold: true }
  ),
) {
  const res = await fetch(`${adapterUrl("wb")}/__control/faults`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(fault),
  });
  if (!res.ok) throw new Error(`fault refused: ${res.status} ${await res.text()}`);
}

/** Clears every injected fault (and lets held requests go on). */
export async function clearWbFaults() {
  await fetch(`${adapterUrl("wb")}/__control/faults`, { method: "DELETE" });
}

/** How many requests a `hold` fault of the WB double is holding now. */
export async function heldWbRequests(): Promise<number> {
  return ((await (await fetch(`${adapterUrl("wb")}/__control/faults`)).json()) as { held: number }).held;
}

/** Lets every held WB request go on; @returns how many. */
export async function releaseWbRequests(): Promise<number> {
  return ((await (await fetch(`${adapterUrl("wb")}/__control/faults/release`, { method: "POST" })).json()) as { released: number })
    .released;
}

/** Changes one row of a WB token's feed, or with `copy` adds a changed copy of it (`POST /__control/rows`). */
export async function changeWbRow(change: {
  token: string;
  feed: "orders" | "sales" | "stocks";
  index?: number;
  set: Record<string, unknown>;
  copy?: boolean;
}): Promise<Record<string, unknown>> {
  const res = await fetch(`${adapterUrl("wb")}/__control/rows`, { method: "POST", body: JSON.stringify(change) });
  if (!res.ok) throw new Error(`WB double refused the row change: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { row: Record<string, unknown> }).row;
}

/**
 * Has the WB double issue a token whose feeds page by `rowLimit` rows (WB's 80,000) instead of the
 * test stack's 5,000; the data set as in `registerWbToken`.
 */
export async function registerWbTokenWithPages(options: {
  rowLimit: number;
  seed: number;
  orders: number;
  products: number;
  days: number;
}) {
  const res = await fetch(`${adapterUrl("wb")}/__control/tokens`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(options),
  });
  if (!res.ok) throw new Error(`WB double refused the token: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
}

/**
 * Makes the Neon adapter fail (HTTP 503, before Postgres) every `everyNth`-th request whose SQL
 * contains `match` (`POST /__control/faults`), as a lost connection would.
 */
export async function injectNeonFault(fault: { match: string; everyNth?: number }) {
  const res = await fetch(`${adapterUrl("neon")}/__control/faults`, { method: "POST", body: JSON.stringify(fault) });
  if (!res.ok) throw new Error(`Neon adapter refused the fault: ${res.status} ${await res.text()}`);
}

/** Clears the Neon adapter's faults. */
export async function clearNeonFaults() {
  await fetch(`${adapterUrl("neon")}/__control/faults`, { method: "DELETE" });
}

/** Sets the Redis REST endpoint's delay before each answer (`POST /__control/latency`); `0` for none. */
export async function setRedisLatency(ms: number) {
  const res = await fetch(`${adapterUrl("redis")}/__control/latency`, { method: ms > 0 ? "POST" : "DELETE", body: JSON.stringify({ ms }) });
  if (!res.ok) throw new Error(`Redis endpoint refused the latency: ${res.status} ${await res.text()}`);
}

const base64url = (bytes: ArrayBuffer) =>
  btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replace(/=+$/, "");

/**
 * Signs a QStash delivery of `body` to `url` the way QStash does: HS256 with the current signing
 * key, claims `iss: "Upstash"`, `sub` = url, `body` = base64url(sha256(body)), `iat`/`nbf`/`exp`.
 */
export async function signQStash(
  body: string,
  url: string,
  opts: { key?: string; issuedAt?: number; expiresIn?: number; bodyHash?: string } = {},
): Promise<string> {
  const now = opts.issuedAt ?? Math.floor(Date.now() / 1000);
  const hash = opts.bodyHash ?? base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(body)));
  return new SignJWT({ body: hash })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuer("Upstash")
    .setSubject(url)
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + (opts.expiresIn ?? 300))
    .setJti(crypto.randomUUID())
    .sign(new TextEncoder().encode(opts.key ?? testEnv.QSTASH_CURRENT_SIGNING_KEY));
}

/** The public URL QStash signs deliveries of `path` for. */
export const publicJobUrl = (path: string) => new URL(path, testEnv.PUBLIC_JOBS_URL).toString();
export const failureCallbackUrl = () => publicJobUrl(FAILURE_CALLBACK_PATH);

/** Row counts and an order-independent checksum of everything a sync writes for `orgId`. */
export async function orgFingerprint(orgId: string): Promise<Record<string, { rows: number; checksum: string }>> {
  const tables = {
    orders: sql`select srid as k, row(o.*)::text as v from orders o where org_id = ${orgId}`,
    sales: sql`select sale_id as k, row(s.*)::text as v from sales s where org_id = ${orgId}`,
    stocks: sql`select nm_id || '|' || barcode || '|' || warehouse_name as k, row(s.*)::text as v from stocks s where org_id = ${orgId}`,
    daily_product_stats: sql`select day || '|' || nm_id as k, row(d.*)::text as v from daily_product_stats d where org_id = ${orgId}`,
    products: sql`select nm_id::text as k, (nm_id, supplier_article, name, brand, subject, category)::text as v from products where org_id = ${orgId}`,
    warehouses: sql`select name as k, row(w.*)::text as v from warehouses w where org_id = ${orgId}`,
  };
  const out: Record<string, { rows: number; checksum: string }> = {};
  for (const [name, query] of Object.entries(tables)) {
    const result = await db().execute<{ rows: string; checksum: string | null }>(
      sql`select count(*)::text as rows, md5(coalesce(string_agg(t.v, '\n' order by t.k), '')) as checksum from (${query}) t`,
    );
    const row = result.rows[0];
    out[name] = { rows: Number(row?.rows ?? 0), checksum: row?.checksum ?? "" };
  }
  return out;
}

/** Reads the org's cache version (`org:{id}:cache-version`) straight from Redis. */
export async function cacheVersion(orgId: string): Promise<number> {
  const redis = new Redis({ url: testEnv.UPSTASH_REDIS_REST_URL as string, token: testEnv.UPSTASH_REDIS_REST_TOKEN as string });
  return Number((await redis.get<string | number>(`org:${orgId}:cache-version`)) ?? 0);
}

/** A QStash emulator event: a state change of a message, with its body decoded. */
export interface QStashEvent {
  messageId: string;
  state: string;
  responseStatus?: number;
  body: string;
}

/** QStash events matching `filter` (`messageId`, `url`, `state`…), newest first, bodies decoded. */
export async function qstashEvents(filter: Record<string, string>): Promise<QStashEvent[]> {
  const query = new URLSearchParams({ count: "1000", ...filter });
  const res = await fetch(`${adapterUrl("qstash")}/v2/events?${query}`, { headers: { Authorization: `Bearer ${testEnv.QSTASH_TOKEN}` } });
  const body = (await res.json()) as { events: Array<Omit<QStashEvent, "body"> & { body?: string }> };
  return body.events.map((e) => ({ ...e, body: e.body ? atob(e.body) : "" }));
}

/** Every QStash event of every message about job `jobId` (first delivery, retries, continuations). */
export async function jobEvents(jobId: string): Promise<QStashEvent[]> {
  return (await qstashEvents({ url: publicJobUrl("/jobs/wb-sync") })).filter((e) => e.body.includes(jobId));
}

/** Inserts a `wb-sync` job row for `orgId` (as `POST /api/v1/sync/wildberries` would), without publishing it. */
export async function insertJob(
  orgId: string,
  opts: { payload?: Record<string, unknown>; status?: "queued" | "running" | "failed"; leaseSecondsFromNow?: number } = {},
) {
  const id = crypto.randomUUID();
  await db()
    .insert(jobs)
    .values({
      id,
      orgId,
      kind: "wb-sync",
      dedupId: id,
      concurrencyKey: `wb-sync:${orgId}`,
      status: opts.status ?? "queued",
      payload: opts.payload ?? {},
      leaseUntil: sql`now() + make_interval(secs => ${opts.leaseSecondsFromNow ?? 60})`,
    });
  return id;
}

/** Publishes job `jobId` to QStash like production does, optionally with fewer retries (to reach the DLQ fast). */
export async function publishTestJob(jobId: string, opts: { retries?: number } = {}) {
  const request = publishRequest(config(), { jobId, kind: "wb-sync", deduplicationId: `${jobId}:test:${crypto.randomUUID()}` });
  return createQueue(config()).publishJSON({ ...request, ...(opts.retries === undefined ? {} : { retries: opts.retries }) });
}

/** The job row. */
export async function getJob(jobId: string) {
  const [job] = await db().select().from(jobs).where(eq(jobs.id, jobId));
  if (!job) throw new Error(`no job ${jobId}`);
  return job;
}

/** Polls until job `jobId` has `status` (or throws after `timeoutMs`). */
export async function waitForJobStatus(jobId: string, status: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await getJob(jobId);
    if (job.status === status) return job;
    if (Date.now() > deadline) throw new Error(`job ${jobId} is ${job.status} (${job.lastError}), not ${status}, after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The org's sync state rows by data set. */
export async function syncStates(orgId: string) {
  const rows = await db().select().from(syncState).where(eq(syncState.orgId, orgId));
  return Object.fromEntries(rows.map((r) => [r.dataset, r]));
}

/**
 * Runs the jobs Worker's `scheduled` handler for `cron` (with the test env plus `overrides`, e.g. an
 * unreachable `QSTASH_URL`) and waits for everything it started.
 */
export async function runCron(cron: string, scheduledTime: number, overrides: Record<string, string> = {}) {
  const { scheduled } = jobsWorker;
  if (!scheduled) throw new Error("the jobs Worker has no scheduled handler");
  const ctx = createExecutionContext();
  await scheduled(createScheduledController({ cron, scheduledTime }), envWith(overrides) as unknown as Env, ctx);
  await waitOnExecutionContext(ctx);
}

/** Unfinished jobs (`queued`, `running`, `failed`) of `orgIds`: what a test file must not leave behind. */
export async function unfinishedJobs(orgIds: readonly string[]) {
  if (orgIds.length === 0) return [];
  return db()
    .select({ id: jobs.id, orgId: jobs.orgId, kind: jobs.kind, status: jobs.status, lastError: jobs.lastError })
    .from(jobs)
    .where(and(inArray(jobs.orgId, [...orgIds]), inArray(jobs.status, ["queued", "running", "failed"])));
}

/**
 * Rows of the rollups (`daily_product_stats`, and `daily_org_stats` per day) of `orgId` that differ
 * from an independent aggregate over its `orders` and `sales` (both directions); 0 when both are right.
 */
export async function rollupMismatches(orgId: string): Promise<number> {
  const result = await db().execute<{ n: string }>(sql`
    with o as (
      select to_char(date at time zone 'Europe/Moscow', 'YYYY-MM-DD') as day, nm_id,
        count(*) as orders_count, sum(price_with_disc) as orders_amount,
        count(*) filter (where is_cancel) as cancellations_count,
        coalesce(sum(price_with_disc) filter (where is_cancel), 0) as cancellations_amount
      from orders where org_id = ${orgId} group by 1, 2
    ), s as (
      select to_char(date at time zone 'Europe/Moscow', 'YYYY-MM-DD') as day, nm_id,
        count(*) filter (where sale_id like 'S%') as buyouts_count,
        coalesce(sum(price_with_disc) filter (where sale_id like 'S%'), 0) as buyouts_amount,
        count(*) filter (where sale_id like 'R%') as returns_count,
        coalesce(sum(abs(price_with_disc)) filter (where sale_id like 'R%'), 0) as returns_amount,
        coalesce(sum(abs(for_pay)) filter (where sale_id like 'S%'), 0) - coalesce(sum(abs(for_pay)) filter (where sale_id like 'R%'), 0) as payout
      from sales where org_id = ${orgId} and (sale_id like 'S%' or sale_id like 'R%') group by 1, 2
    ), expected as (
      select coalesce(o.day, s.day) as day, coalesce(o.nm_id, s.nm_id) as nm_id,
        coalesce(o.orders_count, 0)::bigint as orders_count, coalesce(o.orders_amount, 0)::numeric as orders_amount,
        coalesce(o.cancellations_count, 0)::bigint as cancellations_count, coalesce(o.cancellations_amount, 0)::numeric as cancellations_amount,
        coalesce(s.buyouts_count, 0)::bigint as buyouts_count, coalesce(s.buyouts_amount, 0)::numeric as buyouts_amount,
        coalesce(s.returns_count, 0)::bigint as returns_count, coalesce(s.returns_amount, 0)::numeric as returns_amount,
        coalesce(s.payout, 0)::numeric as payout
      from o full outer join s on o.day = s.day and o.nm_id = s.nm_id
    ), actual as (
      select day::text, nm_id, orders_count::bigint, orders_amount::numeric, cancellations_count::bigint, cancellations_amount::numeric,
        buyouts_count::bigint, buyouts_amount::numeric, returns_count::bigint, returns_amount::numeric, payout::numeric
      from daily_product_stats where org_id = ${orgId}
    ), expected_org as (
      select day, sum(orders_count)::bigint, sum(orders_amount)::numeric, sum(cancellations_count)::bigint,
        sum(cancellations_amount)::numeric, sum(buyouts_count)::bigint, sum(buyouts_amount)::numeric,
        sum(returns_count)::bigint, sum(returns_amount)::numeric, sum(payout)::numeric
      from expected group by day
    ), actual_org as (
      select day::text, orders_count::bigint, orders_amount::numeric, cancellations_count::bigint, cancellations_amount::numeric,
        buyouts_count::bigint, buyouts_amount::numeric, returns_count::bigint, returns_amount::numeric, payout::numeric
      from daily_org_stats where org_id = ${orgId}
    )
    select ((select count(*) from (select * from expected except select * from actual) a)
      + (select count(*) from (select * from actual except select * from expected) b)
      + (select count(*) from (select * from expected_org except select * from actual_org) c)
      + (select count(*) from (select * from actual_org except select * from expected_org) d))::text as n`);
  return Number(result.rows[0]?.n);
}
