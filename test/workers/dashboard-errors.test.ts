/**
 * Dashboard errors and access: validation problems (with the failing fields), the common auth
 * cases of every route, and the answers of an org without any data. No sync needed.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { dashboardPaths, declaredToday, expectDashboardAuth, json, moscowDay, shiftDay } from "./dashboard-support";
import { api, createTenant, problem, type Tenant } from "./helpers";

let tenant: Tenant;

beforeAll(async () => {
  tenant = await createTenant({ role: "owner" });
});

/** Asserts a 400 problem whose `errors` name exactly `paths` (in any order). */
async function expectInvalid(path: string, paths: string[]): Promise<void> {
  const res = await api(path, { token: tenant.token });
  expect(res.status, path).toBe(400);
  const body = await problem(res);
  expect(body).toMatchObject({ status: 400, title: "Validation failed", instance: new URL(`https://x${path}`).pathname });
  expect(body.errors?.map((e) => e.path).sort(), path).toEqual([...paths].sort());
  for (const e of body.errors ?? []) expect(e.message.length).toBeGreaterThan(0);
}

describe("dashboard validation", () => {
  it("rejects an unknown or malformed period on every analytics route", async () => {
    for (const route of ["sales", "summary", "daily-trends"]) {
      await expectInvalid(`/api/v1/analytics/${route}?period=8d`, ["period"]);
      await expectInvalid(`/api/v1/analytics/${route}?period=`, ["period"]);
      await expectInvalid(`/api/v1/analytics/${route}?period=7d&period=30d`, ["period"]);
    }
  });

  it("rejects an unknown chart format", async () => {
    await expectInvalid("/api/v1/analytics/daily-trends?format=png", ["format"]);
  });

  it("rejects unknown parameters, so a typo is not a silently ignored filter", async () => {
    await expectInvalid("/api/v1/analytics/sales?perod=7d", ["(root)"]);
    await expectInvalid("/api/v1/warehouses?x=1", ["(root)"]);
    await expectInvalid("/api/v1/sizes?x=1", ["(root)"]);
    await expectInvalid("/api/v1/stocks?warehouse=A", ["(root)"]);
  });

  it("rejects limits outside 1–100, a negative or non-numeric offset and an over-long q, listing every field", async () => {
    await expectInvalid("/api/v1/stocks?limit=0", ["limit"]);
    await expectInvalid("/api/v1/stocks?limit=101", ["limit"]);
    await expectInvalid("/api/v1/stocks?limit=abc", ["limit"]);
    await expectInvalid("/api/v1/stocks?limit=1.5", ["limit"]);
    await expectInvalid("/api/v1/stocks?offset=-1", ["offset"]);
    await expectInvalid(`/api/v1/stocks?q=${"x".repeat(101)}`, ["q"]);
    await expectInvalid("/api/v1/stocks?limit=0&offset=-1", ["limit", "offset"]);
    await expectInvalid("/api/v1/stocks?sizes=", ["sizes.0"]);
    await expectInvalid("/api/v1/orders/recent?limit=101&offset=x", ["limit", "offset"]);
  });

  it("rejects an unknown order status", async () => {
    await expectInvalid("/api/v1/orders/recent?status=pending", ["status"]);
    await expectInvalid("/api/v1/orders/recent?status=ACTIVE", ["status"]);
  });

  it("rejects an srid that is too long or has unsafe characters", async () => {
    await expectInvalid(`/api/v1/orders/${"a".repeat(101)}`, ["srid"]);
    await expectInvalid(`/api/v1/orders/${encodeURIComponent("abc'; drop table orders;--")}`, ["srid"]);
    await expectInvalid(`/api/v1/orders/${encodeURIComponent("a b")}`, ["srid"]);
  });

  it("accepts the boundaries: limit 1 and 100, offset 0, q of 100 characters, every period", async () => {
    for (const path of [
      "/api/v1/stocks?limit=1&offset=0",
      "/api/v1/stocks?limit=100",
      `/api/v1/stocks?q=${"x".repeat(100)}`,
      "/api/v1/stocks?q=",
      "/api/v1/orders/recent?limit=100&status=canceled",
      ...["7d", "30d", "60d", "90d", "180d"].map((p) => `/api/v1/analytics/sales?period=${p}`),
    ]) {
      expect((await api(path, { token: tenant.token })).status, path).toBe(200);
    }
  });
});

