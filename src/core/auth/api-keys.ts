/**
 * API keys for machine clients (the chat bot, the CRM integration, a BI tool): org-scoped,
 * `se_live_` + 256 random bits, shown once, stored as SHA-256 (high-entropy keys need no
 * KDF), with scopes and a last-used time. A key acts as role `service` with its scopes.
 * @see https://owasp.org/API-Security/editions/2023/en/0xa2-broken-authentication/
 */
import { and, eq, isNull, lt, or, sql } from "drizzle-orm";
import { sha256Hex, toBase64Url } from "../crypto";
import type { Database } from "../db/client";
import { type ApiKeyScope, apiKeys } from "../db/schema";

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
}

/**
 * Looks a presented key up (one Neon request; none for a string that is not shaped like a
 * key). Revoked or unknown keys give null. The last-used time is refreshed at most once a
 * minute, in the background (`waitUntil`).
 */
export async function verifyApiKey(
  db: Database,
  presented: string,
  waitUntil: (p: Promise<unknown>) => void,
): Promise<ApiKeyIdentity | null> {
  if (!KEY_PATTERN.test(presented)) return null;
  const keyHash = await sha256Hex(presented);
  const [row] = await db
    .select({ id: apiKeys.id, orgId: apiKeys.orgId, scopes: apiKeys.scopes, lastUsedAt: apiKeys.lastUsedAt })
    .from(apiKeys)
    .where(and(eq(apiKeys.keyHash, keyHash), isNull(apiKeys.revokedAt)))
    .limit(1);
  if (!row) return null;
  if (!row.lastUsedAt || Date.parse(row.lastUsedAt) < Date.now() - 60_000) {
    waitUntil(
      db
        .update(apiKeys)
        .set({ lastUsedAt: sql`now()` })
        .where(and(eq(apiKeys.id, row.id), or(isNull(apiKeys.lastUsedAt), lt(apiKeys.lastUsedAt, sql`now() - interval '1 minute'`))))
        .then(() => undefined),
    );
  }
  return { keyId: row.id, orgId: row.orgId, scopes: row.scopes };
}
