/**
 * Request and response schemas of the `integrations` route group. Times are RFC 3339 UTC; a WB
 * token is accepted in a request and never answered; a CRM webhook secret is answered only when it
 * is made (create, rotate).
 */
import { z } from "@hono/zod-openapi";
import { crmProviders } from "../../core/db/schema";
import { wbTokenCategories } from "../../integrations/wildberries/token";

/** Body of `PUT /api/v1/integrations/wildberries`. */
export const connectWildberriesBody = z
  .object({
    /** The seller's WB API token (a JWT from the seller portal: Settings → Access to API), with the Statistics category. */
    token: z
      .string()
      .trim()
      .min(1)
      .max(4096)
      .openapi({ description: "A WB API token with the Statistics category (a JWT, `eyJ…`).", example: "eyJhbGciOiJFUzI1NiIs…" }),
  })
  .strict();

/** The org's Wildberries connection: whether there is one, its token's expiry and categories, the last successful sync. */
export const wildberriesConnection = z
  .object({
    connected: z.boolean(),
    /** When the token expires (its JWT `exp`); null when not connected or unknown. */
    expiresAt: z.string().nullable(),
    /** Whole days until then (0 once expired); null when not connected or unknown. */
    daysLeft: z.number().int().nonnegative().nullable(),
    /** Within 14 days of expiry (or expired): time to connect a new token. */
    expiringSoon: z.boolean(),
    /** The WB API categories the token grants (from its JWT `s`); empty when not connected or unknown. */
    categories: z.array(z.enum(wbTokenCategories)),
    /** When a sync last succeeded; null before the first. Synced data outlives a disconnection, and so does this. */
    lastSyncAt: z.string().nullable(),
  })
  .openapi("WildberriesConnection");
export type WildberriesConnection = z.infer<typeof wildberriesConnection>;

/** Body of `POST /api/v1/integrations/crm`. */
export const createCrmIntegrationBody = z
  .object({
    provider: z
      .enum(crmProviders)
      .openapi({ description: "`kommo` (Kommo/amoCRM) or `standard-webhooks` (any Standard Webhooks sender)." }),
    name: z.string().trim().min(1).max(100).openapi({ description: "A name for people, e.g. the CRM account.", example: "Kommo: acme" }),
    /** Kommo only: the Kommo Chats channel secret (HMAC-SHA1 key of `X-Signature`) the seller got from Kommo. */
    chatsSecret: z
      .string()
      .min(1)
      .max(200)
      .optional()
      .openapi({ description: "Kommo only: the Kommo Chats channel secret from Kommo; stored encrypted, never answered." }),
  })
  .strict()
  .superRefine((body, ctx) => {
    if (body.chatsSecret !== undefined && body.provider !== "kommo") {
      ctx.addIssue({ code: "custom", path: ["chatsSecret"], message: "only a kommo integration has a Chats channel secret" });
    }
  });

/** An org's CRM integration, without secrets (`toIntegrationView` of `src/crm/integrations.ts`). Times are RFC 3339 UTC. */
export const crmIntegration = z
  .object({
    id: z.string().uuid(),
    provider: z.enum(crmProviders),
    name: z.string(),
    /** Standard Webhooks: where the sender delivers. Kommo: null — its URL holds its secret, shown only at creation and rotation. */
    webhookUrl: z.string().url().nullable(),
    /** Kommo: where Kommo Chats delivers (`/webhooks/kommo-chats/{id}`, signed with the chats secret); null otherwise. */
    chatsWebhookUrl: z.string().url().nullable(),
    /** Kommo: the connected account (`acme.kommo.com`), after OAuth; null before. */
    accountDomain: z.string().nullable(),
    /** Kommo: whether OAuth tokens are stored (the API can re-read leads and contacts). */
    kommoConnected: z.boolean(),
    /** Kommo: when the stored access token expires (refreshed before); null when not connected. */
    accessTokenExpiresAt: z.string().nullable(),
    /** Kommo: whether a Chats channel secret is stored. */
    chatsSecretSet: z.boolean(),
    /** Until when the secret before the last rotation is still accepted (rotated 24 hours before it); null if never rotated. */
    previousSecretExpiresAt: z.string().nullable(),
    createdAt: z.string(),
    /** When `DELETE` disabled it (its webhooks answer 404); null while enabled. */
    disabledAt: z.string().nullable(),
  })
  .openapi("CrmIntegration");

/** 201 of create and 200 of rotate: the integration with its new secret and the URL holding it, shown this once. */
export const crmIntegrationWithSecret = crmIntegration
  .extend({
    /** Standard Webhooks: `…/webhooks/crm/{id}`; Kommo: `…/webhooks/kommo/{id}/{pathSecret}` (the secret is in the URL). */
    webhookUrl: z.string().url(),
    /** `whsec_…` (Standard Webhooks signing secret) or Kommo's path secret. Never answered again. */
    secret: z.string(),
  })
  .openapi("CrmIntegrationWithSecret");

/** 200 of `GET /api/v1/integrations/crm`: the org's integrations, newest first, disabled ones included. */
export const crmIntegrationList = z.object({ integrations: z.array(crmIntegration) });

/** Path of `/api/v1/integrations/crm/{id}…`. */
export const crmIntegrationParams = z.object({
  id: z
    .string()
    .uuid()
    .openapi({ param: { name: "id", in: "path" } }),
});

/** Query of `GET /api/v1/integrations/kommo/oauth/start`. */
export const kommoOAuthStartQuery = z.object({ integrationId: z.string().uuid() }).strict();

/**
 * Query of `GET /api/v1/integrations/kommo/oauth/callback` as Kommo sends it: `code`, `state`,
 * `referer` (the account domain), `client_id`, and on some paths `platform`, `from_widget`, or
 * `error` when the user refused. Each is checked by the handler, so a missing one is a 400 saying which.
 */
export const kommoOAuthCallbackQuery = z
  .object({
    code: z.string().max(4096).optional(),
    state: z.string().max(200).optional(),
    referer: z.string().max(300).optional(),
    client_id: z.string().max(200).optional(),
    platform: z.string().max(20).optional(),
    from_widget: z.string().max(20).optional(),
    error: z.string().max(200).optional(),
  })
  .strict();

/** 200 of the OAuth callback: the integration is connected. */
export const kommoOAuthConnected = z
  .object({
    integrationId: z.string().uuid(),
    /** The Kommo account, `acme.kommo.com`. */
    accountDomain: z.string(),
    /** When the access token expires (it is refreshed before, on demand and hourly). */
    expiresAt: z.string(),
  })
  .openapi("KommoOAuthConnected");