describe("dashboard access", () => {
  it.each(dashboardPaths)("%s: 401 without or with a bad token, 403 for a manager, analyst allowed", async (path) => {
    await expectDashboardAuth(path, tenant.orgId);
  });

  it("answers an unknown srid with a 404 problem", async () => {
    const res = await api("/api/v1/orders/1.r0000000000000000.0.0", { token: tenant.token });
    expect(res.status).toBe(404);
    expect(await problem(res)).toMatchObject({ status: 404, title: "Not Found" });
  });

  it("answers a wrong method with 405", async () => {
    const res = await api("/api/v1/analytics/sales", { method: "POST", token: tenant.token });
    expect(res.status).toBe(405);
    expect(res.headers.get("Allow")).toBe("GET");
  });

  it("answers a path with a trailing slash as the router does (404), never a 405 naming the method it was sent with", async () => {
    for (const [method, path] of [
      ["GET", "/api/v1/stocks/"],
      ["POST", "/api/v1/stocks/"],
      ["GET", "/api/v1/analytics/sales/"],
      ["GET", "/api/v1/orders/recent/"],
    ] as const) {
      const res = await api(path, { method, token: tenant.token });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.headers.get("Allow"), `${method} ${path}`).toBeNull();
      expect(await problem(res)).toMatchObject({ status: 404, detail: "No such route." });
    }
  });
});

describe("dashboard of an org without data", () => {
  it("gives a zero series with every day of the period and no top products", async () => {
    const sentOn = moscowDay();
    const body = await json<{
      range: { from: string; to: string };
      totals: Record<string, number>;
      series: Array<Record<string, string | number>>;
      topProducts: unknown[];
    }>(await api("/api/v1/analytics/sales?period=7d", { token: tenant.token }));
    const today = declaredToday(body.range.to, sentOn);
    expect(body.range).toEqual({ from: shiftDay(today, -6), to: today });
    expect(body.series.map((s) => s.day)).toEqual(Array.from({ length: 7 }, (_, i) => shiftDay(today, i - 6)));
    expect(Object.values(body.totals).every((v) => v === 0)).toBe(true);
    expect(body.series.every((s) => Object.entries(s).every(([k, v]) => k === "day" || v === 0))).toBe(true);
    expect(body.topProducts).toEqual([]);
  });

  it("defaults to 30 days and gives null change percentages when the previous period is empty", async () => {
    const sentOn = moscowDay();
    const body = await json<{
      period: string;
      range: { from: string; to: string };
      previousRange: { from: string; to: string };
      cards: Record<string, { changePercent: null }>;
    }>(await api("/api/v1/analytics/summary", { token: tenant.token }));
    const today = declaredToday(body.range.to, sentOn);
    expect(body.period).toBe("30d");
    expect(body.range).toEqual({ from: shiftDay(today, -29), to: today });
    expect(body.previousRange).toEqual({ from: shiftDay(today, -59), to: shiftDay(today, -30) });
    expect(Object.keys(body.cards).sort()).toEqual(["buyouts", "cancellations", "orders", "returns"]);
    for (const c of Object.values(body.cards)) expect(c).toMatchObject({ count: 0, amount: 0, changePercent: null });
  });

  it("gives empty lists and zero counts", async () => {
    const stocks = await json<{ items: unknown[]; total: number; filters: unknown }>(await api("/api/v1/stocks", { token: tenant.token }));
    expect(stocks).toMatchObject({ items: [], total: 0, limit: 20, offset: 0, filters: { warehouses: [], sizes: [] } });
    expect(await json(await api("/api/v1/warehouses", { token: tenant.token }))).toEqual({ items: [] });
    expect(await json(await api("/api/v1/sizes", { token: tenant.token }))).toEqual({ items: [] });
    const sentOn = moscowDay();
    const recent = await json<{ today: { day: string } }>(await api("/api/v1/orders/recent", { token: tenant.token }));
    const today = declaredToday(recent.today.day, sentOn);
    expect(recent).toMatchObject({
      status: "all",
      items: [],
      total: 0,
      today: { day: today, count: 0, amount: 0 },
      yesterday: { day: shiftDay(today, -1), count: 0, amount: 0 },
    });
  });

  it("draws an empty chart", async () => {
    const res = await api("/api/v1/analytics/daily-trends?format=svg&period=7d", { token: tenant.token });
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toBe("image/svg+xml");
    const svg = await res.text();
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg.match(/<polyline /g)).toHaveLength(4);
  });
});
