/**
 * Route group `dashboard`: the seller's analytics API under `/api/v1`. Every route requires an
 * owner, admin or analyst token, reads only the org in that token, is rate limited and cached
 * per org (`cachedRead`), and answers from at most one Neon request. See docs/api.md.
 * `/orders/recent` is mounted before `/orders/{srid}` so the literal path wins.
 */
import { Hono } from "hono";
import type { AppEnv } from "../../core/app";
import { analyticsDailyTrends } from "./analytics-daily-trends";
import { analyticsSales } from "./analytics-sales";
import { analyticsSummary } from "./analytics-summary";
import { getOrder } from "./get-order";
import { listSizes } from "./list-sizes";
import { listStocks } from "./list-stocks";
import { listWarehouses } from "./list-warehouses";
import { recentOrders } from "./recent-orders";

/** Every dashboard route, mounted under `/api/v1`. */
export const dashboardRoutes = new Hono<AppEnv>()
  .route("/api/v1", analyticsSales)
  .route("/api/v1", analyticsSummary)
  .route("/api/v1", analyticsDailyTrends)
  .route("/api/v1", listStocks)
  .route("/api/v1", listWarehouses)
  .route("/api/v1", listSizes)
  .route("/api/v1", recentOrders)
  .route("/api/v1", getOrder);
