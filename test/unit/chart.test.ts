/**
 * The daily-trends chart as a seller sees it, on the local stack's demo data set: date labels
 * evenly spaced and never overlapping at every period, today's partial day marked only when the
 * range includes today, Russian or English labels, a title that fits at 180 days, and a lower
 * panel with its own scale for cancellations and returns. Also: the text-width bound is an upper
 * bound of DejaVu Sans (the widest usual sans-serif), and `Accept-Language` negotiation.
 */
import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { demoDays } from "../../scripts/render-chart";
import { negotiateLanguage } from "../../src/core/language";
import { X_LABEL_GAP } from "../../src/routes/dashboard/chart";
import { renderDailyTrendsChart } from "../../src/routes/dashboard/chart-daily-trends";
import { type ChartLanguage, chartLanguages, chartLocales } from "../../src/routes/dashboard/chart-locale";
import { fitText, textWidth } from "../../src/routes/dashboard/chart-text";
import { addDays, periodDays, periods } from "../../src/routes/dashboard/period";

const today = "2026-11-20";
/** 180 days of the demo data set up to a Moscow afternoon (today partial). */
const demo = demoDays(new Date(`${today}T14:30:00+03:00`), 180);
const lastDays = (n: number) => demo.slice(-n);
const width = 800;

/** One `<text>` of the SVG: position, attributes and (unescaped) content. */
interface TextNode {
  x: number;
  y: number;
  attrs: string;
  content: string;
}

const unescapeXml = (s: string) => s.replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)));
const attr = (attrs: string, name: string) => new RegExp(`(?:^|\\s)${name}="([^"]*)"`).exec(attrs)?.[1];

/** Every `<text>` element, with its nearest `font-size` (own or its group's). */
function texts(svg: string): TextNode[] {
  return [...svg.matchAll(/<text x="([\d.-]+)" y="([\d.-]+)"([^>]*)>([^<]*)<\/text>/g)].map((m) => ({
    x: Number(m[1]),
    y: Number(m[2]),
    attrs: m[3] ?? "",
    content: unescapeXml(m[4] ?? ""),
  }));
}
const ofClass = (svg: string, cls: string) => texts(svg).filter((t) => attr(t.attrs, "class") === cls);

/** Checks the SVG is well-formed XML as far as elements go: every tag closed, in order. */
function expectWellFormed(svg: string): void {
  const stack: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z]+)[^>]*?(\/?)>/g)) {
    const [, closing, name = "", selfClosing] = m;
    if (selfClosing) continue;
    if (closing) expect(stack.pop(), `</${name}>`).toBe(name);
    else stack.push(name);
  }
  expect(stack).toEqual([]);
  expect(svg).not.toMatch(/&(?!#\d+;|amp;|lt;|gt;|quot;|apos;)/);
}

/** The x of each day: the points of the first series line, extended by today's point. */
function dayXs(svg: string): number[] {
  const points = /<polyline class="series"[^>]*points="([^"]*)"/.exec(svg)?.[1] ?? "";
  const xs = points
    .split(" ")
    .filter(Boolean)
    .map((p) => Number(p.split(",")[0]));
  const todayX = /<circle class="partial-point" cx="([\d.]+)"/.exec(svg)?.[1];
  return todayX === undefined ? xs : [...xs, Number(todayX)];
}

const chart = (n: number, language: ChartLanguage, on = today) => renderDailyTrendsChart(lastDays(n), { language, today: on });

