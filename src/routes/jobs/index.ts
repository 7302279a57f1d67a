/**
 * Route group `jobs`: the QStash consumers under `/jobs` (signed deliveries, no user token) and
 * the sync admin API under `/api/v1` (JWT, org from the token). See docs/sync.md.
 */
import { Hono } from "hono";
import type { AppEnv } from "../../core/app";
import { failureCallback } from "./failure-callback";
import { listDeadLetters } from "./list-dead-letters";
import { replayDeadLetterRoute } from "./replay-dead-letter";
import { startSync } from "./start-sync";
import { syncStatus } from "./sync-status";
import { wbSyncDelivery } from "./wb-sync-delivery";

export const jobsRoutes = new Hono<AppEnv>()
  .route("/jobs", wbSyncDelivery)
  .route("/jobs", failureCallback)
  .route("/api/v1/sync", startSync)
  .route("/api/v1/sync", syncStatus)
  .route("/api/v1/admin/dead-letters", listDeadLetters)
  .route("/api/v1/admin/dead-letters", replayDeadLetterRoute);
