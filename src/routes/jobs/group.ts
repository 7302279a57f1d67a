/**
 * Route group `jobs`: the Wildberries sync. QStash delivers job messages to `/jobs/*` (signed
 * deliveries, no user token, not rate limited); the sync API under `/api/v1/sync` and the dead
 * letters under `/api/v1/admin/dead-letters` take an access token (the org comes from it) and are
 * rate limited in the buckets `jobs-read` and `jobs-write`. Two crons (the triggers of wrangler
 * env `jobs`) queue the scheduled syncs and reap stalled jobs. See docs/sync.md.
 */
import { defineGroup } from "../../core/route";
import { enqueueKommoTokenRefreshes } from "../../jobs/kommo-token-refresh";
import { reapJobs } from "../../jobs/reaper";
import { enqueueScheduledSyncs } from "../../jobs/scheduled-syncs";

/**
 * The `jobs` group. Crons (the same expressions as `[env.jobs.triggers]` in wrangler.toml):
 * every 30 minutes one `wb-sync` job per org with a Wildberries connection; every minute the
 * reaper — the outbox relay of every job kind — which re-publishes jobs not published within a
 * minute or whose lease expired, and buries abandoned ones; every hour one `kommo-token-refresh` job
 * per Kommo integration whose access token expires within 6 hours.
 */
export const group = defineGroup({
  name: "jobs",
  description: "Wildberries sync: start it and watch it, dead letters and their replay, and the QStash job consumers.",
  crons: {
    "*/30 * * * *": async (services, scheduledTime) => {
      await enqueueScheduledSyncs(services, scheduledTime);
    },
    "* * * * *": async (services, scheduledTime) => {
      await reapJobs(services, scheduledTime);
    },
    "0 * * * *": async (services, scheduledTime) => {
      await enqueueKommoTokenRefreshes(services, scheduledTime);
    },
  },
});
