/**
 * `GET /metrics`: counts summed over separate Worker instances (the in-process Worker and the HTTP
 * Worker of the stack, a separate workerd process) through the shared Redis; the request's metrics
 * cost nothing on its critical path (a cached read stays at one Redis request and no Neon request;
 * the flush is one transaction after the answer); every database request timed by name, a slow one
 * warned about without its parameters (in development with its plan, and a write never run twice);
 * the exposition format; the gauges read from Postgres.
 */
import { eq, sql } from "drizzle-orm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createDatabase, EXPLAIN_MAX_BODY_CHARS, queryTexts, requestName, statementName } from "../../src/core/db/client";
import { apiKeys, deadLetters, wbConnections } from "../../src/core/db/schema";
import { createLogger } from "../../src/core/logger";
import { recordedMetrics, scrapedGauges } from "../../src/core/metrics";
import { bumpCacheVersion, roundTrips, settle } from "./dashboard-support";
import {
  adapterStats,
  api,
  buildRequest,
  captureLogs,
  config,
  createTenant,
  db,
  problem,
  registerWbToken,
  resetAdapterStats,
  syncTenant,
  testEnv,
  workerFetch,
} from "./helpers";
import { type Exposition, metricsToken, parseExposition, sampleSum, scrape } from "./metrics-support";

const spec = { group: "platform", route: "/openapi.json", method: "GET", status: "200" };

describe("GET /metrics across Workers", () => {
  it("shows, from either Worker, the sum of the requests both Workers answered", async () => {
    await settle();
    const before = await scrape("in-process");
    for (let i = 0; i < 3; i++) await (await api("/openapi.json")).arrayBuffer();
    for (let i = 0; i < 2; i++) await (await fetch(`${testEnv.WORKER_URL}/openapi.json`)).arrayBuffer();
    await settle(); // the flushes (waitUntil) of both Workers have landed

    for (const from of ["in-process", "http"] as const) {
      const after = await scrape(from);
      expect(sampleSum(after, "http_requests_total", spec) - sampleSum(before, "http_requests_total", spec), from).toBe(5);
      const durations = { group: "platform", route: "/openapi.json", method: "GET" };
      expect(
        sampleSum(after, "http_request_duration_seconds_count", durations) -
          sampleSum(before, "http_request_duration_seconds_count", durations),
        from,
      ).toBe(5);
    }
  });

  it("keeps a cached read at one Redis request and no Neon request; its metrics follow in one transaction after the answer", async () => {
    const tenant = await createTenant({ role: "analyst" });
    const path = "/api/v1/warehouses";
    await settle();
    const before = await scrape();
    await bumpCacheVersion(tenant.orgId);
    expect((await api(path, { token: tenant.token })).headers.get("X-Cache")).toBe("MISS");

    const hit = await roundTrips(() => api(path, { token: tenant.token }));
    expect(hit.res.headers.get("X-Cache")).toBe("HIT");
    expect({ neon: hit.neon, redis: hit.redis }, "round trips on the critical path").toEqual({ neon: 0, redis: 1 });
    await settle();
    // Since the count was reset: the request's one pipeline, and its metrics in one MULTI/EXEC.
    expect((await adapterStats("redis")).byPath).toEqual({ "/pipeline": 1, "/multi-exec": 1 });
    expect((await adapterStats("neon")).requests).toBe(0);

    const after = await scrape();
    const delta = (result: string) =>
      sampleSum(after, "cache_requests_total", { cache: "warehouses", result }) -
      sampleSum(before, "cache_requests_total", { cache: "warehouses", result });
    expect({ hit: delta("hit"), miss: delta("miss"), bypass: delta("bypass") }).toEqual({ hit: 1, miss: 1, bypass: 0 });
    const route = { group: "dashboard", route: path, method: "GET", status: "200" };
    expect(sampleSum(after, "http_requests_total", route) - sampleSum(before, "http_requests_total", route)).toBe(2);
  });

  it("labels requests by route template, never by the raw path, and unrouted ones as unmatched", async () => {
    const tenant = await createTenant({ role: "analyst" });
    const srid = `metrics-${crypto.randomUUID()}`;
    await settle();
    const before = await scrape();
    expect((await api(`/api/v1/orders/${srid}`, { token: tenant.token })).status).toBe(404);
    expect((await api(`/nope/${srid}`)).status).toBe(404);
    await settle();
    const after = await scrape();
    const text = after.samples.map((s) => JSON.stringify(s.labels)).join("\n");
    expect(text).not.toContain(srid);
    const order = { group: "dashboard", route: "/api/v1/orders/:srid", method: "GET", status: "404" };
    expect(sampleSum(after, "http_requests_total", order) - sampleSum(before, "http_requests_total", order)).toBe(1);
    const unmatched = { group: "unmatched", route: "unmatched", status: "404" };
    expect(sampleSum(after, "http_requests_total", unmatched) - sampleSum(before, "http_requests_total", unmatched)).toBeGreaterThanOrEqual(
      1,
    );
  });

  it("counts rate-limit rejections by policy", async () => {
    const tenant = await createTenant({ role: "analyst" });
    const env = { RATE_LIMIT_OVERRIDES: JSON.stringify({ "dashboard-read": 1 }) };
    const before = await scrape();
    expect((await workerFetch(buildRequest("/api/v1/sizes", { token: tenant.token }), env)).status).toBe(200);
    expect((await workerFetch(buildRequest("/api/v1/sizes", { token: tenant.token }), env)).status).toBe(429);
    // workerFetch waits for a send its request scheduled, not for one it joined (the outbox of
    // src/core/metrics.ts): wait until every send has landed.
    await settle();
    const after = await scrape();
    const policy = { policy: "dashboard-read" };
    expect(sampleSum(after, "rate_limit_rejections_total", policy) - sampleSum(before, "rate_limit_rejections_total", policy)).toBe(1);
  });
});

