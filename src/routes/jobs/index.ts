/** Route group `jobs`: its routes, mounted by the route-group registry. */
import { createRouter, type RouteGroup } from "../../core/route";
import { assistantReplyDelivery } from "./assistant-reply";
import { crmEventDelivery } from "./crm-event-delivery";
import { discardAdminJob } from "./discard-job";
import { failureCallback } from "./failure-callback";
import { getAdminJob } from "./get-job";
import { group } from "./group";
import { helpdeskNotifyDelivery } from "./helpdesk-notify";
import { helpdeskUpdateDelivery } from "./helpdesk-update";
import { kommoTokenRefreshDelivery } from "./kommo-token-refresh";
import { listDeadLetters } from "./list-dead-letters";
import { listAdminJobs } from "./list-jobs";
import { replayDeadLetterRoute } from "./replay-dead-letter";
import { replayAdminJob } from "./replay-job";
import { startSync } from "./start-sync";
import { syncStatus } from "./sync-status";
import { wbSyncDelivery } from "./wb-sync-delivery";

const routes = createRouter().openapiRoutes([
  wbSyncDelivery,
  crmEventDelivery,
  kommoTokenRefreshDelivery,
  assistantReplyDelivery,
  helpdeskUpdateDelivery,
  helpdeskNotifyDelivery,
  failureCallback,
  startSync,
  syncStatus,
  listDeadLetters,
  replayDeadLetterRoute,
  listAdminJobs,
  getAdminJob,
  replayAdminJob,
  discardAdminJob,
] as const);

/** The `jobs` group: its routes and its crons. */
export const jobs = { ...group, routes } satisfies RouteGroup<typeof routes>;
