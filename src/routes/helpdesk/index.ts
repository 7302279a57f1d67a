/** Route group `helpdesk`: its routes, mounted by the route-group registry. */
import { createRouter, type RouteGroup } from "../../core/route";
import { createMessageRoute } from "./create-message";
import { getMediaRoute } from "./get-media";
import { getSettingsRoute } from "./get-settings";
import { getStatsRoute } from "./get-stats";
import { getTicketRoute } from "./get-ticket";
import { group } from "./group";
import { listMessagesRoute } from "./list-messages";
import { listTicketsRoute } from "./list-tickets";
import { markReadRoute } from "./mark-read";
import { putSettingsRoute } from "./put-settings";
import { receiveUpdate } from "./receive-update";
import { registerSupportBot } from "./register-bot";
import { updateTicketRoute } from "./update-ticket";

const routes = createRouter().openapiRoutes([
  receiveUpdate,
  registerSupportBot,
  listTicketsRoute,
  getTicketRoute,
  updateTicketRoute,
  createMessageRoute,
  listMessagesRoute,
  markReadRoute,
  getMediaRoute,
  getStatsRoute,
  getSettingsRoute,
  putSettingsRoute,
] as const);

/** The `helpdesk` group; `typeof helpdesk.routes` types the helpdesk client. */
export const helpdesk = { ...group, routes } satisfies RouteGroup<typeof routes>;
