/**
 * Verification of a webhook delivery by its route's scheme, over the raw bytes of the body, for
 * the route's guard (`src/core/guard.ts`), which has already refused an IP over its failure limit:
 *
 * 1. the integration named by the path: the Redis value read with the failure count, else
 *    Postgres (`integration-cache.ts`). Not a UUID, unknown, disabled, of another provider than
 *    the route's, or (Kommo Chats) without a channel secret → 404;
 * 2. the secrets decrypted (`ENCRYPTION_KEY`, then `ENCRYPTION_KEY_PREVIOUS`); the previous webhook
 *    secret counts only while `previous_secret_expires_at` is in the future (24 h after a rotation);
 * 3. the scheme:
 *    - `standard-webhooks`: `verifyWebhook` (v1 HMAC-SHA256 of `id.timestamp.body`, any listed
 *      signature matching, timestamp within 300 s either way); event id `webhook-id`;
 *    - `kommo`: the path secret equals the integration's in constant time (Kommo signs nothing and
 *      never retries; the consumer re-reads the entities through Kommo's API); event id the SHA-256
 *      of the body;
 *    - `kommo-chats`: `X-Signature` equals the hex HMAC-SHA1 of the body with the channel secret,
 *      in constant time; event id the SHA-256 of the body.
 * Every failure is `ok: false` with the problem to answer (404, or 401 with one generic detail:
 * which part failed goes to the log only) — the guard counts it against the caller's IP.
 * @see https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
 * @see https://developers.kommo.com/docs/webhooks-general
 * @see https://developers.kommo.com/docs/chats-api (webhooks: X-Signature)
 */
import type { WebhookScheme } from "../core/access";
import type { Services } from "../core/context";
import { decryptSecretWithKeys, encryptionKeys, timingSafeEqual } from "../core/crypto";
import { databaseFailure } from "../core/db/errors";
import type { CrmProvider } from "../core/db/schema";
import { ApiError } from "../core/errors";
import { isUuid } from "../core/validation";
import { verifyWebhook } from "../integrations/standard-webhooks/verify";
import type { WebhookDelivery } from "./delivery";
import { type CachedIntegration, loadIntegration, readCachedIntegration } from "./integration-cache";

/** The provider whose integrations each scheme's route serves. */
export const providerOfScheme: Record<WebhookScheme, CrmProvider> = {
  "standard-webhooks": "standard-webhooks",
  kommo: "kommo",
  "kommo-chats": "kommo",
};

/** Allowed distance between `webhook-timestamp` and now, seconds (Standard Webhooks' default). */
export const WEBHOOK_TOLERANCE_SECONDS = 300;

/** The answer to a delivery whose integration does not exist for this route. */
const notFound = () => new ApiError("NOT_FOUND", { detail: "No such webhook endpoint." });
/** The answer to any failed verification: which part failed is never told. */
const invalid = () => new ApiError("UNAUTHORIZED", { detail: "Invalid webhook signature." });

/** A delivery to verify: the route's scheme, the path's parameters, the request's headers and raw body. */
export interface DeliveryInput {
  scheme: WebhookScheme;
  integrationId: string | undefined;
  /** Kommo's `{pathSecret}`. */
  pathSecret: string | undefined;
  headers: Headers;
  rawBody: Uint8Array;
  /** What Redis holds under the integration's cache key (undefined: not read, or Redis failed). */
  cached: string | null | undefined;
  /** Current time, ms since the epoch. */
  now?: number;
}

/** The outcome of {@link verifyDelivery}: the delivery, or the problem to answer and why (for the log). */
export type DeliveryVerification = { ok: true; delivery: WebhookDelivery } | { ok: false; error: ApiError; reason: string };

