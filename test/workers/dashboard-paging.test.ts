/**
 * Keyset paging of `GET /api/v1/orders/recent` and `GET /api/v1/stocks` (issue 11, "pages at any
 * depth"): following `nextCursor` from the first page to the end covers every row exactly once, in
 * the order of one ordered query written here over the raw tables (the size order written out by
 * hand, never the route's SQL); the same while rows arrive between page reads; invalid cursors, an
 * offset over the cap and a cursor with an offset are 400 problems naming the field; the spec
 * declares `cursor` and `nextCursor`. What the last page of a million orders costs against the first
 * is measured by `npm run bench` (bench/paging.ts), not asserted here.
 */
import { type SQL, sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { orders, stocks } from "../../src/core/db/schema";
import { recomputeDailyStats, recomputeWarehouseStockStats } from "../../src/jobs/wb-sync-writes";
import { json, roundTrips, rows, SIZE_ORDER, settle } from "./dashboard-support";
import { addMember, api, createTenant, db, problem, registerWbToken, syncTenant, type Tenant } from "./helpers";

type OrdersPage = { items: { srid: string; date: string }[]; total: number; offset: number; nextCursor: string | null };
type StockItem = { nmId: number; barcode: string; warehouseName: string; techSize: string; supplierArticle: string };
type StocksPage = { items: StockItem[]; total: number; offset: number; nextCursor: string | null };
type Page = { items: unknown[]; nextCursor: string | null };

let tenant: Tenant;

/** `values` as a comma-separated list of bound parameters. */
const list = (values: readonly (string | number)[]): SQL =>
  sql.join(
    values.map((v) => sql`${v}`),
    sql`, `,
  );

/** The key of a stock row in these tests: its primary key without the org. */
const stockKey = (r: { nmId: number | string; barcode: string; warehouseName: string }) => `${r.nmId}|${r.barcode}|${r.warehouseName}`;

/**
 * Sizes this test adds beyond the data set's, each with the rank it shares (written out from the
 * rules in docs/api.md, not computed): equal ranks break by the text in code point order.
 */
const sizeRanks = new Map<string, number>(SIZE_ORDER.map((size, i) => [size, i * 10]));
const rankOf = (size: string) => sizeRanks.get(size) ?? Number.NaN;
for (const [size, rank] of [
  ["", rankOf("0")], // no size, like "0" ("" < "0")
  ["2XL", rankOf("XXL")], // "2XL" < "XXL"
  [" xl ", rankOf("XL")], // case and spaces ignored; " xl " < "XL"
  ["36,5", rankOf("36-37") + 5], // 36.5: after 36-37 (36 < 36.5), before 37
  ["42/170", rankOf("42-43") + 5], // 42 then 170: after 42-43, before 43
  ["ONE SIZE", 10_000], // neither a letter nor a numeric size: last
] as const)
  sizeRanks.set(size, rank);

/**
 * The org's stock rows in the list's order (supplier article, nmId, size, warehouse, barcode), from
 * raw SQL; `q` (no LIKE wildcards in it) matches the supplier article or product name, or an nmId prefix.
 */
async function stockKeysFromRaw(orgId: string, filter: { warehouses?: string[]; sizes?: string[]; q?: string } = {}): Promise<string[]> {
  const found = await rows<{ key: string; rank: number | null }>(sql`
    select s.nm_id::text || '|' || s.barcode || '|' || s.warehouse_name as key, r.rank
    from stocks s left join unnest(array[${list([...sizeRanks.keys()])}]::text[], array[${list([...sizeRanks.values()])}]::int[]) as r(size, rank)
      on r.size = s.tech_size
    where s.org_id = ${orgId}
      and ${filter.warehouses ? sql`s.warehouse_name in (${list(filter.warehouses)})` : sql`true`}
      and ${filter.sizes ? sql`s.tech_size in (${list(filter.sizes)})` : sql`true`}
      and ${
        filter.q
          ? sql`(s.supplier_article ilike ${`%${filter.q}%`} or s.nm_id::text like ${`${filter.q}%`} or exists (
              select 1 from products p where p.org_id = s.org_id and p.nm_id = s.nm_id
                and (p.name ilike ${`%${filter.q}%`} or p.supplier_article ilike ${`%${filter.q}%`})))`
          : sql`true`
      }
    order by s.supplier_article, s.nm_id, r.rank, s.tech_size collate "C", s.warehouse_name, s.barcode`);
  for (const r of found) expect(r.rank, `the size of ${r.key} has a rank in this test`).not.toBeNull();
  return found.map((r) => r.key);
}

/** The org's order srids in the list's order (date desc, srid asc), optionally by cancel status, from raw SQL. */
async function orderSridsFromRaw(orgId: string, isCancel: boolean | null = null): Promise<string[]> {
  const found = await rows<{ srid: string }>(sql`
    select srid from orders where org_id = ${orgId} and ${isCancel === null ? sql`true` : sql`is_cancel = ${isCancel}`}
    order by date desc, srid asc`);
  return found.map((r) => r.srid);
}

/** A reader of the org that moves to a fresh analyst every 50 requests, so the per-user rate limit never decides a test. */
function reader(orgId: string): (path: string) => Promise<Response> {
  let token = "";
  let used = 0;
  return async (path) => {
    if (!token || used >= 50) {
      token = await addMember(orgId, "analyst");
      used = 0;
    }
    used += 1;
    return api(path, { token });
  };
}

/** `path` with `cursor` added (or as is without one). */
const withCursor = (path: string, cursor: string | null | undefined) =>
  cursor ? `${path}${path.includes("?") ? "&" : "?"}cursor=${encodeURIComponent(cursor)}` : path;

/** Follows `nextCursor` from the first page of `path` to the last; `between` runs after each page that has a next one. */
async function follow<P extends Page>(read: (path: string) => Promise<Response>, path: string, between?: (page: P) => Promise<void>) {
  const pages: P[] = [];
  let cursor: string | null = null;
  do {
    const page: P = await json<P>(await read(withCursor(path, cursor)));
    pages.push(page);
    cursor = page.nextCursor;
    if (cursor) await between?.(page);
    if (pages.length > 1000) throw new Error(`${path}: more than 1000 pages`);
  } while (cursor);
  return pages;
}

/**
 * Inserts orders of `orgId` directly and recomputes the rollups of their days, as a sync batch does
 * in the same transaction (the list's `total` and day figures come from the rollup).
 */
async function insertOrders(orgId: string, values: (typeof orders.$inferInsert)[]): Promise<void> {
  await db().insert(orders).values(values);
  const days = await rows<{ day: string }>(sql`
    select distinct to_char(date at time zone 'Europe/Moscow', 'YYYY-MM-DD') as day from orders
    where org_id = ${orgId} and srid in (${list(values.map((v) => v.srid))})`);
  for (const statement of recomputeDailyStats(
    db(),
    orgId,
    days.map((d) => d.day),
  ))
    await statement;
}

/** Inserts stock rows of `orgId` directly and recomputes their warehouses' sums, as a sync batch does. */
async function insertStocks(orgId: string, values: (typeof stocks.$inferInsert)[]): Promise<void> {
  await db().insert(stocks).values(values);
  for (const statement of recomputeWarehouseStockStats(db(), orgId, [...new Set(values.map((v) => v.warehouseName))])) await statement;
}

/** An order row of the tenant for direct inserts (every NOT NULL column). */
const orderRow = (srid: string, date: string) => ({
  orgId: tenant.orgId,
  srid,
  gNumber: `g-${srid}`,
  date,
  lastChangeDate: date,
  nmId: 1,
  barcode: "2000000000001",
  supplierArticle: "PAGING-TEST",
  techSize: "0",
  warehouseName: "Коледино",
  totalPrice: 1000,
  discountPercent: 10,
  spp: 0,
  finishedPrice: 900,
  priceWithDisc: 900,
  isCancel: false,
});

/** A stock row of the tenant for direct inserts. */
const stockRow = (row: { nmId: number; supplierArticle: string; techSize: string; warehouseName: string; barcode: string }) => ({
  orgId: tenant.orgId,
  ...row,
  quantity: 1,
  inWayToClient: 0,
  inWayFromClient: 0,
  quantityFull: 1,
  price: 1000,
  discount: 10,
  lastChangeDate: "2026-11-20 12:00:00+00",
});

beforeAll(async () => {
  tenant = await createTenant({ wbToken: await registerWbToken({ seed: 303, orders: 3000, products: 40, days: 30, warehouses: 5 }) });
  await syncTenant(tenant);
  // WB times are whole seconds and distinct in the data set: add ties (one microsecond apart, and
  // equal) in the middle of the list, where pages of 100 cross them, and sizes beyond the data set's.
  const [middle] = await rows<{ date: string }>(sql`
    select date::text from orders where org_id = ${tenant.orgId} order by date desc, srid offset 1496 limit 1`);
  if (!middle) throw new Error("no orders synced");
  const tie = (micros: string) => sql<string>`(${middle.date}::timestamptz + interval '0.${sql.raw(micros)} seconds')::text`;
  const [times] = await rows<{ a: string; b: string }>(sql`select ${tie("123456")} as a, ${tie("123457")} as b`);
  if (!times) throw new Error("no tie times");
  await insertOrders(tenant.orgId, [
    ...["tie.a", "tie.b", "tie.c", "tie.d", "tie.e", "tie.f", "tie.g"].map((srid) => orderRow(srid, times.a)),
    ...["tie.h", "tie.i"].map((srid) => orderRow(srid, times.b)),
  ]);
  const [product] = await rows<{ nm_id: string; supplier_article: string; warehouse_name: string }>(sql`
    select nm_id::text, supplier_article, warehouse_name from stocks where org_id = ${tenant.orgId} order by supplier_article, nm_id limit 1 offset 100`);
  if (!product) throw new Error("no stocks synced");
  const base = { nmId: Number(product.nm_id), supplierArticle: product.supplier_article, warehouseName: product.warehouse_name };
  await insertStocks(tenant.orgId, [
    ...["", "2XL", " xl ", "36,5", "42/170", "ONE SIZE", "XXL", "0"].map((techSize, i) =>
      stockRow({ ...base, techSize, barcode: `T-extra-${i}` }),
    ),
    // The same supplier article under a smaller and a larger nmId: the nmId orders them.
    stockRow({ ...base, nmId: 1, techSize: "M", barcode: "T-small-nm" }),
    stockRow({ ...base, nmId: 9_999_999_999, techSize: "M", barcode: "T-large-nm" }),
  ]);
}, 300_000);

describe("keyset paging: every row once, in order", () => {
  it("/orders/recent: nextCursor from the first page to the last covers every order once, in (date desc, srid asc) order", async () => {
    const read = reader(tenant.orgId);
    const expected = await orderSridsFromRaw(tenant.orgId);
    expect(expected.length).toBeGreaterThan(2000);
    const pages = await follow<OrdersPage>(read, "/api/v1/orders/recent?limit=100");
    expect(pages.flatMap((p) => p.items.map((o) => o.srid))).toEqual(expected);
    expect(pages.length).toBe(Math.ceil(expected.length / 100));
    for (const page of pages) expect({ total: page.total, offset: page.offset }).toEqual({ total: expected.length, offset: 0 });
    expect(pages.at(-1)?.nextCursor).toBeNull();
  });

  it("/orders/recent: the status filter combines with the cursor", async () => {
    const read = reader(tenant.orgId);
    for (const [status, isCancel] of [
      ["active", false],
      ["canceled", true],
    ] as const) {
      const expected = await orderSridsFromRaw(tenant.orgId, isCancel);
      const pages = await follow<OrdersPage>(read, `/api/v1/orders/recent?status=${status}&limit=97`);
      expect(
        pages.flatMap((p) => p.items.map((o) => o.srid)),
        status,
      ).toEqual(expected);
      expect(pages[0]?.total, status).toBe(expected.length);
    }
  });

  it("/stocks: nextCursor covers every stock row once, in the list's order (sizes in logical order, ties by text)", async () => {
    const read = reader(tenant.orgId);
    const expected = await stockKeysFromRaw(tenant.orgId);
    expect(expected.length).toBeGreaterThan(300);
    const pages = await follow<StocksPage>(read, "/api/v1/stocks?limit=9");
    expect(pages.flatMap((p) => p.items.map(stockKey))).toEqual(expected);
    for (const page of pages) expect({ total: page.total, offset: page.offset }).toEqual({ total: expected.length, offset: 0 });
    // The added sizes came in the order the rules give.
    const sizes = pages
      .flatMap((p) => p.items)
      .filter((r) => r.barcode.startsWith("T-extra-"))
      .map((r) => r.techSize);
    expect(sizes).toEqual(["", "0", " xl ", "2XL", "XXL", "36,5", "42/170", "ONE SIZE"]);
  });

  it("/stocks: warehouse and size filters and the search combine with the cursor", async () => {
    const read = reader(tenant.orgId);
    const warehouses = (
      await rows<{ w: string }>(sql`select distinct warehouse_name as w from stocks where org_id = ${tenant.orgId} order by 1`)
    )
      .map((r) => r.w)
      .slice(0, 2);
    const sizes = ["M", "XL", "42", "0", "2XL"];
    const expected = await stockKeysFromRaw(tenant.orgId, { warehouses, sizes });
    expect(expected.length).toBeGreaterThan(10);
    const query = new URLSearchParams([...warehouses.map((w) => ["warehouses", w]), ...sizes.map((s) => ["sizes", s]), ["limit", "4"]]);
    const pages = await follow<StocksPage>(read, `/api/v1/stocks?${query}`);
    expect(pages.flatMap((p) => p.items.map(stockKey))).toEqual(expected);
    // Every page tells the same total: the first counts its matches in the rows' pass, the cursor's pages apart.
    expect(pages.map((p) => p.total)).toEqual(pages.map(() => expected.length));
    // A search: the first two characters of a supplier article.
    const q = pages[0]?.items[0]?.supplierArticle.slice(0, 2) ?? "";
    const searched = await stockKeysFromRaw(tenant.orgId, { q });
    expect(searched.length).toBeGreaterThan(6);
    const paged = await follow<StocksPage>(read, `/api/v1/stocks?q=${encodeURIComponent(q)}&limit=5`);
    expect(paged.flatMap((p) => p.items.map(stockKey))).toEqual(searched);
    expect(paged.map((p) => p.total)).toEqual(paged.map(() => searched.length));
    // Offset pages count apart too: one inside the matches, one past their end (no rows to count with).
    for (const offset of [5, 9_999]) {
      const page = await json<StocksPage>(await read(`/api/v1/stocks?q=${encodeURIComponent(q)}&limit=5&offset=${offset}`));
      expect(page.items.map(stockKey), `offset ${offset}`).toEqual(searched.slice(offset, offset + 5));
      expect(page.total, `offset ${offset}`).toBe(searched.length);
    }
  });

  it("an offset page answers nextCursor too, which continues where it ends", async () => {
    const read = reader(tenant.orgId);
    const expected = await orderSridsFromRaw(tenant.orgId);
    const page = await json<OrdersPage>(await read("/api/v1/orders/recent?limit=50&offset=2000"));
    expect(page.items.map((o) => o.srid)).toEqual(expected.slice(2000, 2050));
    const next = await json<OrdersPage>(await read(withCursor("/api/v1/orders/recent?limit=50", page.nextCursor)));
    expect(next.items.map((o) => o.srid)).toEqual(expected.slice(2050, 2100));
    expect(next.offset).toBe(0);
  });
});

describe("keyset paging while rows arrive", () => {
  it("/orders/recent: new orders between page reads never repeat or skip an order that existed at the start", async () => {
    const read = reader(tenant.orgId);
    const existing = await orderSridsFromRaw(tenant.orgId);
    /** Orders added before (`true`: must never be listed) or after (`false`: must be listed) the cursor they were added at. */
    const added = new Map<string, boolean>();
    let round = 0;
    const pages = await follow<OrdersPage>(read, "/api/v1/orders/recent?limit=83", async (page) => {
      round += 1;
      const last = page.items.at(-1);
      const [at] = await rows<{ date: string }>(sql`select date::text from orders where org_id = ${tenant.orgId} and srid = ${last?.srid}`);
      if (!last || !at) throw new Error("no last row");
      const rowsNow = [
        // Newer than the first page: before every cursor.
        orderRow(`new.${round}`, new Date(Date.now() + round * 1000).toISOString()),
        // The cursor's own time: srid below the cursor's sorts before it, above it after.
        orderRow(`!tie-before.${round}`, at.date),
        orderRow(`~tie-after.${round}`, at.date),
        // Older than everything: at the end of the list.
        orderRow(`old.${round}`, `2001-01-01 00:00:${String(round % 60).padStart(2, "0")}+00`),
      ];
      await insertOrders(tenant.orgId, rowsNow);
      // Which side of the cursor each new row is on, by SQL (whatever the collation says of `!` and `~`).
      const sides = await rows<{ srid: string; before: boolean }>(sql`
        select srid, (date > ${at.date}::timestamptz or (date = ${at.date}::timestamptz and srid < ${last.srid})) as before
        from orders where org_id = ${tenant.orgId} and srid in (${list(rowsNow.map((r) => r.srid))})`);
      for (const s of sides) added.set(s.srid, s.before);
    });
    const listed = pages.flatMap((p) => p.items.map((o) => o.srid));
    expect(round).toBeGreaterThan(30);
    expect(new Set(listed).size, "no order is listed twice").toBe(listed.length);
    const listedSet = new Set(listed);
    expect(
      existing.filter((srid) => !listedSet.has(srid)),
      "no order that existed at the start is skipped",
    ).toEqual([]);
    const before = [...added].filter(([, b]) => b).map(([srid]) => srid);
    const after = [...added].filter(([, b]) => !b).map(([srid]) => srid);
    expect(before.length).toBeGreaterThan(30);
    expect(after.length).toBeGreaterThan(30);
    expect(
      before.filter((srid) => listedSet.has(srid)),
      "orders added before the cursor are not listed",
    ).toEqual([]);
    expect(
      after.filter((srid) => !listedSet.has(srid)),
      "orders added after the cursor are listed",
    ).toEqual([]);
    // And in the list's order: the order of one query now, restricted to what was listed.
    expect(listed).toEqual((await orderSridsFromRaw(tenant.orgId)).filter((srid) => listedSet.has(srid)));
  });

  it("/stocks: rows that sort anywhere, added between page reads, never make a page repeat or skip a row", async () => {
    const read = reader(tenant.orgId);
    const existing = await stockKeysFromRaw(tenant.orgId);
    const added: { key: string; cursorKey: string }[] = [];
    let round = 0;
    const pages = await follow<StocksPage>(read, "/api/v1/stocks?limit=11", async (page) => {
      round += 1;
      const last = page.items.at(-1);
      if (!last) throw new Error("no last row");
      const near = { nmId: last.nmId, supplierArticle: last.supplierArticle, warehouseName: last.warehouseName };
      const rowsNow = [
        // The cursor's product: a size before every size, one after, and the cursor's own size in
        // another warehouse name (sorting before and after the cursor's).
        stockRow({ ...near, techSize: "", barcode: `T-first-${round}` }),
        stockRow({ ...near, techSize: "ONE SIZE", barcode: `T-last-${round}` }),
        stockRow({ ...near, techSize: last.techSize, warehouseName: "", barcode: `T-wh-before-${round}` }),
        stockRow({ ...near, techSize: last.techSize, warehouseName: `${last.warehouseName}~`, barcode: `T-wh-after-${round}` }),
        // Other products: an article before every article and one after.
        stockRow({ nmId: 100 + round, supplierArticle: "", techSize: "M", warehouseName: "Коледино", barcode: `T-art-first-${round}` }),
        stockRow({
          nmId: 200 + round,
          supplierArticle: "\u{10FFFF}",
          techSize: "M",
          warehouseName: "Коледино",
          barcode: `T-art-last-${round}`,
        }),
      ];
      await insertStocks(tenant.orgId, rowsNow);
      for (const r of rowsNow) added.push({ key: stockKey(r), cursorKey: stockKey(last) });
    });
    const listed = pages.flatMap((p) => p.items.map(stockKey));
    expect(round).toBeGreaterThan(25);
    expect(new Set(listed).size, "no row is listed twice").toBe(listed.length);
    const listedSet = new Set(listed);
    expect(
      existing.filter((key) => !listedSet.has(key)),
      "no row that existed at the start is skipped",
    ).toEqual([]);
    // Which side of its cursor each added row is on, by the independent order of the final table.
    const order = await stockKeysFromRaw(tenant.orgId);
    const position = new Map(order.map((key, i) => [key, i]));
    const side = (a: { key: string; cursorKey: string }) =>
      (position.get(a.key) ?? -1) < (position.get(a.cursorKey) ?? -1) ? "before" : "after";
    const before = added.filter((a) => side(a) === "before").map((a) => a.key);
    const after = added.filter((a) => side(a) === "after").map((a) => a.key);
    expect(before.length).toBeGreaterThanOrEqual(round);
    expect(after.length).toBeGreaterThanOrEqual(round);
    expect(
      before.filter((key) => listedSet.has(key)),
      "rows added before the cursor are not listed",
    ).toEqual([]);
    expect(
      after.filter((key) => !listedSet.has(key)),
      "rows added after the cursor are listed",
    ).toEqual([]);
    expect(listed).toEqual(order.filter((key) => listedSet.has(key)));
  });
});

/** Base64url of the UTF-8 of `text`, written here (not the API's codec): for forged cursors. */
const base64Url = (text: string) =>
  btoa(String.fromCharCode(...new TextEncoder().encode(text)))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replace(/=+$/, "");

/** The JSON payload inside a cursor (read here to forge cursors around a real one). */
const payloadOf = (cursor: string): unknown[] =>
  JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(cursor.replaceAll("-", "+").replaceAll("_", "/")), (c) => c.charCodeAt(0))));

