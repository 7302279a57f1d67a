/**
 * `POST /webhooks/telegram/helpdesk/{botId}`: Telegram's updates for the org's support bot. The
 * guard proves the sender by `X-Telegram-Bot-Api-Secret-Token` (the secret given to `setWebhook`,
 * compared as SHA-256 in constant time; 401 otherwise) and finds the bot (404 for an unknown or
 * disabled one). The update is stored in the inbox with its `helpdesk-update` job in one statement
 * before the 200 (`ingestUpdate`); a redelivered `update_id` is 200 with `duplicate: true` and has
 * no further effect. The conversation runs in the job, never in this request.
 * @see https://core.telegram.org/bots/api#setwebhook
 */
import { defineOperation } from "../../core/route";
import { ingestUpdate } from "../../telegram/updates";
import { group, supportBotUpdates } from "./group";
import { botParams, telegramUpdate, updateAck } from "./schemas";

/** Stores one update of the support bot (Telegram, with the bot's secret token). */
export const receiveUpdate = defineOperation({
  route: group.route({
    method: "post",
    path: "/webhooks/telegram/helpdesk/{botId}",
    summary: "Receive a support bot update (Telegram)",
    description:
      "Telegram posts each `Update` of the org's support bot here, with `X-Telegram-Bot-Api-Secret-Token`. Stored " +
      "before the answer, keyed by the bot and `update_id`: 200 `{ ok, duplicate }`; a redelivery changes nothing. " +
      "The `helpdesk-update` job applies it (the client's conversation, tickets, media) and the bot answers through " +
      "`helpdesk-notify` jobs. Postgres unavailable: 503, nothing stored (Telegram retries).",
    access: supportBotUpdates,
    request: {
      params: botParams,
      body: { required: true, content: { "application/json": { schema: telegramUpdate } } },
    },
    errors: {
      401: "The secret token is missing or wrong.",
      404: "No enabled support bot has this id.",
      429: "Too many refused updates from this address this minute; retry after `Retry-After` seconds.",
      503: "Postgres is unavailable: nothing was stored; Telegram retries.",
    },
    responses: {
      200: {
        description: "Stored (or stored before: `duplicate`); applied asynchronously.",
        content: { "application/json": { schema: updateAck } },
      },
    },
  }),
  handler: async (c) => {
    const update = c.req.valid("json") as { update_id: number } & Record<string, unknown>;
    const bot = c.var.telegramBot;
    const result = await ingestUpdate(c.var.services, bot, update, "helpdesk-update", (w) => c.executionCtx.waitUntil(w));
    return c.json({ ok: true as const, duplicate: result.duplicate }, 200);
  },
});