describe("GET /health", () => {
  it("stays free of I/O: no Redis request, not even the metrics flush after the answer", async () => {
    await settle();
    await resetAdapterStats("redis");
    for (let i = 0; i < 3; i++) expect((await workerFetch(buildRequest("/health"))).status).toBe(200);
    expect((await adapterStats("redis")).requests).toBe(0);
  });
});

describe("exposition format", () => {
  it("has a # HELP and a # TYPE line per metric, conventional names, and consistent histograms", async () => {
    await (await api("/openapi.json")).arrayBuffer();
    await settle();
    const exposition = await scrape();
    // Counters appear once something counted them (earlier test files count many): every family
    // shown must be a declared one with its declared type, and these always are there.
    const declared = new Map<string, string>([
      ...Object.entries(recordedMetrics).map(([name, d]) => [name, d.type] as [string, string]),
      ...Object.keys(scrapedGauges).map((name) => [name, "gauge"] as [string, string]),
    ]);
    const always = {
      http_requests_total: "counter",
      http_request_duration_seconds: "histogram",
      database_query_duration_seconds: "histogram",
      dead_letters: "gauge",
    };
    for (const [name, type] of exposition.type) expect(declared.get(name), name).toBe(type);
    expect(Object.fromEntries(exposition.type)).toMatchObject(always);
    expect([...exposition.help.keys()].sort()).toEqual([...exposition.type.keys()].sort());
    for (const [name, type] of exposition.type) {
      if (type === "counter") expect(name).toMatch(/_total$/);
      if (type === "histogram") expect(name).toMatch(/_seconds$/);
    }
    for (const sample of exposition.samples) {
      const family = sample.name.replace(/_(bucket|sum|count)$/, "");
      expect(exposition.type.has(sample.name) || exposition.type.get(family) === "histogram", sample.name).toBe(true);
    }
    expectConsistentHistograms(exposition, "http_request_duration_seconds");
    expectConsistentHistograms(exposition, "database_query_duration_seconds");
  });
});

