/** `GET /api/v1/helpdesk/settings`: the bot's categories and the service-level targets (defaults until saved). */
import { defineOperation } from "../../core/route";
import { loadSettings } from "../../helpdesk/settings";
import { group, helpdeskAdmins } from "./group";
import { helpdeskSettingsSchema } from "./schemas";

/** The org's helpdesk settings. */
export const getSettingsRoute = defineOperation({
  route: group.route({
    method: "get",
    path: "/api/v1/helpdesk/settings",
    summary: "Helpdesk settings",
    description: "The categories the support bot offers and the targets `sla.firstResponse` and `sla.resolution` (minutes).",
    access: helpdeskAdmins,
    responses: { 200: { description: "The settings.", content: { "application/json": { schema: helpdeskSettingsSchema } } } },
  }),
  handler: async (c) => c.json(await loadSettings(c.var.services.db, c.var.auth.orgId), 200),
});
