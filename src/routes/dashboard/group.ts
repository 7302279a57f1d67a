/**
 * Route group `dashboard`: the seller's analytics API under `/api/v1`. Every route is read by
 * owners, admins and analysts of the org in their access token (no I/O), or an API key of the
 * org with scope `dashboard:read`; it reads only that org, is rate limited and cached per org,
 * and answers from at most one Neon request. A `manager` or `agent` gets 403.
 */
import { tokenAccess } from "../../core/access";
import { defineGroup } from "../../core/route";

export const group = defineGroup({
  name: "dashboard",
  description: "The seller's analytics: sales, summary cards, daily trends, stocks, warehouses, sizes, orders.",
});

/** Who may read the dashboard. */
export const dashboardReaders = tokenAccess(["owner", "admin", "analyst"], ["dashboard:read"]);

/** Cache TTLs in seconds, per the design: stocks 5 min, analytics 15 min, warehouses and sizes 1 h. */
export const cacheTtl = { stocks: 300, analytics: 900, orders: 300, reference: 3600 } as const;