describe("daily-trends chart: date labels", () => {
  for (const period of periods) {
    for (const language of chartLanguages) {
      it(`${period} ${language}: evenly spaced, never overlapping, on the canvas, the last day labelled`, () => {
        const n = periodDays(period);
        const svg = chart(n, language);
        expectWellFormed(svg);
        const ticks = ofClass(svg, "x-tick");
        const notes = ofClass(svg, "x-tick-note");
        const xs = dayXs(svg);
        expect(xs).toHaveLength(n);
        const dayWidth = ((xs[n - 1] ?? 0) - (xs[0] ?? 0)) / (n - 1);

        // Evenly spaced, every 1, 7, 14, 28, 56… days, and the last day (today) is labelled.
        const gaps = ticks.slice(1).map((t, i) => t.x - (ticks[i]?.x ?? 0));
        for (const gap of gaps) expect(Math.abs(gap - (gaps[0] ?? 0))).toBeLessThanOrEqual(0.15);
        const step = Math.round((gaps[0] ?? 0) / dayWidth);
        expect([1, 7, 14, 28, 56]).toContain(step);
        if (period === "7d") expect(step).toBe(1);
        else expect(step % 7).toBe(0);
        expect(ticks.length).toBeGreaterThanOrEqual(Math.min(n, 5));
        expect(ticks.at(-1)?.x).toBeCloseTo(xs[n - 1] ?? 0, 0);
        expect(ticks.at(-1)?.content).toBe(language === "ru" ? "20 ноя" : "20 Nov");
        expect(attr(ticks.at(-1)?.attrs ?? "", "font-weight")).toBe("600");
        expect(notes.at(-1)?.content).toMatch(language === "ru" ? /сегодня$/ : /today$/);

        // On each line (dates, then weekdays or "today"), neighbours keep the gap, measured with
        // the conservative width bound (11 units; the last date bold); every label is on the canvas.
        const lines = [
          ticks.map((t, k) => ({ ...t, width: textWidth(t.content, 11, k === ticks.length - 1 ? "bold" : "regular") })),
          notes.map((t) => ({ ...t, width: textWidth(t.content, 11) })),
        ];
        for (const line of lines) {
          line.forEach((label, k) => {
            const next = line[k + 1];
            if (next)
              expect(next.x - label.x - (label.width + next.width) / 2, `${label.content} → ${next.content}`).toBeGreaterThanOrEqual(
                X_LABEL_GAP,
              );
            expect(label.x - label.width / 2).toBeGreaterThanOrEqual(0);
            expect(label.x + label.width / 2).toBeLessThanOrEqual(width);
          });
        }
      });
    }
  }

  it("shows the weekday under every date at 7 days, in the request's language", () => {
    expect(ofClass(chart(7, "en"), "x-tick-note").map((t) => t.content)).toEqual(["Sat", "Sun", "Mon", "Tue", "Wed", "Thu", "Fri, today"]);
    expect(ofClass(chart(7, "ru"), "x-tick-note").map((t) => t.content)).toEqual(["сб", "вс", "пн", "вт", "ср", "чт", "пт, сегодня"]);
  });
});

describe("daily-trends chart: today's partial day", () => {
  it("is marked when the range includes today: dashed segment, hollow point, shaded half-day, legend note", () => {
    for (const n of [7, 30, 180]) {
      const svg = chart(n, "en");
      expect(svg.match(/<path class="partial" /g)).toHaveLength(4);
      expect(svg.match(/<circle class="partial-point" /g)).toHaveLength(4);
      expect(svg.match(/<rect class="today-band" /g)).toHaveLength(2);
      expect(svg).toMatch(/<path class="partial" [^>]*stroke-dasharray="4 3"/);
      expect(svg).toContain('<g class="legend-partial">');
      expect(svg).toContain(">today, partial</text>");
      expect(svg).toContain("is not over: its figures are partial.</desc>");
      // The solid lines stop the day before.
      for (const m of svg.matchAll(/<polyline class="series"[^>]*points="([^"]*)"/g)) expect((m[1] ?? "").split(" ")).toHaveLength(n - 1);
    }
    expect(chart(30, "ru")).toContain(">сегодня, неполный день</text>");
  });

  it("is absent when the range ends before today", () => {
    for (const n of [7, 30, 180]) {
      const svg = chart(n, "en", addDays(today, 1));
      expect(svg).not.toMatch(/class="(partial|partial-point|today-band|legend-partial)"/);
      expect(svg).not.toContain("today");
      for (const m of svg.matchAll(/<polyline class="series"[^>]*points="([^"]*)"/g)) expect((m[1] ?? "").split(" ")).toHaveLength(n);
    }
  });
});

