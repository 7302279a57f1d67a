/**
 * Route group `webhooks` under `/webhooks`: CRM webhook ingest, its own Worker. A CRM posts events
 * to the URL of one of an org's CRM integrations; the guard proves the sender by the route's
 * scheme over the raw body (`src/webhooks/verify-delivery.ts`), the handler stores the event in the
 * inbox with its `crm-event` job in one Neon request before it answers (`src/webhooks/ingest.ts`),
 * and the job is published to QStash after the answer. No per-route rate limit (senders burst):
 * the per-IP limit of failed verifications protects the database. See docs/webhooks.md.
 */
import { webhookAccess } from "../../core/access";
import { defineGroup } from "../../core/route";

export const group = defineGroup({
  name: "webhooks",
  description: "CRM webhook ingest: Standard Webhooks senders, Kommo CRM and Kommo Chats post events here; each is stored, then processed.",
});

/** Standard Webhooks v1 senders. */
export const standardWebhooksSenders = webhookAccess("standard-webhooks");
/** Kommo CRM webhooks (path secret). */
export const kommoSenders = webhookAccess("kommo");
/** Kommo Chats webhooks (`X-Signature`). */
export const kommoChatsSenders = webhookAccess("kommo-chats");
