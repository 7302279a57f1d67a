/**
 * Wildberries time: the statistics API writes Moscow time (UTC+3, no DST since 2014) without an
 * offset (`2026-11-20T14:03:11`, sometimes with a fraction), and uses the zero time
 * `0001-01-01T00:00:00` for "never" (`cancelDate` of an order that is not canceled).
 * Postgres stores `timestamptz`, so every WB time gets its offset written out. The offset and
 * Moscow wall time come from `src/core/time.ts`; this module only reads and writes WB's forms.
 * @see https://dev.wildberries.ru/openapi/reports
 */
import { MOSCOW_OFFSET_MS, moscowWallTime } from "../../core/time";
import type { WbDateTime } from "./types";

const wbDateTimePattern = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?$/;

/** True for a WB time without an offset: `2026-11-20T14:03:11` or `2026-11-20T14:03:11.123`. */
export function isWbDateTime(text: string): boolean {
  return wbDateTimePattern.test(text);
}

/**
 * WB time → an RFC 3339 timestamp with the Moscow offset, ready for a `timestamptz` column:
 * `2026-11-20T14:03:11` → `2026-11-20T14:03:11+03:00`.
 * @throws RangeError when `text` is not a WB time.
 */
export function wbTimeToTimestamptz(text: WbDateTime): string {
  if (!wbDateTimePattern.test(text)) throw new RangeError(`Not a Wildberries time: ${JSON.stringify(text)}`);
  return `${text}+03:00`;
}

/**
 * Like {@link wbTimeToTimestamptz}, but WB's zero time (`0001-01-01T00:00:00`, any year before
 * 1970 in fact) and an empty string become `null`.
 */
export function wbTimeToTimestamptzOrNull(text: WbDateTime | null | undefined): string | null {
  if (!text || text.startsWith("0001-") || text < "1970") return null;
  return wbTimeToTimestamptz(text);
}

/**
 * WB time → milliseconds since the Unix epoch (for comparing cursors; fractions kept).
 * @throws RangeError when `text` is not a WB time.
 */
export function wbTimeToEpochMs(text: WbDateTime): number {
  const match = wbDateTimePattern.exec(text);
  if (!match) throw new RangeError(`Not a Wildberries time: ${JSON.stringify(text)}`);
  const [, y, mo, d, h, mi, s, fraction] = match;
  const utc = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  return utc - MOSCOW_OFFSET_MS + (fraction ? Math.floor(Number(fraction) * 1000) : 0);
}

/** An instant → WB time (Moscow wall time, second resolution): the form `dateFrom` takes. */
export function toWbDateTime(instant: Date | number): WbDateTime {
  return moscowWallTime(typeof instant === "number" ? instant : instant.getTime());
}

/** The Moscow calendar day (`YYYY-MM-DD`) of a WB time: its own date part, since WB times are Moscow time. */
export function wbMoscowDay(text: WbDateTime): string {
  return text.slice(0, 10);
}
