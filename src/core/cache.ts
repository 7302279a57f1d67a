/**
 * Read-through cache of API responses in Redis, versioned per org.
 *
 * Key: `org:{orgId}:v{version}:{route}:{sha256 of the normalized query}`. The version
 * lives at `org:{orgId}:cache-version`; a successful sync `INCR`s it, so every cached
 * answer of the org goes stale at once (old keys expire by TTL). A lookup is one Lua
 * `EVAL` that reads the version and the entry together, so it costs one command — and
 * with auto-pipelining it shares one REST request with the rate limit.
 * A Redis failure is a miss (the read still answers from Postgres).
 */

import { sha256Hex } from "./crypto";
import type { Redis } from "./redis";

const versionKey = (orgId: string) => `org:${orgId}:cache-version`;

// KEYS[1] = version key; ARGV[1] = key prefix up to "v"; ARGV[2] = rest of the key.
// Returns { version, value|false, pttl }.
const lookupScript = `
local v = redis.call('GET', KEYS[1]) or '0'
local key = ARGV[1] .. v .. ARGV[2]
local value = redis.call('GET', key)
local ttl = -2
if value then ttl = redis.call('PTTL', key) end
return { v, value, ttl }
`;

/** Result of a lookup: the entry on a hit, and the version to write a miss under. */
export interface CacheLookup {
  hit: boolean;
  value?: string;
  /** Remaining TTL of the hit in seconds. */
  ttlSeconds?: number;
  /** Full key to store a miss under; undefined when Redis failed (then do not store). */
  key?: string;
}

/**
 * Normalizes a query (sorted keys, sorted repeated values) so equivalent URLs share a key.
 */
export function normalizeQuery(params: URLSearchParams): string {
  const entries = [...params.entries()].sort(([a, x], [b, y]) => (a === b ? x.localeCompare(y) : a.localeCompare(b)));
  return new URLSearchParams(entries).toString();
}

/** The route-and-query part of a cache key: `:{route}:{sha256 of query}`. */
export async function cacheKeySuffix(route: string, normalizedQuery: string): Promise<string> {
  return `:${route}:${await sha256Hex(normalizedQuery)}`;
}

/**
 * Looks up the entry for `suffix` (from `cacheKeySuffix`) under the org's current version.
 * The Redis command is issued synchronously, so it joins the current auto-pipeline. Never throws.
 */
export async function cacheLookup(redis: Redis, orgId: string, suffix: string): Promise<CacheLookup> {
  try {
    const [version, value, pttl] = (await redis.eval(lookupScript, [versionKey(orgId)], [`org:${orgId}:v`, suffix])) as [
      string,
      string | null,
      number,
    ];
    const key = `org:${orgId}:v${version}${suffix}`;
    if (value === null || value === undefined) return { hit: false, key };
    return { hit: true, value: String(value), ttlSeconds: Math.max(1, Math.ceil(pttl / 1000)), key };
  } catch {
    return { hit: false };
  }
}

/** Stores `value` under `key` for `ttlSeconds`. Never throws (a failed write only costs a later miss). */
export async function cacheStore(redis: Redis, key: string, value: string, ttlSeconds: number): Promise<void> {
  try {
    await redis.set(key, value, { ex: ttlSeconds });
  } catch {
    // Cache writes are best effort by design.
  }
}

/** Bumps the org's cache version: every cached answer of the org becomes a miss. */
export async function invalidateOrgCache(redis: Redis, orgId: string): Promise<number> {
  return redis.incr(versionKey(orgId));
}
