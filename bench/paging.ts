/**
 * Bench part `paging`: the first and the last page of the two long dashboard lists, uncached, with
 * keyset paging (`limit=100`, `cursor` = the previous page's `nextCursor`):
 * - `GET /api/v1/orders/recent` (order `date desc, srid asc`; cursor key `[date, srid]`);
 * - `GET /api/v1/stocks` (order supplier article, nmId, size rank, warehouse, barcode; cursor key
 *   `[supplierArticle, nmId, techSize, warehouseName, barcode]`).
 * The last page is not reached by walking thousands of pages: the key of the row just before it is
 * read with SQL from the stack's database (the list's order reversed, `offset` = the last page's
 * size) and encoded with the list's own cursor codec (`recentOrdersCursor`, `stocksCursor` of
 * `src/routes/dashboard/schemas.ts`), bound to the unfiltered list. The answer is checked: the
 * last page has the expected size and `nextCursor: null`. Beside them, the deepest offset page
 * (`offset=10000`, the cap) for comparison.
 * Each page is read `requests` times after one cold read, each after bumping the org's cache
 * version: p50 and p95, and last/first as a ratio of p50s. Tolerant of a list without keyset
 * paging (no `nextCursor` in its answer, or no codec exported): it says
 * `cursor paging not available` and measures the first page only.
 */

import { asc, desc, eq, type SQL, sql } from "drizzle-orm";
import { PgDialect } from "drizzle-orm/pg-core";
import type { LocalEnvironment } from "../scripts/local-env";
import { orders, stocks } from "../src/core/db/schema";
import { sizeOrderBy } from "../src/routes/dashboard/sizes";
import { type LatencySummary, round1, timeUncached, uncachedRead } from "./measure";

/** Rows per page of the part (the lists' maximum). */
const LIMIT = 100;
/** The deepest `offset` the lists accept. */
const MAX_OFFSET = 10_000;

/** A page's latencies. */
type PageFigure = LatencySummary & { firstMs: number };

/** What the part reports for one list. */
export interface ListPagingFigure {
  list: string;
  total: number;
  firstPage: PageFigure;
  /** Absent when the list has no keyset paging (see `note`). */
  lastPage?: PageFigure & { rows: number };
  /** p50 of the last page over p50 of the first. */
  lastOverFirst?: number;
  /** `offset=10000` (absent when the list has fewer rows or refuses it). */
  deepestOffsetPage?: PageFigure;
  note?: string;
}

/** A list cursor codec as `src/routes/dashboard/schemas.ts` exports it (`listCursor(...)`). */
interface CursorCodec {
  encode(key: readonly unknown[], filters: unknown): string;
}

/** The codec and filter function `name` / `filtersName` of the dashboard schemas, if that module has them. */
async function codecOf(name: string, filtersName: string): Promise<{ codec: CursorCodec; filters: (q: object) => unknown } | undefined> {
  const schemas = (await import("../src/routes/dashboard/schemas")) as unknown as Record<string, unknown>;
  const codec = schemas[name] as Partial<CursorCodec> | undefined;
  const filters = schemas[filtersName];
  if (typeof codec?.encode !== "function" || typeof filters !== "function") return undefined;
  return { codec: codec as CursorCodec, filters: filters as (q: object) => unknown };
}

/** Runs a drizzle `SQL` on the stack's engine; rows as text. */
async function select(env: LocalEnvironment, query: SQL): Promise<(string | null)[][]> {
  const { sql: text, params } = new PgDialect().sqlToQuery(query);
  return (
    await env.stack.engine.query(
      text,
      params.map((p) => (p === null || p === undefined ? null : String(p))),
    )
  ).rows;
}

/** One list: how to build the cursor of its last page. */
interface ListSpec {
  name: string;
  path: string;
  codec: string;
  filters: string;
  /** Query fields the filters function reads (the unfiltered list). */
  unfiltered: object;
  /** The cursor key of the row `offset` rows from the end (0 = the last row). */
  keyFromEnd(env: LocalEnvironment, offset: number): Promise<readonly unknown[] | undefined>;
}

