/**
 * The Wildberries statistics double (dev/wildberries): the generator's determinism, volumes and row
 * formats, and the HTTP double's auth, paging protocol, `flag` semantics, rate limit, injected
 * faults and control endpoints, over raw fetch.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateWbDataset, toWbDateTime, type WbDataset } from "../../dev/wildberries/dataset";
import { parseDateFrom, startWbStatisticsDouble, type WbStatisticsDouble } from "../../dev/wildberries/server";
import { readWbToken } from "../../src/integrations/wildberries/token";
import type { WbErrorBody, WbOrder, WbSale, WbStock } from "../../src/integrations/wildberries/types";

const END_OF_DAY = new Date("2026-11-20T23:59:59+03:00");
const NOON = new Date("2026-11-20T12:00:00+03:00");
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/;
const ZERO_TIME = "0001-01-01T00:00:00";
const ORDERS = "/api/v1/supplier/orders";
const SALES = "/api/v1/supplier/sales";
const STOCKS = "/api/v1/supplier/stocks";

const sha256 = (value: unknown) => createHash("sha256").update(JSON.stringify(value)).digest("hex");
const isMoney = (x: number) => Number.isFinite(x) && Math.round(x * 100) / 100 === x;
const isEan13 = (code: string) => {
  if (!/^\d{13}$/.test(code)) return false;
  let sum = 0;
  for (let i = 0; i < 12; i++) sum += Number(code[i]) * (i % 2 === 0 ? 1 : 3);
  return (10 - (sum % 10)) % 10 === Number(code[12]);
};
/** Asserts `ok` for every row; a failure shows the first few failing rows, not one expect per row. */
function expectAll<T>(rows: readonly T[], what: string, ok: (row: T, index: number) => boolean): void {
  expect(rows.filter((row, i) => !ok(row, i)).slice(0, 3), what).toEqual([]);
}
const stockKey = (s: WbStock) => `${s.nmId}|${s.barcode}|${s.warehouseName}`;

