/** Route group `integrations`: its routes, mounted by the route-group registry. */
import { createRouter, type RouteGroup } from "../../core/route";
import { connectWildberries } from "./connect-wildberries";
import { disconnectWildberries } from "./disconnect-wildberries";
import { getWildberries } from "./get-wildberries";
import { group } from "./group";

const routes = createRouter().openapiRoutes([getWildberries, connectWildberries, disconnectWildberries] as const);

/** The `integrations` group; `typeof integrations.routes` types the integrations client. */
export const integrations = { ...group, routes } satisfies RouteGroup<typeof routes>;
