/**
 * `npx tsx scripts/render-chart.ts [--out docs/images] [--periods 7d,30d,180d] [--anchor 2026-11-20T14:30:00+03:00] [--svg]`:
 * draws the daily-trends chart of `GET /analytics/daily-trends` exactly as the route does
 * (`renderDailyTrendsChart`), for 7, 30 and 180 days (or `--periods`) in English and Russian, over the local
 * stack's demo data set (the WB double's generator, seed 1), and writes the PNGs
 * `daily-trends-{period}-{language}.png` (twice the SVG's size) — to look at a change of the
 * chart before a seller does. `--svg` writes the SVGs beside them.
 *
 * The figures follow the analytics definitions (docs/api.md): orders and cancellations by the
 * order's Moscow day, buyouts (`saleID` `S…`) and returns (`R…`) by the sale's. The anchor is a
 * Moscow afternoon, so today is a partial day, as a seller sees it.
 *
 * PNGs come from librsvg through `sharp` (installed with the Workers test tooling); text is set
 * in whatever sans-serif fontconfig finds (DejaVu Sans on a bare Linux: the widest usual font,
 * so a label that fits here fits in a browser).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { generateWbDataset } from "../dev/wildberries/dataset";
import { moscowDay } from "../src/core/time";
import { renderDailyTrendsChart } from "../src/routes/dashboard/chart-daily-trends";
import { type ChartLanguage, chartLanguages } from "../src/routes/dashboard/chart-locale";
import { addDays, type Period, periodDays, periods } from "../src/routes/dashboard/period";

/** One day's counts, as the route answers them. */
interface DayCounts {
  day: string;
  orders: number;
  buyouts: number;
  cancellations: number;
  returns: number;
}

/** Per-day counts of the demo data set over the `days` days ending on `anchor`'s Moscow day. */
export function demoDays(anchor: Date, days: number): DayCounts[] {
  const dataset = generateWbDataset({ seed: 1, anchor, days: 180 });
  const today = moscowDay(anchor.getTime());
  const byDay = new Map<string, DayCounts>();
  for (let i = days - 1; i >= 0; i--) {
    const day = addDays(today, -i);
    byDay.set(day, { day, orders: 0, buyouts: 0, cancellations: 0, returns: 0 });
  }
  // WB times are Moscow wall time: the day is the first ten characters.
  for (const order of dataset.orders) {
    const counts = byDay.get(order.date.slice(0, 10));
    if (!counts) continue;
    counts.orders++;
    if (order.isCancel) counts.cancellations++;
  }
  for (const sale of dataset.sales) {
    const counts = byDay.get(sale.date.slice(0, 10));
    if (!counts) continue;
    if (sale.saleID.startsWith("S")) counts.buyouts++;
    else if (sale.saleID.startsWith("R")) counts.returns++;
  }
  return [...byDay.values()];
}

/** The periods drawn by default (`--periods` names others). */
const defaultPeriods: readonly Period[] = ["7d", "30d", "180d"];

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      out: { type: "string", default: "docs/images" },
      anchor: { type: "string", default: "2026-11-20T14:30:00+03:00" },
      svg: { type: "boolean", default: false },
      periods: { type: "string", default: defaultPeriods.join(",") },
    },
  });
  const drawn = values.periods.split(",").map((p) => p.trim());
  const unknown = drawn.filter((p) => !(periods as readonly string[]).includes(p));
  if (unknown.length > 0) throw new Error(`--periods: unknown ${unknown.join(", ")} (known: ${periods.join(", ")})`);
  const anchor = new Date(values.anchor);
  if (Number.isNaN(anchor.getTime())) throw new Error(`--anchor is not a date: ${values.anchor}`);
  const sharp = (await import("sharp")).default;
  mkdirSync(values.out, { recursive: true });
  const today = moscowDay(anchor.getTime());
  for (const period of drawn as Period[]) {
    const days = demoDays(anchor, periodDays(period));
    for (const language of chartLanguages as readonly ChartLanguage[]) {
      const svg = renderDailyTrendsChart(days, { language, today });
      const name = join(values.out, `daily-trends-${period}-${language}`);
      if (values.svg) writeFileSync(`${name}.svg`, svg);
      await sharp(Buffer.from(svg), { density: 144 }).png({ compressionLevel: 9, palette: true }).toFile(`${name}.png`);
      console.log(`${name}.png`);
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
