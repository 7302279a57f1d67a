/**
 * Route group `dashboard`: its routes, mounted by the route-group registry. `/orders/recent` is
 * mounted before `/orders/{srid}` so the literal path wins.
 */
import { createRouter, type RouteGroup } from "../../core/route";
import { analyticsDailyTrends } from "./analytics-daily-trends";
import { analyticsSales } from "./analytics-sales";
import { analyticsSummary } from "./analytics-summary";
import { getOrder } from "./get-order";
import { group } from "./group";
import { listSizes } from "./list-sizes";
import { listStocks } from "./list-stocks";
import { listWarehouses } from "./list-warehouses";
import { recentOrders } from "./recent-orders";

const routes = createRouter().openapiRoutes([
  analyticsSales,
  analyticsSummary,
  analyticsDailyTrends,
  listStocks,
  listWarehouses,
  listSizes,
  recentOrders,
  getOrder,
] as const);

/** The `dashboard` group; `typeof dashboard.routes` types the dashboard client. */
export const dashboard = { ...group, routes } satisfies RouteGroup<typeof routes>;