describe("daily-trends chart: language", () => {
  const cyrillic = /[А-Яа-яЁё]/;
  const latin = /[A-Za-z]/;

  it("writes every label in Russian for ru, month and weekday names included", () => {
    for (const n of [7, 30, 180]) {
      const svg = chart(n, "ru");
      for (const t of texts(svg)) expect(t.content, t.content).not.toMatch(latin);
      expect(svg).toContain("<title>Заказы, выкупы, отмены и возвраты по дням</title>");
      expect(svg).toMatch(/>Заказы<\/text>.*>Выкупы<\/text>.*>Отмены<\/text>.*>Возвраты<\/text>/);
      expect(svg).toContain(">Заказы и выкупы, шт. в день</text>");
      expect(ofClass(svg, "x-tick").every((t) => / (янв|фев|мар|апр|мая|июн|июл|авг|сен|окт|ноя|дек)$/.test(t.content))).toBe(true);
    }
    expect(ofClass(chart(180, "ru"), "subtitle")[0]?.content).toBe("25 мая – 20 ноября 2026 · 180 дней · время московское");
  });

  it("writes every label in English for en", () => {
    for (const n of [7, 30, 180]) {
      const svg = chart(n, "en");
      for (const t of texts(svg)) expect(t.content, t.content).not.toMatch(cyrillic);
      expect(svg).toContain("<title>Orders, buyouts, cancellations and returns per day</title>");
      expect(ofClass(svg, "x-tick").every((t) => / (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)$/.test(t.content))).toBe(true);
    }
    expect(ofClass(chart(30, "en"), "subtitle")[0]?.content).toBe("22 October – 20 November 2026 · 30 days · Moscow time");
  });

  it("writes numbers, days and ranges as each language does", () => {
    const { en, ru } = chartLocales;
    expect([0, 1000, 9999, 12_500, 1_250_000].map(en.axisNumber)).toEqual(["0", "1,000", "9,999", "12.5k", "1.3M"]);
    expect([0, 1000, 9999, 12_500, 1_250_000].map(ru.axisNumber)).toEqual([
      "0",
      "1\u202f000",
      "9\u202f999",
      "12,5\u202fтыс.",
      "1,3\u202fмлн",
    ]);
    expect([1, 2, 5, 11, 21, 22, 180].map(ru.days)).toEqual(["1 день", "2 дня", "5 дней", "11 дней", "21 день", "22 дня", "180 дней"]);
    expect(en.dayRange("2025-12-25", "2026-01-10")).toBe("25 December 2025 – 10 January 2026");
    expect(ru.dayRange("2026-11-14", "2026-11-20")).toBe("14–20 ноября 2026");
    expect(ru.dayRange("2026-05-25", "2026-11-20")).toBe("25 мая – 20 ноября 2026");
    expect(["2026-11-16", "2026-11-22"].map(ru.weekday)).toEqual(["пн", "вс"]);
  });

  it("picks the language from Accept-Language: Russian when it weighs most among ru and en, English otherwise", () => {
    const cases: Array<[string | undefined, ChartLanguage]> = [
      [undefined, "en"],
      ["", "en"],
      ["ru", "ru"],
      ["ru-RU", "ru"],
      ["RU-ru", "ru"],
      ["ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7", "ru"],
      ["en-US,en;q=0.9,ru;q=0.8", "en"],
      ["en;q=0.5, ru;q=0.9", "ru"],
      ["en, ru", "en"],
      ["ru, en", "ru"],
      ["de", "en"],
      ["de, ru;q=0.5", "ru"],
      ["*", "en"],
      ["ru;q=0, *", "en"],
      ["ru;q=0", "en"],
      ["ru;q=2", "en"],
      ["ru;q=abc", "en"],
      ["ru ; q = 0.8 , en ; q = 0.7", "ru"],
      ["\u0000garbage;;;,,", "en"],
    ];
    for (const [header, expected] of cases) expect(negotiateLanguage(header, chartLanguages), String(header)).toBe(expected);
  });
});

