/**
 * `POST /api/v1/assistant/bots` `{ token }`: registers the org's assistant bot with the shared
 * Telegram module (`registerBot`, purpose `assistant`): `getMe` checks the token, the bot is stored
 * (token encrypted, webhook secret hashed), and `setWebhook` points Telegram at
 * `/webhooks/telegram/assistant/{botId}`. A previous assistant bot of the org is replaced.
 */
import { requireLlm } from "../../assistant/llm";
import { ApiError } from "../../core/errors";
import { defineOperation } from "../../core/route";
import { BotRegistrationError, registerBot } from "../../telegram/bots";
import { assistantAdmins, group } from "./group";
import { registerBotBody, registeredBot } from "./schemas";

/** Registers (or replaces) the org's assistant bot (owners, admins). */
export const registerAssistantBot = defineOperation({
  route: group.route({
    method: "post",
    path: "/api/v1/assistant/bots",
    summary: "Register the assistant's Telegram bot",
    description:
      "Takes the bot's token from @BotFather. Telegram must accept it (`getMe`, then `setWebhook` with a generated secret " +
      "token); the bot is stored with its token encrypted and replaces the org's previous assistant bot. The token is " +
      "never answered. Telegram refusing the token or the webhook: 422; Telegram unreachable: 502; the LLM not configured: 503.",
    access: assistantAdmins,
    request: { body: { required: true, content: { "application/json": { schema: registerBotBody } } } },
    errors: {
      422: "Telegram refused the token (or the webhook); `detail` quotes Telegram's answer.",
      502: "Telegram could not be reached; nothing was stored.",
      503: "The LLM is not configured on this Worker, or rate limiting is unavailable (production).",
    },
    responses: {
      201: { description: "The bot is registered and its webhook set.", content: { "application/json": { schema: registeredBot } } },
    },
  }),
  handler: async (c) => {
    const services = c.var.services;
    requireLlm(services.config);
    const auth = c.var.auth;
    const { token } = c.req.valid("json");
    try {
      const bot = await registerBot(services, {
        orgId: auth.orgId,
        purpose: "assistant",
        token,
        createdBy: auth.kind === "user" ? auth.userId : null,
      });
      services.logger.info("assistant bot registered", { botId: bot.id, username: bot.username });
      return c.json(bot, 201);
    } catch (err) {
      if (!(err instanceof BotRegistrationError)) throw err;
      throw new ApiError(err.reason === "rejected" ? "UNPROCESSABLE" : "BAD_GATEWAY", { detail: err.message, cause: err });
    }
  },
});
