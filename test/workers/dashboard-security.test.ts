/**
 * Tenant isolation of the dashboard: two orgs synced with different data sets (3,000 orders
 * each); each sees only its own rows and figures, and another org's order is a 404 exactly like
 * an unknown one. The org comes from the token only: headers or parameters naming another org
 * change nothing.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  declaredToday,
  eventFiguresFromRaw,
  json,
  kopecks,
  moscowDay,
  periodOf,
  someSrids,
  stockRowsFromRaw,
  warehouseFiguresFromRaw,
} from "./dashboard-support";
import { addMember, api, createTenant, problem, registerWbToken, syncTenant, type Tenant } from "./helpers";

let a: Tenant;
let b: Tenant;

beforeAll(async () => {
  [a, b] = await Promise.all([
    registerWbToken({ seed: 101, orders: 3000, products: 40, days: 90 }).then((wbToken) => createTenant({ role: "analyst", wbToken })),
    registerWbToken({ seed: 202, orders: 3000, products: 40, days: 90 }).then((wbToken) => createTenant({ role: "owner", wbToken })),
  ]);
  // A's member is an analyst, who may read but not start a sync: an owner of A starts it.
  const owner = { ...a, token: await addMember(a.orgId, "owner") };
  await syncTenant(owner);
  await syncTenant(b);
});

type StocksPage = { items: { nmId: number; barcode: string; warehouseName: string }[]; total: number };

describe("dashboard tenant isolation", () => {
  it("lists only the caller's stock rows", async () => {
    const [mine, theirs] = await Promise.all([stockRowsFromRaw(a.orgId), stockRowsFromRaw(b.orgId)]);
    const theirNmIds = new Set(theirs.map((r) => r.nmId));
    expect(mine.length).toBeGreaterThan(0);
    const page = await json<StocksPage>(await api("/api/v1/stocks?limit=100", { token: a.token }));
    expect(page.total).toBe(mine.length);
    expect(page.items.length).toBe(Math.min(100, mine.length));
    expect(page.items.every((r) => !theirNmIds.has(r.nmId))).toBe(true);
    // Searching for another org's product finds nothing.
    const foreign = theirs.find((r) => !mine.some((m) => m.nmId === r.nmId));
    if (!foreign) throw new Error("data sets overlap");
    const search = await json<StocksPage>(await api(`/api/v1/stocks?q=${foreign.nmId}`, { token: a.token }));
    expect(search).toMatchObject({ items: [], total: 0 });
  });

  it("counts only the caller's warehouses and orders", async () => {
    const expected = await warehouseFiguresFromRaw(a.orgId);
    const { items } = await json<{ items: { name: string; productCount: number; totalQuantity: number }[] }>(
      await api("/api/v1/warehouses", { token: a.token }),
    );
    for (const w of items) {
      expect({ productCount: w.productCount, totalQuantity: w.totalQuantity }, w.name).toEqual(
        expected.get(w.name) ?? { productCount: 0, totalQuantity: 0 },
      );
    }
    expect(expected.size).toBeGreaterThan(0);
    expect(items.map((w) => w.name)).toEqual(expect.arrayContaining([...expected.keys()]));

    const recent = await json<{ items: { srid: string }[]; total: number }>(
      await api("/api/v1/orders/recent?limit=100", { token: a.token }),
    );
    const mine = new Set(await someSrids(a.orgId, 100));
    expect(mine.size).toBe(100);
    expect(recent.items).toHaveLength(100);
    expect(recent.items.map((o) => o.srid).filter((s) => !mine.has(s))).toEqual([]);
  });

  it("computes analytics over the caller's data only", async () => {
    const sentOn = moscowDay();
    const body = await json<{ range: { from: string; to: string }; cards: Record<string, { count: number; amount: number }> }>(
      await api("/api/v1/analytics/summary?period=30d", { token: a.token }),
    );
    const { from, to } = periodOf(30, declaredToday(body.range.to, sentOn));
    expect(body.range).toEqual({ from, to });
    const expected = await eventFiguresFromRaw(a.orgId, from, to);
    expect(expected.orders.count).toBeGreaterThan(0);
    for (const event of ["orders", "buyouts", "cancellations", "returns"] as const) {
      expect(body.cards[event]?.count, event).toBe(expected[event].count);
      expect(kopecks(body.cards[event]?.amount ?? Number.NaN), event).toBe(kopecks(expected[event].amount));
    }
  });

  it("answers another org's order with the same 404 as an unknown srid", async () => {
    const [theirs] = await someSrids(b.orgId, 1);
    if (!theirs) throw new Error("no orders for B");
    expect((await api(`/api/v1/orders/${theirs}`, { token: b.token })).status).toBe(200);
    const foreign = await api(`/api/v1/orders/${theirs}`, { token: a.token });
    const unknown = await api("/api/v1/orders/1.r0000000000000000.0.0", { token: a.token });
    expect(foreign.status).toBe(404);
    expect(unknown.status).toBe(404);
    const [f, u] = [await problem(foreign), await problem(unknown)];
    expect({ title: f.title, detail: f.detail, type: f.type }).toEqual({ title: u.title, detail: u.detail, type: u.type });
  });

  it("ignores org hints in headers and parameters", async () => {
    const res = await api(`/api/v1/orders/recent?orgId=${b.orgId}`, { token: a.token, headers: { "X-Org-Id": b.orgId } });
    expect(res.status).toBe(400);
    const withHeader = await json<{ total: number }>(
      await api("/api/v1/orders/recent", { token: a.token, headers: { "X-Org-Id": b.orgId } }),
    );
    const alone = await json<{ total: number }>(await api("/api/v1/orders/recent?limit=1", { token: a.token }));
    expect(withHeader.total).toBe(alone.total);
  });
});