describe("generateWbDataset", () => {
  let full: WbDataset;

  beforeAll(() => {
    full = generateWbDataset({ anchor: END_OF_DAY });
  });

  it("is deterministic per seed: the same 50,000 orders, sales and stocks again, others for another seed", () => {
    // Only what generation produces is asserted: its duration depends on the machine and its load.
    const again = generateWbDataset({ anchor: END_OF_DAY });
    expect(again.orders).toHaveLength(50_000);
    expect([again.orders.length, again.sales.length, again.stocks.length]).toEqual([
      full.orders.length,
      full.sales.length,
      full.stocks.length,
    ]);
    expect(full.sales.length).toBeGreaterThan(0);
    expect(full.stocks.length).toBeGreaterThan(0);
    expect(sha256(again)).toBe(sha256(full));
    const other = generateWbDataset({ seed: 2, anchor: END_OF_DAY });
    expect(sha256(other)).not.toBe(sha256(full));
    expect(other.orders[0]?.srid).not.toBe(full.orders[0]?.srid);
  });

  it("covers 150 products, 8 warehouses and 180 days with 50,000 orders", () => {
    const { orders } = full;
    expect(full.products.length).toBeGreaterThanOrEqual(150);
    expect(orders).toHaveLength(50_000);
    expect(new Set(orders.map((o) => o.nmId)).size).toBeGreaterThanOrEqual(145);
    expect(new Set(orders.map((o) => o.warehouseName)).size).toBe(8);
    expect(new Set(orders.map((o) => o.warehouseType))).toEqual(new Set(["Склад WB", "Склад продавца"]));
    const days = [...new Set(orders.map((o) => o.date.slice(0, 10)))].sort();
    expect(days).toHaveLength(180);
    expect(days[0]).toBe("2026-05-25");
    expect(days.at(-1)).toBe("2026-11-20");
    expect(full.from).toBe("2026-05-25T00:00:00");
    expect(full.to).toBe("2026-11-20T23:59:59");
  });

  it("has cancellations, buyouts, returns and a few other operations in realistic shares", () => {
    const { orders, sales } = full;
    const canceled = orders.filter((o) => o.isCancel).length;
    expect(canceled / orders.length).toBeGreaterThan(0.08);
    expect(canceled / orders.length).toBeLessThan(0.12);
    const count = (prefix: string) => sales.filter((s) => s.saleID.startsWith(prefix)).length;
    const [buyouts, returns, others] = [count("S"), count("R"), sales.length - count("S") - count("R")];
    expect(buyouts / (orders.length - canceled)).toBeGreaterThan(0.6);
    expect(returns / buyouts).toBeGreaterThan(0.01);
    expect(returns / buyouts).toBeLessThan(0.06);
    expect(others).toBeGreaterThan(0);
    expect(others / sales.length).toBeLessThan(0.01);

    // Popularity is skewed: the top 10 % of products take a large share of the orders.
    const perProduct = new Map<number, number>();
    for (const o of orders) perProduct.set(o.nmId, (perProduct.get(o.nmId) ?? 0) + 1);
    const top = [...perProduct.values()].sort((a, b) => b - a).slice(0, 15);
    expect(top.reduce((a, b) => a + b, 0) / orders.length).toBeGreaterThan(0.4);

    // The latest orders are not bought out yet.
    const sold = new Set(sales.map((s) => s.srid));
    const lastDay = orders.filter((o) => o.date.startsWith("2026-11-20") && !o.isCancel);
    expect(lastDay.length).toBeGreaterThan(100);
    expect(lastDay.some((o) => sold.has(o.srid))).toBe(false);
  });

  it("writes every field in WB's formats", () => {
    const { orders, sales, stocks } = full;
    expectAll(orders, "order timestamps", (o) => DATE_TIME.test(o.date) && DATE_TIME.test(o.lastChangeDate));
    expectAll(orders, "order lastChangeDate >= date", (o) => o.lastChangeDate >= o.date);
    expectAll(orders, "cancelDate", (o) =>
      o.isCancel ? DATE_TIME.test(o.cancelDate) && o.cancelDate > o.date && o.lastChangeDate === o.cancelDate : o.cancelDate === ZERO_TIME,
    );
    expectAll(orders, "srid", (o) => /^\d{1,2}\.r[0-9a-f]{16}\.0\.0$/.test(o.srid));
    expectAll(orders, "gNumber", (o) => /^\d{19}$/.test(o.gNumber));
    expectAll(orders, "barcode", (o) => isEan13(o.barcode));
    expectAll(orders, "priceWithDisc range", (o) => o.priceWithDisc >= 300 && o.priceWithDisc <= 15_000);
    expectAll(orders, "money", (o) => [o.totalPrice, o.priceWithDisc, o.finishedPrice].every(isMoney));
    expectAll(orders, "price order", (o) => o.finishedPrice <= o.priceWithDisc && o.priceWithDisc <= o.totalPrice);
    expectAll(orders, "Russian warehouse", (o) => /[А-Яа-яЁё]/.test(o.warehouseName));
    expectAll(orders, "FBS sticker", (o) => (o.sticker !== "") === (o.warehouseType === "Склад продавца"));
    expect(new Set(orders.map((o) => o.srid)).size).toBe(orders.length);

    const sizes = [...new Set(orders.map((o) => o.techSize))];
    expect(sizes).toContain("0");
    expect(sizes.some((s) => /^(XS|S|M|L|XL|XXL|3XL)$/.test(s))).toBe(true);
    expect(sizes.some((s) => /^\d{2}$/.test(s))).toBe(true);
    expect(sizes.some((s) => /^\d{2}-\d{2}$/.test(s))).toBe(true);

    expectAll(sales, "saleID", (s) => /^[SRD]\d{10}$/.test(s.saleID));
    expectAll(sales, "sale timestamps", (s) => DATE_TIME.test(s.date) && s.lastChangeDate >= s.date);
    expectAll(sales, "sale money", (s) => [s.forPay, s.priceWithDisc, s.finishedPrice, s.paymentSaleAmount].every(isMoney));
    expect(new Set(sales.map((s) => s.saleID)).size).toBe(sales.length);
    const returns = sales.filter((s) => s.saleID.startsWith("R"));
    expect(returns.some((r) => r.forPay < 0 && r.priceWithDisc < 0)).toBe(true);
    expect(returns.some((r) => r.forPay > 0 && r.priceWithDisc > 0)).toBe(true);

    expectAll(stocks, "stock row", (s) => DATE_TIME.test(s.lastChangeDate) && isEan13(s.barcode));
    expectAll(stocks, "quantityFull", (s) => s.quantityFull === s.quantity + s.inWayToClient + s.inWayFromClient);
    expectAll(
      full.products.flatMap((p) => p.sizes),
      "product barcode",
      (size) => isEan13(size.barcode),
    );

    // Every feed is sorted by lastChangeDate with distinct values, so paging makes progress.
    for (const rows of [orders, sales, stocks] as ReadonlyArray<ReadonlyArray<{ lastChangeDate: string }>>) {
      expectAll(rows.slice(1), "strictly ascending lastChangeDate", (row, i) => (rows[i]?.lastChangeDate ?? "") < row.lastChangeDate);
    }
  });

  it("links sales to their orders", () => {
    const ordersBySrid = new Map(full.orders.map((o) => [o.srid, o]));
    expectAll(full.sales, "sale of an open order, later, same item", (s) => {
      const order = ordersBySrid.get(s.srid);
      return (
        order !== undefined &&
        !order.isCancel &&
        s.date > order.date &&
        s.nmId === order.nmId &&
        s.barcode === order.barcode &&
        s.gNumber === order.gNumber
      );
    });
    const buyouts = full.sales.filter((s) => s.saleID.startsWith("S"));
    const buyoutBySrid = new Map(buyouts.map((s) => [s.srid, s]));
    expect(buyoutBySrid.size).toBe(buyouts.length);
    expectAll(
      full.sales.filter((s) => !s.saleID.startsWith("S")),
      "return or other operation after its buyout",
      (r) => r.date > (buyoutBySrid.get(r.srid)?.date ?? "9"),
    );
  });

  it("has no event after the anchor, and a later anchor of the same day shows a superset", () => {
    const latest = (rows: ReadonlyArray<Partial<WbOrder & WbSale & WbStock>>) =>
      rows.reduce<string>((max, r) => [r.date, r.lastChangeDate, r.cancelDate].reduce<string>((m, t) => (t && t > m ? t : m), max), "");
    expect(latest([...full.orders, ...full.sales, ...full.stocks])).toBe("2026-11-20T23:59:59");

    const noon = generateWbDataset({ anchor: NOON });
    expect(noon.to).toBe("2026-11-20T12:00:00");
    expect(latest([...noon.orders, ...noon.sales, ...noon.stocks]) <= "2026-11-20T12:00:00").toBe(true);
    expect(noon.orders.length).toBeLessThan(full.orders.length);
    expect(noon.orders.length).toBeGreaterThan(49_000);
    expect(noon.products).toEqual(full.products);

    const fullOrders = new Map(full.orders.map((o) => [o.srid, o]));
    // A row unchanged after noon is the same row; the others changed later (e.g. canceled).
    expectAll(noon.orders, "known order", (o) => fullOrders.has(o.srid));
    const unchanged = noon.orders.filter((o) => (fullOrders.get(o.srid)?.lastChangeDate ?? "") <= "2026-11-20T12:00:00");
    expect(unchanged.length).toBeLessThan(noon.orders.length);
    expect(unchanged).toEqual(unchanged.map((o) => fullOrders.get(o.srid)));
    const fullSales = new Map(full.sales.map((s) => [s.saleID, s]));
    expectAll(noon.sales, "same saleID, same order", (s) => fullSales.get(s.saleID)?.srid === s.srid);
  });

  it("stocks every size at WB warehouses only, sold-out rows included", () => {
    const { stocks } = full;
    expect(new Set(stocks.map(stockKey)).size).toBe(stocks.length);
    const wbWarehouses = new Set(full.warehouses.filter((w) => w.type === "Склад WB").map((w) => w.name));
    expect(wbWarehouses.size).toBe(7);
    expectAll(stocks, "WB warehouse", (s) => wbWarehouses.has(s.warehouseName));
    const stocked = new Set(stocks.map((s) => s.barcode));
    expectAll(
      full.products.flatMap((p) => p.sizes),
      "stocked size",
      (size) => stocked.has(size.barcode),
    );
    expect(stocks.some((s) => s.quantity === 0)).toBe(true);
    expect(stocks.some((s) => s.quantity > 10)).toBe(true);
    expect(stocks.every((s) => s.lastChangeDate < "2026-11-20T00:00:00")).toBe(true);
  });

  it("formats Moscow time and parses dateFrom as WB does", () => {
    expect(toWbDateTime(Date.parse("2026-11-20T11:03:11Z"))).toBe("2026-11-20T14:03:11");
    expect(parseDateFrom("2026-11-20")?.ms).toBe(Date.parse("2026-11-20T00:00:00+03:00"));
    expect(parseDateFrom("2026-11-20T14:03:11")?.ms).toBe(Date.parse("2026-11-20T14:03:11+03:00"));
    expect(parseDateFrom("2026-11-20T14:03:11.5")?.ms).toBe(Date.parse("2026-11-20T14:03:11.500+03:00"));
    expect(parseDateFrom("2026-11-20T11:03:11Z")?.ms).toBe(Date.parse("2026-11-20T14:03:11+03:00"));
    expect(parseDateFrom("2026-11-20T14:03:11+05:00")?.day).toBe("2026-11-20");
    for (const bad of ["", "yesterday", "2026-13-01", "2026-02-30", "2026-11-20T25:00:00", "20.11.2026"]) {
      expect(parseDateFrom(bad)).toBeUndefined();
    }
  });
});

