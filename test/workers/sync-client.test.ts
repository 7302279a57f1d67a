/**
 * The Wildberries statistics client and WB time helpers, against the WB double (real HTTP,
 * WB's error bodies and headers) and a closed port.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  createWbStatisticsClient,
  retryAfterSeconds,
  WbAuthError,
  WbRateLimitError,
  WbResponseError,
  WbUnavailableError,
} from "../../src/integrations/wildberries/client";
import { toWbDateTime, wbTimeToEpochMs, wbTimeToTimestamptz, wbTimeToTimestamptzOrNull } from "../../src/integrations/wildberries/time";
import { initialDateFrom } from "../../src/jobs/wb-sync";
import { saleKind } from "../../src/jobs/wb-sync-writes";
import { adapterUrl, registerWbToken } from "./helpers";
import { changeWbRow, clearWbFaults, injectWbFault, releaseWbRequests } from "./sync-support";

afterEach(clearWbFaults);

const client = (token: string, baseUrl = adapterUrl("wb")) => createWbStatisticsClient({ baseUrl, token, timeoutMs: 5_000 });

describe("WB time", () => {
  it("writes the Moscow offset out and reads the zero time as null", () => {
    expect(wbTimeToTimestamptz("2026-11-20T14:03:11")).toBe("2026-11-20T14:03:11+03:00");
    expect(wbTimeToTimestamptz("2026-11-20T14:03:11.25")).toBe("2026-11-20T14:03:11.25+03:00");
    expect(wbTimeToTimestamptzOrNull("0001-01-01T00:00:00")).toBeNull();
    expect(wbTimeToTimestamptzOrNull("")).toBeNull();
    expect(() => wbTimeToTimestamptz("2026-11-20 14:03:11")).toThrow(RangeError);
    expect(new Date(wbTimeToEpochMs("2026-11-20T14:03:11")).toISOString()).toBe("2026-11-20T11:03:11.000Z");
    expect(toWbDateTime(Date.UTC(2026, 10, 20, 22, 30, 5))).toBe("2026-11-21T01:30:05");
    expect(initialDateFrom("orders", Date.UTC(2026, 10, 21, 12))).toBe("2026-05-25T00:00:00");
    expect(initialDateFrom("stocks")).toBe("2019-06-20T00:00:00");
  });

  it("classifies sales by the saleID prefix", () => {
    expect([saleKind("S123"), saleKind("R9"), saleKind("D1"), saleKind("A5")]).toEqual(["buyout", "return", "other", "other"]);
  });
});

describe("WB statistics client", () => {
  it("reads the three feeds with dateFrom and the raw token, rows sorted by lastChangeDate", async () => {
    const wb = client(await registerWbToken({ orders: 200, products: 5, days: 10, seed: 301 }));
    const [orders, sales, stocks] = await Promise.all([
      wb.orders("2019-06-20T00:00:00"),
      wb.sales("2019-06-20T00:00:00"),
      wb.stocks("2019-06-20T00:00:00"),
    ]);
    expect(orders.length).toBeGreaterThan(100);
    expect(sales.length).toBeGreaterThan(0);
    expect(stocks.length).toBeGreaterThan(0);
    const changes = orders.map((o) => o.lastChangeDate);
    expect([...changes].sort()).toEqual(changes);
    expect(orders[0]).toMatchObject({ srid: expect.any(String), nmId: expect.any(Number), priceWithDisc: expect.any(Number) });
    const later = await wb.orders(changes.at(-1) as string);
    expect(later.map((o) => o.srid)).toEqual([orders.at(-1)?.srid]);
  });

  it('reads text fields WB sends as null as "", keeps the others as sent, and drops fields it does not know', async () => {
    const token = await registerWbToken({ orders: 50, products: 3, days: 5, seed: 303 });
    const nulls = {
      gNumber: null,
      regionName: null,
      supplierArticle: null,
      barcode: null,
      techSize: null,
      brand: null,
      subject: null,
      category: null,
    };
    const sent = await changeWbRow({ token, feed: "orders", index: 0, set: { ...nulls, fieldWbAddedLater: 1 } });
    const [first, second] = await client(token).orders("2019-06-20T00:00:00");
    expect(first?.srid).toBe(sent.srid);
    expect(first).toMatchObject({
      gNumber: "",
      regionName: "",
      supplierArticle: "",
      barcode: "",
      techSize: "",
      brand: "",
      subject: "",
      category: "",
    });
    expect(first).toMatchObject({ nmId: sent.nmId, warehouseName: sent.warehouseName, priceWithDisc: sent.priceWithDisc, date: sent.date });
    expect(first).not.toHaveProperty("fieldWbAddedLater");
    // A row WB sent whole keeps its text.
    expect(second?.brand).not.toBe("");
    expect(second?.supplierArticle).not.toBe("");
    // A field the sync needs is still required: null where a number belongs is a bad shape.
    await changeWbRow({ token, feed: "orders", index: 1, set: { nmId: null } });
    expect(
      await client(token)
        .orders("2019-06-20T00:00:00")
        .catch((err: unknown) => err),
    ).toBeInstanceOf(WbResponseError);
  });

  it("streams a page in slices of at most sliceRows, every row once and in order, whatever the parse pieces", async () => {
    const wb = client(await registerWbToken({ orders: 3_000, products: 20, days: 30, seed: 302 }));
    const whole = await wb.orders("2019-06-20T00:00:00");
    expect(whole.length).toBeGreaterThan(2_500); // more than two of the client's 1,000-row parse pieces
    for (const sliceRows of [1, 999, 1_000, 2_500, 100_000]) {
      const slices: number[] = [];
      const srids: string[] = [];
      for await (const slice of wb.pageSlices("orders", "2019-06-20T00:00:00", sliceRows)) {
        slices.push(slice.length);
        for (const row of slice) srids.push(row.srid);
      }
      expect(srids, `sliceRows ${sliceRows}`).toEqual(whole.map((o) => o.srid));
      expect(slices.slice(0, -1).every((n) => n === sliceRows)).toBe(true);
      expect(slices.at(-1)).toBeLessThanOrEqual(sliceRows);
    }
  });

  it("times WB, not the caller: a reader slower than the limit in all reads the whole page; headers that never come time out", async () => {
    const token = await registerWbToken({ orders: 20_000, products: 20, days: 30, seed: 303 });
    const whole = await client(token).orders("2019-06-20T00:00:00");
    // 20 slices, 100 ms of the caller's own work after each (a sync writing the slice): 2 s in
    // all, four times the limit. The limit is on each read of the body, so none of it counts.
    const slow = createWbStatisticsClient({ baseUrl: adapterUrl("wb"), token, timeoutMs: 500 });
    const srids: string[] = [];
    const started = Date.now();
    expect(whole.length).toBeGreaterThan(2_000);
    for await (const slice of slow.pageSlices("orders", "2019-06-20T00:00:00", Math.ceil(whole.length / 20))) {
      for (const row of slice) srids.push(row.srid);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_000);
    expect(srids).toEqual(whole.map((o) => o.srid));

    await injectWbFault({ path: "/api/v1/supplier/orders", hold: true, times: 1 });
    const held = await slow.orders("2019-06-20T00:00:00").catch((err: unknown) => err);
    expect(held).toBeInstanceOf(WbUnavailableError);
    expect((held as WbUnavailableError).message).toBe("GET /api/v1/supplier/orders: timed out after 500 ms");
    expect(await releaseWbRequests()).toBe(1);
  });

  it("maps WB errors: 401 → WbAuthError, 429 → WbRateLimitError(X-Ratelimit-Retry), 500 → WbUnavailableError, 400 → WbResponseError", async () => {
    await expect(client("not-a-token").orders("2026-01-01")).rejects.toBeInstanceOf(WbAuthError);
    const wb = client(await registerWbToken({ orders: 50, products: 3, days: 5, seed: 302 }));
    await injectWbFault({ path: "/api/v1/supplier/sales", status: 429, times: 1, retryAfterSeconds: 42 });
    const limited = await wb.sales("2026-01-01").catch((err: unknown) => err);
    expect(limited).toBeInstanceOf(WbRateLimitError);
    expect((limited as WbRateLimitError).retryAfterSeconds).toBe(42);
    await injectWbFault({ path: "/api/v1/supplier/stocks", status: 500, times: 1 });
    const down = await wb.stocks("2026-01-01").catch((err: unknown) => err);
    expect(down).toBeInstanceOf(WbUnavailableError);
    expect((down as WbUnavailableError).status).toBe(500);
    expect(await wb.orders("yesterday").catch((err: unknown) => err)).toBeInstanceOf(WbResponseError);
  });

  it("reports a network failure as WbUnavailableError, never the token", async () => {
    const err = await client("secret-token-value", "http://127.0.0.1:9")
      .orders("2026-01-01")
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WbUnavailableError);
    expect(String((err as Error).message)).not.toContain("secret-token-value");
  });

  it("falls back from X-Ratelimit-Retry to Retry-After (seconds or date), then to 60 s", () => {
    const now = Date.UTC(2026, 10, 21, 12, 0, 0);
    expect(retryAfterSeconds(new Headers({ "X-Ratelimit-Retry": "3", "Retry-After": "10" }))).toBe(3);
    expect(retryAfterSeconds(new Headers({ "Retry-After": "10" }))).toBe(10);
    expect(retryAfterSeconds(new Headers({ "Retry-After": new Date(now + 30_000).toUTCString() }), now)).toBe(30);
    expect(retryAfterSeconds(new Headers())).toBe(60);
  });
});
