/**
 * Route group `crm`: the org's CRM data as the dashboard reads it — the leads our consumer keeps
 * from the CRM's webhooks, and the received events with their processing state. Read by owners,
 * admins, analysts and managers of the org in their access token (no I/O), or an API key of the
 * org with scope `dashboard:read`; every route reads only that org and is rate limited in the bucket
 * `crm-read` like the dashboard's reads. See docs/webhooks.md#processing-and-reading-crm-data.
 *
 * Not cached: both lists are keyset-paged and change with every processed event (an event's state
 * moves from `received` to `processed` within seconds), so a per-org cache would need invalidating
 * on every event for a read that costs one indexed Neon query.
 */
import { tokenAccess } from "../../core/access";
import { defineGroup } from "../../core/route";

export const group = defineGroup({
  name: "crm",
  description: "The org's CRM data: leads kept from the CRM's webhooks, and the received webhook events with their state.",
});

/** Who may read the CRM data: org members who work with leads, or a `dashboard:read` API key. */
export const crmReaders = tokenAccess(["owner", "admin", "analyst", "manager"], ["dashboard:read"]);
