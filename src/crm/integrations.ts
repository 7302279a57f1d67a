/**
 * An org's CRM integrations (`crm_integrations`): creating one with its webhook secret, listing
 * them, rotating the secret, disabling one — the logic behind `/api/v1/integrations/crm*`.
 *
 * Secrets (shown once, at creation and at each rotation; stored AES-GCM encrypted, never answered
 * again):
 * - Standard Webhooks: `whsec_` + base64 of 32 random bytes, the form the spec gives for a
 *   signing secret; the sender signs `{webhook-id}.{webhook-timestamp}.{body}` with HMAC-SHA256
 *   under the decoded bytes.
 * - Kommo: Kommo's webhooks are not signed, so the URL carries the secret: a path segment of 32
 *   random bytes, base64url (`/webhooks/kommo/{id}/{pathSecret}`).
 *
 * A rotation keeps the old secret valid for {@link PREVIOUS_SECRET_GRACE_HOURS} hours (columns
 * `previous_secret_ciphertext`, `previous_secret_expires_at`), so senders can be switched over
 * without a lost delivery. A disabled integration (`disabled_at`) stays listed; its webhooks
 * answer 404 and it can no longer be rotated (409).
 *
 * The webhook ingest caches an integration's row in Redis for 60 s under
 * {@link integrationCacheKey}; rotate and disable delete that key, so the change applies at once.
 *
 * @see https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md (secrets, `whsec_`)
 * @see https://developers.kommo.com/docs/webhooks-general
 */
import { and, desc, eq, isNull, sql } from "drizzle-orm";
import type { Services } from "../core/context";
import { encryptSecret, toBase64Url } from "../core/crypto";
import type { Database } from "../core/db/client";
import { type CrmProvider, crmIntegrations } from "../core/db/schema";
import { type AppConfig, publicWebhooksUrl } from "../core/env";
import { ApiError } from "../core/errors";
import { isoTime } from "../core/time";

/** Hours the secret before a rotation is still accepted. */
export const PREVIOUS_SECRET_GRACE_HOURS = 24;

/** Random bytes of a new webhook secret. */
export const WEBHOOK_SECRET_BYTES = 32;

/** The Redis key under which the webhook ingest caches integration `id`'s row (60 s). */
export const integrationCacheKey = (id: string) => `crm-integration:${id}`;

/** Base64 (with padding) of `bytes`. */
function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

/**
 * A new webhook secret for `provider`: `whsec_<base64 of 32 bytes>` (Standard Webhooks) or
 * `<base64url of 32 bytes>` (Kommo's path secret, 43 characters).
 */
export function generateWebhookSecret(provider: CrmProvider): string {
  const bytes = crypto.getRandomValues(new Uint8Array(WEBHOOK_SECRET_BYTES));
  return provider === "standard-webhooks" ? `whsec_${toBase64(bytes)}` : toBase64Url(bytes);
}

type UrlConfig = Pick<AppConfig, "PUBLIC_WEBHOOKS_URL" | "PUBLIC_JOBS_URL">;

/**
 * The URL a CRM delivers integration `id`'s webhooks to: `…/webhooks/crm/{id}` (Standard Webhooks:
 * the secret signs, it is not in the URL) or `…/webhooks/kommo/{id}/{pathSecret}` (Kommo).
 */
export function webhookUrl(config: UrlConfig, integration: { id: string; provider: CrmProvider }, secret: string): string {
  const base = publicWebhooksUrl(config);
  return integration.provider === "kommo" ? `${base}/webhooks/kommo/${integration.id}/${secret}` : `${base}/webhooks/crm/${integration.id}`;
}

/** The URL of a Kommo integration's Chats channel webhooks (`X-Signature` with the chats secret): `…/webhooks/kommo-chats/{id}`. */
export function chatsWebhookUrl(config: UrlConfig, id: string): string {
  return `${publicWebhooksUrl(config)}/webhooks/kommo-chats/${id}`;
}

