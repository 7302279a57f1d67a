/**
 * Dashboard happy paths on the full default data set (50,000 orders over 180 days, 150
 * products, 8 warehouses), synced end to end once. Every figure is checked against SQL written
 * here over the raw `orders`, `sales` and `stocks` tables — not the rollup the routes read.
 * The routes are called through the typed client (`src/client.ts`), as a dashboard calls them.
 */
import { count, eq, type SQLWrapper, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { beforeAll, describe, expect, it } from "vitest";
import { productPeriodStats } from "../../src/core/db/schema";
import { escapeLike, searchPage } from "../../src/routes/dashboard/list-stocks";
import { topProducts } from "../../src/routes/dashboard/rollup";
import {
  bumpCacheVersion,
  dailyTotalsFromRaw,
  declaredToday,
  eventFiguresFromRaw,
  inSizeOrder,
  json,
  kopecks,
  moscowDay,
  orderContextFromRaw,
  periodOf,
  productsFromRaw,
  recentOrdersFromRaw,
  rows,
  shiftDay,
  sizeRank,
  someSrids,
  stockRowsFromRaw,
  type Totals,
  topProductsFromRaw,
  warehouseFiguresFromRaw,
} from "./dashboard-support";
import { addMember, api, client, createTenant, db, registerWbToken, syncTenant, type Tenant } from "./helpers";

let tenant: Tenant;

beforeAll(async () => {
  tenant = await createTenant({ wbToken: await registerWbToken() });
  const started = Date.now();
  await syncTenant(tenant, 290_000);
  console.log(`[dashboard] full data set synced in ${Date.now() - started} ms`);
}, 300_000);

/** The dashboard group through the typed client (`src/client.ts`), as a dashboard calls it. */
const dashboardApi = (token: string) => client(token).dashboard.api.v1;

/** A fresh analyst of the tenant: each test group stays well inside the per-user rate limit. */
const analyst = () => addMember(tenant.orgId, "analyst");

/** Money compared in kopecks, so float noise never decides a test. */
const money = (t: Totals) => ({
  ...t,
  ordersAmount: kopecks(t.ordersAmount),
  buyoutsAmount: kopecks(t.buyoutsAmount),
  payout: kopecks(t.payout),
});

type TopProduct = { nmId: number; name: string | null; supplierArticle: string | null; orders: number; ordersAmount: number };
const topInKopecks = (top: TopProduct[]) => top.map((p) => ({ ...p, ordersAmount: kopecks(p.ordersAmount) }));

describe("GET /api/v1/analytics/sales", () => {
  it.each([
    ["7d", 7],
    ["30d", 30],
    ["180d", 180],
  ] as const)("matches the raw tables for %s: totals, every day, top 10", async (period, days) => {
    const token = await analyst();
    const sentOn = moscowDay();
    const body = await json<{
      period: string;
      range: { from: string; to: string };
      totals: Totals;
      series: Array<Totals & { day: string }>;
      topProducts: TopProduct[];
    }>(await dashboardApi(token).analytics.sales.$get({ query: { period } }));
    const { from, to } = periodOf(days, declaredToday(body.range.to, sentOn));
    expect(body.period).toBe(period);
    expect(body.range).toEqual({ from, to });
    const raw = await dailyTotalsFromRaw(tenant.orgId, from, to);
    expect(body.series.map((s) => s.day)).toEqual([...raw.keys()]);
    for (const { day, ...figures } of body.series) expect(money(figures), day).toEqual(money(raw.get(day) as Totals));
    const sum = [...raw.values()].reduce(
      (a, b) => ({
        orders: a.orders + b.orders,
        ordersAmount: a.ordersAmount + kopecks(b.ordersAmount),
        cancellations: a.cancellations + b.cancellations,
        buyouts: a.buyouts + b.buyouts,
        buyoutsAmount: a.buyoutsAmount + kopecks(b.buyoutsAmount),
        returns: a.returns + b.returns,
        payout: a.payout + kopecks(b.payout),
      }),
      { orders: 0, ordersAmount: 0, cancellations: 0, buyouts: 0, buyoutsAmount: 0, returns: 0, payout: 0 },
    );
    expect(money(body.totals)).toEqual(sum);
    expect(body.totals.orders).toBeGreaterThan(0);
    expect(body.totals.returns).toBeGreaterThan(0);
    expect(topInKopecks(body.topProducts)).toEqual(topInKopecks(await topProductsFromRaw(tenant.orgId, from, to)));
    expect(body.topProducts).toHaveLength(10);
  });

  it("answers the same top 10 from the daily rollup when the sync's precomputed top is missing (a day without a sync)", async () => {
    const token = await analyst();
    const precomputed = () => db().select({ n: count() }).from(productPeriodStats).where(eq(productPeriodStats.orgId, tenant.orgId));
    // The sync precomputed every period for today and tomorrow.
    expect((await precomputed())[0]?.n).toBeGreaterThan(0);
    const stored = await db().select().from(productPeriodStats).where(eq(productPeriodStats.orgId, tenant.orgId));
    await db().delete(productPeriodStats).where(eq(productPeriodStats.orgId, tenant.orgId));
    try {
      await bumpCacheVersion(tenant.orgId);
      for (const [period, days] of [
        ["7d", 7],
        ["30d", 30],
        ["180d", 180],
      ] as const) {
        const sentOn = moscowDay();
        const body = await json<{ range: { to: string }; topProducts: TopProduct[] }>(
          await dashboardApi(token).analytics.sales.$get({ query: { period } }),
        );
        const { from, to } = periodOf(days, declaredToday(body.range.to, sentOn));
        expect(topInKopecks(body.topProducts), period).toEqual(topInKopecks(await topProductsFromRaw(tenant.orgId, from, to)));
        expect(body.topProducts.length, period).toBeGreaterThan(0);
      }
    } finally {
      await db().insert(productPeriodStats).values(stored);
      await bumpCacheVersion(tenant.orgId);
    }
  });
});

/**
 * The plan of `query` (its own SQL and bound parameters, as the route sends it) under `settings`
 * (`set local`, this transaction only); with `analyze`, run, with its actual row counts.
 */
async function planOf(query: SQLWrapper, settings: string[] = [], analyze = false) {
  const database = db();
  const statements = [
    ...settings.map((setting) => database.execute(sql.raw(`set local ${setting}`))),
    database.execute(sql`explain (${sql.raw(analyze ? "analyze, " : "")}format json) ${query.getSQL()}`),
  ] as unknown as [BatchItem<"pg">, ...BatchItem<"pg">[]];
  const results = (await database.batch(statements)) as unknown[];
  const rows = (results.at(-1) as { rows: { "QUERY PLAN": [{ Plan: PlanNode }] }[] }).rows;
  return rows[0]?.["QUERY PLAN"][0].Plan as PlanNode;
}

describe("the stock search's query shape (src/routes/dashboard/list-stocks.ts), by its plan", () => {
  it("collects the matches once and sorts the page out of them, never reading the rows in the list's order", async () => {
    const [last] = await rows<{ article: string }>(
      sql`select supplier_article as article from products where org_id = ${tenant.orgId} order by supplier_article desc limit 1`,
    );
    if (!last) throw new Error("the tenant has no products");
    const query = searchPage(db(), tenant.orgId, { warehouses: [], sizes: [] }, last.article, { cursor: undefined, limit: 50, offset: 0 });
    const plan = await planOf(query, [], true);
    const matched = findNode(plan, (n) => n["Subplan Name"] === "CTE matched");
    if (!matched) throw new Error(`no CTE of the matches in ${JSON.stringify(plan)}`);
    // `stocks` is read only to collect the matches (however Postgres reads it for that); a page
    // in the list's order (`stocks_org_article_nm_idx` and a filter) read every row of the org
    // before its last match: 199–381 ms for an article that sorts last on a big seller's table.
    const stockScans = findNodes(plan, (n) => n["Relation Name"] === "stocks");
    expect(stockScans.length).toBeGreaterThan(0);
    for (const scan of stockScans)
      expect(
        findNode(matched, (n) => n === scan),
        JSON.stringify(scan),
      ).toBeDefined();
    // Every match was read once: the page sorted and counted the CTE's rows.
    const pattern = `%${escapeLike(last.article)}%`;
    const [expected] = await rows<{ n: number }>(sql`
      select count(*)::int as n from stocks s where s.org_id = ${tenant.orgId} and (s.supplier_article ilike ${pattern}
        or s.nm_id in (select nm_id from products where org_id = ${tenant.orgId} and (name ilike ${pattern} or supplier_article ilike ${pattern})))`);
    expect(matched["Actual Rows"]).toBe(expected?.n);
  });
});

describe("the top products' query shapes (src/routes/dashboard/rollup.ts), by their plans", () => {
  it("reads the precomputed top in its index's order: the ten rows, no sort of the period's products", async () => {
    const today = moscowDay();
    const [pre] = topProducts(db(), tenant.orgId, "180d", { from: shiftDay(today, -179), to: today });
    // Sorting is priced out, not forbidden: an ORDER BY the index cannot give still gets its Sort
    // (what `desc`, nulls first, against the index's `desc nulls last` did).
    const plan = await planOf(pre, ["enable_sort = off", "enable_seqscan = off", "enable_bitmapscan = off"]);
    const limit = findNode(plan, (n) => n["Node Type"] === "Limit" && n.Plans?.[0]?.["Relation Name"] === "product_period_stats");
    expect(limit?.Plans?.[0]?.["Node Type"]).toBe("Index Scan");
    expect(limit?.Plans?.[0]?.["Index Name"]).toBe("product_period_stats_top_idx");
  });

  it("gates the live aggregate as a whole on the precomputed top being absent, above any parallel workers", async () => {
    const today = moscowDay();
    const [, live] = topProducts(db(), tenant.orgId, "180d", { from: shiftDay(today, -179), to: today });
    // Parallel plans made cheap, as Postgres chooses them on a big seller's rollup.
    const plan = await planOf(live, ["parallel_setup_cost = 0", "parallel_tuple_cost = 0", "min_parallel_table_scan_size = 0"]);
    const gate = findNode(plan, (n) => /NOT/.test(n["One-Time Filter"] ?? ""));
    if (!gate) throw new Error(`no one-time filter in ${JSON.stringify(plan)}`);
    // The whole aggregate, and whatever reads the rollup for it (a Gather and its workers or not),
    // sits below the filter; a filter inside the aggregate's scan would start the workers first.
    expect(findNode(gate, (n) => n["Node Type"] === "Aggregate")).toBeDefined();
    expect(findNode(gate, (n) => n["Relation Name"] === "daily_product_stats")).toBeDefined();
    expect(findNode(plan, (n) => n["Node Type"] === "Gather" && findNode(n, (m) => m === gate) !== undefined)).toBeUndefined();
  });
});

describe("GET /api/v1/analytics/summary", () => {
  it.each([
    ["7d", 7],
    ["90d", 90],
  ] as const)("compares %s with the previous period of the same length", async (period, days) => {
    const token = await analyst();
    const sentOn = moscowDay();
    const body = await json<{
      range: { from: string; to: string };
      previousRange: { from: string; to: string };
      cards: Record<
        string,
        {
          count: number;
          amount: number;
          previousCount: number;
          previousAmount: number;
          changePercent: number | null;
          amountChangePercent: number | null;
        }
      >;
    }>(await dashboardApi(token).analytics.summary.$get({ query: { period } }));
    const current = periodOf(days, declaredToday(body.range.to, sentOn));
    const previous = { from: shiftDay(current.from, -days), to: shiftDay(current.from, -1) };
    expect(body.range).toEqual(current);
    expect(body.previousRange).toEqual(previous);
    const [now, before] = await Promise.all([
      eventFiguresFromRaw(tenant.orgId, current.from, current.to),
      eventFiguresFromRaw(tenant.orgId, previous.from, previous.to),
    ]);
    const percent = (a: number, b: number) => (b === 0 ? null : Math.round(((a - b) / b) * 1000) / 10);
    for (const event of ["orders", "buyouts", "cancellations", "returns"] as const) {
      const card = body.cards[event];
      expect(card, event).toBeDefined();
      expect({ ...card, amount: kopecks(card?.amount ?? 0), previousAmount: kopecks(card?.previousAmount ?? 0) }, event).toEqual({
        count: now[event].count,
        amount: kopecks(now[event].amount),
        previousCount: before[event].count,
        previousAmount: kopecks(before[event].amount),
        changePercent: percent(now[event].count, before[event].count),
        amountChangePercent: percent(kopecks(now[event].amount), kopecks(before[event].amount)),
      });
    }
    expect(body.cards.orders?.count).toBeGreaterThan(0);
  });
});

describe("GET /api/v1/analytics/daily-trends", () => {
  it("gives per-day event counts, the top products and the chart, also as SVG", async () => {
    const token = await analyst();
    const sentOn = moscowDay();
    const body = await json<{
      range: { from: string; to: string };
      days: Array<{ day: string; orders: number; buyouts: number; cancellations: number; returns: number }>;
      topProducts: TopProduct[];
      chart: string;
    }>(await api("/api/v1/analytics/daily-trends?period=30d", { token }));
    const { from, to } = periodOf(30, declaredToday(body.range.to, sentOn));
    expect(body.range).toEqual({ from, to });
    const raw = await dailyTotalsFromRaw(tenant.orgId, from, to);
    expect(body.days).toEqual(
      [...raw.entries()].map(([day, t]) => ({
        day,
        orders: t.orders,
        buyouts: t.buyouts,
        cancellations: t.cancellations,
        returns: t.returns,
      })),
    );
    expect(topInKopecks(body.topProducts)).toEqual(topInKopecks(await topProductsFromRaw(tenant.orgId, from, to)));

    const svgRes = await api("/api/v1/analytics/daily-trends?period=30d&format=svg", { token });
    expect(svgRes.status).toBe(200);
    expect(svgRes.headers.get("Content-Type")).toBe("image/svg+xml");
    const svg = await svgRes.text();
    const prefix = "data:image/svg+xml;base64,";
    expect(body.chart.startsWith(prefix)).toBe(true);
    const decoded = new TextDecoder().decode(Uint8Array.from(atob(body.chart.slice(prefix.length)), (c) => c.charCodeAt(0)));
    expect(decoded).toBe(svg);
    expect(svg).toMatch(/viewBox="0 0 \d+ \d+"/);
    expect(svg).toContain("<title>");
    // One line per event: solid over the 29 complete days, dashed into today (partial).
    const lines = [...svg.matchAll(/<polyline [^>]*points="([^"]+)"/g)].map((m) => (m[1] ?? "").split(" "));
    expect(lines).toHaveLength(4);
    for (const points of lines) expect(points).toHaveLength(29);
    expect(svg.match(/<path class="partial" /g)).toHaveLength(4);
    expect(svg).not.toMatch(/<script|\son[a-z]+=|style=|href/i);
  });
});

type StockItem = {
  nmId: number;
  name: string | null;
  supplierArticle: string;
  barcode: string;
  techSize: string;
  warehouseName: string;
  quantity: number;
  price: number;
};
type StocksPage = { items: StockItem[]; total: number; limit: number; offset: number; filters: { warehouses: string[]; sizes: string[] } };

describe("GET /api/v1/stocks", () => {
  it("pages through every stock row once, product by product in size order", async () => {
    const token = await analyst();
    const raw = await stockRowsFromRaw(tenant.orgId);
    expect(raw.length).toBeGreaterThan(100);
    const seen: StockItem[] = [];
    for (let offset = 0; ; offset += 100) {
      const page = await json<StocksPage>(await dashboardApi(token).stocks.$get({ query: { limit: "100", offset: String(offset) } }));
      expect(page.total).toBe(raw.length);
      seen.push(...page.items);
      if (page.items.length < 100) break;
    }
    const key = (r: { nmId: number; barcode: string; warehouseName: string }) => `${r.nmId}|${r.barcode}|${r.warehouseName}`;
    expect(seen.map(key).sort()).toEqual(raw.map(key).sort());
    const byKey = new Map(raw.map((r) => [key(r), r]));
    for (const item of seen) {
      const r = byKey.get(key(item));
      expect({ quantity: item.quantity, techSize: item.techSize, price: item.price, supplierArticle: item.supplierArticle }).toEqual({
        quantity: r?.quantity,
        techSize: r?.techSize,
        price: r?.price,
        supplierArticle: r?.supplierArticle,
      });
      expect(item.name).toEqual(expect.any(String));
    }
    // Rows of a product are contiguous, and within it sizes come in the logical order (SIZE_ORDER).
    const finished = new Set<number>();
    let sizeSteps = 0;
    for (let i = 1; i < seen.length; i++) {
      const [prev, cur] = [seen[i - 1] as StockItem, seen[i] as StockItem];
      if (prev.nmId !== cur.nmId) {
        finished.add(prev.nmId);
        expect(finished.has(cur.nmId), `nmId ${cur.nmId} split`).toBe(false);
      } else {
        if (prev.techSize !== cur.techSize) sizeSteps += 1;
        expect(sizeRank(prev.techSize), `${prev.techSize} before ${cur.techSize}`).toBeLessThanOrEqual(sizeRank(cur.techSize));
      }
    }
    expect(sizeSteps, "products with more than one size were checked").toBeGreaterThan(0);
  });

  it("filters by several warehouses and sizes, and lists the org's filter values", async () => {
    const token = await analyst();
    const raw = await stockRowsFromRaw(tenant.orgId);
    const warehouses = [...new Set(raw.map((r) => r.warehouseName))].sort();
    const sizes = [...new Set(raw.map((r) => r.techSize))];
    const pickedWarehouses = warehouses.slice(0, 2);
    const pickedSizes = ["M", "42", "0"].filter((s) => sizes.includes(s));
    expect(pickedSizes.length).toBeGreaterThan(1);
    const query = new URLSearchParams([
      ...pickedWarehouses.map((w) => ["warehouses", w]),
      ...pickedSizes.map((s) => ["sizes", s]),
      ["limit", "100"],
    ]);
    const page = await json<StocksPage>(await api(`/api/v1/stocks?${query}`, { token }));
    const expected = raw.filter((r) => pickedWarehouses.includes(r.warehouseName) && pickedSizes.includes(r.techSize));
    expect(page.total).toBe(expected.length);
    expect(page.items.length).toBe(Math.min(100, expected.length));
    for (const item of page.items) {
      expect(pickedWarehouses).toContain(item.warehouseName);
      expect(pickedSizes).toContain(item.techSize);
    }
    expect(new Set(page.filters.warehouses)).toEqual(new Set(warehouses));
    expect(page.filters.sizes).toEqual(inSizeOrder(sizes));
  });

  it("searches the product name, the supplier article (any case) and the nmId", async () => {
    const token = await analyst();
    const raw = await stockRowsFromRaw(tenant.orgId);
    const sample = raw[0] as (typeof raw)[number];
    const article = sample.supplierArticle.slice(0, 7).toLowerCase();
    const byArticle = await json<StocksPage>(await dashboardApi(token).stocks.$get({ query: { q: article, limit: "100" } }));
    const expectedArticle = raw.filter((r) => r.supplierArticle.toLowerCase().includes(article));
    expect(byArticle.total).toBe(expectedArticle.length);

    const nmPrefix = String(sample.nmId).slice(0, 6);
    const byNmId = await json<StocksPage>(await dashboardApi(token).stocks.$get({ query: { q: nmPrefix, limit: "100" } }));
    // All digits: an nmId prefix, or the digits anywhere in the name or supplier article (any case).
    const products = await productsFromRaw(tenant.orgId);
    const contains = (text: string | null | undefined) => (text ?? "").toLowerCase().includes(nmPrefix);
    const expectedNmId = raw.filter(
      (r) =>
        String(r.nmId).startsWith(nmPrefix) ||
        contains(r.supplierArticle) ||
        contains(products.get(r.nmId)?.name) ||
        contains(products.get(r.nmId)?.supplierArticle),
    );
    expect(byNmId.total).toBe(expectedNmId.length);
    expect(byNmId.items.some((r) => r.nmId === sample.nmId)).toBe(true);

    const first = await json<StocksPage>(await dashboardApi(token).stocks.$get({ query: { limit: "1" } }));
    const name = first.items[0]?.name ?? "";
    const word = name.split(" ")[0] ?? "";
    const byName = await json<StocksPage>(await dashboardApi(token).stocks.$get({ query: { q: word, limit: "100" } }));
    expect(byName.total).toBeGreaterThan(0);
    expect(byName.items.every((r) => (r.name ?? "").includes(word) || r.supplierArticle.includes(word))).toBe(true);

    const wildcard = await json<StocksPage>(await dashboardApi(token).stocks.$get({ query: { q: "%" } }));
    expect(wildcard.total).toBe(0);
  });
});

describe("GET /api/v1/warehouses and /api/v1/sizes", () => {
  it("gives each warehouse's product count and quantity, most products first", async () => {
    const token = await analyst();
    const { items } = await json<{ items: Array<{ name: string; type: string | null; productCount: number; totalQuantity: number }> }>(
      await dashboardApi(token).warehouses.$get(),
    );
    const raw = await warehouseFiguresFromRaw(tenant.orgId);
    for (const w of items)
      expect({ productCount: w.productCount, totalQuantity: w.totalQuantity }, w.name).toEqual(
        raw.get(w.name) ?? { productCount: 0, totalQuantity: 0 },
      );
    expect(items.map((w) => w.name)).toEqual(expect.arrayContaining([...raw.keys()]));
    expect(items.length).toBeGreaterThan(1);
    const counts = items.map((w) => w.productCount);
    expect(counts).toEqual([...counts].sort((x, y) => y - x));
    expect(items.some((w) => w.type === "Склад WB")).toBe(true);
  });

  it("gives the distinct sizes in logical order", async () => {
    const token = await analyst();
    const { items } = await json<{ items: string[] }>(await dashboardApi(token).sizes.$get());
    const raw = [...new Set((await stockRowsFromRaw(tenant.orgId)).map((r) => r.techSize))];
    expect(new Set(items)).toEqual(new Set(raw));
    expect(items).toHaveLength(raw.length);
    expect(items).toEqual(inSizeOrder(raw));
    expect(items[0]).toBe("0");
    const at = (s: string) => items.indexOf(s);
    for (const [a, b] of [
      ["XS", "S"],
      ["S", "M"],
      ["M", "XL"],
      ["XXL", "3XL"],
      ["3XL", "36"],
      ["36", "36-37"],
      ["42", "42-43"],
      ["42-43", "44"],
    ] as const) {
      expect(at(a), `${a} listed`).toBeGreaterThanOrEqual(0);
      expect(at(b), `${b} listed`).toBeGreaterThanOrEqual(0);
      expect(at(a), `${a} before ${b}`).toBeLessThan(at(b));
    }
  });
});

type OrderView = {
  srid: string;
  date: string;
  nmId: number;
  techSize: string;
  priceWithDisc: number;
  isCancel: boolean;
  cancelDate: string | null;
};

describe("GET /api/v1/orders/recent", () => {
  it.each([
    ["all", null],
    ["active", false],
    ["canceled", true],
  ] as const)("lists %s orders newest first with today's and yesterday's figures", async (status, isCancel) => {
    const token = await analyst();
    const sentOn = moscowDay();
    const first = await json<{
      status: string;
      items: OrderView[];
      total: number;
      today: { day: string; count: number; amount: number };
      yesterday: { day: string; count: number; amount: number };
    }>(await dashboardApi(token).orders.recent.$get({ query: { status } }));
    const today = declaredToday(first.today.day, sentOn);
    const yesterday = shiftDay(today, -1);
    const raw = await recentOrdersFromRaw(tenant.orgId, isCancel, 20, 0, today);
    expect(first.status).toBe(status);
    expect(first.items.map((o) => o.srid)).toEqual(raw.srids);
    expect(first.total).toBe(raw.total);
    expect(first.items).toHaveLength(20);
    expect(first.items.every((o) => isCancel === null || o.isCancel === isCancel)).toBe(true);
    for (const [figure, day] of [
      [first.today, today],
      [first.yesterday, yesterday],
    ] as const) {
      const expected = raw.byDay.get(day) ?? { count: 0, amount: 0 };
      expect({ day: figure.day, count: figure.count, amount: kopecks(figure.amount) }).toEqual({
        day,
        count: expected.count,
        amount: kopecks(expected.amount),
      });
    }
    const later = await json<{ items: OrderView[] }>(
      await dashboardApi(token).orders.recent.$get({ query: { status, limit: "50", offset: "20" } }),
    );
    expect(later.items.map((o) => o.srid)).toEqual((await recentOrdersFromRaw(tenant.orgId, isCancel, 50, 20)).srids);
  });

  it("shows order times in Moscow time", async () => {
    const token = await analyst();
    const { items } = await json<{ items: OrderView[] }>(await dashboardApi(token).orders.recent.$get({ query: { limit: "5" } }));
    expect(items).toHaveLength(5);
    for (const o of items) expect(o.date).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+03:00$/);
    expect(items[0]?.date.slice(0, 10) ?? "").toBe(moscowDay(Date.parse(items[0]?.date ?? "")));
  });
});

