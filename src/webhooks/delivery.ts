/**
 * What a verified webhook delivery hands its handler (`c.var.webhook`, set by the route's guard
 * once the sender is proven, see `verify-delivery.ts`). A leaf module of types, so the app's
 * context type can name it without an import cycle.
 */
import type { WebhookScheme } from "../core/access";
import type { CrmProvider } from "../core/db/schema";

/** The CRM integration a delivery was addressed to (path `{integrationId}`), enabled and of the route's provider. */
export interface WebhookIntegration {
  id: string;
  orgId: string;
  provider: CrmProvider;
}

/** A delivery whose sender is proven. */
export interface WebhookDelivery {
  scheme: WebhookScheme;
  integration: WebhookIntegration;
  /** The request body exactly as received (at most {@link MAX_WEBHOOK_BODY_BYTES}). */
  rawBody: Uint8Array;
  /**
   * The sender's event id, the inbox's idempotency key within the integration: `webhook-id`
   * (Standard Webhooks), or the hex SHA-256 of the raw body (Kommo and Kommo Chats send no id).
   */
  eventId: string;
}

/** The body cap of a webhook, bytes (256 KiB); a larger body is a 413 before any I/O. */
export const MAX_WEBHOOK_BODY_BYTES = 256 * 1024;
