/**
 * The daily-trends chart of `GET /analytics/daily-trends` in English or Russian: orders and
 * buyouts in the upper panel, cancellations and returns in a lower panel with a scale of their
 * own (they are a few percent of the orders: on the orders' scale they would lie flat on the
 * axis), today's partial day marked. Shared by the route and `scripts/render-chart.ts`.
 */
import { type ChartPanel, type ChartText, renderDailyChart } from "./chart";
import { type ChartLanguage, chartLocales } from "./chart-locale";
import type { DailyTrends } from "./schemas";

/** One day of the daily trends. */
type DailyEvents = DailyTrends["days"][number];

/** The four events, with their colours (the same in both languages). */
const colors = { orders: "#2563eb", buyouts: "#16a34a", cancellations: "#d97706", returns: "#dc2626" } as const;
type Event = keyof typeof colors;

/** The chart's words in each language. */
const words = {
  en: {
    title: "Orders, buyouts, cancellations and returns per day",
    events: { orders: "Orders", buyouts: "Buyouts", cancellations: "Cancellations", returns: "Returns" },
    mainAxis: "Orders and buyouts, pcs per day",
    minorAxis: "Cancellations and returns, pcs per day (own scale)",
    moscow: "Moscow time",
    today: "today",
    partial: "today, partial",
    noData: "No data for this period yet",
    total: (name: string, total: string, peak: string, day: string) => `${name}: ${total} in total, at most ${peak} a day (${day}).`,
    lowerPanel: "Cancellations and returns are drawn in a lower panel with their own scale.",
    partialDay: (day: string) => `Today, ${day}, is not over: its figures are partial.`,
  },
  ru: {
    title: "Заказы, выкупы, отмены и возвраты по дням",
    events: { orders: "Заказы", buyouts: "Выкупы", cancellations: "Отмены", returns: "Возвраты" },
    mainAxis: "Заказы и выкупы, шт. в день",
    minorAxis: "Отмены и возвраты, шт. в день (своя шкала)",
    moscow: "время московское",
    today: "сегодня",
    partial: "сегодня, неполный день",
    noData: "За этот период данных пока нет",
    total: (name: string, total: string, peak: string, day: string) => `${name}: всего ${total}, за день не больше ${peak} (${day}).`,
    lowerPanel: "Отмены и возвраты показаны на нижней панели в своём масштабе.",
    partialDay: (day: string) => `Сегодня, ${day}, день ещё не закончился: данные за него неполные.`,
  },
} as const;

/** Options of {@link renderDailyTrendsChart}. */
export interface DailyTrendsChartOptions {
  language: ChartLanguage;
  /** The current Moscow day: drawn as partial when it is the range's (or any) day. */
  today: string;
}

/**
 * The SVG of the daily trends (`days`: every day of the range, oldest first, as the route
 * answers them), titled and labelled in `language`.
 * @throws RangeError when `days` is empty.
 */
export function renderDailyTrendsChart(days: readonly DailyEvents[], { language, today }: DailyTrendsChartOptions): string {
  const locale = chartLocales[language];
  const w = words[language];
  const first = days[0];
  const last = days[days.length - 1];
  if (!first || !last) throw new RangeError("the daily trends chart needs at least one day");
  const series = (event: Event) => ({ name: w.events[event], color: colors[event], values: days.map((d) => d[event]) });
  const panels: ChartPanel[] = [
    { axisTitle: w.mainAxis, series: [series("orders"), series("buyouts")], share: 2.2 },
    { axisTitle: w.minorAxis, series: [series("cancellations"), series("returns")], share: 1 },
  ];
  const text: ChartText = {
    shortDay: locale.shortDay,
    weekday: locale.weekday,
    axisNumber: locale.axisNumber,
    today: w.today,
    partial: w.partial,
    noData: w.noData,
  };
  const range = locale.dayRange(first.day, last.day);
  const summaries = (Object.keys(colors) as Event[]).map((event) => {
    const peak = days.reduce((best, d) => (d[event] > best[event] ? d : best), first);
    const total = days.reduce((sum, d) => sum + d[event], 0);
    return w.total(w.events[event], locale.count(total), locale.count(peak[event]), locale.shortDay(peak.day));
  });
  const includesToday = days.some((d) => d.day === today);
  return renderDailyChart({
    title: w.title,
    subtitle: `${range} · ${locale.days(days.length)} · ${w.moscow}`,
    description: [
      `${w.title}, ${range} (${w.moscow}).`,
      ...summaries,
      w.lowerPanel,
      ...(includesToday ? [w.partialDay(locale.shortDay(today))] : []),
    ].join(" "),
    days: days.map((d) => d.day),
    today,
    panels,
    text,
  });
}
