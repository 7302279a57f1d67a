/**
 * Support for the dashboard tests: the route list, the shared auth cases, round-trip counting,
 * and INDEPENDENT figures computed in SQL over the raw `orders`, `sales` and `stocks` tables
 * (never the rollup, never the route's own helpers), to check the API against.
 */
import { sql } from "drizzle-orm";
import { expect } from "vitest";
import { invalidateOrgCache } from "../../src/core/cache";
import { createRedis } from "../../src/core/redis";
import { adapterStats, addMember, api, config, db, problem, resetAdapterStats } from "./helpers";

/** One GET path per dashboard route (the order path with a well-formed, unknown srid). */
export const dashboardPaths = [
  "/api/v1/analytics/sales",
  "/api/v1/analytics/summary",
  "/api/v1/analytics/daily-trends",
  "/api/v1/analytics/daily-trends?format=svg",
  "/api/v1/stocks",
  "/api/v1/warehouses",
  "/api/v1/sizes",
  "/api/v1/orders/recent",
  "/api/v1/orders/1.r0000000000000000.0.0",
] as const;

/** The Moscow day of `instantMs` (UTC+3, no DST), computed here independently of `src/`. */
export const moscowDay = (instantMs = Date.now()): string => new Date(instantMs + 3 * 3_600_000).toISOString().slice(0, 10);

/** `day` moved by `n` days. */
export const shiftDay = (day: string, n: number): string =>
  new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);

/** The days `from`…`to` of a period of `n` days ending `today` (default: today in Moscow). */
export const periodOf = (n: number, today = moscowDay()) => ({ from: shiftDay(today, 1 - n), to: today });

/**
 * The "today" an answer declares, checked against the clock: the Moscow day when the request was
 * sent (`before`, taken just before it) or the day now. They differ only for a request that
 * straddles Moscow midnight (21:00 UTC); expectations derived from the declared day cannot race.
 */
export function declaredToday(declared: string, before: string): string {
  expect([before, moscowDay()], "the answer's today is a day the request ran on").toContain(declared);
  return declared;
}

/**
 * Every `techSize` of the WB double's size grids (dev/wildberries/dataset.ts) in the logical
 * order the API promises, written out by hand: "no size" first, then letter sizes small to
 * large, then numeric sizes by their first number and then the second (`36` < `36-37` < `37`).
 * An independent expectation: never sorted with the route's own comparator.
 */
export const SIZE_ORDER = [
  "0",
  "XS",
  "S",
  "M",
  "L",
  "XL",
  "XXL",
  "3XL",
  "36",
  "36-37",
  "37",
  "38",
  "38-39",
  "39",
  "40",
  "40-41",
  "41",
  "42",
  "42-43",
  "43",
  "44",
  "44-45",
  "45",
  "46",
  "48",
  "50",
  "52",
  "54",
] as const;

/** The position of `techSize` in {@link SIZE_ORDER}; fails the test for a size not listed there. */
export function sizeRank(techSize: string): number {
  const rank = (SIZE_ORDER as readonly string[]).indexOf(techSize);
  expect(rank, `size ${JSON.stringify(techSize)} is one of SIZE_ORDER`).toBeGreaterThanOrEqual(0);
  return rank;
}

/** `sizes` in the expected logical order (by {@link sizeRank}). */
export const inSizeOrder = (sizes: Iterable<string>): string[] => [...sizes].sort((a, b) => sizeRank(a) - sizeRank(b));

