/**
 * The CRM integration a webhook names, as its guard needs it, read from Redis in the same
 * pipelined request as the caller IP's failure count, and from Postgres only on a miss.
 *
 * The cached value holds what verification needs and nothing more: the org, the provider, the
 * disable time, and the secrets as stored — AES-GCM ciphertexts, never plaintext. A known
 * integration is cached {@link INTEGRATION_CACHE_SECONDS} s (rotating a secret or disabling the
 * integration deletes the key, `src/crm/integrations.ts`; the TTL bounds what a missed delete
 * costs); an unknown id {@link UNKNOWN_INTEGRATION_SECONDS} s, so guessing ids costs one Neon
 * request per distinct id at most, and the per-IP failure limit stops the guessing.
 */
import { eq } from "drizzle-orm";
import { loadCachedRow, readCachedRow } from "../core/cached-row";
import type { Database } from "../core/db/client";
import { type CrmProvider, crmIntegrations } from "../core/db/schema";
import type { Redis } from "../core/redis";
import { integrationCacheKey } from "../crm/integrations";

/** Seconds a known integration's row is cached. */
export const INTEGRATION_CACHE_SECONDS = 60;
/** Seconds an unknown integration id is remembered. */
export const UNKNOWN_INTEGRATION_SECONDS = 300;

/**
 * Redis key of the cached integration `id`: `crm-integration:{id}`, owned by the integrations API
 * (`src/crm/integrations.ts`), which deletes it when a secret is rotated or the integration disabled.
 */
export { integrationCacheKey };

/** The fields of a `crm_integrations` row that verifying a webhook needs (timestamps RFC 3339). */
export interface CachedIntegration {
  id: string;
  orgId: string;
  provider: CrmProvider;
  disabledAt: string | null;
  /** `whsec_…` (Standard Webhooks) or Kommo's path secret, encrypted. */
  secretCiphertext: string;
  previousSecretCiphertext: string | null;
  /** Until when the previous secret is accepted. */
  previousSecretExpiresAt: string | null;
  /** Kommo Chats channel secret, encrypted; null: no chats channel. */
  chatsSecretCiphertext: string | null;
}

const columns = {
  id: crmIntegrations.id,
  orgId: crmIntegrations.orgId,
  provider: crmIntegrations.provider,
  disabledAt: crmIntegrations.disabledAt,
  secretCiphertext: crmIntegrations.secretCiphertext,
  previousSecretCiphertext: crmIntegrations.previousSecretCiphertext,
  previousSecretExpiresAt: crmIntegrations.previousSecretExpiresAt,
  chatsSecretCiphertext: crmIntegrations.chatsSecretCiphertext,
};

/**
 * A cached lookup: the integration, `null` for an id remembered as unknown, `undefined` when
 * Redis holds nothing usable (then {@link loadIntegration}).
 */
export const readCachedIntegration = (cached: string | null | undefined) => readCachedRow<CachedIntegration>(cached);

/**
 * Reads integration `id` from Postgres (one Neon request) and caches the answer, found or not,
 * in `waitUntil`. `id` must be a UUID (the column's type).
 * @throws the database error (the caller tells an outage from a bug).
 */
export function loadIntegration(
  db: Database,
  redis: Redis,
  id: string,
  waitUntil: (work: Promise<unknown>) => void,
): Promise<CachedIntegration | null> {
  const ttl = { found: INTEGRATION_CACHE_SECONDS, unknown: UNKNOWN_INTEGRATION_SECONDS };
  const load = async () => (await db.select(columns).from(crmIntegrations).where(eq(crmIntegrations.id, id)).limit(1))[0];
  return loadCachedRow(redis, integrationCacheKey(id), ttl, load, waitUntil);
}
