/**
 * The languages of the dashboard charts (English and Russian), picked from `Accept-Language` by
 * `negotiateLanguage` (`src/core/language.ts`); dates and numbers as each language writes them.
 * Written out by hand rather than through `Intl`, so a chart is the same bytes on every runtime
 * and ICU version.
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-12.5.4 (Accept-Language)
 */

/** Languages a chart can be drawn in; the first is the default. */
export const chartLanguages = ["en", "ru"] as const;
/** One of {@link chartLanguages}. */
export type ChartLanguage = (typeof chartLanguages)[number];

/** How one language writes the parts of a daily chart. */
export interface ChartLocale {
  language: ChartLanguage;
  /** A day on the date axis: `14 Nov` / `14 ноя`. */
  shortDay(day: string): string;
  /** A day in running text: `14 November 2026` / `14 ноября 2026`. */
  longDay(day: string): string;
  /** A range of days: `22 October – 20 November 2026`, `14–20 November 2026` (a year or month written once). */
  dayRange(from: string, to: string): string;
  /** The weekday of a day, abbreviated: `Mon` / `пн`. */
  weekday(day: string): string;
  /** An axis value: `1,250`, `12k` / `1 250`, `12 тыс.`. */
  axisNumber(value: number): string;
  /** A count in running text: `12,345` / `12 345`. */
  count(value: number): string;
  /** `N days` with the right plural. */
  days(n: number): string;
}

const monthsShort = {
  en: ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
  ru: ["янв", "фев", "мар", "апр", "мая", "июн", "июл", "авг", "сен", "окт", "ноя", "дек"],
} as const;
const monthsLong = {
  en: ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"],
  // Genitive, as a date is read in Russian: «14 ноября».
  ru: ["января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября", "октября", "ноября", "декабря"],
} as const;
/** Sunday first, as `Date.getUTCDay()` counts. */
const weekdays = {
  en: ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"],
  ru: ["вс", "пн", "вт", "ср", "чт", "пт", "сб"],
} as const;

/** Year, month (0–11), day of month and weekday (0 = Sunday) of a `YYYY-MM-DD` day. */
function parts(day: string): { year: number; month: number; date: number; weekday: number } {
  const d = new Date(`${day}T00:00:00Z`);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth(), date: d.getUTCDate(), weekday: d.getUTCDay() };
}

/** Groups the digits of a whole number by thousands with `separator`. */
const grouped = (value: number, separator: string): string =>
  String(Math.round(Math.abs(value))).replace(/\B(?=(\d{3})+(?!\d))/g, separator);

/** `value` as a short axis number: whole below 10,000, then thousands (`12k`) and millions (`1.2M`). */
function shortNumber(value: number, separator: string, decimal: string, thousands: string, millions: string): string {
  const short = (n: number, unit: string) => `${String(Number(n.toFixed(1))).replace(".", decimal)}${unit}`;
  if (value >= 1_000_000) return short(value / 1_000_000, millions);
  if (value >= 10_000) return short(value / 1000, thousands);
  return grouped(value, separator);
}

/** Russian plural form of a count: 1 день, 2 дня, 5 дней (11–14 take the last form). */
function russianPlural(n: number, one: string, few: string, many: string): string {
  const mod100 = n % 100;
  const mod10 = n % 10;
  if (mod100 >= 11 && mod100 <= 14) return many;
  if (mod10 === 1) return one;
  if (mod10 >= 2 && mod10 <= 4) return few;
  return many;
}

/** A narrow no-break space (U+202F): Russian groups thousands with it and it never wraps. */
const NNBSP = "\u202f";

/** A language's names and number conventions, from which {@link chartLocale} builds its locale. */
interface LocaleData {
  monthsShort: readonly string[];
  monthsLong: readonly string[];
  weekdays: readonly string[];
  /** Thousands separator, decimal mark, and the suffixes of thousands and millions. */
  numbers: { group: string; decimal: string; thousands: string; millions: string };
  days(n: number): string;
}

/** The locale of `language` from its data. */
function chartLocale(language: ChartLanguage, data: LocaleData): ChartLocale {
  const month = (names: readonly string[], day: string) => names[parts(day).month] ?? "";
  const longDay = (day: string) => `${parts(day).date} ${month(data.monthsLong, day)} ${parts(day).year}`;
  const { group, decimal, thousands, millions } = data.numbers;
  return {
    language,
    shortDay: (day) => `${parts(day).date} ${month(data.monthsShort, day)}`,
    longDay,
    dayRange(from, to) {
      const a = parts(from);
      const b = parts(to);
      if (from === to) return longDay(to);
      if (a.year !== b.year) return `${longDay(from)} – ${longDay(to)}`;
      return a.month === b.month ? `${a.date}–${longDay(to)}` : `${a.date} ${month(data.monthsLong, from)} – ${longDay(to)}`;
    },
    weekday: (day) => data.weekdays[parts(day).weekday] ?? "",
    axisNumber: (value) => shortNumber(value, group, decimal, thousands, millions),
    count: (value) => grouped(value, group),
    days: data.days,
  };
}

/** The chart locales, by language. */
export const chartLocales: Readonly<Record<ChartLanguage, ChartLocale>> = {
  en: chartLocale("en", {
    monthsShort: monthsShort.en,
    monthsLong: monthsLong.en,
    weekdays: weekdays.en,
    numbers: { group: ",", decimal: ".", thousands: "k", millions: "M" },
    days: (n) => `${n} ${n === 1 ? "day" : "days"}`,
  }),
  ru: chartLocale("ru", {
    monthsShort: monthsShort.ru,
    monthsLong: monthsLong.ru,
    weekdays: weekdays.ru,
    numbers: { group: NNBSP, decimal: ",", thousands: `${NNBSP}тыс.`, millions: `${NNBSP}млн` },
    days: (n) => `${n} ${russianPlural(n, "день", "дня", "дней")}`,
  }),
};
