/**
 * `GET /api/v1/analytics/sales?period=` — totals, a per-day series (every day of the period,
 * zeros included) and the top 10 products by orders amount, from the daily rollup.
 * One Neon request: the per-day figures and the top products in one `db.batch`; the totals
 * are the exact sum of the days.
 * Errors: 400 (bad period or unknown parameter), 401, 403.
 */
import { defineOperation } from "../../core/route";
import { cacheTtl, dashboardReaders, group } from "./group";
import { periodRange } from "./period";
import { addFigures, dailyFigures, fillDays, noFigures, pickTopProducts, topProducts, toSalesTotals, toTopProduct } from "./rollup";
import { periodQuery, salesAnalytics } from "./schemas";

/** `GET /analytics/sales`, mounted under `/api/v1`. */
export const analyticsSales = defineOperation({
  route: group.route({
    method: "get",
    path: "/api/v1/analytics/sales",
    summary: "Sales totals, a per-day series and the top products of a period",
    access: dashboardReaders,
    cache: { name: "analytics-sales", ttlSeconds: cacheTtl.analytics },
    request: { query: periodQuery },
    responses: {
      200: {
        description: "Sales totals, a per-day series and the top products of a period.",
        content: { "application/json": { schema: salesAnalytics } },
      },
    },
  }),
  handler: async (c) => {
    const { period } = c.req.valid("query");
    const { orgId } = c.var.auth;
    const { db } = c.var.services;
    const range = periodRange(period);
    const [daily, precomputedTop, liveTop] = await db.batch([dailyFigures(db, orgId, range), ...topProducts(db, orgId, period, range)]);
    const top = pickTopProducts(precomputedTop, liveTop);
    const days = fillDays(range, daily);
    return c.json(
      {
        period,
        range,
        totals: toSalesTotals(days.reduce(addFigures, noFigures)),
        series: days.map((d) => ({ day: d.day, ...toSalesTotals(d) })),
        topProducts: top.map(toTopProduct),
      },
      200,
    );
  },
});
