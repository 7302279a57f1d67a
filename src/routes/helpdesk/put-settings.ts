/** `PUT /api/v1/helpdesk/settings`: replaces the bot's categories and the service-level targets. */
import { defineOperation } from "../../core/route";
import { saveSettings } from "../../helpdesk/settings";
import { group, helpdeskAdmins } from "./group";
import { helpdeskSettingsSchema } from "./schemas";

/** Saves the org's helpdesk settings. */
export const putSettingsRoute = defineOperation({
  route: group.route({
    method: "put",
    path: "/api/v1/helpdesk/settings",
    summary: "Save helpdesk settings",
    description:
      "Replaces the categories (1–12 distinct names of at most 48 characters; the bot offers them as buttons from its " +
      "next question on) and the targets in minutes (`sla.firstResponse` 1–10,080, `sla.resolution` 1–43,200), which " +
      "the ticket list's `overdue` flags and the stats measure against at once.",
    access: helpdeskAdmins,
    request: { body: { required: true, content: { "application/json": { schema: helpdeskSettingsSchema } } } },
    responses: { 200: { description: "The saved settings.", content: { "application/json": { schema: helpdeskSettingsSchema } } } },
  }),
  handler: async (c) => c.json(await saveSettings(c.var.services.db, c.var.auth.orgId, c.req.valid("json")), 200),
});
