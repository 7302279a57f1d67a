/** Schemas of the `webhooks` group: the bodies each sender posts and the acknowledgement. */
import { z } from "@hono/zod-openapi";
import { MAX_WEBHOOK_BODY_BYTES } from "../../webhooks/delivery";

/** Path of a webhook route: the CRM integration the delivery is for. */
export const integrationParams = z.object({
  integrationId: z.string().openapi({ param: { name: "integrationId", in: "path" }, example: "9b2f4c1e-7a3d-4f5b-8c6e-1d2a3b4c5d6e" }),
});

/** Path of the Kommo route: the integration and its path secret. */
export const kommoParams = integrationParams.extend({
  pathSecret: z.string().openapi({ param: { name: "pathSecret", in: "path" }, description: "The integration's path secret." }),
});

/**
 * A Standard Webhooks event: `type`, `data` (an object), optional `timestamp`; other top-level
 * fields are kept. Validated only after the signature verified.
 * @see https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md#payload-structure
 */
export const standardWebhookBody = z
  .looseObject({
    type: z.string().min(1).max(200).openapi({ example: "lead.updated" }),
    timestamp: z.string().max(64).optional().openapi({ example: "2026-11-21T14:47:03.512Z" }),
    data: z.record(z.string(), z.unknown()).openapi({ example: { id: 4821, status: "won" } }),
  })
  .openapi("StandardWebhookEvent");

/** Kommo's form body (`leads[status][0][id]=…&account[subdomain]=…`), read by `parseKommoWebhook`. */
export const kommoWebhookBody = z
  .record(z.string(), z.union([z.string(), z.array(z.string())]))
  .openapi("KommoWebhookForm", { example: { "leads[status][0][id]": "4821", "account[subdomain]": "acme" } });

/** A Kommo Chats event: a JSON object (a message event carries `message`). */
export const kommoChatsBody = z.record(z.string(), z.unknown()).openapi("KommoChatsEvent", {
  example: { account_id: "af9945ff-1490-4cad-807d-945c15d88bec", time: 1763736423, message: { message: { type: "text", text: "Hi" } } },
});

/** The acknowledgement of a stored event. */
export const webhookAck = z
  .object({
    eventId: z.string().openapi({
      description: "The sender's event id: `webhook-id`, or the SHA-256 (hex) of the body for Kommo.",
      example: "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
    }),
    duplicate: z.boolean().openapi({ description: "True when this event id was stored before: nothing new happened." }),
  })
  .openapi("WebhookAck");

/** Problem statuses every webhook route answers beyond the derived ones. */
export const webhookErrors = {
  401: "The signature (or path secret) is missing or does not verify; which part failed is not told.",
  404: "No enabled integration of this kind with this id (unknown, disabled, another provider, or no chats channel).",
  413: `The body is larger than ${MAX_WEBHOOK_BODY_BYTES / 1024} KiB.`,
  429: "Too many failed verifications from this address this minute; retry after `Retry-After` seconds.",
  503: "Postgres is unavailable: nothing was stored or acknowledged; retry after `Retry-After` seconds.",
} as const;
