/**
 * The Wildberries double's fault shapes beyond 429/500 (dev/wildberries/server.ts), over raw fetch:
 * WB's 401/403 refusals, a 200 whose body is not JSON or has a changed shape, a request held until
 * the test releases it, a per-token page size (WB's 80,000 rows), and rows added or changed late.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startWbStatisticsDouble, type WbStatisticsDouble } from "../../dev/wildberries/server";
import type { WbErrorBody, WbOrder, WbSale } from "../../src/integrations/wildberries/types";

const ORDERS = "/api/v1/supplier/orders";
const SALES = "/api/v1/supplier/sales";
const ANCHOR = "2026-11-20T23:59:59+03:00";
const TOKEN = "faults-token";

let wb: WbStatisticsDouble;
const post = (path: string, body: unknown) => fetch(`${wb.url}${path}`, { method: "POST", body: JSON.stringify(body) });
const feed = (path: string, token = TOKEN, dateFrom = "2019-06-20") =>
  fetch(`${wb.url}${path}?dateFrom=${dateFrom}&flag=0`, { headers: { Authorization: token } });

beforeAll(async () => {
  wb = await startWbStatisticsDouble({
    rowLimit: 100,
    anchor: new Date(ANCHOR),
    tokens: { [TOKEN]: { orders: 300, products: 5, days: 5 } },
  });
});
afterEach(async () => {
  await fetch(`${wb.url}/__control/faults`, { method: "DELETE" });
});
afterAll(async () => {
  await wb.close();
});

describe("faults", () => {
  it("answers WB's 401 and 403 refusals with WB's error body", async () => {
    expect((await post("/__control/faults", { path: ORDERS, status: 401, times: 1 })).status).toBe(201);
    expect((await post("/__control/faults", { path: ORDERS, status: 403, times: 1 })).status).toBe(201);
    const unauthorized = await feed(ORDERS);
    expect(unauthorized.status).toBe(401);
    expect((await unauthorized.json()) as WbErrorBody).toMatchObject({ title: "unauthorized", detail: "injected fault", status: 401 });
    const forbidden = await feed(ORDERS);
    expect(forbidden.status).toBe(403);
    expect((await forbidden.json()) as WbErrorBody).toMatchObject({ title: "forbidden", statusText: "Forbidden", status: 403 });
    expect((await feed(ORDERS)).status).toBe(200);
  });

  it("answers 200 with an HTML page, or with rows whose nmId is renamed nmID", async () => {
    await post("/__control/faults", { path: ORDERS, status: 200, body: "not-json", times: 1 });
    await post("/__control/faults", { path: SALES, status: 200, body: "renamed-field", times: 1 });
    const html = await feed(ORDERS);
    expect(html.status).toBe(200);
    expect(html.headers.get("Content-Type")).toBe("text/html");
    await expect(html.clone().json()).rejects.toThrow();
    expect(await html.text()).toContain("<html>");
    const renamed = (await (await feed(SALES)).json()) as Array<Record<string, unknown>>;
    expect(renamed.length).toBeGreaterThan(0);
    expect(renamed.every((r) => typeof r.nmID === "number" && !("nmId" in r))).toBe(true);
    const normal = (await (await feed(SALES)).json()) as WbSale[];
    expect(normal.every((r) => typeof r.nmId === "number")).toBe(true);
  });

  it("refuses a fault without status or hold, a 200 without a body and a body on another status", async () => {
    for (const fault of [
      { path: ORDERS, times: 1 },
      { path: ORDERS, status: 200, times: 1 },
      { path: ORDERS, status: 500, body: "not-json", times: 1 },
      { path: ORDERS, status: 500, hold: true, times: 1 },
      { path: ORDERS, status: 200, body: "gibberish", times: 1 },
    ]) {
      expect((await post("/__control/faults", fault)).status, JSON.stringify(fault)).toBe(400);
    }
  });

  it("holds a request until it is released, then serves it normally", async () => {
    await post("/__control/faults", { path: ORDERS, hold: true, times: 1 });
    let answered = false;
    const pending = feed(ORDERS).then((res) => {
      answered = true;
      return res;
    });
    await expect.poll(async () => ((await (await fetch(`${wb.url}/__control/faults`)).json()) as { held: number }).held).toBe(1);
    // Another request is not held (times: 1) and is answered while the first waits.
    expect((await feed(ORDERS)).status).toBe(200);
    expect(answered).toBe(false);
    expect(await (await post("/__control/faults/release", {})).json()).toEqual({ released: 1 });
    const res = await pending;
    expect(res.status).toBe(200);
    expect(((await res.json()) as WbOrder[]).length).toBe(100);
    expect(await (await fetch(`${wb.url}/__control/faults`)).json()).toEqual({ faults: 0, held: 0 });
  });
});

describe("per-token page size and late rows", () => {
  it("pages a token registered with rowLimit by that many rows, others by the double's", async () => {
    const registered = await post("/__control/tokens", { token: "big-pages", orders: 3_000, products: 5, days: 5, rowLimit: 80_000 });
    expect(registered.status).toBe(201);
    expect(((await (await feed(ORDERS, "big-pages")).json()) as WbOrder[]).length).toBe(3_000);
    expect(((await (await feed(ORDERS)).json()) as WbOrder[]).length).toBe(100);
    expect((await post("/__control/tokens", { token: "bad", rowLimit: 1 })).status).toBe(400);
  });

  it("adds a copy of a row with `set` applied (copy: true), leaving the row itself alone", async () => {
    const before = wb.dataset(TOKEN)?.sales.length ?? 0;
    const [first] = wb.dataset(TOKEN)?.sales ?? [];
    const res = await post("/__control/rows", {
      token: TOKEN,
      feed: "sales",
      index: 0,
      copy: true,
      set: { saleID: "R999999999", lastChangeDate: "2099-01-01T00:00:00" },
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { row: WbSale }).row).toMatchObject({ saleID: "R999999999", srid: first?.srid });
    expect(wb.dataset(TOKEN)?.sales).toHaveLength(before + 1);
    const newest = (await (await feed(SALES, TOKEN, "2098-12-31")).json()) as WbSale[];
    expect(newest.map((s) => s.saleID)).toEqual(["R999999999"]);
    expect(wb.dataset(TOKEN)?.sales.some((s) => s.saleID === first?.saleID)).toBe(true);
  });
});
