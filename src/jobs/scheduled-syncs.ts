/**
 * The 30-minute cron: one `wb-sync` job per org with a Wildberries connection.
 *
 * One `INSERT … SELECT … ON CONFLICT DO NOTHING` creates the jobs. The deduplication id
 * `wb-sync:{orgId}:{slot}` (slot = start of the 30-minute window, UTC, e.g. `2026-11-20T14:30Z`)
 * is unique in `jobs`, so a cron that fires twice in a slot adds nothing; the partial unique index
 * on unfinished jobs skips an org whose previous sync is still queued, running or retrying. Then the
 * new jobs are published with QStash's batch API under the same deduplication ids; a failed publish
 * leaves them `queued` for the reaper.
 */
import { sql } from "drizzle-orm";
import type { Services } from "../core/context";
import { jobs } from "../core/db/schema";
import { PUBLISH_GRACE_SECONDS, publishJobs, secondsFromNow } from "./ledger";

/** Length of a schedule slot, ms (the cron runs every 30 minutes). */
export const SYNC_SLOT_MS = 30 * 60_000;

/** The slot of a cron firing: start of its 30-minute window, `YYYY-MM-DDTHH:mmZ`. */
export function syncSlot(scheduledTime: number): string {
  return `${new Date(Math.floor(scheduledTime / SYNC_SLOT_MS) * SYNC_SLOT_MS).toISOString().slice(0, 16)}Z`;
}

/** The deduplication id of an org's scheduled sync in `slot`. */
export const scheduledSyncDedupId = (orgId: string, slot: string) => `wb-sync:${orgId}:${slot}`;

/**
 * Creates and publishes this slot's sync jobs.
 * @returns how many jobs were created and how many of them published.
 */
export async function enqueueScheduledSyncs(services: Pick<Services, "db" | "queue" | "config" | "logger">, scheduledTime: number) {
  const { db } = services;
  const slot = syncSlot(scheduledTime);
  const created = await db.execute<{ id: string; dedup_id: string }>(sql`
    insert into ${jobs} (org_id, kind, dedup_id, concurrency_key, lease_until)
    select org_id, 'wb-sync', 'wb-sync:' || org_id || ':' || ${slot}, 'wb-sync:' || org_id, ${secondsFromNow(PUBLISH_GRACE_SECONDS)}
    from wb_connections
    on conflict do nothing
    returning id, dedup_id`);
  const publications = created.rows.map((r) => ({ jobId: r.id, kind: "wb-sync" as const, deduplicationId: r.dedup_id }));
  const published = await publishJobs(services, publications);
  services.logger.info("scheduled wb-sync jobs", { slot, created: publications.length, published });
  return { slot, created: publications.length, published };
}
