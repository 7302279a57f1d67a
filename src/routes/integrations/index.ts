/** Route group `integrations`: its routes, mounted by the route-group registry. */
import { createRouter, type RouteGroup } from "../../core/route";
import { connectWildberries } from "./connect-wildberries";
import { createCrm } from "./create-crm";
import { disableCrm } from "./disable-crm";
import { disconnectWildberries } from "./disconnect-wildberries";
import { getWildberries } from "./get-wildberries";
import { group } from "./group";
import { kommoOAuthCallback } from "./kommo-oauth-callback";
import { kommoOAuthStart } from "./kommo-oauth-start";
import { listCrm } from "./list-crm";
import { rotateCrmSecretRoute } from "./rotate-crm-secret";

const routes = createRouter().openapiRoutes([
  getWildberries,
  connectWildberries,
  disconnectWildberries,
  listCrm,
  createCrm,
  rotateCrmSecretRoute,
  disableCrm,
  kommoOAuthStart,
  kommoOAuthCallback,
] as const);

/** The `integrations` group; `typeof integrations.routes` types the integrations client. */
export const integrations = { ...group, routes } satisfies RouteGroup<typeof routes>;
