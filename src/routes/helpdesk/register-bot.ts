/**
 * `POST /api/v1/helpdesk/bots` `{ token }`: registers the org's support bot (owners, admins): checks
 * the token with Telegram (`getMe`), stores it AES-GCM encrypted with a generated webhook secret
 * (kept only as its SHA-256), and points the bot's webhook at this Worker (`setWebhook` with the
 * secret). A previous support bot of the org is disabled. Answers the bot without its token.
 * @see https://core.telegram.org/bots/api#setwebhook
 */
import { ApiError } from "../../core/errors";
import { defineOperation } from "../../core/route";
import { BotRegistrationError, registerBot } from "../../telegram/bots";
import { group, helpdeskAdmins } from "./group";
import { registerBotBody, registeredBot } from "./schemas";

/** Registers (or replaces) the org's support bot. */
export const registerSupportBot = defineOperation({
  route: group.route({
    method: "post",
    path: "/api/v1/helpdesk/bots",
    summary: "Register the support bot",
    description:
      "Registers the org's Telegram support bot from the token @BotFather gave: Telegram checks it (`getMe`), it is " +
      "stored encrypted and never answered again, and the bot's webhook is set to " +
      "`{PUBLIC_WEBHOOKS_URL}/webhooks/telegram/helpdesk/{id}` with a generated secret token. Registering again " +
      "replaces the previous bot (its webhook answers 404 from then on).",
    access: helpdeskAdmins,
    request: { body: { required: true, content: { "application/json": { schema: registerBotBody } } } },
    errors: {
      422: "Telegram refused the token (or the webhook).",
      502: "Telegram could not be reached; nothing was registered.",
    },
    responses: {
      201: { description: "The registered bot (never its token).", content: { "application/json": { schema: registeredBot } } },
    },
  }),
  handler: async (c) => {
    const { token } = c.req.valid("json");
    const { auth, services } = c.var;
    try {
      const bot = await registerBot(services, {
        orgId: auth.orgId,
        purpose: "helpdesk",
        token,
        createdBy: auth.kind === "user" ? auth.userId : null,
      });
      services.logger.info("support bot registered", { orgId: auth.orgId, botId: bot.id, username: bot.username });
      return c.json({ ...bot, purpose: "helpdesk" as const }, 201);
    } catch (err) {
      if (err instanceof BotRegistrationError) {
        // The message names Telegram's answer, never the token.
        const code = err.reason === "rejected" ? "UNPROCESSABLE" : "BAD_GATEWAY";
        throw new ApiError(code, { detail: err.message, cause: err });
      }
      throw err;
    }
  },
});