/** Every series of histogram `name`: buckets non-decreasing in `le`, `+Inf` equal to `_count`, `_sum` ≥ 0. */
function expectConsistentHistograms(exposition: Exposition, name: string): void {
  const series = new Map<string, { le: number; value: number }[]>();
  for (const s of exposition.samples.filter((x) => x.name === `${name}_bucket`)) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(rest);
    series.set(key, [...(series.get(key) ?? []), { le: le === "+Inf" ? Number.POSITIVE_INFINITY : Number(le), value: s.value }]);
  }
  expect(series.size, `${name} has series`).toBeGreaterThan(0);
  for (const [key, buckets] of series) {
    const labels = JSON.parse(key) as Record<string, string>;
    const sorted = [...buckets].sort((a, b) => a.le - b.le);
    for (let i = 1; i < sorted.length; i++) expect(sorted[i]?.value, `${name} ${key}`).toBeGreaterThanOrEqual(sorted[i - 1]?.value ?? 0);
    expect(sorted.at(-1)?.le).toBe(Number.POSITIVE_INFINITY);
    const count = exposition.samples.find((s) => s.name === `${name}_count` && JSON.stringify(s.labels) === JSON.stringify(labels));
    const sum = exposition.samples.find((s) => s.name === `${name}_sum` && JSON.stringify(s.labels) === JSON.stringify(labels));
    expect(count?.value, `${name} ${key} _count`).toBe(sorted.at(-1)?.value);
    expect(sum?.value, `${name} ${key} _sum`).toBeGreaterThanOrEqual(0);
  }
}