describe("statistics double over HTTP", () => {
  const TOKEN = "wb-token-main";
  const DENSE = "wb-token-dense";
  const ROW_LIMIT = 400;
  let wb: WbStatisticsDouble;

  beforeAll(async () => {
    wb = await startWbStatisticsDouble({
      rowLimit: ROW_LIMIT,
      tokens: {
        [TOKEN]: { seed: 7, orders: 3_000, products: 40, days: 60, anchor: NOON },
        // ~1,000 orders a day: more than a page, for flag=1.
        [DENSE]: { seed: 8, orders: 20_000, products: 30, days: 20, anchor: NOON },
      },
    });
  });
  afterAll(async () => {
    await wb?.close();
  });

  const get = (path: string, query: Record<string, string>, authorization?: string) =>
    fetch(`${wb.url}${path}?${new URLSearchParams(query)}`, {
      headers: authorization === undefined ? {} : { authorization },
    });

  /** Follows the paging protocol: next dateFrom = last row's lastChangeDate until a short page. */
  async function pageAll<Row extends { lastChangeDate: string }>(path: string, token = TOKEN) {
    const rows: Row[] = [];
    let dateFrom = "2019-06-20";
    let requests = 0;
    for (;;) {
      const res = await get(path, { dateFrom, flag: "0" }, token);
      expect(res.status).toBe(200);
      const page = (await res.json()) as Row[];
      requests++;
      rows.push(...page);
      const last = page.at(-1);
      if (page.length < ROW_LIMIT || last === undefined) break;
      dateFrom = last.lastChangeDate;
      if (requests > 500) throw new Error("paging does not terminate");
    }
    return { rows, requests };
  }

  const expectWbError = async (res: Response, status: number) => {
    expect(res.status).toBe(status);
    expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
    const body = (await res.json()) as WbErrorBody;
    expect(Object.keys(body).sort()).toEqual(
      ["code", "detail", "origin", "requestId", "status", "statusText", "timestamp", "title"].sort(),
    );
    expect(body.status).toBe(status);
    expect(body.timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    return body;
  };

  it("answers 401 without a token or with an unknown one, and takes raw or Bearer tokens", async () => {
    const query = { dateFrom: "2026-11-01" };
    const missing = await expectWbError(await get(ORDERS, query), 401);
    expect(missing.statusText).toBe("Unauthorized");
    await expectWbError(await get(ORDERS, query, "not-a-token"), 401);
    await expectWbError(await get(SALES, query, "Bearer not-a-token"), 401);
    for (const authorization of [TOKEN, `Bearer ${TOKEN}`]) {
      const res = await get(ORDERS, query, authorization);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
      expect(Array.isArray(await res.json())).toBe(true);
    }
  });

  it("answers 400 for a missing or bad dateFrom or flag, 404 for an unknown path", async () => {
    await expectWbError(await get(ORDERS, {}, TOKEN), 400);
    await expectWbError(await get(ORDERS, { dateFrom: "2026-13-45" }, TOKEN), 400);
    await expectWbError(await get(SALES, { dateFrom: "yesterday" }, TOKEN), 400);
    await expectWbError(await get(ORDERS, { dateFrom: "2026-11-01", flag: "2" }, TOKEN), 400);
    await expectWbError(await get("/api/v1/supplier/incomes", { dateFrom: "2026-11-01" }, TOKEN), 404);
  });

  it("pages orders and sales by lastChangeDate: every row exactly once after dedup, and the loop ends", async () => {
    const dataset = wb.dataset(TOKEN);
    if (dataset === undefined) throw new Error("token not registered");
    expect(dataset.orders.length).toBeGreaterThan(ROW_LIMIT * 3);

    const orders = await pageAll<WbOrder>(ORDERS);
    const bySrid = new Map(orders.rows.map((o) => [o.srid, o]));
    expect(bySrid.size).toBe(dataset.orders.length);
    expect([...bySrid.values()]).toEqual(dataset.orders);
    // Each later page repeats exactly one row: the boundary of the inclusive dateFrom.
    expect(orders.rows.length - bySrid.size).toBe(orders.requests - 1);
    expect(orders.requests).toBeGreaterThan(3);

    const sales = await pageAll<WbSale>(SALES);
    const bySaleId = new Map(sales.rows.map((s) => [s.saleID, s]));
    expect(bySaleId.size).toBe(dataset.sales.length);
    expect(sales.rows.length - bySaleId.size).toBe(sales.requests - 1);

    // Incremental sync: from a midpoint, exactly the rows changed since then.
    const mid = dataset.orders[1_000];
    if (mid === undefined) throw new Error("short data set");
    const res = await get(ORDERS, { dateFrom: mid.lastChangeDate }, TOKEN);
    const page = (await res.json()) as WbOrder[];
    expect(page).toHaveLength(ROW_LIMIT);
    expect(page[0]).toEqual(mid);
    expect(page).toEqual(dataset.orders.slice(1_000, 1_000 + ROW_LIMIT));
  });

  it("compares dateFrom with an offset as an instant, and Moscow time without one", async () => {
    const dataset = wb.dataset(TOKEN);
    const expected = dataset?.orders.filter((o) => o.lastChangeDate >= "2026-11-10T03:00:00").slice(0, ROW_LIMIT);
    const utc = await (await get(ORDERS, { dateFrom: "2026-11-10T00:00:00Z" }, TOKEN)).json();
    const moscow = await (await get(ORDERS, { dateFrom: "2026-11-10T03:00:00" }, TOKEN)).json();
    expect(utc).toEqual(expected);
    expect(moscow).toEqual(expected);
  });

  it("flag=1 answers every row dated on dateFrom's day, time ignored, beyond the row limit", async () => {
    const dataset = wb.dataset(DENSE);
    if (dataset === undefined) throw new Error("token not registered");
    const day = "2026-11-15";
    const expectedOrders = dataset.orders.filter((o) => o.date.startsWith(day));
    expect(expectedOrders.length).toBeGreaterThan(ROW_LIMIT);
    for (const dateFrom of [day, `${day}T17:45:00`]) {
      const res = await get(ORDERS, { dateFrom, flag: "1" }, DENSE);
      expect(await res.json()).toEqual(expectedOrders);
    }
    const sales = (await (await get(SALES, { dateFrom: `${day}T23:00:00`, flag: "1" }, DENSE)).json()) as WbSale[];
    expect(sales).toEqual(dataset.sales.filter((s) => s.date.startsWith(day)));
    expect(sales.length).toBeGreaterThan(0);
    // flag=0 from the same day: every change since then, capped by the row limit.
    const changed = (await (await get(ORDERS, { dateFrom: day }, DENSE)).json()) as WbOrder[];
    expect(changed).toHaveLength(ROW_LIMIT);
    expect(changed.every((o) => o.lastChangeDate >= `${day}T00:00:00`)).toBe(true);
  });

  it("serves stocks with the same paging and ignores flag", async () => {
    const dataset = wb.dataset(DENSE);
    const stocks = await pageAll<WbStock>(STOCKS, DENSE);
    const byKey = new Map(stocks.rows.map((s) => [stockKey(s), s]));
    expect(byKey.size).toBe(dataset?.stocks.length);
    expect(stocks.rows.length - byKey.size).toBe(stocks.requests - 1);
    const flag0 = await (await get(STOCKS, { dateFrom: "2026-11-10" }, DENSE)).json();
    const flag1 = await (await get(STOCKS, { dateFrom: "2026-11-10", flag: "1" }, DENSE)).json();
    expect(flag1).toEqual(flag0);
  });

  it("injects faults: after N passing requests, the next `times` fail", async () => {
    const query = { dateFrom: "2026-11-19" };
    wb.injectFault({ path: ORDERS, status: 500, times: 2, after: 1 });
    expect((await get(ORDERS, query, TOKEN)).status).toBe(200);
    expect((await get(SALES, query, TOKEN)).status).toBe(200);
    await expectWbError(await get(ORDERS, query, TOKEN), 500);
    await expectWbError(await get(ORDERS, query, TOKEN), 500);
    expect((await get(ORDERS, query, TOKEN)).status).toBe(200);

    wb.injectFault({ path: "*", status: 429, times: 1, retryAfterSeconds: 3 });
    const limited = await get(SALES, query, TOKEN);
    expect(limited.headers.get("x-ratelimit-retry")).toBe("3");
    await expectWbError(limited, 429);
    expect((await get(SALES, query, TOKEN)).status).toBe(200);

    // A request without a valid token is answered 401 before any fault.
    wb.injectFault({ path: ORDERS, status: 500, times: 1 });
    await expectWbError(await get(ORDERS, query), 401);
    wb.clearFaults();
    expect((await get(ORDERS, query, TOKEN)).status).toBe(200);
  });

  it("control endpoints register tokens, inject and clear faults, and set the rate limit", async () => {
    const post = (path: string, body: unknown) => fetch(`${wb.url}${path}`, { method: "POST", body: JSON.stringify(body) });
    const registered = await post("/__control/tokens", {
      token: "from-worker",
      seed: 3,
      orders: 600,
      products: 12,
      days: 10,
      anchor: END_OF_DAY.toISOString(),
    });
    expect(registered.status).toBe(201);
    const orders = (await (await get(ORDERS, { dateFrom: "2019-06-20" }, "from-worker")).json()) as WbOrder[];
    expect(orders).toHaveLength(400);
    expect(wb.dataset("from-worker")?.orders).toHaveLength(600);
    expect((await post("/__control/tokens", { token: "" })).status).toBe(400);
    expect((await post("/__control/tokens", { categories: ["statistics", "nonsense"] })).status).toBe(400);
    expect((await post("/__control/tokens", { expiresAt: "soon" })).status).toBe(400);

    expect((await post("/__control/faults", { path: SALES, status: 500, times: 5 })).status).toBe(201);
    await expectWbError(await get(SALES, { dateFrom: "2026-11-19" }, "from-worker"), 500);
    expect((await fetch(`${wb.url}/__control/faults`, { method: "DELETE" })).status).toBe(200);
    expect((await get(SALES, { dateFrom: "2026-11-19" }, "from-worker")).status).toBe(200);
    expect((await post("/__control/faults", { path: SALES, status: 418, times: 1 })).status).toBe(400);

    expect((await post("/__control/rate-limit", { requests: 1, perMs: 60_000 })).status).toBe(200);
    expect((await get(STOCKS, { dateFrom: "2026-11-19" }, "from-worker")).status).toBe(200);
    await expectWbError(await get(STOCKS, { dateFrom: "2026-11-19" }, "from-worker"), 429);
    expect((await fetch(`${wb.url}/__control/rate-limit`, { method: "DELETE" })).status).toBe(200);
    expect((await get(STOCKS, { dateFrom: "2026-11-19" }, "from-worker")).status).toBe(200);
  });

  it("issues JWT-shaped tokens with exp and the category bitmask s, and answers GET /ping like WB", async () => {
    const post = (path: string, body: unknown) => fetch(`${wb.url}${path}`, { method: "POST", body: JSON.stringify(body) });
    const issued = await post("/__control/tokens", { orders: 50, products: 3, days: 3, anchor: NOON.toISOString() });
    expect(issued.status).toBe(201);
    const { token } = (await issued.json()) as { token: string };
    const claims = readWbToken(token);
    expect(claims.categories).toEqual(["statistics"]);
    const days = (claims.expiresAt.getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(179.9);
    expect(days).toBeLessThanOrEqual(180);
    const payload = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString()) as Record<string, unknown>;
    expect(payload).toMatchObject({ s: 32, exp: expect.any(Number), sid: expect.any(String), t: false });

    // TS has whole seconds: it lies between the second the request was sent in and the answer.
    const sentAt = Math.floor(Date.now() / 1000) * 1000;
    const ping = await fetch(`${wb.url}/ping`, { headers: { authorization: token } });
    const answeredAt = Date.now();
    expect(ping.status).toBe(200);
    expect(ping.headers.get("content-type")).toBe("application/json; charset=utf-8");
    const body = (await ping.json()) as { TS: string; Status: string };
    expect(body.Status).toBe("OK");
    expect(body.TS).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+03:00$/);
    expect(Date.parse(body.TS)).toBeGreaterThanOrEqual(sentAt);
    expect(Date.parse(body.TS)).toBeLessThanOrEqual(answeredAt);
    // The plain tokens (the demo's) are accepted as ever.
    expect((await fetch(`${wb.url}/ping`, { headers: { authorization: TOKEN } })).status).toBe(200);
    await expectWbError(await fetch(`${wb.url}/ping`, { headers: { authorization: "not-a-token" } }), 401);
    await expectWbError(await fetch(`${wb.url}/ping`), 401);
    await expectWbError(await fetch(`${wb.url}/ping`, { method: "POST", headers: { authorization: token } }), 405);
    wb.injectFault({ path: "/ping", status: 500, times: 1 });
    await expectWbError(await fetch(`${wb.url}/ping`, { headers: { authorization: token } }), 500);
    expect((await fetch(`${wb.url}/ping`, { headers: { authorization: token } })).status).toBe(200);
  });

  it("refuses a revoked token, an expired one and one without the Statistics category with WB's 401", async () => {
    const post = (path: string, body: unknown) => fetch(`${wb.url}${path}`, { method: "POST", body: JSON.stringify(body) });
    const issue = async (body: Record<string, unknown>) =>
      ((await (await post("/__control/tokens", { orders: 20, products: 2, days: 2, ...body })).json()) as { token: string }).token;
    const detail = async (token: string, path = ORDERS) =>
      (await expectWbError(await get(path, { dateFrom: "2026-11-01" }, token), 401)).detail;

    const revoked = await issue({});
    expect((await get(ORDERS, { dateFrom: "2026-11-01" }, revoked)).status).toBe(200);
    expect((await post("/__control/tokens/revoke", { token: revoked })).status).toBe(200);
    expect(await detail(revoked)).toBe("token is not valid: token withdrawn");
    expect(await detail(revoked, "/ping")).toBe("token is not valid: token withdrawn");
    expect((await post("/__control/tokens/revoke", { token: "never-issued" })).status).toBe(404);

    const expired = await issue({ expiresAt: new Date(Date.now() - 60_000).toISOString() });
    expect(readWbToken(expired).expiresAt.getTime()).toBeLessThan(Date.now());
    expect(await detail(expired)).toBe("token is not valid: token expired");

    const contentOnly = await issue({ categories: ["content", "prices"] });
    expect(readWbToken(contentOnly).categories).toEqual(["content", "prices"]);
    expect(await detail(contentOnly, "/ping")).toBe("token scope not allowed");
  });

  it("overwrites fields of one row of a token's feed (POST /__control/rows)", async () => {
    const post = (path: string, body: unknown) => fetch(`${wb.url}${path}`, { method: "POST", body: JSON.stringify(body) });
    const { token } = (await (
      await post("/__control/tokens", { orders: 40, products: 3, days: 3, anchor: NOON.toISOString() })
    ).json()) as {
      token: string;
    };
    const before = (await (await get(STOCKS, { dateFrom: "2019-06-20" }, token)).json()) as WbStock[];
    const patched = await post("/__control/rows", { token, feed: "stocks", set: { quantity: 3_000_000_000 } });
    expect(patched.status).toBe(200);
    const after = (await (await get(STOCKS, { dateFrom: "2019-06-20" }, token)).json()) as WbStock[];
    expect(after.at(-1)).toEqual({ ...before.at(-1), quantity: 3_000_000_000 });
    expect(after.slice(0, -1)).toEqual(before.slice(0, -1));
    // Moving a row's lastChangeDate re-sorts the feed.
    await post("/__control/rows", { token, feed: "stocks", index: 0, set: { lastChangeDate: "2099-01-01T00:00:00" } });
    const resorted = (await (await get(STOCKS, { dateFrom: "2019-06-20" }, token)).json()) as WbStock[];
    expect(resorted.at(-1)?.lastChangeDate).toBe("2099-01-01T00:00:00");
    expect((await post("/__control/rows", { token, feed: "stocks", index: 10_000, set: {} })).status).toBe(400);
    expect((await post("/__control/rows", { token: "never-issued", feed: "stocks", set: {} })).status).toBe(404);
  });

  it("counts requests per path; /__stats and /__control are not counted", async () => {
    wb.resetStats();
    await get(ORDERS, { dateFrom: "2026-11-19" }, TOKEN);
    await get(ORDERS, { dateFrom: "2026-11-19" });
    await get(STOCKS, { dateFrom: "2026-11-19" }, TOKEN);
    await fetch(`${wb.url}/__control/faults`, { method: "DELETE" });
    const stats = await (await fetch(`${wb.url}/__stats`)).json();
    expect(stats).toEqual({ requests: 3, byPath: { [ORDERS]: 2, [STOCKS]: 1 } });
    expect(wb.stats()).toEqual(stats);
    const reset = await fetch(`${wb.url}/__stats/reset`, { method: "POST" });
    expect(reset.status).toBe(200);
    expect(wb.stats()).toEqual({ requests: 0, byPath: {} });
  });
});

