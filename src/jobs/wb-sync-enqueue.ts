/**
 * Queuing one Wildberries sync of an org on demand: `POST /api/v1/sync/wildberries` and the first
 * sync after `PUT /api/v1/integrations/wildberries` (the cron queues its own, per slot, in
 * `scheduled-syncs.ts`).
 *
 * One statement creates the job only if the org has a connection, and the partial unique index on
 * unfinished jobs of a concurrency key (`jobs_active_concurrency_uq`, `wb-sync:{orgId}`) makes it a no-op when a sync of the org is already
 * queued, running or retrying: that job is answered instead. The publish (deduplication id = the
 * job id) goes through `waitUntil` after answering; if it fails, the job stays `queued` and the
 * reaper publishes it once its publish deadline passes.
 */
import { and, eq, inArray, sql } from "drizzle-orm";
import type { Services } from "../core/context";
import { type JobStatus, jobs, wbConnections } from "../core/db/schema";
import { concurrencyKeyOf } from "./kinds";
import { PUBLISH_GRACE_SECONDS, publishAfterCommit, secondsFromNow } from "./ledger";

/** The sync that will run: a new job (`created`) or the one already in flight. */
export interface EnqueuedSync {
  jobId: string;
  status: JobStatus;
  created: boolean;
}

/** Why no sync could be queued. */
export type EnqueueRefusal = "not-connected" | "conflict";

/**
 * Queues a `wb-sync` job of `orgId`, or finds the unfinished one, and publishes a new job through
 * `waitUntil`.
 * @returns the job, or why there is none: `not-connected` (no WB connection), `conflict` (the
 *   insert lost a race to a job that finished before it could be read; try again).
 */
export async function enqueueWbSync(
  services: Pick<Services, "db" | "queue" | "config" | "logger">,
  orgId: string,
  waitUntil: (work: Promise<unknown>) => void,
): Promise<EnqueuedSync | { refused: EnqueueRefusal }> {
  const { db } = services;
  const jobId = crypto.randomUUID();
  const created = await db.execute<{ id: string }>(sql`
    insert into ${jobs} (id, org_id, kind, dedup_id, concurrency_key, lease_until)
    select ${jobId}, ${orgId}, 'wb-sync', ${jobId}, ${concurrencyKeyOf("wb-sync", orgId)}, ${secondsFromNow(PUBLISH_GRACE_SECONDS)}
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
    if (connections.length === 0) return { refused: "not-connected" };
    const [job] = active;
    if (!job) return { refused: "conflict" };
    return { jobId: job.id, status: job.status, created: false };
  }
  waitUntil(publishAfterCommit(services, { jobId, kind: "wb-sync", deduplicationId: jobId }));
  return { jobId, status: "queued", created: true };
}
