/**
 * `GET /api/v1/crm/events?state=received|processed|failed|dead&cursor=&limit=`: the org's received
 * CRM webhook events, newest first, keyset-paged by (`received_at` desc, `id` desc). An event's state
 * is its `crm-event` job's status (queued/running → received, succeeded → processed, failed, dead);
 * an event whose job is gone reads processed when it was processed, else received. Payloads are
 * never returned: they may hold personal data.
 */
import { and, desc, eq, sql } from "drizzle-orm";
import { encodeCursor } from "../../core/cursor";
import { crmEvents, jobs } from "../../core/db/schema";
import { defineOperation } from "../../core/route";
import { isoTime } from "../../core/time";
import { crmReaders, group } from "./group";
import { type CrmEventState, eventsPage, eventsQuery } from "./schemas";

/** The event's state from its job (see the module comment). */
const eventState = sql<CrmEventState>`case
  when ${jobs.status} = 'succeeded' or (${jobs.id} is null and ${crmEvents.processedAt} is not null) then 'processed'
  when ${jobs.status} = 'failed' then 'failed'
  when ${jobs.status} = 'dead' then 'dead'
  else 'received' end`;

/** The org's CRM events, newest first. */
export const listEvents = defineOperation({
  route: group.route({
    method: "get",
    path: "/api/v1/crm/events",
    summary: "The org's received CRM events",
    description:
      "Webhook events received from the org's CRMs, newest first, with their processing state — its job's status: " +
      "`received` (queued or running), `processed`, `failed` (an attempt failed; QStash retries) or `dead` (QStash " +
      "gave up; replay it with `POST /api/v1/admin/dead-letters/{id}/replay`) — and the job's last error. `state` " +
      "filters by it. No payloads (they may hold personal data). At most `limit` (1–100, default 50) per page; " +
      "`nextCursor` is the next page's `cursor` (null on the last page). Not cached. One Neon request.",
    access: crmReaders,
    request: { query: eventsQuery },
    responses: {
      200: { description: "A page of the org's CRM events.", content: { "application/json": { schema: eventsPage } } },
    },
  }),
  handler: async (c) => {
    const { state, cursor, limit } = c.req.valid("query");
    const { db } = c.var.services;
    const rows = await db
      .select({
        id: crmEvents.id,
        integrationId: crmEvents.integrationId,
        eventId: crmEvents.eventId,
        scheme: crmEvents.scheme,
        type: crmEvents.type,
        state: eventState,
        receivedAt: crmEvents.receivedAt,
        processedAt: crmEvents.processedAt,
        jobId: crmEvents.jobId,
        lastError: jobs.lastError,
      })
      .from(crmEvents)
      .leftJoin(jobs, and(eq(jobs.id, crmEvents.jobId), eq(jobs.orgId, crmEvents.orgId)))
      .where(
        and(
          eq(crmEvents.orgId, c.var.auth.orgId),
          state === undefined ? undefined : sql`${eventState} = ${state}`,
          cursor === undefined
            ? undefined
            : sql`(${crmEvents.receivedAt}, ${crmEvents.id}) < (${cursor.time}::timestamptz, ${cursor.id}::uuid)`,
        ),
      )
      .orderBy(desc(crmEvents.receivedAt), desc(crmEvents.id))
      .limit(limit + 1);
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    const nextCursor = rows.length > limit && last ? encodeCursor({ time: last.receivedAt, id: last.id }) : null;
    const items = page.map((row) => ({ ...row, receivedAt: isoTime(row.receivedAt), processedAt: isoTime(row.processedAt) }));
    return c.json({ items, nextCursor }, 200);
  },
});
