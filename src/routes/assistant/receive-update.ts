/**
 * `POST /webhooks/telegram/assistant/{botId}`: Telegram delivers an update of the org's assistant
 * bot. The guard proves it (`X-Telegram-Bot-Api-Secret-Token` against the bot's secret hash; an
 * unknown, disabled or helpdesk bot is 404); the update is stored with its `assistant-reply` job in
 * one statement (`ingestUpdate`) and answered 200 at once — the reply takes the model seconds and
 * is the job's. A redelivered `update_id` is 200 with `duplicate: true` and has no effect.
 * @see https://core.telegram.org/bots/api#setwebhook
 */
import { requireLlm } from "../../assistant/llm";
import { defineOperation } from "../../core/route";
import { ingestUpdate } from "../../telegram/updates";
import { assistantBotUpdates, group } from "./group";
import { botParams, telegramUpdate, updateAck } from "./schemas";

/** Stores an update of the assistant bot and queues its reply. */
export const receiveUpdate = defineOperation({
  route: group.route({
    method: "post",
    path: "/webhooks/telegram/assistant/{botId}",
    summary: "Receive a Telegram update of the assistant bot",
    description: [
      "Telegram posts each update of the org's assistant bot here (the URL and the secret token were given to `setWebhook` " +
        "at registration). The update is stored under its `update_id` with the job that answers it, then acknowledged: " +
        "200 `{ ok: true, duplicate }`; a redelivery is 200 with `duplicate: true` and changes nothing.",
      "The reply (the model's answer, or a command's) is sent by the `assistant-reply` job through QStash. Postgres " +
        "unavailable, or the LLM not configured on this Worker: 503, nothing stored — Telegram delivers the update again.",
    ].join("\n\n"),
    access: assistantBotUpdates,
    request: {
      params: botParams,
      body: { required: true, content: { "application/json": { schema: telegramUpdate } } },
    },
    errors: {
      404: "No such bot: unknown, disabled (replaced by a newer registration), or not an assistant bot.",
      503: "The database is unavailable or the LLM is not configured; nothing was stored and Telegram retries.",
    },
    responses: {
      200: {
        description: "Stored (or stored before: `duplicate`); answered by a job.",
        content: { "application/json": { schema: updateAck } },
      },
    },
  }),
  handler: async (c) => {
    const services = c.var.services;
    requireLlm(services.config);
    const update = c.req.valid("json");
    const result = await ingestUpdate(services, c.var.telegramBot, update, "assistant-reply", (w) => c.executionCtx.waitUntil(w));
    return c.json({ ok: true as const, duplicate: result.duplicate }, 200);
  },
});
