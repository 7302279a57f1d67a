/**
 * Route group `auth`: its routes, mounted by the route-group registry. See docs/security.md.
 */
import { createRouter, type RouteGroup } from "../../core/route";
import { createApiKey } from "./create-api-key";
import { group } from "./group";
import { listApiKeys } from "./list-api-keys";
import { login } from "./login";
import { logout } from "./logout";
import { me } from "./me";
import { refresh } from "./refresh";
import { register } from "./register";
import { revokeApiKey } from "./revoke-api-key";

const routes = createRouter().openapiRoutes([register, login, refresh, logout, me, createApiKey, listApiKeys, revokeApiKey] as const);

/** The `auth` group; `typeof auth.routes` types the auth client. */
export const auth = { ...group, routes } satisfies RouteGroup<typeof routes>;
