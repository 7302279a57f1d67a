/**
 * Bench part `dashboard`: every dashboard route (`src/routes/dashboard/*.ts`) read uncached on the
 * demo org's data as the sync left it (no manual `ANALYZE`: what a seller sees right after the
 * first sync, with whatever statistics autovacuum gathered by then).
 *
 * Each variant is read once (`first`: the query's cold start), then `requests` more times
 * (`BENCH_DASHBOARD_REQUESTS`, default 30), sequentially, each after bumping the org's cache
 * version (`bench/measure.ts`), so every answer is an `X-Cache: MISS` costing its Neon request:
 * p50, p95, p99 and mean of those. Variants:
 * - `analytics/sales`, `analytics/summary`, `analytics/daily-trends` (JSON, which embeds the chart,
 *   and `format=svg`) for the periods 7d, 30d and 180d;
 * - `stocks`: unfiltered, two warehouses, two sizes, a search text (a product's subject, which
 *   matches many names), an nmId prefix (3 digits) and one product's supplier article (the newest
 *   order's: anywhere in the list's order, as a seller looks one up); the values come from the data;
 * - `warehouses`, `sizes`, `orders/recent` (all, and `status=canceled`), `orders/{srid}`.
 */
import type { LocalEnvironment } from "../scripts/local-env";
import { type LatencySummary, timeUncached, uncachedRead } from "./measure";

/** One measured variant: its path and query, and its latencies. */
export interface DashboardRouteFigure extends LatencySummary {
  route: string;
  firstMs: number;
}

/** What the part reports. */
export interface DashboardBench {
  requestsPerRoute: number;
  routes: DashboardRouteFigure[];
}

const PERIODS = ["7d", "30d", "180d"] as const;

/** The answers the bench reads values from. */
interface StocksAnswer {
  items: { nmId: number; name: string | null }[];
  filters: { warehouses: string[]; sizes: string[] };
}
interface RecentOrdersAnswer {
  items: { srid: string; supplierArticle: string }[];
}

/** Two values of `values` spread apart (the 2nd and the middle one), or fewer when there are fewer. */
const twoOf = (values: readonly string[]): string[] =>
  [...new Set([values[1] ?? values[0], values[Math.floor(values.length / 2)]])].filter((v) => v !== undefined);

/** The query string of `params` (repeated keys for arrays). */
function query(params: Record<string, string | string[]>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) for (const v of Array.isArray(value) ? value : [value]) search.append(key, v);
  const text = search.toString();
  return text === "" ? "" : `?${text}`;
}

/**
 * Measures every variant (see the module comment); `onRoute` is told each figure as it is taken.
 * @throws Error when a read is not a 200 `X-Cache: MISS`, or the data set has no stocks or orders.
 */
export async function runDashboardBench(
  env: LocalEnvironment,
  token: string,
  requests: number,
  onRoute: (figure: DashboardRouteFigure) => void = () => {},
): Promise<DashboardBench> {
  const headers = { Authorization: `Bearer ${token}` };
  const api = `${env.workerUrl}/api/v1`;
  const stocks = JSON.parse((await uncachedRead(env, `${api}/stocks?limit=1`, headers)).body) as StocksAnswer;
  const recent = JSON.parse((await uncachedRead(env, `${api}/orders/recent?limit=1`, headers)).body) as RecentOrdersAnswer;
  const product = stocks.items[0];
  const newest = recent.items[0];
  if (product === undefined || newest === undefined)
    throw new Error("the dashboard part needs synced stocks and orders: run it with the sync part");
  const subject = (product.name ?? "").split(" ")[0] ?? "";

  const variants: string[] = [];
  for (const period of PERIODS) {
    variants.push(
      `/analytics/sales?period=${period}`,
      `/analytics/summary?period=${period}`,
      `/analytics/daily-trends?period=${period}`,
      `/analytics/daily-trends?period=${period}&format=svg`,
    );
  }
  variants.push(
    "/stocks",
    `/stocks${query({ warehouses: twoOf(stocks.filters.warehouses) })}`,
    `/stocks${query({ sizes: twoOf(stocks.filters.sizes) })}`,
    ...(subject === "" ? [] : [`/stocks${query({ q: subject })}`]),
    `/stocks${query({ q: String(product.nmId).slice(0, 3) })}`,
    `/stocks${query({ q: newest.supplierArticle })}`,
    "/warehouses",
    "/sizes",
    "/orders/recent",
    "/orders/recent?status=canceled",
    `/orders/${newest.srid}`,
  );

  const routes: DashboardRouteFigure[] = [];
  for (const variant of variants) {
    const figure = { route: decodeURIComponent(variant), ...(await timeUncached(env, `${api}${variant}`, headers, requests)) };
    routes.push(figure);
    onRoute(figure);
  }
  return { requestsPerRoute: requests, routes };
}

/** The human line of one {@link DashboardRouteFigure}. */
export function dashboardLine(figure: DashboardRouteFigure): string {
  return `  GET ${figure.route.padEnd(58)} p50 ${String(figure.p50ms).padStart(7)} ms  p95 ${String(figure.p95ms).padStart(7)} ms  first ${String(figure.firstMs).padStart(7)} ms`;
}
