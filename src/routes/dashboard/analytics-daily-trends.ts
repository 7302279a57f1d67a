/**
 * `GET /api/v1/analytics/daily-trends?period=&format=json|svg` — per-day counts of orders,
 * buyouts, cancellations and returns, the period's top 10 products, and a chart of the four
 * counts (`chart-daily-trends.ts`): in the JSON as a `data:image/svg+xml;base64,…` URI, or on
 * its own with `?format=svg` (`Content-Type: image/svg+xml`). The chart's labels are Russian or
 * English by `Accept-Language` (`Content-Language` says which; `Vary: Accept-Language`). Both
 * forms are cached (the format is part of the cache key). One Neon request (`db.batch` of the
 * per-day figures and the top products). Errors: 400 (bad period or format, unknown
 * parameter), 401, 403.
 */
import { z } from "@hono/zod-openapi";
import { negotiateLanguage } from "../../core/language";
import { defineOperation } from "../../core/route";
import { moscowDay } from "../../core/time";
import { svgDataUri } from "./chart";
import { renderDailyTrendsChart } from "./chart-daily-trends";
import { chartLanguages } from "./chart-locale";
import { cacheTtl, dashboardReaders, group } from "./group";
import { periodRange } from "./period";
import { dailyFigures, fillDays, pickTopProducts, topProducts, toTopProduct } from "./rollup";
import { dailyTrends, dailyTrendsHeaders, dailyTrendsQuery } from "./schemas";

/** Response headers of the 200: the chart's language, and that it depends on `Accept-Language`. */
const languageHeaders = {
  "Content-Language": { description: "The chart's language: `ru` or `en`.", schema: { type: "string" as const, example: "ru" } },
  Vary: {
    description: "Includes `Accept-Language`: the chart's labels depend on it.",
    schema: { type: "string" as const, example: "Accept-Language" },
  },
};

/** `GET /analytics/daily-trends`, mounted under `/api/v1`. */
export const analyticsDailyTrends = defineOperation({
  route: group.route({
    method: "get",
    path: "/api/v1/analytics/daily-trends",
    summary: "Per-day orders, buyouts, cancellations and returns, with a chart",
    access: dashboardReaders,
    cache: { name: "analytics-daily-trends", ttlSeconds: cacheTtl.analytics, languages: chartLanguages },
    request: { query: dailyTrendsQuery, headers: dailyTrendsHeaders },
    responses: {
      200: {
        description: "Per-day orders, buyouts, cancellations and returns, with a chart (`format=svg`: the chart alone).",
        headers: languageHeaders,
        content: {
          "application/json": { schema: dailyTrends },
          "image/svg+xml": {
            schema: z.string().openapi({
              description:
                "An SVG chart of the four counts: orders and buyouts above, cancellations and returns below on their own scale; labels in the negotiated language.",
            }),
          },
        },
      },
    },
  }),
  handler: async (c) => {
    const { period, format } = c.req.valid("query");
    const language = negotiateLanguage(c.req.valid("header")["accept-language"], chartLanguages);
    const { orgId } = c.var.auth;
    const { db } = c.var.services;
    const today = moscowDay();
    const range = periodRange(period, today);
    const [daily, precomputedTop, liveTop] = await db.batch([dailyFigures(db, orgId, range), ...topProducts(db, orgId, period, range)]);
    const top = pickTopProducts(precomputedTop, liveTop);
    const days = fillDays(range, daily).map((d) => ({
      day: d.day,
      orders: d.orders,
      buyouts: d.buyouts,
      cancellations: d.cancellations,
      returns: d.returns,
    }));
    const svg = renderDailyTrendsChart(days, { language, today });
    const headers = { "Content-Language": language, Vary: "Accept-Language" };
    if (format === "svg") return c.body(svg, 200, { ...headers, "Content-Type": "image/svg+xml" });
    return c.json({ period, range, days, topProducts: top.map(toTopProduct), chart: svgDataUri(svg) }, 200, headers);
  },
});
