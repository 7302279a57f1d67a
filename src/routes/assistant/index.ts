/** Route group `assistant`: its routes, mounted by the route-group registry. */
import { createRouter, type RouteGroup } from "../../core/route";
import { getAssistantSettings } from "./get-settings";
import { getAssistantStats } from "./get-stats";
import { group } from "./group";
import { putAssistantSettings } from "./put-settings";
import { receiveUpdate } from "./receive-update";
import { registerAssistantBot } from "./register-bot";

const routes = createRouter().openapiRoutes([
  receiveUpdate,
  registerAssistantBot,
  getAssistantSettings,
  putAssistantSettings,
  getAssistantStats,
] as const);

/** The `assistant` group; `typeof assistant.routes` types the assistant client. */
export const assistant = { ...group, routes } satisfies RouteGroup<typeof routes>;
