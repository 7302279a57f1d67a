/**
 * `GET /api/v1/sync/status` — the org's Wildberries sync state (owner, admin, analyst): per data
 * set the cursor, last run, last success, rows of the last run, rows stored and last error; and the
 * latest sync jobs. Also an API key with scope `sync:read`. One Neon request. Errors: 401, 403, 429.
 */
import { and, desc, eq } from "drizzle-orm";
import { Hono } from "hono";
import type { AppEnv } from "../../core/app";
import { jobs, syncState, wbConnections, wbDatasets } from "../../core/db/schema";
import { access, rateLimit } from "../../core/middleware";
import { isoTime, type JobView, type SyncStatusResponse } from "./schemas";

/** Jobs listed in the status. */
const LATEST_JOBS = 10;

/** A `jobs` row as the admin API shows it. */
export function toJobView(job: typeof jobs.$inferSelect): JobView {
  return {
    id: job.id,
    kind: job.kind,
    status: job.status,
    attempts: job.attempts,
    lastError: job.lastError,
    createdAt: isoTime(job.createdAt) ?? job.createdAt,
    startedAt: isoTime(job.startedAt),
    finishedAt: isoTime(job.finishedAt),
  };
}

export const syncStatus = new Hono<AppEnv>().get(
  "/status",
  access({ roles: ["owner", "admin", "analyst"], scopes: ["sync:read"] }),
  rateLimit("jobs"),
  async (c) => {
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
      db.select({ orgId: wbConnections.orgId }).from(wbConnections).where(eq(wbConnections.orgId, orgId)),
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
    return c.json({ connected: connection.length > 0, datasets, jobs: latest.map(toJobView) } satisfies SyncStatusResponse);
  },
);
