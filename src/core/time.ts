/**
 * Moscow time and timestamps, in one place.
 *
 * Wildberries reports in Moscow time, UTC+3 all year (Russia has had no DST since 2014), so a
 * Moscow day is plain arithmetic on the UTC instant. Days travel as `YYYY-MM-DD` strings, which
 * sort and compare like the dates they name.
 * @see https://dev.wildberries.ru/openapi/reports (timestamps are Moscow time without an offset)
 */

/** Moscow's offset from UTC, in ms. */
export const MOSCOW_OFFSET_MS = 3 * 3_600_000;

/** The Moscow calendar day of `instantMs` (default: now), as `YYYY-MM-DD`. */
export function moscowDay(instantMs: number = Date.now()): string {
  return new Date(instantMs + MOSCOW_OFFSET_MS).toISOString().slice(0, 10);
}

/** Moscow wall time of `instantMs` at second resolution, without an offset: `2026-11-20T14:03:11`. */
export function moscowWallTime(instantMs: number): string {
  return new Date(Math.floor(instantMs / 1000) * 1000 + MOSCOW_OFFSET_MS).toISOString().slice(0, 19);
}

/** Parses a Postgres `timestamptz` text (`2026-11-20 11:03:11.5+00`, `…+03:00`, ISO forms) to epoch ms; NaN if it is none. */
function timestamptzToMs(value: string): number {
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2}(?:\.\d+)?)(Z|[+-]\d{2}(?::?\d{2})?)?$/.exec(value);
  if (!m) return Number.NaN;
  const [, day, time, zone = "Z"] = m;
  const offset = zone === "Z" ? "Z" : zone.length === 3 ? `${zone}:00` : zone.replace(/^([+-]\d{2})(\d{2})$/, "$1:$2");
  return Date.parse(`${day}T${time}${offset}`);
}

/**
 * A Postgres `timestamptz` text as Moscow time with its offset, second resolution:
 * `2026-11-20 11:03:11+00` → `2026-11-20T14:03:11+03:00`.
 * @throws RangeError when the text is not a timestamp.
 */
export function toMoscowDateTime(timestamp: string): string {
  const ms = timestamptzToMs(timestamp);
  if (Number.isNaN(ms)) throw new RangeError(`not a timestamp: ${timestamp}`);
  return `${moscowWallTime(ms)}+03:00`;
}

/**
 * A Postgres `timestamptz` text (`2026-11-20 11:03:11.123+00`) as RFC 3339 UTC
 * (`2026-11-20T11:03:11.123Z`); null stays null, and a text that is no timestamp is kept as is.
 */
export function isoTime(value: string): string;
export function isoTime(value: string | null): string | null;
export function isoTime(value: string | null): string | null {
  if (value === null) return null;
  const ms = timestamptzToMs(value);
  return Number.isNaN(ms) ? value : new Date(ms).toISOString();
}
