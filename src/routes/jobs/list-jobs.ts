/** `GET /api/v1/admin/jobs?status=&kind=&cursor=&limit=`: the org's jobs of every kind. */
import { orgAdmins, tokenAccess } from "../../core/access";
import { encodeCursor } from "../../core/cursor";
import { defineOperation } from "../../core/route";
import { isoTime } from "../../core/time";
import { type JobRow, listJobs } from "../../jobs/admin";
import { group } from "./group";
import { type AdminJobView, adminJobsQuery, adminJobsResponse } from "./schemas";

/** A `jobs` row as the admin API shows it (times RFC 3339 UTC). */
export function toAdminJobView(row: JobRow): AdminJobView {
  return {
    id: row.id,
    kind: row.kind,
    status: row.status,
    attempts: row.attempts,
    lastError: row.lastError,
    createdAt: isoTime(row.createdAt),
    startedAt: isoTime(row.startedAt),
    finishedAt: isoTime(row.finishedAt),
    idempotencyKey: row.dedupId,
    leaseUntil: isoTime(row.leaseUntil),
  };
}

/** The org's jobs, newest first, a page at a time. */
export const listAdminJobs = defineOperation({
  route: group.route({
    method: "get",
    path: "/api/v1/admin/jobs",
    summary: "The org's jobs",
    description:
      "Jobs of every kind (`wb-sync`, `crm-event`, `kommo-token-refresh`) in the one job ledger, newest first, " +
      "filtered by `status` (`queued`, `running`, `succeeded`, `failed`, `dead`) and `kind`, `limit` (1–100, " +
      "default 50) at a time. `nextCursor` pages on (keyset: as fast at any depth, stable while jobs are added). " +
      "`lastError` is the real cause of the last failed attempt, in words.",
    access: tokenAccess(orgAdmins),
    request: { query: adminJobsQuery },
    responses: {
      200: { description: "A page of the org's jobs.", content: { "application/json": { schema: adminJobsResponse } } },
    },
  }),
  handler: async (c) => {
    const { status, kind, cursor, limit } = c.req.valid("query");
    const page = await listJobs(c.var.services.db, c.var.auth.orgId, { status, kind, cursor, limit });
    return c.json({ jobs: page.rows.map(toAdminJobView), nextCursor: page.next ? encodeCursor(page.next) : null }, 200);
  },
});
