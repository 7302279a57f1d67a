/** Route group `crm`: its routes, mounted by the route-group registry. */
import { createRouter, type RouteGroup } from "../../core/route";
import { group } from "./group";
import { listEvents } from "./list-events";
import { listLeads } from "./list-leads";

const routes = createRouter().openapiRoutes([listLeads, listEvents] as const);

/** The `crm` group; `typeof crm.routes` types the CRM client. */
export const crm = { ...group, routes } satisfies RouteGroup<typeof routes>;