/** The columns an integration's view is built from (never a ciphertext). */
const viewColumns = {
  id: crmIntegrations.id,
  provider: crmIntegrations.provider,
  name: crmIntegrations.name,
  accountDomain: crmIntegrations.accountDomain,
  accessTokenExpiresAt: crmIntegrations.accessTokenExpiresAt,
  kommoConnected: sql<boolean>`(${crmIntegrations.refreshTokenCiphertext} is not null)`.mapWith(Boolean),
  chatsSecretSet: sql<boolean>`(${crmIntegrations.chatsSecretCiphertext} is not null)`.mapWith(Boolean),
  previousSecretExpiresAt: crmIntegrations.previousSecretExpiresAt,
  createdAt: crmIntegrations.createdAt,
  disabledAt: crmIntegrations.disabledAt,
};

type ViewRow = {
  id: string;
  provider: CrmProvider;
  name: string;
  accountDomain: string | null;
  accessTokenExpiresAt: string | null;
  kommoConnected: boolean;
  chatsSecretSet: boolean;
  previousSecretExpiresAt: string | null;
  createdAt: string;
  disabledAt: string | null;
};

/**
 * An integration as the API shows it, without secrets. `webhookUrl` is the Standard Webhooks URL,
 * and null for Kommo, whose URL holds its secret (shown only at creation and rotation);
 * `chatsWebhookUrl` is Kommo's Chats URL (no secret in it), null for Standard Webhooks.
 */
export function toIntegrationView(config: UrlConfig, row: ViewRow) {
  const kommo = row.provider === "kommo";
  return {
    id: row.id,
    provider: row.provider,
    name: row.name,
    webhookUrl: kommo ? null : webhookUrl(config, row, ""),
    chatsWebhookUrl: kommo ? chatsWebhookUrl(config, row.id) : null,
    accountDomain: row.accountDomain,
    kommoConnected: kommo && row.kommoConnected,
    accessTokenExpiresAt: isoTime(row.accessTokenExpiresAt),
    chatsSecretSet: row.chatsSecretSet,
    previousSecretExpiresAt: isoTime(row.previousSecretExpiresAt),
    createdAt: isoTime(row.createdAt),
    disabledAt: isoTime(row.disabledAt),
  };
}

/** What {@link toIntegrationView} answers. */
export type CrmIntegrationView = ReturnType<typeof toIntegrationView>;

/** A new integration or a rotation: the view plus the secret and the URL holding it, shown once. */
export type IntegrationWithSecret = CrmIntegrationView & { webhookUrl: string; secret: string };

/**
 * Creates an integration of the org with a fresh secret (and, for Kommo, the Chats channel secret
 * the seller got from Kommo, if given). One INSERT.
 * @returns the view with the secret and its webhook URL: the only time the secret is answered.
 */
export async function createCrmIntegration(
  services: Pick<Services, "db" | "config">,
  input: { orgId: string; createdBy: string | null; provider: CrmProvider; name: string; chatsSecret?: string | undefined },
): Promise<IntegrationWithSecret> {
  const { db, config } = services;
  const secret = generateWebhookSecret(input.provider);
  const [row] = await db
    .insert(crmIntegrations)
    .values({
      orgId: input.orgId,
      provider: input.provider,
      name: input.name,
      secretCiphertext: await encryptSecret(secret, config.ENCRYPTION_KEY),
      chatsSecretCiphertext: input.chatsSecret === undefined ? null : await encryptSecret(input.chatsSecret, config.ENCRYPTION_KEY),
      createdBy: input.createdBy,
    })
    .returning(viewColumns);
  if (!row) throw new Error("the crm_integrations insert returned no row");
  return { ...toIntegrationView(config, row), webhookUrl: webhookUrl(config, row, secret), secret };
}

/** The org's integrations, newest first, disabled ones included. One query. */
export async function listCrmIntegrations(services: Pick<Services, "db" | "config">, orgId: string): Promise<CrmIntegrationView[]> {
  const rows = await services.db
    .select(viewColumns)
    .from(crmIntegrations)
    .where(eq(crmIntegrations.orgId, orgId))
    .orderBy(desc(crmIntegrations.createdAt), desc(crmIntegrations.id));
  return rows.map((row) => toIntegrationView(services.config, row));
}

