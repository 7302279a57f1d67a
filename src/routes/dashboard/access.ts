/**
 * Who may read the dashboard: owners, admins and analysts of the org in their access token
 * (no I/O), or an API key of the org with scope `dashboard:read` (one Neon lookup per request,
 * on top of the route's own budget).
 */
import type { Role } from "../../core/db/schema";
import { access } from "../../core/middleware";

/** Roles allowed on every dashboard route; any other role (e.g. `manager`) gets 403. */
export const dashboardRoles = ["owner", "admin", "analyst"] as const satisfies readonly Role[];

/**
 * The dashboard roles, or an API key with scope `dashboard:read`: 401 without a valid
 * credential, 403 for another role or a key without the scope.
 */
export const requireDashboardReader = () => access({ roles: dashboardRoles, scopes: ["dashboard:read"] });
