/**
 * A row a guard needs on every request (a CRM integration, a Telegram bot), kept in Redis so the
 * lookup shares the guard's one pipelined Redis request, and read from Postgres only on a miss.
 * A missing row is cached too (as {@link UNKNOWN}), for longer, so guessing ids costs one Neon
 * request per distinct id at most; the guard's per-IP failure limit stops the guessing.
 */
import type { Redis } from "./redis";

/** The cached value of an id with no row. */
const UNKNOWN = "unknown";

/** Seconds a found row and an unknown id are cached. */
export interface CachedRowTtl {
  found: number;
  unknown: number;
}

/**
 * What Redis held under a row's key: the row, `null` for an id remembered as unknown, `undefined`
 * when Redis holds nothing usable (nothing, unparsable, or Redis did not answer): then {@link loadCachedRow}.
 */
export function readCachedRow<T>(cached: string | null | undefined): T | null | undefined {
  if (cached === null || cached === undefined) return undefined;
  if (cached === UNKNOWN) return null;
  try {
    return JSON.parse(cached) as T;
  } catch {
    return undefined;
  }
}

/**
 * Reads the row with `load` (one Neon request) and caches the answer, found or not, under `key`
 * in `waitUntil` (a failed cache write is ignored: the next request reads Postgres again).
 * @throws what `load` throws (the caller tells an outage from a bug).
 */
export async function loadCachedRow<T>(
  redis: Redis,
  key: string,
  ttl: CachedRowTtl,
  load: () => Promise<T | undefined>,
  waitUntil: (work: Promise<unknown>) => void,
): Promise<T | null> {
  const row = (await load()) ?? null;
  waitUntil(redis.set(key, row ? JSON.stringify(row) : UNKNOWN, { ex: row ? ttl.found : ttl.unknown }).catch(() => undefined));
  return row;
}