describe("daily-trends chart: title and header fit", () => {
  it("fits the title, subtitle, partial note, axis titles and legends at every period and language", () => {
    for (const period of periods) {
      for (const language of chartLanguages) {
        const svg = chart(periodDays(period), language);
        const [title] = ofClass(svg, "title");
        expect(title?.content).not.toContain("…");
        const titleSize = Number(attr(title?.attrs ?? "", "font-size"));
        expect(titleSize).toBeGreaterThanOrEqual(13);
        expect((title?.x ?? 0) + textWidth(title?.content ?? "", titleSize, "bold")).toBeLessThanOrEqual(width - 16);

        // The subtitle ends before the partial note begins (the note is anchored at its end).
        const [subtitle] = ofClass(svg, "subtitle");
        const note = texts(svg).find((t) => t.content === (language === "ru" ? "сегодня, неполный день" : "today, partial"));
        const subtitleSize = Number(attr(subtitle?.attrs ?? "", "font-size"));
        expect((subtitle?.x ?? 0) + textWidth(subtitle?.content ?? "", subtitleSize)).toBeLessThanOrEqual(
          (note?.x ?? 0) - textWidth(note?.content ?? "", 12),
        );
        expect(subtitle?.content).not.toContain("…");

        // Each axis title ends before its legend's first swatch.
        const axisTitles = ofClass(svg, "axis-title");
        expect(axisTitles).toHaveLength(2);
        for (const [k, axisTitle] of axisTitles.entries()) {
          const panel = svg.split('<g class="panel">')[k + 1] ?? "";
          const firstSwatch = Number(/<g class="legend"[^>]*><line x1="([\d.]+)"/.exec(panel)?.[1]);
          const size = Number(attr(axisTitle.attrs, "font-size"));
          expect(axisTitle.x + textWidth(axisTitle.content, size, "bold")).toBeLessThan(firstSwatch);
        }
      }
    }
  });

  it("shrinks, then cuts with an ellipsis, a title too long for the width", () => {
    const long = `${"Orders, buyouts, cancellations and returns per day, 2026-05-25 – 2026-11-20 (Moscow) ".repeat(3)}`.trim();
    const fitted = fitText(long, 768, 17, 13, "bold");
    expect(fitted.fontSize).toBe(13);
    expect(fitted.text.endsWith("…")).toBe(true);
    expect(textWidth(fitted.text, 13, "bold")).toBeLessThanOrEqual(768);
    expect(fitText("Short", 768, 17, 13, "bold")).toEqual({ text: "Short", fontSize: 17 });
  });
});

describe("daily-trends chart: cancellations and returns", () => {
  it("get a lower panel with its own y axis, axis title and legend, where they are readable", () => {
    const svg = chart(30, "en");
    const panels = svg.split('<g class="panel">').slice(1);
    expect(panels).toHaveLength(2);
    const [upper = "", lower = ""] = panels;
    expect(upper).toMatch(/>Orders<\/text>.*>Buyouts<\/text>/);
    expect(upper).not.toMatch(/>Cancellations<|>Returns</);
    expect(lower).toMatch(/>Cancellations<\/text>.*>Returns<\/text>/);
    expect(ofClass(svg, "axis-title").map((t) => t.content)).toEqual([
      "Orders and buyouts, pcs per day",
      "Cancellations and returns, pcs per day (own scale)",
    ]);

    // Each panel has its own scale: its y labels, the top one above its largest value.
    const yTicks = (panel: string) => ofClass(panel, "y-tick");
    const top = (panel: string) => Number((yTicks(panel).at(-1)?.content ?? "").replace(/,/g, ""));
    const days = lastDays(30);
    expect(top(upper)).toBeGreaterThanOrEqual(Math.max(...days.map((d) => d.orders)));
    expect(top(lower)).toBeGreaterThanOrEqual(Math.max(...days.map((d) => Math.max(d.cancellations, d.returns))));
    expect(top(lower)).toBeLessThan(top(upper) / 5);

    // Returns, a few a day, rise at least a tenth of their panel (on the orders' scale: ~1 %).
    const baseline = (yTicks(lower)[0]?.y ?? 0) - 4;
    const ceiling = (yTicks(lower).at(-1)?.y ?? 0) - 4;
    const returns = [...lower.matchAll(/<polyline class="series" [^>]*stroke="#dc2626"[^>]*points="([^"]*)"/g)].flatMap((m) =>
      (m[1] ?? "").split(" ").map((p) => Number(p.split(",")[1])),
    );
    expect(returns.length).toBeGreaterThan(0);
    expect((baseline - Math.min(...returns)) / (baseline - ceiling)).toBeGreaterThan(0.1);
  });

  it("is accessible: role, title and a description that names the totals and the lower panel", () => {
    const svg = chart(30, "en");
    expect(svg).toMatch(/^<svg [^>]*role="img" aria-label="Orders, buyouts, cancellations and returns per day"/);
    const desc = /<desc>([^<]*)<\/desc>/.exec(svg)?.[1] ?? "";
    expect(desc).toMatch(
      /^Orders, buyouts, cancellations and returns per day, 22 October – 20 November 2026 \(Moscow time\)\. Orders: [\d,]+ in total/,
    );
    expect(desc).toContain("Cancellations and returns are drawn in a lower panel with their own scale.");
    expect(svg).not.toMatch(/<script|<style|style=|\son[a-z]+=|href|<foreignObject|@import|url\(/i);
  });
});