/** 404 for no such integration in the org, 409 for a disabled one (which the UPDATE left alone). */
async function refusal(db: Database, orgId: string, id: string, action: string): Promise<ApiError> {
  const [row] = await db
    .select({ disabledAt: crmIntegrations.disabledAt })
    .from(crmIntegrations)
    .where(and(eq(crmIntegrations.id, id), eq(crmIntegrations.orgId, orgId)));
  if (!row) return new ApiError("NOT_FOUND", { detail: "No CRM integration with this id in the org." });
  return new ApiError("CONFLICT", { detail: `The integration was disabled at ${isoTime(row.disabledAt)}; it cannot ${action}.` });
}

/**
 * Drops the ingest's cached row of `id` after a rotation. A Redis failure is only logged: the new
 * secret must still be answered (it is shown once), and the cached row expires within 60 s, while
 * the old secret stays valid for 24 hours anyway.
 */
async function forgetCachedIntegration(services: Pick<Services, "redis" | "logger">, id: string): Promise<void> {
  await services.redis.del(integrationCacheKey(id)).catch((err: unknown) => {
    services.logger.warn("crm integration cache not cleared; it expires within 60 s", { integrationId: id, error: err });
  });
}

/**
 * Rotates integration `id`'s secret: one UPDATE (one Neon request) moves the current secret to `previous_secret_*`
 * (accepted for {@link PREVIOUS_SECRET_GRACE_HOURS} more hours) and stores a new one; then the
 * ingest's cached row is dropped.
 * @throws ApiError 404 (no such integration in the org), 409 (disabled).
 */
export async function rotateCrmSecret(
  services: Pick<Services, "db" | "config" | "redis" | "logger">,
  orgId: string,
  id: string,
): Promise<IntegrationWithSecret> {
  const { db, config } = services;
  // The provider decides the secret's form; both are made so the rotation is one statement.
  const secrets = { kommo: generateWebhookSecret("kommo"), "standard-webhooks": generateWebhookSecret("standard-webhooks") };
  const [kommoCiphertext, standardCiphertext] = await Promise.all([
    encryptSecret(secrets.kommo, config.ENCRYPTION_KEY),
    encryptSecret(secrets["standard-webhooks"], config.ENCRYPTION_KEY),
  ]);
  const [row] = await db
    .update(crmIntegrations)
    .set({
      // Postgres evaluates every SET expression against the row before the update: this is the old secret.
      previousSecretCiphertext: sql`${crmIntegrations.secretCiphertext}`,
      previousSecretExpiresAt: sql`now() + make_interval(hours => ${PREVIOUS_SECRET_GRACE_HOURS})`,
      secretCiphertext: sql`case when ${crmIntegrations.provider} = 'kommo' then ${kommoCiphertext} else ${standardCiphertext} end`,
    })
    .where(and(eq(crmIntegrations.id, id), eq(crmIntegrations.orgId, orgId), isNull(crmIntegrations.disabledAt)))
    .returning(viewColumns);
  if (!row) throw await refusal(db, orgId, id, "be rotated");
  await forgetCachedIntegration(services, id);
  const secret = secrets[row.provider];
  return { ...toIntegrationView(config, row), webhookUrl: webhookUrl(config, row, secret), secret };
}

/**
 * Disables integration `id` (`disabled_at`, kept when already set: idempotent) and drops the
 * ingest's cached row, so its webhooks answer 404 from now on.
 * @throws ApiError 404 when the org has no such integration; 503 when it is disabled but Redis did
 *   not drop the cached row (its webhooks may be accepted up to 60 s more; repeating the call is safe).
 */
export async function disableCrmIntegration(services: Pick<Services, "db" | "redis" | "logger">, orgId: string, id: string): Promise<void> {
  const [row] = await services.db
    .update(crmIntegrations)
    .set({ disabledAt: sql`coalesce(${crmIntegrations.disabledAt}, now())` })
    .where(and(eq(crmIntegrations.id, id), eq(crmIntegrations.orgId, orgId)))
    .returning({ id: crmIntegrations.id });
  if (!row) throw new ApiError("NOT_FOUND", { detail: "No CRM integration with this id in the org." });
  try {
    await services.redis.del(integrationCacheKey(id));
  } catch (err) {
    throw new ApiError("SERVICE_UNAVAILABLE", {
      detail: "The integration is disabled, but its cached copy may accept webhooks for up to 60 s; repeat the call.",
      headers: { "Retry-After": "5" },
      cause: err,
    });
  }
}