describe("database requests", () => {
  afterEach(() => vi.restoreAllMocks());

  it("names a request by its first verb and table, never by a value", () => {
    expect(statementName('select "name", "type" from "warehouses" where "warehouses"."org_id" = $1')).toBe("select warehouses");
    expect(statementName('insert into "orders" ("org_id", "srid") values ($1, $2) on conflict do nothing')).toBe("insert orders");
    expect(statementName('update "jobs" set "status" = $1 where "jobs"."id" = $2')).toBe("update jobs");
    expect(statementName('delete from "public"."refresh_tokens" where "id" = $1')).toBe("delete refresh_tokens");
    expect(statementName('with inserted as (insert into "dead_letters" (id) values ($1) returning id) select * from inserted')).toBe(
      "insert dead_letters",
    );
    expect(statementName("select 1")).toBe("select");
    expect(statementName("  -- a comment\n (select count(*) from stocks)")).toBe("select stocks");
    expect(statementName("vacuum 'secret@example.test'")).toBe("other");
    expect(requestName(['select (select 1) from "jobs"', 'insert into "products" values ($1)', 'update "jobs" set x = $1'], true)).toBe(
      "batch[3] insert products",
    );
    expect(requestName(['select * from "stocks"', 'select * from "warehouses"'], true)).toBe("batch[2] select stocks");
  });

  it("reads a request body's SQL texts without parsing it: keys inside parameters never count", () => {
    const rows = JSON.stringify(Array.from({ length: 3 }, (_, i) => ({ query: `select ${i}`, note: 'a "quoted" \\ value' })));
    const body = JSON.stringify({
      queries: [
        { query: 'select 1 from "jobs"\nwhere "id" = $1', params: [rows] },
        { query: 'insert into "orders" select * from json_to_recordset($1::json)', params: [rows] },
      ],
    });
    expect(queryTexts(body)).toEqual({
      texts: ['select 1 from "jobs" where "id" = $1', 'insert into "orders" select * from json_to_recordset($1::json)'],
      batch: true,
    });
    expect(queryTexts(JSON.stringify({ query: "x".repeat(5_000), params: [] })).texts[0]).toHaveLength(4_000);
    expect(queryTexts(undefined)).toEqual({ texts: [], batch: false });
  });

  it("records every request's duration by name", async () => {
    const tenant = await createTenant({ role: "analyst" });
    const before = await scrape();
    // Uncached (bumped), so the handler reads Postgres.
    await bumpCacheVersion(tenant.orgId);
    expect((await workerFetch(buildRequest("/api/v1/stocks", { token: tenant.token }))).status).toBe(200);
    await settle(); // the metrics send that carries the read (see "counts rate-limit rejections")
    const after = await scrape();
    const byName = (e: Exposition) =>
      new Map(e.samples.filter((s) => s.name === "database_query_duration_seconds_count").map((s) => [s.labels.query ?? "", s.value]));
    const [was, now] = [byName(before), byName(after)];
    const grown = [...now].filter(([name, n]) => n > (was.get(name) ?? 0)).map(([name]) => name);
    expect(grown.length, "a query name counted by the stocks read").toBeGreaterThan(0);
    for (const name of now.keys())
      expect(name).toMatch(
        /^(batch\[\d+\] )?(select|insert|update|delete|with|explain|values|set|show|begin|commit|other|unknown)( [a-z_][a-z0-9_$]*)?$/,
      );
  });

  it("warns about a slow query with its name and duration, never its parameters", async () => {
    const tenant = await createTenant({ role: "analyst" });
    const q = `needle-${crypto.randomUUID().slice(0, 8)}`;
    await bumpCacheVersion(tenant.orgId);
    const { lines, raw } = await captureLogs(async () => {
      const res = await workerFetch(buildRequest(`/api/v1/stocks?q=${q}`, { token: tenant.token }), { SLOW_QUERY_MS: "0" });
      expect(res.status).toBe(200);
    });
    const slow = lines.filter((l) => l.msg === "slow query");
    expect(slow.length).toBeGreaterThan(0);
    for (const line of slow) {
      expect(line).toMatchObject({ level: "warn", query: expect.stringMatching(/^(batch\[\d+\] )?select/) });
      expect(typeof line.durationMs).toBe("number");
      expect(line.plan, "no plan outside development").toBeUndefined();
    }
    const slowText = JSON.stringify(slow);
    expect(slowText).not.toContain(q);
    expect(slowText).not.toContain(tenant.orgId);
    expect(raw).not.toContain(q);
  });

  it("in development, carries the plan of a slow read (EXPLAIN ANALYZE, parameters as $n) and never runs a write twice", async () => {
    const tenant = await createTenant({ role: "owner" });
    const q = `needle-${crypto.randomUUID().slice(0, 8)}`;
    const dev = { SLOW_QUERY_MS: "0", ENVIRONMENT: "development" };
    await bumpCacheVersion(tenant.orgId);
    const read = await captureLogs(async () => {
      expect((await workerFetch(buildRequest(`/api/v1/stocks?q=${q}`, { token: tenant.token }), dev)).status).toBe(200);
    });
    const plans = read.lines.filter((l) => l.msg === "slow query" && typeof l.plan === "string").map((l) => String(l.plan));
    expect(plans.length, "a slow read carries its plan").toBeGreaterThan(0);
    expect(plans.join("\n")).toMatch(/Execution Time/);
    expect(plans.join("\n")).toMatch(/\$1/);
    expect(JSON.stringify(read.lines.filter((l) => l.msg === "slow query"))).not.toContain(tenant.orgId);
    expect(read.raw).not.toContain(q);

    const name = `key-${crypto.randomUUID().slice(0, 8)}`;
    const write = await captureLogs(async () => {
      const res = await workerFetch(
        buildRequest("/api/v1/auth/api-keys", { method: "POST", token: tenant.token, json: { name, scopes: ["dashboard:read"] } }),
        dev,
      );
      expect(res.status).toBe(201);
    });
    const insert = write.lines.find((l) => l.msg === "slow query" && String(l.query).includes("insert api_keys"));
    expect(insert?.plan).toContain("not explained");
    expect(await db().select().from(apiKeys).where(eq(apiKeys.name, name)), "the insert ran once").toHaveLength(1);
  });

  it("in development, does not parse a bulk request again to explain it (a sync batch of megabytes)", async () => {
    const observer = {
      metrics: { observe: () => {} },
      logger: createLogger({ test: "explain" }, "debug"),
      config: { SLOW_QUERY_MS: 0, ENVIRONMENT: "development" as const },
    };
    const observed = createDatabase(config(), observer);
    const big = "x".repeat(EXPLAIN_MAX_BODY_CHARS);
    const { lines } = await captureLogs(async () => {
      await observed.execute(sql`select length(${big}::text) as n`);
      await observed.execute(sql`select length(${"small"}::text) as n`);
    });
    const plans = lines.filter((l) => l.msg === "slow query").map((l) => String(l.plan));
    expect(plans).toHaveLength(2);
    expect(plans[0]).toMatch(/^\(not explained: a bulk request of 1,000 kB\)$/);
    expect(plans[1]).toMatch(/Execution Time/);
  });
});