const LISTS: readonly ListSpec[] = [
  {
    name: "orders/recent",
    path: "/orders/recent",
    codec: "recentOrdersCursor",
    filters: "recentOrdersFilters",
    unfiltered: { status: "all" },
    async keyFromEnd(env, offset) {
      // Reverse of `date desc, srid asc`.
      const [row] = await select(
        env,
        sql`select ${orders.date}::text, ${orders.srid} from ${orders} where ${eq(orders.orgId, env.demo.orgId)}
            order by ${asc(orders.date)}, ${desc(orders.srid)} limit 1 offset ${offset}`,
      );
      return row && [row[0], row[1]];
    },
  },
  {
    name: "stocks",
    path: "/stocks",
    codec: "stocksCursor",
    filters: "stocksFilters",
    unfiltered: { warehouses: [], sizes: [] },
    async keyFromEnd(env, offset) {
      // Reverse of the list's order (`src/routes/dashboard/list-stocks.ts`): every term descending.
      const terms = [
        sql`${stocks.supplierArticle}`,
        sql`${stocks.nmId}`,
        ...sizeOrderBy(stocks.techSize),
        sql`${stocks.warehouseName}`,
        sql`${stocks.barcode}`,
      ];
      const [row] = await select(
        env,
        sql`select ${stocks.supplierArticle}, ${stocks.nmId}::text, ${stocks.techSize}, ${stocks.warehouseName}, ${stocks.barcode}
            from ${stocks} where ${eq(stocks.orgId, env.demo.orgId)}
            order by ${sql.join(
              terms.map((t) => sql`${t} desc`),
              sql`, `,
            )} limit 1 offset ${offset}`,
      );
      return row && [row[0], Number(row[1]), row[2], row[3], row[4]];
    },
  },
];

/** Measures one list (see the module comment). */
async function measureList(
  env: LocalEnvironment,
  headers: Record<string, string>,
  spec: ListSpec,
  requests: number,
): Promise<ListPagingFigure> {
  const url = `${env.workerUrl}/api/v1${spec.path}?limit=${LIMIT}`;
  const first = JSON.parse((await uncachedRead(env, url, headers)).body) as { total: number; nextCursor?: string | null };
  const figure: ListPagingFigure = { list: spec.name, total: first.total, firstPage: await timeUncached(env, url, headers, requests) };
  if (first.total > MAX_OFFSET) {
    try {
      figure.deepestOffsetPage = await timeUncached(env, `${url}&offset=${MAX_OFFSET}`, headers, requests);
    } catch (err) {
      figure.note = `offset=${MAX_OFFSET} refused: ${err instanceof Error ? err.message.slice(0, 200) : String(err)}`;
    }
  }
  const cursors = await codecOf(spec.codec, spec.filters);
  if (!("nextCursor" in first) || cursors === undefined) {
    figure.note = "cursor paging not available";
    return figure;
  }
  if (first.total <= LIMIT) {
    figure.note = "one page only";
    return figure;
  }
  const lastRows = first.total % LIMIT || LIMIT;
  const key = await spec.keyFromEnd(env, lastRows);
  if (key === undefined) throw new Error(`${spec.name}: no row ${lastRows} from the end in the database`);
  const lastUrl = `${url}&cursor=${encodeURIComponent(cursors.codec.encode(key, cursors.filters(spec.unfiltered)))}`;
  const check = JSON.parse((await uncachedRead(env, lastUrl, headers)).body) as { items: unknown[]; nextCursor: string | null };
  if (check.items.length !== lastRows || check.nextCursor !== null) {
    figure.note = `the built cursor did not give the last page: ${check.items.length} rows (expected ${lastRows}), nextCursor ${check.nextCursor === null ? "null" : "set"}`;
  }
  const lastPage = await timeUncached(env, lastUrl, headers, requests);
  figure.lastPage = { ...lastPage, rows: check.items.length };
  figure.lastOverFirst = round1(lastPage.p50ms / Math.max(0.1, figure.firstPage.p50ms));
  return figure;
}

/** Measures both lists, `requests` reads per page. */
export async function runPagingBench(env: LocalEnvironment, token: string, requests: number): Promise<ListPagingFigure[]> {
  const headers = { Authorization: `Bearer ${token}` };
  const figures: ListPagingFigure[] = [];
  for (const spec of LISTS) figures.push(await measureList(env, headers, spec, requests));
  return figures;
}

/** The human lines of one list's figures. */
export function pagingLines(figure: ListPagingFigure): string[] {
  const p = (f: PageFigure) => `p50 ${f.p50ms} ms  p95 ${f.p95ms} ms`;
  const lines = [
    `GET ${`/api/v1/${figure.list}?limit=${LIMIT}`.padEnd(32)} (${figure.total.toLocaleString("en-US")} rows)`,
    `  first page              ${p(figure.firstPage)}`,
  ];
  if (figure.lastPage) lines.push(`  last page (cursor)      ${p(figure.lastPage)}  last/first ${figure.lastOverFirst}×`);
  if (figure.deepestOffsetPage) lines.push(`  offset=${MAX_OFFSET} page       ${p(figure.deepestOffsetPage)}`);
  if (figure.note) lines.push(`  ${figure.note}`);
  return lines;
}
