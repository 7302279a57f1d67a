/** `DELETE /api/v1/integrations/wildberries`: disconnects the org's Wildberries token. */
import { and, eq, inArray, sql } from "drizzle-orm";
import { jobs, wbConnections } from "../../core/db/schema";
import { defineOperation } from "../../core/route";
import { connectionManagers, group } from "./group";

/** What an unfinished sync of a disconnected org records as its end. */
export const DISCONNECTED_CAUSE = "the Wildberries connection was removed (DELETE /api/v1/integrations/wildberries)";

/** Disconnects the org from Wildberries (owners, admins). */
export const disconnectWildberries = defineOperation({
  route: group.route({
    method: "delete",
    path: "/api/v1/integrations/wildberries",
    summary: "Disconnect the org's Wildberries token",
    description:
      "Deletes the org's stored token, in one transaction with ending its unfinished sync (the job becomes `dead`, " +
      "its `last_error` saying why, so no retry or continuation runs without a token). Scheduled syncs stop: the cron " +
      "queues only orgs with a connection. The synced data stays (dashboards keep answering from it) until a token is " +
      "connected again. Answers 204, also when the org had no connection. Takes no body.",
    access: connectionManagers,
    responses: { 204: { description: "The org has no Wildberries connection now." } },
  }),
  handler: async (c) => {
    const { orgId } = c.var.auth;
    const { db, logger } = c.var.services;
    const [removed, ended] = await db.batch([
      db.delete(wbConnections).where(eq(wbConnections.orgId, orgId)).returning({ orgId: wbConnections.orgId }),
      db
        .update(jobs)
        .set({ status: "dead", lastError: DISCONNECTED_CAUSE, finishedAt: sql`now()`, leaseUntil: null })
        .where(and(eq(jobs.orgId, orgId), eq(jobs.kind, "wb-sync"), inArray(jobs.status, ["queued", "running", "failed"])))
        .returning({ id: jobs.id }),
    ]);
    if (removed.length > 0) logger.info("wildberries disconnected", { orgId, endedJobs: ended.map((j) => j.id) });
    return c.body(null, 204);
  },
});