describe("GET /api/v1/orders/{srid}", () => {
  it("gives the order, its product's stock by size and its last 30 days", async () => {
    const token = await analyst();
    const srids = await someSrids(tenant.orgId, 3);
    expect(srids).toHaveLength(3);
    for (const srid of srids) {
      const sentOn = moscowDay();
      const body = await json<{
        order: OrderView;
        product: { nmId: number; name: string } | null;
        stockBySize: Array<{ techSize: string; quantity: number }>;
        last30Days: {
          range: { from: string; to: string };
          orders: { count: number; amount: number };
          buyouts: { count: number; amount: number };
        };
      }>(await dashboardApi(token).orders[":srid"].$get({ param: { srid } }));
      const today = declaredToday(body.last30Days.range.to, sentOn);
      const raw = await orderContextFromRaw(tenant.orgId, srid, today);
      expect(body.order.srid).toBe(srid);
      expect(body.order.nmId).toBe(raw.nmId);
      expect(body.product?.nmId).toBe(raw.nmId);
      expect(new Map(body.stockBySize.map((s) => [s.techSize, s.quantity]))).toEqual(raw.stock);
      expect(body.stockBySize.length).toBeGreaterThan(0);
      expect(body.stockBySize.map((s) => s.techSize)).toEqual(inSizeOrder(raw.stock.keys()));
      expect(body.last30Days.range).toEqual(periodOf(30, today));
      expect({ count: body.last30Days.orders.count, amount: kopecks(body.last30Days.orders.amount) }).toEqual({
        count: raw.orders.count,
        amount: kopecks(raw.orders.amount),
      });
      expect({ count: body.last30Days.buyouts.count, amount: kopecks(body.last30Days.buyouts.amount) }).toEqual({
        count: raw.buyouts.count,
        amount: kopecks(raw.buyouts.amount),
      });
      expect(body.last30Days.orders.count).toBeGreaterThan(0);
    }
  });
});

/** A node of `EXPLAIN (FORMAT JSON)` (with `ANALYZE`, its actual figures too). */
interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Subplan Name"?: string;
  "Actual Rows"?: number;
  "Index Name"?: string;
  "One-Time Filter"?: string;
  Plans?: PlanNode[];
}

/** Every node of `plan` (depth first, the root included) that `match` accepts. */
function findNodes(plan: PlanNode, match: (node: PlanNode) => boolean): PlanNode[] {
  return [...(match(plan) ? [plan] : []), ...(plan.Plans ?? []).flatMap((child) => findNodes(child, match))];
}

/** The first node of `plan` (depth first, the root included) that `match` accepts. */
const findNode = (plan: PlanNode, match: (node: PlanNode) => boolean): PlanNode | undefined => findNodes(plan, match)[0];