describe("text width bound", () => {
  // DejaVu Sans is the widest usual UI sans-serif; where it is installed, check the bound against its metrics.
  const fonts = {
    regular: "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    bold: "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
  };
  it.skipIf(!existsSync(fonts.regular) || !existsSync(fonts.bold))(
    "is at least DejaVu Sans' advance width for ASCII, Russian and the symbols used",
    () => {
      let chars = "ЁёЂЉЖ–—·…₽«»№\u00a0\u202f";
      for (let c = 0x20; c < 0x7f; c++) chars += String.fromCharCode(c);
      for (let c = 0x410; c <= 0x44f; c++) chars += String.fromCharCode(c);
      for (const weight of ["regular", "bold"] as const) {
        const advance = advanceWidths(readFileSync(fonts[weight]));
        for (const ch of chars) expect(textWidth(ch, 1, weight), `${JSON.stringify(ch)} ${weight}`).toBeGreaterThanOrEqual(advance(ch));
      }
    },
  );
});

/** The advance width (em) of a character in a TrueType font: `cmap` format 4, `hmtx`. */
function advanceWidths(font: Buffer): (ch: string) => number {
  const tables = new Map<string, number>();
  for (let i = 0; i < font.readUInt16BE(4); i++)
    tables.set(font.toString("latin1", 12 + i * 16, 16 + i * 16), font.readUInt32BE(20 + i * 16));
  const at = (tag: string) => tables.get(tag) ?? 0;
  const unitsPerEm = font.readUInt16BE(at("head") + 18);
  const hMetrics = font.readUInt16BE(at("hhea") + 34);
  let subtable = 0;
  for (let i = 0; i < font.readUInt16BE(at("cmap") + 2); i++) {
    const record = at("cmap") + 4 + i * 8;
    if (font.readUInt16BE(record) === 3 && font.readUInt16BE(record + 2) === 1) subtable = at("cmap") + font.readUInt32BE(record + 4);
  }
  const segments = font.readUInt16BE(subtable + 6) / 2;
  const ends = subtable + 14;
  const starts = ends + segments * 2 + 2;
  const deltas = starts + segments * 2;
  const offsets = deltas + segments * 2;
  const glyph = (code: number) => {
    for (let s = 0; s < segments; s++) {
      if (code > font.readUInt16BE(ends + 2 * s)) continue;
      const start = font.readUInt16BE(starts + 2 * s);
      if (code < start) return 0;
      const delta = font.readInt16BE(deltas + 2 * s);
      const offset = font.readUInt16BE(offsets + 2 * s);
      if (offset === 0) return (code + delta) & 0xffff;
      const g = font.readUInt16BE(offsets + 2 * s + offset + 2 * (code - start));
      return g === 0 ? 0 : (g + delta) & 0xffff;
    }
    return 0;
  };
  return (ch) => font.readUInt16BE(at("hmtx") + 4 * Math.min(glyph(ch.codePointAt(0) ?? 0), hMetrics - 1)) / unitsPerEm;
}