/** Reads a JSON body (of a `Response` or a typed-client answer) with a status check. */
export async function json<T>(res: { status: number; json(): Promise<unknown>; text(): Promise<string> }, status = 200): Promise<T> {
  if (res.status !== status) throw new Error(`expected ${status}, got ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}

/**
 * The common auth cases of a protected dashboard route: no token and a bad token → 401 with a
 * Bearer challenge; a `manager` of the org → 403; an `analyst` is let through.
 */
export async function expectDashboardAuth(path: string, orgId: string): Promise<void> {
  const none = await api(path);
  expect(none.status, `${path} without a token`).toBe(401);
  expect(none.headers.get("WWW-Authenticate")).toContain("Bearer");
  expect((await problem(none)).status).toBe(401);

  const bad = await api(path, { token: "not.a.jwt" });
  expect(bad.status, `${path} with a bad token`).toBe(401);
  await problem(bad);

  const manager = await api(path, { token: await addMember(orgId, "manager") });
  expect(manager.status, `${path} as manager`).toBe(403);
  await problem(manager);

  const analyst = await api(path, { token: await addMember(orgId, "analyst") });
  expect([200, 404], `${path} as analyst`).toContain(analyst.status);
}

/** Bumps the org's cache version, as a successful sync does. */
export async function bumpCacheVersion(orgId: string): Promise<void> {
  await invalidateOrgCache(createRedis(config()), orgId);
}

/**
 * Waits until neither Neon nor Redis has seen a request for a while (background `waitUntil`
 * writes, the job worker), so a following count measures only the request under test.
 */
export async function settle(quietMs = 150, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  for (;;) {
    const now = JSON.stringify([(await adapterStats("neon")).requests, (await adapterStats("redis")).requests]);
    if (now === last) return;
    if (Date.now() > deadline) throw new Error("adapters did not settle");
    last = now;
    await new Promise((r) => setTimeout(r, quietMs));
  }
}

/**
 * Runs `request` and returns the Neon and Redis REST requests it made (after settling first). The
 * request's metrics flush — one `/multi-exec`, sent in `waitUntil` after the answer
 * (`src/core/metrics.ts`) — is left out of `redis`: it may land before or after the count. (A read
 * with a valid credential sends no transaction of its own; the guard's only one counts a failed
 * authentication.)
 */
export async function roundTrips(request: () => Promise<Response>): Promise<{ res: Response; neon: number; redis: number }> {
  await settle();
  await Promise.all([resetAdapterStats("neon"), resetAdapterStats("redis")]);
  const res = await request();
  await res.arrayBuffer();
  const [neon, redis] = await Promise.all([adapterStats("neon"), adapterStats("redis")]);
  return { res, neon: neon.requests, redis: redis.requests - (redis.byPath["/multi-exec"] ?? 0) };
}

/** Rows of an independent query. */
export async function rows<T>(query: ReturnType<typeof sql>): Promise<T[]> {
  const result = await db().execute(query);
  return result.rows as T[];
}

/** The Moscow calendar day of a `timestamptz` column, in SQL, without the time zone database. */
const moscowDate = (column: string) => sql.raw(`((${column} at time zone 'UTC') + interval '3 hours')::date`);

/** Sales totals of the API, computed independently. */
export interface Totals {
  orders: number;
  ordersAmount: number;
  cancellations: number;
  buyouts: number;
  buyoutsAmount: number;
  returns: number;
  payout: number;
}

/**
 * Totals per Moscow day over `from`…`to` from the raw tables: orders by order date, buyouts
 * (`saleID` S…) and returns (R…) by sale date, other prefixes ignored.
 */
export async function dailyTotalsFromRaw(orgId: string, from: string, to: string): Promise<Map<string, Totals>> {
  const orderRows = await rows<{
    day: string;
    orders: number;
    orders_amount: string;
    cancellations: number;
    cancellations_amount: string;
  }>(sql`
    select ${moscowDate("date")}::text as day, count(*)::int as orders, sum(price_with_disc)::text as orders_amount,
      count(*) filter (where is_cancel)::int as cancellations,
      coalesce(sum(price_with_disc) filter (where is_cancel), 0)::text as cancellations_amount
    from orders where org_id = ${orgId} and ${moscowDate("date")} between ${from}::date and ${to}::date
    group by 1`);
  const saleRows = await rows<{
    day: string;
    buyouts: number;
    buyouts_amount: string;
    returns: number;
    returns_amount: string;
    payout: string;
  }>(sql`
    select ${moscowDate("date")}::text as day,
      count(*) filter (where sale_id like 'S%')::int as buyouts,
      coalesce(sum(price_with_disc) filter (where sale_id like 'S%'), 0)::text as buyouts_amount,
      count(*) filter (where sale_id like 'R%')::int as returns,
      coalesce(sum(abs(price_with_disc)) filter (where sale_id like 'R%'), 0)::text as returns_amount,
      (coalesce(sum(abs(for_pay)) filter (where sale_id like 'S%'), 0) - coalesce(sum(abs(for_pay)) filter (where sale_id like 'R%'), 0))::text as payout
    from sales where org_id = ${orgId} and ${moscowDate("date")} between ${from}::date and ${to}::date
    group by 1`);
  const byDay = new Map<string, Totals>();
  const zero = (): Totals => ({ orders: 0, ordersAmount: 0, cancellations: 0, buyouts: 0, buyoutsAmount: 0, returns: 0, payout: 0 });
  for (let d = from; d <= to; d = shiftDay(d, 1)) byDay.set(d, zero());
  for (const r of orderRows)
    Object.assign(byDay.get(r.day) ?? {}, { orders: r.orders, ordersAmount: Number(r.orders_amount), cancellations: r.cancellations });
  for (const r of saleRows) {
    Object.assign(byDay.get(r.day) ?? {}, {
      buyouts: r.buyouts,
      buyoutsAmount: Number(r.buyouts_amount),
      returns: r.returns,
      payout: Number(r.payout),
    });
  }
  return byDay;
}

/** Counts and amounts of the four summary events over `from`…`to`, from the raw tables. */
export async function eventFiguresFromRaw(orgId: string, from: string, to: string) {
  const [o] = await rows<{ orders: number; orders_amount: string; cancellations: number; cancellations_amount: string }>(sql`
    select count(*)::int as orders, coalesce(sum(price_with_disc), 0)::text as orders_amount,
      count(*) filter (where is_cancel)::int as cancellations,
      coalesce(sum(price_with_disc) filter (where is_cancel), 0)::text as cancellations_amount
    from orders where org_id = ${orgId} and ${moscowDate("date")} between ${from}::date and ${to}::date`);
  const [s] = await rows<{ buyouts: number; buyouts_amount: string; returns: number; returns_amount: string }>(sql`
    select count(*) filter (where sale_id like 'S%')::int as buyouts,
      coalesce(sum(price_with_disc) filter (where sale_id like 'S%'), 0)::text as buyouts_amount,
      count(*) filter (where sale_id like 'R%')::int as returns,
      coalesce(sum(abs(price_with_disc)) filter (where sale_id like 'R%'), 0)::text as returns_amount
    from sales where org_id = ${orgId} and ${moscowDate("date")} between ${from}::date and ${to}::date`);
  if (!o || !s) throw new Error("aggregate without a row");
  return {
    orders: { count: o.orders, amount: Number(o.orders_amount) },
    buyouts: { count: s.buyouts, amount: Number(s.buyouts_amount) },
    cancellations: { count: o.cancellations, amount: Number(o.cancellations_amount) },
    returns: { count: s.returns, amount: Number(s.returns_amount) },
  };
}

/** Top `limit` products by Σ priceWithDisc of orders over `from`…`to`, ties by nmId, from raw orders. */
export async function topProductsFromRaw(orgId: string, from: string, to: string, limit = 10) {
  const top = await rows<{
    nm_id: string;
    name: string | null;
    supplier_article: string | null;
    orders: number;
    orders_amount: string;
  }>(sql`
    select o.nm_id::text, p.name, p.supplier_article, count(*)::int as orders, sum(o.price_with_disc)::text as orders_amount
    from orders o left join products p on p.org_id = o.org_id and p.nm_id = o.nm_id
    where o.org_id = ${orgId} and ${moscowDate("o.date")} between ${from}::date and ${to}::date
    group by o.nm_id, p.name, p.supplier_article
    order by sum(o.price_with_disc) desc, o.nm_id asc
    limit ${limit}`);
  return top.map((r) => ({
    nmId: Number(r.nm_id),
    name: r.name,
    supplierArticle: r.supplier_article,
    orders: r.orders,
    ordersAmount: Number(r.orders_amount),
  }));
}

/** Every stock row of the org from the raw table (for set comparisons). */
export async function stockRowsFromRaw(orgId: string) {
  const all = await rows<{
    nm_id: string;
    barcode: string;
    warehouse_name: string;
    tech_size: string;
    quantity: number;
    supplier_article: string;
    price: string;
  }>(sql`
    select nm_id::text, barcode, warehouse_name, tech_size, quantity, supplier_article, price::text from stocks where org_id = ${orgId}`);
  return all.map((r) => ({
    nmId: Number(r.nm_id),
    barcode: r.barcode,
    warehouseName: r.warehouse_name,
    techSize: r.tech_size,
    quantity: r.quantity,
    supplierArticle: r.supplier_article,
    price: Number(r.price),
  }));
}

/** Name and supplier article of every product of the org, by nmId, from the raw table. */
export async function productsFromRaw(orgId: string): Promise<Map<number, { name: string | null; supplierArticle: string | null }>> {
  const all = await rows<{ nm_id: string; name: string | null; supplier_article: string | null }>(sql`
    select nm_id::text, name, supplier_article from products where org_id = ${orgId}`);
  return new Map(all.map((r) => [Number(r.nm_id), { name: r.name, supplierArticle: r.supplier_article }]));
}

/** Per warehouse: distinct nmId with quantity > 0 and Σ quantity, from raw stocks. */
export async function warehouseFiguresFromRaw(orgId: string) {
  const all = await rows<{ name: string; product_count: number; total_quantity: number }>(sql`
    select warehouse_name as name, (count(distinct nm_id) filter (where quantity > 0))::int as product_count, sum(quantity)::int as total_quantity
    from stocks where org_id = ${orgId} group by warehouse_name`);
  return new Map(all.map((r) => [r.name, { productCount: r.product_count, totalQuantity: r.total_quantity }]));
}

/**
 * The newest orders of the org (date desc, srid asc), optionally by cancel status, and the
 * figures per Moscow day from the day before `today` on, from raw orders.
 */
export async function recentOrdersFromRaw(orgId: string, isCancel: boolean | null, limit: number, offset: number, today = moscowDay()) {
  const filter = isCancel === null ? sql`true` : sql`is_cancel = ${isCancel}`;
  const page = await rows<{ srid: string }>(sql`
    select srid from orders where org_id = ${orgId} and ${filter} order by date desc, srid asc limit ${limit} offset ${offset}`);
  const [total] = await rows<{ n: number }>(sql`select count(*)::int as n from orders where org_id = ${orgId} and ${filter}`);
  const days = await rows<{ day: string; n: number; amount: string }>(sql`
    select ${moscowDate("date")}::text as day, count(*)::int as n, sum(price_with_disc)::text as amount
    from orders where org_id = ${orgId} and ${filter} and ${moscowDate("date")} >= ${shiftDay(today, -1)}::date
    group by 1`);
  const byDay = new Map(days.map((d) => [d.day, { count: d.n, amount: Number(d.amount) }]));
  return { srids: page.map((r) => r.srid), total: total?.n ?? 0, byDay };
}

/**
 * For the product of order `srid`: stock per size and its orders and buyouts of the 30 days
 * ending `today`, from raw tables.
 */
export async function orderContextFromRaw(orgId: string, srid: string, today = moscowDay()) {
  const [order] = await rows<{ nm_id: string }>(sql`select nm_id::text from orders where org_id = ${orgId} and srid = ${srid}`);
  if (!order) throw new Error(`no order ${srid}`);
  const stock = await rows<{ tech_size: string; quantity: number }>(sql`
    select tech_size, sum(quantity)::int as quantity from stocks where org_id = ${orgId} and nm_id = ${order.nm_id}::bigint group by tech_size`);
  const { from, to } = periodOf(30, today);
  const [o] = await rows<{ n: number; amount: string }>(sql`
    select count(*)::int as n, coalesce(sum(price_with_disc), 0)::text as amount from orders
    where org_id = ${orgId} and nm_id = ${order.nm_id}::bigint and ${moscowDate("date")} between ${from}::date and ${to}::date`);
  const [s] = await rows<{ n: number; amount: string }>(sql`
    select count(*)::int as n, coalesce(sum(price_with_disc), 0)::text as amount from sales
    where org_id = ${orgId} and nm_id = ${order.nm_id}::bigint and sale_id like 'S%' and ${moscowDate("date")} between ${from}::date and ${to}::date`);
  return {
    nmId: Number(order.nm_id),
    stock: new Map(stock.map((r) => [r.tech_size, r.quantity])),
    orders: { count: o?.n ?? 0, amount: Number(o?.amount ?? 0) },
    buyouts: { count: s?.n ?? 0, amount: Number(s?.amount ?? 0) },
  };
}

/** Some srids of the org (newest first), for detail lookups. */
export async function someSrids(orgId: string, limit = 5): Promise<string[]> {
  const found = await rows<{ srid: string }>(sql`select srid from orders where org_id = ${orgId} order by date desc, srid limit ${limit}`);
  return found.map((r) => r.srid);
}

/** Rounds to kopecks, for comparing sums computed two ways. */
export const kopecks = (roubles: number): number => Math.round(roubles * 100);
