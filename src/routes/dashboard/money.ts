/**
 * Money in roubles with kopeck precision. Postgres sums `numeric(14,2)` exactly; in JS amounts
 * are added as whole kopecks, so totals never pick up binary-float noise.
 */

/** Roubles (number or numeric text) → whole kopecks. */
export function toKopecks(roubles: number | string): number {
  return Math.round(Number(roubles) * 100);
}

/** Whole kopecks → roubles with at most two decimals. */
export function toRoubles(kopecks: number): number {
  return kopecks / 100;
}

/** Roubles rounded to kopecks. */
export function roundRoubles(roubles: number | string): number {
  return toRoubles(toKopecks(roubles));
}

/**
 * Change from `previous` to `current` in percent, one decimal (`12.5` means +12.5 %), or null
 * when `previous` is 0 (no base to compare against).
 */
export function changePercent(current: number, previous: number): number | null {
  if (previous === 0) return null;
  return Math.round(((current - previous) / previous) * 1000) / 10;
}
