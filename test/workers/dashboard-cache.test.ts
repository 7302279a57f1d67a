/**
 * Caching and round-trip budgets of every dashboard route, on a small synced data set:
 * MISS → HIT (same body, `X-Cache`, `X-Cache-TTL`, `Cache-Control: private, max-age`) → MISS
 * after a second sync bumps the org's cache version; a cached read costs exactly one Redis REST
 * request and no Neon request, an uncached one exactly one Neon request.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { bumpCacheVersion, json, roundTrips, settle, someSrids } from "./dashboard-support";
import { addMember, api, createTenant, registerWbToken, syncTenant, type Tenant } from "./helpers";
import { seedApiKey } from "./security-support";

let tenant: Tenant;
let srids: string[];

beforeAll(async () => {
  tenant = await createTenant({ wbToken: await registerWbToken({ seed: 7, orders: 3000, products: 40, days: 60 }) });
  await syncTenant(tenant);
  srids = await someSrids(tenant.orgId, 2);
});

/** Every route with its TTL (per the design: analytics 15 min, stocks and orders 5 min, reference 1 h). */
const routes = (): Array<[string, number]> => [
  ["/api/v1/analytics/sales?period=7d", 900],
  ["/api/v1/analytics/summary", 900],
  ["/api/v1/analytics/daily-trends?period=90d", 900],
  ["/api/v1/analytics/daily-trends?format=svg", 900],
  ["/api/v1/stocks?limit=5&q=a", 300],
  ["/api/v1/warehouses", 3600],
  ["/api/v1/sizes", 3600],
  ["/api/v1/orders/recent?status=active", 300],
  [`/api/v1/orders/${srids[0]}`, 300],
];

describe("dashboard cache and round-trip budget", () => {
  it("answers MISS then HIT with the same body, one Redis request and no Neon request when cached", async () => {
    const token = await addMember(tenant.orgId, "analyst");
    await api("/api/v1/sizes", { token }); // warm up the isolate and the limiter's script
    for (const [path, ttl] of routes()) {
      await bumpCacheVersion(tenant.orgId);
      const miss = await roundTrips(() => api(path, { token }));
      expect(miss.res.status, path).toBe(200);
      expect(miss.res.headers.get("X-Cache"), path).toBe("MISS");
      expect(miss.res.headers.get("X-Cache-TTL"), path).toBe(String(ttl));
      expect(miss.res.headers.get("Cache-Control"), path).toBe(`private, max-age=${ttl}`);
      expect(miss.neon, `${path}: Neon requests when uncached`).toBe(1);
      // One on the request path; the cache write (waitUntil) may or may not have landed yet.
      expect(miss.redis, `${path}: Redis requests when uncached`).toBeGreaterThanOrEqual(1);
      expect(miss.redis, `${path}: Redis requests when uncached`).toBeLessThanOrEqual(2);

      const first = await api(path, { token });
      await settle();
      const hit = await roundTrips(() => api(path, { token }));
      expect(hit.res.headers.get("X-Cache"), path).toBe("HIT");
      expect({ neon: hit.neon, redis: hit.redis }, `${path}: round trips when cached`).toEqual({ neon: 0, redis: 1 });
      const hitTtl = Number(hit.res.headers.get("X-Cache-TTL"));
      expect(hitTtl).toBeGreaterThan(0);
      expect(hitTtl).toBeLessThanOrEqual(ttl);
      expect(hit.res.headers.get("Cache-Control")).toBe(`private, max-age=${hitTtl}`);

      const again = await api(path, { token });
      expect(again.headers.get("X-Cache")).toBe("HIT");
      expect(again.headers.get("Content-Type")).toBe(first.headers.get("Content-Type"));
      expect(await again.text()).toBe(await first.text());
    }
  });

  it("answers a cached read with an API key without Neon (the key's lookup is cached too), and an unknown parameter with 400 and no Neon", async () => {
    const { key } = await seedApiKey(tenant.orgId, ["dashboard:read"]);
    const path = "/api/v1/warehouses";
    await api(path, { token: key }); // looks the key up once (one Neon request) and caches the answer
    await settle();
    const hit = await roundTrips(() => api(path, { token: key }));
    expect(hit.res.headers.get("X-Cache")).toBe("HIT");
    // The key's org is known only after its lookup, so the cache read is a second Redis request.
    expect({ neon: hit.neon, redis: hit.redis }).toEqual({ neon: 0, redis: 2 });

    const token = await addMember(tenant.orgId, "analyst");
    for (const busted of [`/api/v1/orders/${srids[0]}?cb=1`, "/api/v1/warehouses?cb=2", "/api/v1/analytics/sales?period=7d&cb=3"]) {
      const res = await roundTrips(() => api(busted, { token }));
      expect(res.res.status, busted).toBe(400);
      expect(res.neon, `${busted}: Neon requests`).toBe(0);
    }
  });

  it("keys the cache by path and normalized query", async () => {
    const token = await addMember(tenant.orgId, "analyst");
    const [one, two] = srids;
    const first = await json<{ order: { srid: string } }>(await api(`/api/v1/orders/${one}`, { token }));
    await settle();
    const second = await api(`/api/v1/orders/${two}`, { token });
    expect(second.headers.get("X-Cache")).toBe("MISS");
    expect(((await second.json()) as { order: { srid: string } }).order.srid).toBe(two);
    expect(first.order.srid).toBe(one);

    await api("/api/v1/stocks?warehouses=B&warehouses=A&limit=3", { token });
    await settle();
    expect((await api("/api/v1/stocks?limit=3&warehouses=A&warehouses=B", { token })).headers.get("X-Cache")).toBe("HIT");
    expect((await api("/api/v1/stocks?limit=4&warehouses=A&warehouses=B", { token })).headers.get("X-Cache")).toBe("MISS");
  });

  it("does not cache errors", async () => {
    const token = await addMember(tenant.orgId, "analyst");
    for (let i = 0; i < 2; i++) {
      const res = await api("/api/v1/orders/1.r0000000000000000.0.0", { token });
      expect(res.status).toBe(404);
      expect(res.headers.get("X-Cache")).toBe("MISS");
      await settle();
    }
  });

  it("misses again after a second sync bumps the org's cache version", async () => {
    const token = await addMember(tenant.orgId, "analyst");
    const paths = routes().map(([p]) => p);
    for (const path of paths) await api(path, { token });
    await settle();
    for (const path of paths) expect((await api(path, { token })).headers.get("X-Cache"), path).toBe("HIT");

    await syncTenant(tenant);
    await settle();
    for (const path of paths) {
      const res = await api(path, { token });
      expect(res.status, path).toBe(200);
      expect(res.headers.get("X-Cache"), path).toBe("MISS");
    }
  });
});
