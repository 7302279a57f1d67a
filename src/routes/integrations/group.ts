/**
 * Route group `integrations` under `/api/v1/integrations`: an org's connections to marketplaces —
 * its Wildberries statistics API token (connect or rotate it, see it, disconnect it) and its CRM
 * integrations (create, list, rotate the webhook secret, disable; connect Kommo with OAuth). Owners
 * and admins manage a connection, analysts may see it; users only (an API key cannot manage the
 * credentials of the org). See docs/api.md, "Connecting Wildberries".
 */
import { orgAdmins, tokenAccess } from "../../core/access";
import { defineGroup } from "../../core/route";

export const group = defineGroup({
  name: "integrations",
  description:
    "The org's connections: its Wildberries statistics API token, and its CRM integrations (Kommo with OAuth, Standard Webhooks senders).",
});

/** Who connects and disconnects a marketplace: the org's owners and admins (user tokens). */
export const connectionManagers = tokenAccess(orgAdmins);

/** Who sees a connection: owners, admins and analysts (user tokens). */
export const connectionReaders = tokenAccess(["owner", "admin", "analyst"]);