describe("jobs, sync rows and gauges", () => {
  it("counts a sync's outcome and rows, and reads dead letters, sync age and token expiry from Postgres", async () => {
    const tenant = await createTenant({ wbToken: await registerWbToken({ seed: 11, orders: 300, products: 12, days: 20 }) });
    await settle();
    const before = await scrape();
    await syncTenant(tenant);
    await settle();
    const after = await scrape("http");

    const succeeded = { kind: "wb-sync", outcome: "succeeded" };
    expect(sampleSum(after, "jobs_total", succeeded) - sampleSum(before, "jobs_total", succeeded)).toBeGreaterThanOrEqual(1);
    const [stored] = (
      await db().execute<{ orders: number }>(sql`select count(*)::int as orders from orders where org_id = ${tenant.orgId}`)
    ).rows;
    const orders = { dataset: "orders" };
    expect(sampleSum(after, "wb_sync_rows_total", orders) - sampleSum(before, "wb_sync_rows_total", orders)).toBeGreaterThanOrEqual(
      stored?.orders ?? 1,
    );

    const [letters] = await db().select({ n: sql<number>`count(*)::int` }).from(deadLetters).where(sql`${deadLetters.replayedAt} is null`);
    expect(sampleSum(after, "dead_letters")).toBe(letters?.n);
    expect(after.samples.find((s) => s.name === "wb_sync_last_success_age_seconds")?.value).toBeGreaterThanOrEqual(0);

    // With a token expiring in 3 days, the gauge is the fewest days left over every org's token.
    const expiresAt = new Date(Date.now() + 3 * 86_400_000).toISOString();
    await db().update(wbConnections).set({ expiresAt }).where(eq(wbConnections.orgId, tenant.orgId));
    const days = sampleSum(await scrape(), "wb_token_expiry_days");
    const [fewest] = (
      await db().execute<{ days: number }>(
        sql`select (extract(epoch from min(expires_at) - now()) / 86400)::float8 as days from wb_connections where expires_at is not null`,
      )
    ).rows;
    expect(fewest?.days).toBeLessThanOrEqual(3);
    expect(Math.abs(days - Number(fewest?.days))).toBeLessThan(0.01);
    await db().update(wbConnections).set({ expiresAt: null }).where(eq(wbConnections.orgId, tenant.orgId));
  });
});

describe("access and failures", () => {
  afterEach(() => vi.restoreAllMocks());

  it("answers 404 where METRICS_TOKEN is not set, whatever the credential", async () => {
    const res = await workerFetch(buildRequest("/metrics", { token: metricsToken() }), { METRICS_TOKEN: "" });
    expect(res.status).toBe(404);
    expect((await problem(res)).detail).toBe("Metrics are not enabled on this Worker.");
  });

  it("answers 503 when Redis does not answer, and a request still answers when its flush fails", async () => {
    const dead = { UPSTASH_REDIS_REST_URL: "http://127.0.0.1:9" };
    const res = await workerFetch(buildRequest("/metrics", { token: metricsToken() }), dead);
    expect(res.status).toBe(503);
    expect(res.headers.get("Retry-After")).toBe("5");
    const { lines } = await captureLogs(async () => {
      expect((await workerFetch(buildRequest("/openapi.json"), dead)).status).toBe(200);
    });
    expect(lines.some((l) => l.msg === "metrics not recorded: Redis did not answer" && l.level === "warn")).toBe(true);
  });

  it("renders what it has when Postgres does not answer: the gauges are left without a sample", async () => {
    const res = await workerFetch(buildRequest("/metrics", { token: metricsToken() }), { NEON_FETCH_ENDPOINT: "http://127.0.0.1:9/sql" });
    expect(res.status).toBe(200);
    const exposition = parseExposition(await res.text());
    expect(exposition.type.get("dead_letters")).toBe("gauge");
    expect(exposition.samples.some((s) => s.name === "dead_letters")).toBe(false);
    expect(exposition.samples.some((s) => s.name === "http_requests_total")).toBe(true);
  });
});
