/**
 * `POST /webhooks/kommo-chats/{integrationId}`: a Kommo Chats webhook, signed with the channel
 * secret (`X-Signature`: hex HMAC-SHA1 of the raw body; checked by the guard; an integration
 * without a channel secret is 404). Kommo wants an answer within 5 s: the path is one Redis and
 * one Neon request. Stored as a JSON object typed `chats.message` (a body with `message`) or
 * `chats.event`, keyed by the SHA-256 of the body; acknowledged 202 `{ eventId, duplicate }`.
 * @see https://developers.kommo.com/docs/chats-api
 */
import { defineOperation } from "../../core/route";
import { ingestWebhook } from "../../webhooks/ingest";
import { group, kommoChatsSenders } from "./group";
import { integrationParams, kommoChatsBody, webhookAck, webhookErrors } from "./schemas";

/** Stores a Kommo Chats event (Kommo, signing with the channel secret). */
export const receiveKommoChatsWebhook = defineOperation({
  route: group.route({
    method: "post",
    path: "/webhooks/kommo-chats/{integrationId}",
    summary: "Receive a Kommo Chats webhook",
    description:
      "A Kommo Chats event (JSON), signed with the channel secret: `X-Signature` is the hex HMAC-SHA1 of the raw body. " +
      "Stored before the answer, keyed by the SHA-256 of the body: 202 `{ eventId, duplicate }`.",
    access: kommoChatsSenders,
    request: {
      params: integrationParams,
      body: { required: true, content: { "application/json": { schema: kommoChatsBody } } },
    },
    errors: { ...webhookErrors, 404: "No enabled Kommo integration with a chats channel has this id.", 415: "The body is not JSON." },
    responses: {
      202: {
        description: "Stored (or stored before: `duplicate`); processed asynchronously.",
        content: { "application/json": { schema: webhookAck } },
      },
    },
  }),
  handler: async (c) => {
    const delivery = c.var.webhook;
    const event = c.req.valid("json");
    const type = typeof event.message === "object" && event.message !== null ? "chats.message" : "chats.event";
    const services = c.var.services;
    const result = await ingestWebhook(services, delivery, { type, payload: event }, (w) => c.executionCtx.waitUntil(w));
    services.logger.info("webhook stored", { scheme: delivery.scheme, integrationId: delivery.integration.id, type, ...result });
    return c.json({ eventId: delivery.eventId, duplicate: result.duplicate }, 202);
  },
});
