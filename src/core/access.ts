/**
 * Who may call a route, declared on the route (`defineRoute({ access })`) and enforced by its
 * guard (`src/core/guard.ts`). The same value documents the route in `/openapi.json`
 * (`security` and `x-access`) and drives the security tests, which enumerate every route.
 * - `token`: a user's access token with one of `roles`, or an API key with one of `scopes`;
 * - `public`: no credential (health, login);
 * - `qstash`: a QStash delivery, proven by `Upstash-Signature` over the raw body;
 * - `admin-token`: the operator's shared secret `ADMIN_REGISTRATION_TOKEN` (registration);
 * - `metrics-token`: the scraper's shared secret `METRICS_TOKEN` (`GET /metrics`); where it is
 *   unset the route answers 404;
 * - `webhook`: a CRM's webhook delivery to one of the org's CRM integrations (the path names it),
 *   proven by the `scheme`'s signature or path secret over the raw body (`src/webhooks/verify-delivery.ts`);
 * - `telegram`: Telegram's webhook updates to one of the org's bots (the path names it), proven by
 *   `X-Telegram-Bot-Api-Secret-Token` (`src/telegram/bots.ts`).
 */
import type { ApiKeyScope, BotPurpose, Role } from "./db/schema";

/** An access policy; see the module comment. */
export type AccessPolicy =
  | { kind: "token"; roles: readonly Role[]; scopes: readonly ApiKeyScope[] }
  | { kind: "public" }
  | { kind: "qstash" }
  | { kind: "admin-token" }
  | { kind: "metrics-token" }
  | { kind: "webhook"; scheme: WebhookScheme }
  | { kind: "telegram"; purpose: BotPurpose };

/**
 * How a webhook proves its sender: `standard-webhooks` (`webhook-signature`, HMAC-SHA256 of
 * id.timestamp.body), `kommo` (the integration's path secret; Kommo signs nothing), `kommo-chats`
 * (`X-Signature`, hex HMAC-SHA1 of the body with the channel secret).
 */
export type WebhookScheme = "standard-webhooks" | "kommo" | "kommo-chats";

/** A `token` policy. */
export type TokenAccess = Extract<AccessPolicy, { kind: "token" }>;

/** Users with one of `roles`, or API keys holding one of `scopes` (none: users only). */
export const tokenAccess = (roles: readonly Role[], scopes: readonly ApiKeyScope[] = []): TokenAccess => ({ kind: "token", roles, scopes });

/** No credential. */
export const publicAccess = { kind: "public" } as const satisfies AccessPolicy;

/** QStash deliveries only (`Upstash-Signature` for the public URL of the route's path). */
export const qstashAccess = { kind: "qstash" } as const satisfies AccessPolicy;

/** The operator's `ADMIN_REGISTRATION_TOKEN`. */
export const adminTokenAccess = { kind: "admin-token" } as const satisfies AccessPolicy;

/** The metrics scraper's `METRICS_TOKEN`. */
export const metricsTokenAccess = { kind: "metrics-token" } as const satisfies AccessPolicy;

/** Webhook deliveries of `scheme` to the CRM integration named by the path (`{integrationId}`). */
export const webhookAccess = <const S extends WebhookScheme>(scheme: S) => ({ kind: "webhook", scheme }) as const satisfies AccessPolicy;

/**
 * Telegram webhook updates to the org's bot of `purpose` named by the path (`{botId}`), proven by
 * `X-Telegram-Bot-Api-Secret-Token` (the secret given to `setWebhook`).
 */
export const telegramAccess = <const P extends BotPurpose>(purpose: P) => ({ kind: "telegram", purpose }) as const satisfies AccessPolicy;

/** Roles that administer an org: API keys, members, sync, dead letters. */
export const orgAdmins = ["owner", "admin"] as const satisfies readonly Role[];

/** One line for people: who may call a route with `policy`. */
export function describeAccess(policy: AccessPolicy): string {
  switch (policy.kind) {
    case "token":
      return `Roles: ${policy.roles.join(", ")}${policy.scopes.length ? `; API key scopes: ${policy.scopes.join(", ")}` : "; no API keys"}.`;
    case "public":
      return "Public: no credential.";
    case "qstash":
      return "QStash deliveries only (Upstash-Signature).";
    case "admin-token":
      return "Operator only: Bearer ADMIN_REGISTRATION_TOKEN.";
    case "metrics-token":
      return "Metrics scraper only: Bearer METRICS_TOKEN (404 where it is not set).";
    case "webhook":
      return {
        "standard-webhooks":
          "CRM webhook senders only: Standard Webhooks v1 signature (`webhook-id`, `webhook-timestamp`, `webhook-signature`) with the integration's secret.",
        kommo: "Kommo only: the integration's path secret (Kommo does not sign its webhooks).",
        "kommo-chats": "Kommo Chats only: `X-Signature`, hex HMAC-SHA1 of the body with the integration's channel secret.",
      }[policy.scheme];
    case "telegram":
      return `Telegram only: updates to the org's ${policy.purpose} bot, with the bot's X-Telegram-Bot-Api-Secret-Token.`;
  }
}