const hex = (bytes: ArrayBuffer) => [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");

/** Hex SHA-256 of `bytes`: the event id of a sender that sends none. */
export async function bodyEventId(bytes: Uint8Array): Promise<string> {
  return hex(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
}

/** Hex HMAC-SHA1 of `bytes` with `secret` (UTF-8): Kommo Chats' `X-Signature`. */
export async function kommoChatsSignature(secret: string, bytes: Uint8Array): Promise<string> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-1" }, false, ["sign"]);
  return hex(await crypto.subtle.sign("HMAC", key, bytes as Uint8Array<ArrayBuffer>));
}

/** The webhook secrets of `integration` accepted now: the current one, and the previous one until it expires. */
async function webhookSecrets(services: Pick<Services, "config">, integration: CachedIntegration, now: number): Promise<string[]> {
  const keys = encryptionKeys(services.config);
  const secrets = [(await decryptSecretWithKeys(integration.secretCiphertext, keys)).plaintext];
  const { previousSecretCiphertext, previousSecretExpiresAt } = integration;
  if (previousSecretCiphertext && previousSecretExpiresAt && Date.parse(previousSecretExpiresAt) > now) {
    secrets.push((await decryptSecretWithKeys(previousSecretCiphertext, keys)).plaintext);
  }
  return secrets;
}

/**
 * Verifies a delivery; see the module comment.
 * @throws ApiError 503 when the integration had to be read from Postgres and Postgres is
 * unavailable; an Error when a stored secret decrypts with no key (a configuration error: 500).
 */
export async function verifyDelivery(
  services: Pick<Services, "config" | "db" | "redis" | "logger">,
  input: DeliveryInput,
  waitUntil: (work: Promise<unknown>) => void,
): Promise<DeliveryVerification> {
  const { scheme, integrationId, rawBody, headers } = input;
  const now = input.now ?? Date.now();
  if (!isUuid(integrationId)) return { ok: false, error: notFound(), reason: "integration id is not a UUID" };
  let integration = readCachedIntegration(input.cached);
  if (integration === undefined) {
    try {
      integration = await loadIntegration(services.db, services.redis, integrationId, waitUntil);
    } catch (err) {
      throw databaseFailure(err);
    }
  }
  if (!integration) return { ok: false, error: notFound(), reason: "unknown integration" };
  if (integration.disabledAt) return { ok: false, error: notFound(), reason: "integration disabled" };
  if (integration.provider !== providerOfScheme[scheme])
    return { ok: false, error: notFound(), reason: `integration is ${integration.provider}` };
  if (scheme === "kommo-chats" && !integration.chatsSecretCiphertext) return { ok: false, error: notFound(), reason: "no chats channel" };

  const found = { id: integration.id, orgId: integration.orgId, provider: integration.provider };
  const delivered = (eventId: string): DeliveryVerification => ({ ok: true, delivery: { scheme, integration: found, rawBody, eventId } });

  if (scheme === "standard-webhooks") {
    const result = await verifyWebhook({
      secrets: await webhookSecrets(services, integration, now),
      headers: { id: headers.get("webhook-id"), timestamp: headers.get("webhook-timestamp"), signature: headers.get("webhook-signature") },
      rawBody,
      now,
      toleranceSeconds: WEBHOOK_TOLERANCE_SECONDS,
    });
    if (!result.ok) return { ok: false, error: invalid(), reason: result.reason };
    if (result.secretIndex > 0) services.logger.info("webhook verified with the previous secret", { integrationId: integration.id });
    return delivered(result.id);
  }

  if (scheme === "kommo") {
    const presented = input.pathSecret ?? "";
    let matched = false;
    // Every accepted secret is compared, so timing does not tell which one (if any) matched.
    for (const secret of await webhookSecrets(services, integration, now)) matched = timingSafeEqual(presented, secret) || matched;
    if (!matched) return { ok: false, error: invalid(), reason: "path secret mismatch" };
    return delivered(await bodyEventId(rawBody));
  }

  const keys = encryptionKeys(services.config);
  const channelSecret = (await decryptSecretWithKeys(integration.chatsSecretCiphertext as string, keys)).plaintext;
  const presented = (headers.get("X-Signature") ?? "").trim().toLowerCase();
  if (!timingSafeEqual(presented, await kommoChatsSignature(channelSecret, rawBody))) {
    return { ok: false, error: invalid(), reason: presented ? "X-Signature mismatch" : "no X-Signature" };
  }
  return delivered(await bodyEventId(rawBody));
}

/**
 * The raw body of a webhook, at most `maxBytes` (a `Content-Length` over it is refused before
 * reading, a body over it after). Read through Hono's request, which keeps it for the validators.
 * @throws ApiError 413.
 */
export async function readWebhookBody(
  request: { header(name: string): string | undefined; arrayBuffer(): Promise<ArrayBuffer> },
  maxBytes: number,
): Promise<Uint8Array> {
  const tooLarge = () => new ApiError("PAYLOAD_TOO_LARGE", { detail: `A webhook body may have at most ${maxBytes} bytes.` });
  if (Number(request.header("Content-Length") ?? 0) > maxBytes) throw tooLarge();
  const body = new Uint8Array(await request.arrayBuffer());
  if (body.byteLength > maxBytes) throw tooLarge();
  return body;
}
