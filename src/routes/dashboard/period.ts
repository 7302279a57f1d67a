/**
 * The dashboard's reporting periods, as ranges of Moscow days (`YYYY-MM-DD`, which sort and
 * compare like the dates they name). Moscow time itself is `src/core/time.ts`.
 */
import { periodDays, reportingPeriods } from "../../core/db/schema";
import { moscowDay } from "../../core/time";

/** Periods a dashboard can ask for: the last N Moscow days, today included (the sync precomputes top products for each). */
export const periods = reportingPeriods;
/** One of {@link periods}. */
export type Period = (typeof periods)[number];

/** The period used when a request names none. */
export const defaultPeriod: Period = "30d";

const DAY_MS = 86_400_000;

/** An inclusive range of Moscow days, `from` ≤ `to`, both `YYYY-MM-DD`. */
export interface DayRange {
  from: string;
  to: string;
}

/** `day` moved by `days` (negative: earlier). */
export function addDays(day: string, days: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}

/** Number of days in `period` (`"7d"` → 7). */
export { periodDays };

/**
 * The days of `period` ending on `today`, inclusive: `7d` is today and the 6 days before.
 * @param today a Moscow day (default: the current one).
 */
export function periodRange(period: Period, today: string = moscowDay()): DayRange {
  return { from: addDays(today, 1 - periodDays(period)), to: today };
}

/** The range of the same length that ends the day before `range` starts. */
export function previousRange(range: DayRange): DayRange {
  const length = rangeLength(range);
  return { from: addDays(range.from, -length), to: addDays(range.from, -1) };
}

/** Number of days in `range`, both ends included. */
export function rangeLength(range: DayRange): number {
  return Math.round((Date.parse(`${range.to}T00:00:00Z`) - Date.parse(`${range.from}T00:00:00Z`)) / DAY_MS) + 1;
}

/** Every day of `range` in order. */
export function eachDay(range: DayRange): string[] {
  return Array.from({ length: rangeLength(range) }, (_, i) => addDays(range.from, i));
}

/**
 * The instant Moscow `day` begins, as an RFC 3339 timestamp with the +03:00 offset, for
 * half-open `timestamptz` comparisons: `date >= dayStart(from) AND date < dayStart(to + 1)`.
 */
export function dayStart(day: string): string {
  return `${day}T00:00:00+03:00`;
}
