/**
 * `GET /api/v1/analytics/daily-trends?period=&format=json|svg` — per-day counts of orders,
 * buyouts, cancellations and returns, the period's top 10 products, and a line chart of the
 * four counts: in the JSON as a `data:image/svg+xml;base64,…` URI, or on its own with
 * `?format=svg` (`Content-Type: image/svg+xml`). Both forms are cached (the format is part
 * of the cache key). One Neon request (`db.batch` of the per-day figures and the top products).
 * Errors: 400 (bad period or format, unknown parameter), 401, 403.
 */
import { z } from "@hono/zod-openapi";
import { defineOperation } from "../../core/route";
import { renderLineChart, svgDataUri } from "./chart";
import { cacheTtl, dashboardReaders, group } from "./group";
import { periodRange } from "./period";
import { dailyFigures, fillDays, topProducts, toTopProduct } from "./rollup";
import { dailyTrends, dailyTrendsQuery } from "./schemas";

/** The four events of the chart, with their legend names and colours. */
const events = [
  { key: "orders", name: "Orders", color: "#2563eb" },
  { key: "buyouts", name: "Buyouts", color: "#16a34a" },
  { key: "cancellations", name: "Cancellations", color: "#d97706" },
  { key: "returns", name: "Returns", color: "#dc2626" },
] as const;

/** `GET /analytics/daily-trends`, mounted under `/api/v1`. */
export const analyticsDailyTrends = defineOperation({
  route: group.route({
    method: "get",
    path: "/api/v1/analytics/daily-trends",
    summary: "Per-day orders, buyouts, cancellations and returns, with a chart",
    access: dashboardReaders,
    cache: { name: "analytics-daily-trends", ttlSeconds: cacheTtl.analytics },
    request: { query: dailyTrendsQuery },
    responses: {
      200: {
        description: "Per-day orders, buyouts, cancellations and returns, with a chart (`format=svg`: the chart alone).",
        content: {
          "application/json": { schema: dailyTrends },
          "image/svg+xml": { schema: z.string().openapi({ description: "An SVG line chart of the four counts." }) },
        },
      },
    },
  }),
  handler: async (c) => {
    const { period, format } = c.req.valid("query");
    const { orgId } = c.var.auth;
    const { db } = c.var.services;
    const range = periodRange(period);
    const [daily, top] = await db.batch([dailyFigures(db, orgId, range), topProducts(db, orgId, range)]);
    const days = fillDays(range, daily).map((d) => ({
      day: d.day,
      orders: d.orders,
      buyouts: d.buyouts,
      cancellations: d.cancellations,
      returns: d.returns,
    }));
    const svg = renderLineChart({
      title: `Orders, buyouts, cancellations and returns per day, ${range.from} – ${range.to} (Moscow)`,
      labels: days.map((d) => d.day.slice(5)),
      series: events.map((e) => ({ name: e.name, color: e.color, values: days.map((d) => d[e.key]) })),
    });
    if (format === "svg") return c.body(svg, 200, { "Content-Type": "image/svg+xml" });
    return c.json({ period, range, days, topProducts: top.map(toTopProduct), chart: svgDataUri(svg) }, 200);
  },
});
