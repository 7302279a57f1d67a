/**
 * `GET /api/v1/analytics/summary?period=` — four cards (orders, buyouts, cancellations,
 * returns), each with count and amount of the period, the same for the previous period of the
 * same length (the days just before), and the change in percent (null when the previous is 0).
 * One Neon request: both periods' rollup sums in one `db.batch`.
 * Errors: 400 (bad period or unknown parameter), 401, 403.
 */
import { defineOperation } from "../../core/route";
import { cacheTtl, dashboardReaders, group } from "./group";
import { changePercent, toRoubles } from "./money";
import { periodRange, previousRange } from "./period";
import { noFigures, type RollupFigures, rangeFigures } from "./rollup";
import { periodQuery, salesSummary } from "./schemas";

/** A card of one event: its count and kopeck fields in the rollup figures. */
const card = (current: RollupFigures, previous: RollupFigures, count: keyof RollupFigures, kopecks: keyof RollupFigures) => ({
  count: current[count],
  amount: toRoubles(current[kopecks]),
  previousCount: previous[count],
  previousAmount: toRoubles(previous[kopecks]),
  changePercent: changePercent(current[count], previous[count]),
  amountChangePercent: changePercent(current[kopecks], previous[kopecks]),
});

/** `GET /analytics/summary`, mounted under `/api/v1`. */
export const analyticsSummary = defineOperation({
  route: group.route({
    method: "get",
    path: "/api/v1/analytics/summary",
    summary: "Summary cards: this period against the previous one",
    access: dashboardReaders,
    cache: { name: "analytics-summary", ttlSeconds: cacheTtl.analytics },
    request: { query: periodQuery },
    responses: {
      200: {
        description: "Summary cards: this period against the previous one.",
        content: { "application/json": { schema: salesSummary } },
      },
    },
  }),
  handler: async (c) => {
    const { period } = c.req.valid("query");
    const { orgId } = c.var.auth;
    const { db } = c.var.services;
    const range = periodRange(period);
    const before = previousRange(range);
    const [[current = noFigures], [previous = noFigures]] = await db.batch([
      rangeFigures(db, orgId, range),
      rangeFigures(db, orgId, before),
    ]);
    return c.json(
      {
        period,
        range,
        previousRange: before,
        cards: {
          orders: card(current, previous, "orders", "ordersKopecks"),
          buyouts: card(current, previous, "buyouts", "buyoutsKopecks"),
          cancellations: card(current, previous, "cancellations", "cancellationsKopecks"),
          returns: card(current, previous, "returns", "returnsKopecks"),
        },
      },
      200,
    );
  },
});
