/** `POST /api/v1/sync/wildberries`: queues a Wildberries sync of the caller's org. */
import { and, eq, inArray, sql } from "drizzle-orm";
import { orgAdmins, tokenAccess } from "../../core/access";
import { jobs, wbConnections } from "../../core/db/schema";
import { ApiError } from "../../core/errors";
import { defineOperation } from "../../core/route";
import { PUBLISH_GRACE_SECONDS, publishJob, secondsFromNow } from "../../jobs/ledger";
import { group } from "./group";
import { startSyncResponse } from "./schemas";

/** Queues a `wb-sync` job of the caller's org, or answers the one already in flight. */
export const startSync = defineOperation({
  route: group.route({
    method: "post",
    path: "/api/v1/sync/wildberries",
    summary: "Start a Wildberries sync of the org",
    description:
      "Creates a `wb-sync` job (deduplication id = the job id) and publishes it to QStash with retries and the " +
      "failure callback, after answering. If a sync of the org is already queued, running or retrying, that job is " +
      "answered instead (`created: false`): one unfinished sync per org. If the publish fails, the job stays " +
      "`queued` and the reaper cron publishes it after a minute. Takes no body.",
    access: tokenAccess(orgAdmins, ["sync:write"]),
    errors: { 409: "The org has no Wildberries connection (add a statistics API token first)." },
    responses: {
      202: {
        description: "The job that will run: a new one (`created: true`) or the one already in flight.",
        content: { "application/json": { schema: startSyncResponse } },
      },
    },
  }),
  handler: async (c) => {
    const { orgId } = c.var.auth;
    const services = c.var.services;
    const { db, logger } = services;
    const jobId = crypto.randomUUID();
    const created = await db.execute<{ id: string }>(sql`
    insert into ${jobs} (id, org_id, kind, dedup_id, lease_until)
    select ${jobId}, ${orgId}, 'wb-sync', ${jobId}, ${secondsFromNow(PUBLISH_GRACE_SECONDS)}
    where exists (select 1 from ${wbConnections} where org_id = ${orgId})
    on conflict do nothing
    returning id`);
    if (created.rows.length === 0) {
      const [connections, active] = await db.batch([
        db.select({ orgId: wbConnections.orgId }).from(wbConnections).where(eq(wbConnections.orgId, orgId)),
        db
          .select({ id: jobs.id, status: jobs.status })
          .from(jobs)
          .where(and(eq(jobs.orgId, orgId), eq(jobs.kind, "wb-sync"), inArray(jobs.status, ["queued", "running", "failed"])))
          .limit(1),
      ]);
      if (connections.length === 0)
        throw new ApiError("CONFLICT", { detail: "The org has no Wildberries connection; add a statistics API token first." });
      const [job] = active;
      if (!job) throw new ApiError("CONFLICT", { detail: "A sync could not be queued; try again." });
      return c.json({ jobId: job.id, status: job.status, created: false }, 202);
    }
    c.executionCtx.waitUntil(
      publishJob(services, { jobId, kind: "wb-sync", deduplicationId: jobId }).catch((err: unknown) => {
        logger.warn("wb-sync publish failed; the reaper will publish it", { jobId, error: err });
      }),
    );
    return c.json({ jobId, status: "queued" as const, created: true }, 202);
  },
});
