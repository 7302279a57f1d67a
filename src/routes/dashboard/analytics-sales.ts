/**
 * `GET /api/v1/analytics/sales?period=` — totals, a per-day series (every day of the period,
 * zeros included) and the top 10 products by orders amount, from the daily rollup.
 * One Neon request: the per-day figures and the top products in one `db.batch`; the totals
 * are the exact sum of the days.
 * Errors: 400 (bad period or unknown parameter), 401, 403.
 */
import { Hono } from "hono";
import type { AppEnv } from "../../core/app";
import { cacheTtl } from "../../core/cache";
import { cachedRead } from "../../core/middleware";
import { validate } from "../../core/validation";
import { requireDashboardReader } from "./access";
import { periodRange } from "./period";
import { addFigures, dailyFigures, fillDays, noFigures, topProducts, toSalesTotals, toTopProduct } from "./rollup";
import { periodQuery, type SalesAnalytics } from "./schemas";

/** `GET /analytics/sales`, mounted under `/api/v1`. */
export const analyticsSales = new Hono<AppEnv>().get(
  "/analytics/sales",
  requireDashboardReader(),
  cachedRead("dashboard", "analytics-sales", cacheTtl.analytics),
  validate("query", periodQuery),
  async (c) => {
    const { period } = c.req.valid("query");
    const { orgId } = c.var.auth;
    const { db } = c.var.services;
    const range = periodRange(period);
    const [daily, top] = await db.batch([dailyFigures(db, orgId, range), topProducts(db, orgId, range)]);
    const days = fillDays(range, daily);
    return c.json({
      period,
      range,
      totals: toSalesTotals(days.reduce(addFigures, noFigures)),
      series: days.map((d) => ({ day: d.day, ...toSalesTotals(d) })),
      topProducts: top.map(toTopProduct),
    } satisfies SalesAnalytics);
  },
);
