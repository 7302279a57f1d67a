/** `GET /api/v1/sync/status`: the org's Wildberries sync state. */
import { and, desc, eq } from "drizzle-orm";
import { tokenAccess } from "../../core/access";
import { jobs, syncState, wbConnections, wbDatasets } from "../../core/db/schema";
import { defineOperation } from "../../core/route";
import { isoTime } from "../../core/time";
import { tokenExpiry } from "../../integrations/wildberries/token";
import { group } from "./group";
import { type JobView, syncStatusResponse } from "./schemas";

/** Jobs listed in the status. */
const LATEST_JOBS = 10;

/** A `jobs` row as the sync API shows it (times RFC 3339 UTC). */
export function toJobView(job: typeof jobs.$inferSelect): JobView {
  return {
    id: job.id,
    kind: job.kind,
    status: job.status,
    attempts: job.attempts,
    lastError: job.lastError,
    createdAt: isoTime(job.createdAt),
    startedAt: isoTime(job.startedAt),
    finishedAt: isoTime(job.finishedAt),
  };
}

/** The org's sync state per data set, and its latest sync jobs. */
export const syncStatus = defineOperation({
  route: group.route({
    method: "get",
    path: "/api/v1/sync/status",
    summary: "The org's Wildberries sync state",
    description:
      "Whether the org has a Wildberries token and when it expires (`connection.expiringSoon` within 14 days of " +
      "it); per data set (orders, sales, stocks) the cursor, the last run, the last success, the rows received by " +
      "the last run, the rows stored and the last error (its cause in words, e.g. `orders: WB rejected the token " +
      `(401): …\`); and the ${LATEST_JOBS} latest sync jobs, newest first, each with its last error. One Neon request.`,
    access: tokenAccess(["owner", "admin", "analyst"], ["sync:read"]),
    responses: {
      200: { description: "The org's sync state and latest sync jobs.", content: { "application/json": { schema: syncStatusResponse } } },
    },
  }),
  handler: async (c) => {
    const { orgId } = c.var.auth;
    const { db } = c.var.services;
    const [states, latest, connection] = await db.batch([
      db.select().from(syncState).where(eq(syncState.orgId, orgId)),
      db
        .select()
        .from(jobs)
        .where(and(eq(jobs.orgId, orgId), eq(jobs.kind, "wb-sync")))
        .orderBy(desc(jobs.createdAt))
        .limit(LATEST_JOBS),
      db.select({ expiresAt: wbConnections.expiresAt }).from(wbConnections).where(eq(wbConnections.orgId, orgId)),
    ]);
    const datasets = wbDatasets.map((dataset) => {
      const s = states.find((row) => row.dataset === dataset);
      return {
        dataset,
        cursor: s?.cursor ?? null,
        lastRunAt: isoTime(s?.lastRunAt ?? null),
        lastSuccessAt: isoTime(s?.lastSuccessAt ?? null),
        lastRunRows: s?.lastRunRows ?? 0,
        totalRows: s?.totalRows ?? 0,
        lastError: s?.lastError ?? null,
      };
    });
    const [token] = connection;
    return c.json(
      { connected: token !== undefined, connection: token ? tokenExpiry(token.expiresAt) : null, datasets, jobs: latest.map(toJobView) },
      200,
    );
  },
});
