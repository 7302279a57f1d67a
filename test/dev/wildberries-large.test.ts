/**
 * The Wildberries double's `large` data set (a big seller: `WB_DATASET=large`, `BENCH_DATASET=large`),
 * on a scaled-down copy: the preset's products, warehouses and order density per day (1,000,000
 * orders over 180 days ≈ 5,600 a day) over 18 days, with the demo's shares of cancellations,
 * buyouts and returns, distinct `lastChangeDate` values per feed at that density, and the double
 * serving it in pages of 100,000 rows (a per-token `rowLimit`), byte for byte `JSON.stringify`.
 * The 1,000,000-order set itself is measured by `npm run bench`, not here.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  generateWbDataset,
  WB_DATASET_PRESETS,
  WB_MAX_WAREHOUSES,
  type WbDataset,
  type WbDatasetOptions,
  wbDatasetPreset,
} from "../../dev/wildberries/dataset";
import { startWbStatisticsDouble, type WbStatisticsDouble } from "../../dev/wildberries/server";
import type { WbOrder } from "../../src/integrations/wildberries/types";

const END_OF_DAY = new Date("2026-11-20T23:59:59+03:00");
const ORDERS = "/api/v1/supplier/orders";
const { large } = WB_DATASET_PRESETS;
/** The large preset's orders per day, over 18 days; its 3,000 products and 40 warehouses. */
const SCALED: WbDatasetOptions = { ...large, days: 18, orders: Math.round((large.orders / large.days) * 18), anchor: END_OF_DAY };

describe("the large data set, scaled down", () => {
  let data: WbDataset;

  beforeAll(() => {
    data = generateWbDataset(SCALED);
  });

  it("is a preset: a big seller's 1,000,000 orders, 3,000 products, 40 warehouses over 180 days; the demo stays the default", () => {
    expect(large).toEqual({ orders: 1_000_000, products: 3_000, warehouses: 40, days: 180 });
    expect(wbDatasetPreset("large")).toEqual({ name: "large", options: large });
    expect(wbDatasetPreset(undefined)).toEqual({ name: "demo", options: {} });
    expect(wbDatasetPreset("")).toEqual({ name: "demo", options: {} });
    expect(() => wbDatasetPreset("huge")).toThrow(/unknown Wildberries data set "huge": use one of demo, large/);
  });

  it("has 40 warehouses with WB's names: 39 of WB and the seller's own, every one shipping orders", () => {
    expect(data.warehouses).toHaveLength(40);
    expect(new Set(data.warehouses.map((w) => w.name)).size).toBe(40);
    expect(data.warehouses.filter((w) => w.type === "Склад продавца").map((w) => w.name)).toEqual(["Мытищи FBS"]);
    expect(data.warehouses.map((w) => w.name)).toEqual(
      expect.arrayContaining(["Коледино", "Электросталь", "Котовск", "Санкт-Петербург Уткина Заводь", "Атакент", "Минск", "Астана"]),
    );
    expect(new Set(data.orders.map((o) => o.warehouseName)).size).toBe(40);
    const wbWarehouses = new Set(data.warehouses.filter((w) => w.type === "Склад WB").map((w) => w.name));
    expect(new Set(data.stocks.map((s) => s.warehouseName))).toEqual(wbWarehouses);
    // A region ships from its own warehouse when the data set has one.
    expect(data.orders.some((o) => o.regionName === "Минская область" && o.warehouseName === "Минск")).toBe(true);
    expect(() => generateWbDataset({ ...SCALED, warehouses: WB_MAX_WAREHOUSES + 1 })).toThrow(RangeError);
  });

  it("covers 3,000 products and every day, with the demo's shares of cancellations, buyouts and returns", () => {
    const { orders, sales } = data;
    expect(orders).toHaveLength(SCALED.orders as number);
    expect(data.products).toHaveLength(3_000);
    expect(new Set(orders.map((o) => o.nmId)).size).toBeGreaterThan(2_500);
    expect(new Set(orders.map((o) => o.date.slice(0, 10))).size).toBe(18);
    const canceled = orders.filter((o) => o.isCancel).length;
    expect(canceled / orders.length).toBeGreaterThan(0.08);
    expect(canceled / orders.length).toBeLessThan(0.12);
    const count = (prefix: string) => sales.filter((s) => s.saleID.startsWith(prefix)).length;
    const [buyouts, returns] = [count("S"), count("R")];
    // Over 18 days the latest ~6 days are not bought out yet: a lower share than over 180.
    expect(buyouts / (orders.length - canceled)).toBeGreaterThan(0.45);
    expect(returns / buyouts).toBeGreaterThan(0.005);
    expect(returns / buyouts).toBeLessThan(0.06);
    expect((sales.length - buyouts - returns) / sales.length).toBeLessThan(0.01);
  });

  it("keeps lastChangeDate distinct and ascending in every feed at the large set's density", () => {
    for (const rows of [data.orders, data.sales, data.stocks] as ReadonlyArray<ReadonlyArray<{ lastChangeDate: string }>>) {
      const unordered = rows.slice(1).filter((row, i) => (rows[i]?.lastChangeDate ?? "") >= row.lastChangeDate);
      expect(unordered.slice(0, 3)).toEqual([]);
    }
  });
});

describe("the double serving the large data set", () => {
  const TOKEN = "wb-token-large";
  const PAGE = 100_000;
  let wb: WbStatisticsDouble;

  beforeAll(async () => {
    // The double's own page size stays WB's; this token's is the bench's 100,000-row page.
    wb = await startWbStatisticsDouble({ rateLimit: { requests: 1000, perMs: 1000 } });
    wb.addToken(TOKEN, SCALED, PAGE);
  });
  afterAll(async () => {
    await wb?.close();
  });

  const page = async (dateFrom: string) => {
    const res = await fetch(`${wb.url}${ORDERS}?dateFrom=${encodeURIComponent(dateFrom)}`, { headers: { Authorization: TOKEN } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
    return res.text();
  };

  it("answers a 100,000-row page as one JSON array, exactly JSON.stringify of those rows, and pages to the end", async () => {
    const orders = wb.dataset(TOKEN)?.orders ?? [];
    expect(orders.length).toBe(SCALED.orders);
    const first = await page("2019-06-20");
    expect(first).toBe(JSON.stringify(orders.slice(0, PAGE)));
    const lastOfFirst = orders[PAGE - 1] as WbOrder;
    const second = JSON.parse(await page(lastOfFirst.lastChangeDate)) as WbOrder[];
    // The inclusive boundary repeats the last row; the rest follows, up to the end.
    expect(second).toEqual(orders.slice(PAGE - 1));
    expect(await page("2026-12-01")).toBe("[]");
  });

  it("refuses a per-token page size below 2", () => {
    expect(() => wb.addToken("tiny", SCALED, 1)).toThrow(RangeError);
  });
});