describe("keyset paging errors", () => {
  /** Asserts a 400 problem whose `errors` name exactly `paths`; returns the messages. */
  async function expectInvalid(path: string, paths: string[]): Promise<string[]> {
    const res = await api(path, { token: await addMember(tenant.orgId, "analyst") });
    expect(res.status, path).toBe(400);
    const body = await problem(res);
    expect(body).toMatchObject({ status: 400, title: "Validation failed", instance: new URL(`https://x${path}`).pathname });
    expect(body.errors?.map((e) => e.path).sort(), path).toEqual([...paths].sort());
    // One failing field: the detail carries its message too, for clients that show only the detail.
    if (paths.length === 1) expect(body.detail, path).toBe(`Invalid query: ${paths[0]}: ${body.errors?.[0]?.message}`);
    return body.errors?.map((e) => e.message) ?? [];
  }

  it("refuses a cursor that is not one: garbage, another shape, a forged or non-canonical payload", async () => {
    const good = (await json<OrdersPage>(await api("/api/v1/orders/recent?limit=2", { token: tenant.token }))).nextCursor ?? "";
    const [name, scope] = payloadOf(good);
    expect(name).toBe("orders-recent");
    const forged = (payload: unknown) => base64Url(JSON.stringify(payload));
    for (const cursor of [
      "",
      "abc",
      "!!!!",
      "x".repeat(5000),
      base64Url("not json"),
      forged({ list: "orders-recent" }),
      forged(["2026-12-01 10:00:00+00", "1.r0.0.0"]), // the CRM/jobs shape
      forged(["orders-recent", scope, ["2026-02-30 10:00:00+00", "1.r0.0.0"]]), // no such day
      forged(["orders-recent", scope, ["yesterday", "1.r0.0.0"]]),
      forged(["orders-recent", scope, ["2026-12-01 10:00:00+00", 5]]),
      forged(["orders-recent", scope, ["2026-12-01 10:00:00+00", "a\u0000b"]]),
      forged(["orders-recent", scope, ["2026-12-01 10:00:00+00", "a\ud800b"]]), // a lone surrogate
      forged(["orders-recent", scope, ["2026-12-01 10:00:00+00", "1.r0.0.0", "extra"]]),
      forged(["orders-recent", "NOT-A-SCOPE", ["2026-12-01 10:00:00+00", "1.r0.0.0"]]),
      base64Url(`["orders-recent", "${scope}", ["2026-12-01 10:00:00+00", "1.r0.0.0"]]`), // valid JSON, not the canonical text
      `${good}=`,
    ]) {
      const messages = await expectInvalid(`/api/v1/orders/recent?cursor=${encodeURIComponent(cursor)}`, ["cursor"]);
      expect(messages.join(" "), cursor.slice(0, 40)).toMatch(/cursor/i);
    }
    // The stocks cursor's nmId must be a safe integer.
    const stocksGood = (await json<StocksPage>(await api("/api/v1/stocks?limit=2", { token: tenant.token }))).nextCursor ?? "";
    const [, stocksScope, key] = payloadOf(stocksGood) as [string, string, [string, number, string, string, string]];
    expect(payloadOf(forged(["stocks", stocksScope, key]))).toEqual(payloadOf(stocksGood));
    for (const nmId of [1.5, 2 ** 60, "1", null]) {
      await expectInvalid(`/api/v1/stocks?cursor=${forged(["stocks", stocksScope, [key[0], nmId, key[2], key[3], key[4]]])}`, ["cursor"]);
    }
    await expectInvalid(`/api/v1/stocks?cursor=${forged(["stocks", stocksScope, key.slice(0, 4)])}`, ["cursor"]);
    // A well-formed cursor of a position that exists in no list still answers: it names a place, not a row.
    const somewhere = forged(["orders-recent", scope, ["2026-12-01 10:00:00.5+03", "1.r0.0.0"]]);
    expect((await api(`/api/v1/orders/recent?cursor=${somewhere}`, { token: tenant.token })).status).toBe(200);
  });

  it("refuses another list's cursor, and one made under other filters", async () => {
    const token = tenant.token;
    const ordersCursor = (await json<OrdersPage>(await api("/api/v1/orders/recent?limit=2", { token }))).nextCursor ?? "";
    const stocksCursor = (await json<StocksPage>(await api("/api/v1/stocks?limit=2", { token }))).nextCursor ?? "";
    const activeCursor = (await json<OrdersPage>(await api("/api/v1/orders/recent?status=active&limit=2", { token }))).nextCursor ?? "";
    // Two warehouses of the data set (not the names the tests above added).
    const [w1, w2] = (
      await json<{ filters: { warehouses: string[] } }>(await api("/api/v1/stocks?limit=1", { token }))
    ).filters.warehouses.filter((w) => /^[А-Яа-яЁё -]+$/.test(w));
    if (!w1 || !w2) throw new Error("fewer than two warehouses");
    const q = (params: string[][]) => new URLSearchParams(params).toString();
    const filteredCursor =
      (
        await json<StocksPage>(
          await api(
            `/api/v1/stocks?${q([
              ["warehouses", w1],
              ["warehouses", w2],
              ["limit", "2"],
            ])}`,
            { token },
          ),
        )
      ).nextCursor ?? "";
    expect([ordersCursor, stocksCursor, activeCursor, filteredCursor].every((c) => c.length > 0)).toBe(true);

    await expectInvalid(`/api/v1/orders/recent?cursor=${stocksCursor}`, ["cursor"]);
    await expectInvalid(`/api/v1/stocks?cursor=${ordersCursor}`, ["cursor"]);
    // The CRM list's cursor codec refuses the dashboard's, too.
    await expectInvalid(`/api/v1/crm/events?cursor=${ordersCursor}`, ["cursor"]);
    // Made under another status, or under other warehouses: refused with a message that says so.
    const [statusMessage] = await expectInvalid(`/api/v1/orders/recent?cursor=${activeCursor}`, ["cursor"]);
    expect(statusMessage).toMatch(/other filters/);
    await expectInvalid(`/api/v1/orders/recent?status=canceled&cursor=${activeCursor}`, ["cursor"]);
    await expectInvalid(
      `/api/v1/stocks?${q([
        ["warehouses", w1],
        ["cursor", filteredCursor],
      ])}`,
      ["cursor"],
    );
    await expectInvalid(
      `/api/v1/stocks?${q([
        ["warehouses", w1],
        ["warehouses", w2],
        ["q", "x"],
        ["cursor", filteredCursor],
      ])}`,
      ["cursor"],
    );
    // The same filters in another order (or repeated) are the same filters.
    const again = q([
      ["warehouses", w2],
      ["warehouses", w1],
      ["warehouses", w2],
      ["cursor", filteredCursor],
    ]);
    expect((await api(`/api/v1/stocks?${again}`, { token })).status).toBe(200);
    expect((await api(`/api/v1/orders/recent?status=active&cursor=${activeCursor}`, { token })).status).toBe(200);
  });

  it("caps offset at 10,000, pointing to cursor, and refuses cursor with offset", async () => {
    const token = tenant.token;
    for (const path of ["/api/v1/orders/recent", "/api/v1/stocks"]) {
      const [message] = await expectInvalid(`${path}?offset=10001`, ["offset"]);
      expect(message).toMatch(/10000/);
      expect(message).toMatch(/`cursor`/);
      await expectInvalid(`${path}?offset=999999999`, ["offset"]);
      expect((await api(`${path}?offset=10000`, { token })).status, path).toBe(200);
      const cursor = (await json<Page>(await api(`${path}?limit=1`, { token }))).nextCursor ?? "";
      for (const offset of ["0", "5"]) {
        const [both] = await expectInvalid(`${path}?cursor=${cursor}&offset=${offset}`, ["offset"]);
        expect(both).toMatch(/cursor/);
      }
    }
  });
});

