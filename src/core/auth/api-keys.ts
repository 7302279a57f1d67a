/**
 * API keys for machine clients (the chat bot, the CRM integration, a BI tool): org-scoped,
 * `se_live_` + 256 random bits, shown once, stored as SHA-256 (high-entropy keys need no
 * KDF), with scopes, an expiry and a last-used time. A key acts as role `service` with its
 * scopes. Lookups are cached in Redis (valid keys for a minute, unknown hashes for five), so
 * a cached dashboard read with a key costs no Neon request and a flood of random keys costs
 * one Neon request per distinct key at most (and the per-IP failure limit stops the flood).
 * @see https://owasp.org/API-Security/editions/2023/en/0xa2-broken-authentication/
 */
import { and, eq, gt, inArray, isNull, lt, or, sql } from "drizzle-orm";
import { sha256Hex, toBase64Url } from "../crypto";
import type { Database } from "../db/client";
import { type ApiKeyScope, apiKeys, memberships } from "../db/schema";
import type { Redis } from "../redis";
import { isoTime } from "../time";

/** Every key starts with this, so secret scanners and people recognise it. */
export const API_KEY_PREFIX = "se_live_";
/** Characters of the key kept in clear for lists (`se_live_` + 8). */
const SHOWN_PREFIX_LENGTH = API_KEY_PREFIX.length + 8;

/** The whole shape of a key: the prefix and 32 random bytes in base64url (43 characters). */
const KEY_PATTERN = /^se_live_[A-Za-z0-9_-]{43}$/;

/** True when a bearer credential looks like an API key rather than a JWT. */
export const isApiKey = (credential: string) => credential.startsWith(API_KEY_PREFIX);

/** A new key: the full secret `key` (shown once), its shown `prefix`, and the stored `keyHash` (hex SHA-256). */
export async function generateApiKey(): Promise<{ key: string; prefix: string; keyHash: string }> {
  const key = `${API_KEY_PREFIX}${toBase64Url(crypto.getRandomValues(new Uint8Array(32)))}`;
  return { key, prefix: key.slice(0, SHOWN_PREFIX_LENGTH), keyHash: await sha256Hex(key) };
}

/** The identity of a verified key. */
export interface ApiKeyIdentity {
  keyId: string;
  orgId: string;
  scopes: ApiKeyScope[];
  /** RFC 3339; the key stops working then. */
  expiresAt: string;
}

/** Seconds a valid key's lookup is cached in Redis (a revoke deletes it at once; a lost membership waits for it). */
export const API_KEY_CACHE_SECONDS = 60;
/** Seconds an unknown key hash is remembered, so repeated guesses cost no Neon request. */
export const UNKNOWN_API_KEY_SECONDS = 300;
/** The cached value of a key that does not verify. */
const UNKNOWN = "unknown";

/** Redis key of the cached lookup of the key whose hex SHA-256 is `keyHash`. */
export const apiKeyCacheKey = (keyHash: string) => `api-key:${keyHash}`;

/** The hex SHA-256 of a presented key, or null when it is not shaped like one (no lookup then). */
export async function apiKeyHash(presented: string): Promise<string | null> {
  return KEY_PATTERN.test(presented) ? sha256Hex(presented) : null;
}

/**
 * A cached lookup: the identity, `null` for a hash remembered as unknown, `undefined` when
 * Redis holds nothing (then look it up with {@link lookupApiKey}). An expired key is `null`.
 */
export function readCachedApiKey(cached: string | null | undefined, now = Date.now()): ApiKeyIdentity | null | undefined {
  if (cached === null || cached === undefined) return undefined;
  if (cached === UNKNOWN) return null;
  const identity = JSON.parse(cached) as ApiKeyIdentity;
  return Date.parse(identity.expiresAt) > now ? identity : null;
}

/**
 * Looks a key hash up in Postgres (one Neon request): the key must be unrevoked and unexpired,
 * its org must exist, and its creator must still be an owner or admin of that org — a key
 * never outlives the authority of the person who made it. The answer (positive or negative)
 * is cached in Redis in the background. The last-used time is refreshed at most once a minute.
 */
export async function lookupApiKey(
  db: Database,
  redis: Redis,
  keyHash: string,
  waitUntil: (p: Promise<unknown>) => void,
): Promise<ApiKeyIdentity | null> {
  const [row] = await db
    .select({ id: apiKeys.id, orgId: apiKeys.orgId, scopes: apiKeys.scopes, lastUsedAt: apiKeys.lastUsedAt, expiresAt: apiKeys.expiresAt })
    .from(apiKeys)
    .innerJoin(
      memberships,
      and(eq(memberships.orgId, apiKeys.orgId), eq(memberships.userId, apiKeys.createdBy), inArray(memberships.role, ["owner", "admin"])),
    )
    .where(and(eq(apiKeys.keyHash, keyHash), isNull(apiKeys.revokedAt), gt(apiKeys.expiresAt, sql`now()`)))
    .limit(1);
  const identity = row ? { keyId: row.id, orgId: row.orgId, scopes: row.scopes, expiresAt: isoTime(row.expiresAt) } : null;
  waitUntil(
    redis
      .set(apiKeyCacheKey(keyHash), identity ? JSON.stringify(identity) : UNKNOWN, {
        ex: identity ? API_KEY_CACHE_SECONDS : UNKNOWN_API_KEY_SECONDS,
      })
      .catch(() => undefined),
  );
  if (row && (!row.lastUsedAt || Date.parse(row.lastUsedAt) < Date.now() - 60_000)) {
    waitUntil(
      db
        .update(apiKeys)
        .set({ lastUsedAt: sql`now()` })
        .where(and(eq(apiKeys.id, row.id), or(isNull(apiKeys.lastUsedAt), lt(apiKeys.lastUsedAt, sql`now() - interval '1 minute'`))))
        .then(() => undefined),
    );
  }
  return identity;
}

/** Forgets the cached lookup of `keyHash` (after a revoke), so the key stops working at once. */
export async function forgetApiKey(redis: Redis, keyHash: string): Promise<void> {
  await redis.del(apiKeyCacheKey(keyHash));
}