describe("releasing a generated data set", () => {
  it("drops it and generates the same rows again, even from options without an anchor", async () => {
    // No anchor: generated at the current time, which must be kept for the same rows to come back.
    const options = { seed: 11, orders: 500, products: 12, days: 10 };
    const wb = await startWbStatisticsDouble({ tokens: { t: options }, rowLimit: 100_000 });
    try {
      expect(wb.releaseDataset("t")).toBe(false); // not generated yet
      const read = async () =>
        (await (await fetch(`${wb.url}${ORDERS}?dateFrom=2019-06-20`, { headers: { authorization: "t" } })).json()) as WbOrder[];
      const before = await read();
      const generated = wb.dataset("t");
      await new Promise((resolve) => setTimeout(resolve, 1_100)); // a later second: "now" has moved
      expect(wb.releaseDataset("t")).toBe(true);
      expect(wb.releaseDataset("t")).toBe(false); // nothing left to drop
      const again = wb.dataset("t");
      expect(again).not.toBe(generated);
      expect(again).toEqual(generated);
      expect(await read()).toEqual(before);
      expect(before.length).toBeGreaterThan(0);
      expect(wb.releaseDataset("unknown")).toBe(false);
      // A data set registered as such is the caller's: it is never dropped.
      wb.addToken("ready", generateWbDataset(options));
      wb.dataset("ready");
      expect(wb.releaseDataset("ready")).toBe(false);
    } finally {
      await wb.close();
    }
  });
});