describe("keyset paging and the cache", () => {
  it("caches each cursor page under its own query string, and reads one in one Neon request", async () => {
    const token = await addMember(tenant.orgId, "analyst");
    for (const path of ["/api/v1/orders/recent?limit=13", "/api/v1/stocks?limit=13"]) {
      const first = await json<Page>(await api(path, { token }));
      const page = withCursor(path, first.nextCursor);
      const miss = await roundTrips(() => api(page, { token }));
      expect(miss.res.headers.get("X-Cache"), path).toBe("MISS");
      expect(miss.neon, `${path}: a cursor page is one Neon request`).toBe(1);
      const body = await (await api(page, { token })).text();
      await settle();
      const hit = await api(page, { token });
      expect(hit.headers.get("X-Cache"), path).toBe("HIT");
      expect(await hit.text()).toBe(body);
      // The next cursor page is another entry.
      const next = withCursor(path, (JSON.parse(body) as Page).nextCursor);
      expect((await api(next, { token })).headers.get("X-Cache"), path).toBe("MISS");
    }
  });
});

describe("keyset paging in the spec", () => {
  it("declares cursor (and the capped offset) and nextCursor on both lists", async () => {
    type Parameter = { name: string; in: string; schema: { type?: string; maximum?: number } };
    type Operation = {
      parameters: Parameter[];
      responses: { 200: { content: { "application/json": { schema: { properties: Record<string, unknown>; required: string[] } } } } };
    };
    const spec = await json<{ paths: Record<string, { get: Operation }> }>(await api("/openapi.json"));
    for (const path of ["/api/v1/orders/recent", "/api/v1/stocks"]) {
      const operation = spec.paths[path]?.get;
      const parameter = (name: string) => operation?.parameters.find((p) => p.name === name && p.in === "query");
      expect(parameter("cursor")?.schema, path).toMatchObject({ type: "string" });
      expect(parameter("offset")?.schema, path).toMatchObject({ type: "integer", maximum: 10_000 });
      const page = operation?.responses[200].content["application/json"].schema;
      expect(page?.properties, path).toHaveProperty("nextCursor");
      expect(page?.required, path).toContain("nextCursor");
    }
  });
});
