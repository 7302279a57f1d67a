/**
 * `POST /webhooks/crm/{integrationId}`: a Standard Webhooks v1 delivery. The guard verifies it
 * (`webhook-id`, `webhook-timestamp` within 5 minutes, `webhook-signature` with the integration's
 * current or, during a rotation, previous secret); then the JSON body must be an event
 * `{ type, data, timestamp? }` (400 otherwise, nothing stored). The event is stored under its
 * `webhook-id` with its job (one Neon request) and acknowledged 202 `{ eventId, duplicate }`;
 * a redelivered `webhook-id` is 202 with `duplicate: true` and has no further effect.
 * @see https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
 */
import { defineOperation } from "../../core/route";
import { ingestWebhook } from "../../webhooks/ingest";
import { group, standardWebhooksSenders } from "./group";
import { integrationParams, standardWebhookBody, webhookAck, webhookErrors } from "./schemas";

/** Stores a Standard Webhooks event (senders holding the integration's secret). */
export const receiveStandardWebhook = defineOperation({
  route: group.route({
    method: "post",
    path: "/webhooks/crm/{integrationId}",
    summary: "Receive a Standard Webhooks event",
    description: [
      "A CRM's event, signed per Standard Webhooks v1: `webhook-signature` holds space-separated `v1,<base64 HMAC-SHA256>` " +
        "entries over `{webhook-id}.{webhook-timestamp}.{raw body}`, one matching is enough; the timestamp must be within " +
        "5 minutes of now either way. During a secret rotation the previous secret is accepted for 24 hours.",
      "The event is stored under its `webhook-id` before the answer: 202 `{ eventId, duplicate }`; a redelivery is 202 " +
        "with `duplicate: true` and changes nothing. Postgres unavailable: 503 with `Retry-After`, nothing stored.",
    ].join("\n\n"),
    access: standardWebhooksSenders,
    request: {
      params: integrationParams,
      body: { required: true, content: { "application/json": { schema: standardWebhookBody } } },
    },
    errors: { ...webhookErrors, 415: "The body is not JSON." },
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
    const services = c.var.services;
    const result = await ingestWebhook(services, delivery, { type: event.type, payload: event }, (w) => c.executionCtx.waitUntil(w));
    services.logger.info("webhook stored", {
      scheme: delivery.scheme,
      integrationId: delivery.integration.id,
      type: event.type,
      ...result,
    });
    return c.json({ eventId: delivery.eventId, duplicate: result.duplicate }, 202);
  },
});