describe("rate limit", () => {
  let wb: WbStatisticsDouble;
  const small = { seed: 5, orders: 200, products: 10, days: 7, anchor: NOON };

  beforeAll(async () => {
    wb = await startWbStatisticsDouble({
      tokens: { a: small, b: small },
      rateLimit: { requests: 2, perMs: 60_000 },
    });
  });
  afterAll(async () => {
    await wb?.close();
  });

  const get = (path: string, token: string) => fetch(`${wb.url}${path}?dateFrom=2026-11-15`, { headers: { authorization: token } });

  it("answers 429 with X-Ratelimit-* headers per token and feed, and refills over time", async () => {
    const first = await get(ORDERS, "a");
    expect(first.status).toBe(200);
    expect(first.headers.get("x-ratelimit-limit")).toBe("2");
    expect(first.headers.get("x-ratelimit-remaining")).toBe("1");
    expect((await get(ORDERS, "a")).status).toBe(200);

    const limited = await get(ORDERS, "a");
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("x-ratelimit-retry"))).toBeGreaterThanOrEqual(29);
    expect(Number(limited.headers.get("x-ratelimit-retry"))).toBeLessThanOrEqual(30);
    expect(limited.headers.get("x-ratelimit-limit")).toBe("2");
    expect(limited.headers.get("x-ratelimit-remaining")).toBe("0");
    expect(Number(limited.headers.get("x-ratelimit-reset"))).toBeGreaterThanOrEqual(59);
    const body = (await limited.json()) as WbErrorBody;
    expect([body.status, body.statusText, body.title]).toEqual([429, "Too Many Requests", "too many requests"]);

    // Other feeds and other tokens have their own buckets.
    expect((await get(SALES, "a")).status).toBe(200);
    expect((await get(ORDERS, "b")).status).toBe(200);

    wb.setRateLimit({ requests: 1, perMs: 150 });
    expect((await get(ORDERS, "a")).status).toBe(200);
    const again = await get(ORDERS, "a");
    expect(again.status).toBe(429);
    expect(again.headers.get("x-ratelimit-retry")).toBe("1");
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await get(ORDERS, "a")).status).toBe(200);
  });
});
