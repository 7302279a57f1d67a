/** `GET /api/v1/assistant/settings`: the org's assistant settings, or the defaults. */
import { readAssistantSettings } from "../../assistant/settings";
import { defineOperation } from "../../core/route";
import { assistantReaders, group } from "./group";
import { assistantSettingsView } from "./schemas";

/** Reads the assistant's settings (analysts and up, `assistant:read`). */
export const getAssistantSettings = defineOperation({
  route: group.route({
    method: "get",
    path: "/api/v1/assistant/settings",
    summary: "The assistant's settings",
    description: "The system prompt, the history length and the statistics' time zone; the defaults until the org saves its own.",
    access: assistantReaders,
    responses: {
      200: { description: "The settings.", content: { "application/json": { schema: assistantSettingsView } } },
    },
  }),
  handler: async (c) => c.json(await readAssistantSettings(c.var.services.db, c.var.auth.orgId), 200),
});
