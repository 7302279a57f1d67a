/** `GET /api/v1/helpdesk/stats?period=7d|30d|90d`: counts by status, median first-response and resolution times, SLA breaches. */
import { defineOperation } from "../../core/route";
import { helpdeskStats } from "../../helpdesk/tickets";
import { group, statsReaders } from "./group";
import { statsQuery, helpdeskStats as statsSchema } from "./schemas";

/** The org's helpdesk stats over a period. */
export const getStatsRoute = defineOperation({
  route: group.route({
    method: "get",
    path: "/api/v1/helpdesk/stats",
    summary: "Helpdesk stats",
    description:
      "Over the tickets created in the last `period` (default 30d): how many, by their status now; the median minutes " +
      "from creation to the first manager reply (`firstResponseAt`) and to `resolved` (`resolvedAt`); how many missed " +
      "the org's targets (`sla`, minutes). One Neon request.",
    access: statsReaders,
    request: { query: statsQuery },
    responses: { 200: { description: "The stats.", content: { "application/json": { schema: statsSchema } } } },
  }),
  handler: async (c) => {
    const { period } = c.req.valid("query");
    const stats = await helpdeskStats(c.var.services.db, c.var.auth.orgId, Number(period.slice(0, -1)));
    return c.json({ period, ...stats }, 200);
  },
});
