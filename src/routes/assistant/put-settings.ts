/**
 * `PUT /api/v1/assistant/settings` `{ systemPrompt, maxHistoryMessages, timeZone? }`: sets the org's
 * default system prompt, history length and the statistics' time zone. Takes effect with the next
 * message; the org's cache version is bumped so cached statistics (bucketed in the time zone) go stale.
 */
import { saveAssistantSettings } from "../../assistant/settings";
import { invalidateOrgCache } from "../../core/cache";
import { defineOperation } from "../../core/route";
import { assistantAdmins, group } from "./group";
import { assistantSettingsView, settingsBody } from "./schemas";

/** Saves the assistant's settings (owners, admins). */
export const putAssistantSettings = defineOperation({
  route: group.route({
    method: "put",
    path: "/api/v1/assistant/settings",
    summary: "Set the assistant's settings",
    description:
      "Sets the system prompt sent first with every question, how many messages of the open dialog go with it (0–100; " +
      "a user's own setting wins) and, optionally, the IANA time zone of the statistics' buckets.",
    access: assistantAdmins,
    request: { body: { required: true, content: { "application/json": { schema: settingsBody } } } },
    responses: {
      200: { description: "The saved settings.", content: { "application/json": { schema: assistantSettingsView } } },
    },
  }),
  handler: async (c) => {
    const { db, redis, logger } = c.var.services;
    const orgId = c.var.auth.orgId;
    const settings = await saveAssistantSettings(db, orgId, c.req.valid("json"));
    c.executionCtx.waitUntil(
      invalidateOrgCache(redis, orgId).catch((err: unknown) =>
        logger.warn("assistant settings: cache version not bumped", { error: String(err) }),
      ),
    );
    return c.json(settings, 200);
  },
});
