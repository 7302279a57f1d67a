/**
 * `GET /api/v1/crm/leads?status=&pipeline=&cursor=&limit=`: the org's leads, most recently updated
 * in the CRM first, keyset-paged by (`crm_updated_at` desc, `lead_id` desc, `integration_id` desc —
 * the last only breaks ties between two CRMs' equal ids). Deleted leads are left out.
 */
import { and, desc, eq, isNull, sql } from "drizzle-orm";
import { encodeCursor } from "../../core/cursor";
import { crmLeads } from "../../core/db/schema";
import { defineOperation } from "../../core/route";
import { isoTime } from "../../core/time";
import { crmReaders, group } from "./group";
import { type LeadView, leadKeyId, leadsPage, leadsQuery } from "./schemas";

/** A `crm_leads` row as the API shows it. */
function toLeadView(row: typeof crmLeads.$inferSelect): LeadView {
  return {
    integrationId: row.integrationId,
    leadId: row.leadId,
    name: row.name,
    price: row.price,
    statusId: row.statusId,
    pipelineId: row.pipelineId,
    responsibleUserId: row.responsibleUserId,
    contactId: row.contactId,
    createdAt: isoTime(row.crmCreatedAt),
    updatedAt: isoTime(row.crmUpdatedAt),
    closedAt: isoTime(row.closedAt),
  };
}

/** The org's leads, newest CRM update first. */
export const listLeads = defineOperation({
  route: group.route({
    method: "get",
    path: "/api/v1/crm/leads",
    summary: "The org's CRM leads",
    description:
      "Leads of every CRM integration of the org as the CRM last said they were (an update older than the one kept is " +
      "ignored), most recently updated in the CRM first; deleted leads are left out. Filters: `status` (the CRM's " +
      "`status_id`) and `pipeline` (`pipeline_id`). At most `limit` (1–100, default 50) per page; `nextCursor` is the " +
      "next page's `cursor` (null on the last page). A keyset page: as fast at any depth, and rows updated while paging " +
      "move to the front instead of shifting a page. Not cached. One Neon request.",
    access: crmReaders,
    request: { query: leadsQuery },
    responses: {
      200: { description: "A page of the org's leads.", content: { "application/json": { schema: leadsPage } } },
    },
  }),
  handler: async (c) => {
    const { status, pipeline, cursor, limit } = c.req.valid("query");
    const { db } = c.var.services;
    const rows = await db
      .select()
      .from(crmLeads)
      .where(
        and(
          eq(crmLeads.orgId, c.var.auth.orgId),
          isNull(crmLeads.deletedAt),
          status === undefined ? undefined : eq(crmLeads.statusId, status),
          pipeline === undefined ? undefined : eq(crmLeads.pipelineId, pipeline),
          cursor === undefined
            ? undefined
            : sql`(${crmLeads.crmUpdatedAt}, ${crmLeads.leadId}, ${crmLeads.integrationId}) < (${cursor.time}::timestamptz, ${cursor.id.leadId}::bigint, ${cursor.id.integrationId}::uuid)`,
        ),
      )
      .orderBy(desc(crmLeads.crmUpdatedAt), desc(crmLeads.leadId), desc(crmLeads.integrationId))
      .limit(limit + 1);
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    const nextCursor =
      rows.length > limit && last
        ? encodeCursor({ time: last.crmUpdatedAt, id: leadKeyId({ leadId: last.leadId, integrationId: last.integrationId }) })
        : null;
    return c.json({ items: page.map(toLeadView), nextCursor }, 200);
  },
});
