/**
 * A small, dependency-free SVG chart of daily figures: a title and a subtitle, one or more
 * panels stacked over a shared date axis (each panel with its own y scale, axis title and
 * legend), and today's partial day drawn apart (dashed last segment, hollow point, shaded
 * half-day, legend note).
 *
 * Layout is computed, not guessed: text widths are bounded with {@link textWidth} (conservative,
 * see `chart-text.ts`), so the title is shrunk or cut to fit, the date labels are spaced so they
 * never overlap (see {@link dayTickStep}), and nothing leaves the canvas at any period.
 *
 * Deterministic: the same input gives byte-identical output (coordinates with one decimal, no
 * ids, no clock). Self-contained and CSP-safe: presentation attributes only — no `<script>`, no
 * event handlers, no `<style>` or `style=""` (blocked by `default-src 'none'`), no external
 * links or fonts, no `<foreignObject>`. Accessible: `role="img"`, `aria-label`, `<title>` and
 * `<desc>`. Every text node and attribute value from the input is XML-escaped. Elements carry a
 * `class` naming their part (`title`, `panel`, `axis-title`, `x-tick`, `series`, `partial`…),
 * for tests and for a page that wants to restyle them.
 * @see https://www.w3.org/TR/SVG2/struct.html#DescriptionAndTitleElements
 */
import { fitText, textWidth } from "./chart-text";

/** One line of a panel: a legend name, a stroke colour (`#rrggbb`) and one value per day. */
export interface ChartSeries {
  name: string;
  color: string;
  values: readonly number[];
}

/** One panel: its series, drawn against a y scale of their own. */
export interface ChartPanel {
  /** What the y axis counts, with the unit (`Orders and buyouts, pcs per day`), drawn above the axis. */
  axisTitle: string;
  series: readonly ChartSeries[];
  /** Relative height among the panels (default 1). */
  share?: number;
}

/** How the chart writes days and numbers, and its fixed texts (see `chartLocales`). */
export interface ChartText {
  /** A day on the date axis (`14 Nov`). */
  shortDay(day: string): string;
  /** A weekday (`Mon`), shown under the date when every day is labelled. */
  weekday(day: string): string;
  /** A y-axis value (`1,250`). */
  axisNumber(value: number): string;
  /** Marks today's date label (`today`). */
  today: string;
  /** The legend note of the partial day (`today, partial`). */
  partial: string;
  /** Shown when every value is 0. */
  noData: string;
}

/** Input of {@link renderDailyChart}. */
export interface DailyChart {
  title: string;
  /** One line under the title: the range, the time zone. */
  subtitle: string;
  /** The `<desc>` read by screen readers: what the chart shows, in words. */
  description: string;
  /** Consecutive days `YYYY-MM-DD`, oldest first: the x axis. */
  days: readonly string[];
  /** The current day (`YYYY-MM-DD`); when it is among `days`, its figures are partial and drawn so. */
  today?: string;
  /** Top to bottom, sharing the date axis. */
  panels: readonly ChartPanel[];
  text: ChartText;
  /** Canvas size in user units; default 800 × 480. */
  width?: number;
  height?: number;
}

const pad = 16;
const size = { title: 17, subtitle: 12.5, axisTitle: 12, legend: 12, tick: 11 } as const;
/** The least room between two date labels, in user units. */
export const X_LABEL_GAP = 12;
/** Room between the axis-title baseline and the top of the plot. */
const panelHeader = 30;
const panelGap = 10;
const ink = { title: "#111827", text: "#374151", muted: "#6b7280", grid: "#e5e7eb", vgrid: "#f3f4f6", axis: "#9ca3af", band: "#f3f4f6" };
const fontFamily = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, 'DejaVu Sans', sans-serif";
const hexColor = /^#[0-9a-fA-F]{6}$/;

/** Escapes text for an XML text node or a double- or single-quoted attribute value. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/** One decimal, no `-0`: stable coordinates across runs and engines. */
const coord = (n: number): string => {
  const fixed = (Math.round(n * 10) / 10).toFixed(1);
  return fixed === "-0.0" ? "0.0" : fixed;
};

/** The smallest "nice" step (1, 2, 2.5 or 5 × 10^k, at least 1) that fits `max` in `ticks` steps. */
function niceStep(max: number, ticks: number): number {
  const raw = Math.max(max / ticks, 1);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? 10 * magnitude;
  return Number.isInteger(step) ? step : Math.ceil(step);
}

/** Label spacings tried, in days: every day, then weeks (1, 2, 4, 8…), so every label falls on today's weekday. */
function tickStepCandidates(dayCount: number): number[] {
  const steps = [1, 7, 14];
  for (let s = 28; s < dayCount * 2; s *= 2) steps.push(s);
  return steps;
}

/** The days labelled with a spacing of `step` days: counted back from the last day, which is always labelled. Oldest first. */
export function dayTicks(dayCount: number, step: number): number[] {
  const ticks: number[] = [];
  for (let i = dayCount - 1; i >= 0; i -= step) ticks.unshift(i);
  return ticks;
}

/**
 * The spacing of the date labels: the smallest of 1, 7, 14, 28, 56… days at which neighbouring
 * labels keep {@link X_LABEL_GAP} between them on each line. `lineWidths(i, step)` bounds the
 * width of each line of day `i`'s label at that spacing (0: the line is empty there);
 * `dayWidth` is the distance between two days.
 */
export function dayTickStep(dayCount: number, dayWidth: number, lineWidths: (day: number, step: number) => readonly number[]): number {
  const candidates = tickStepCandidates(dayCount);
  for (const step of candidates) {
    const ticks = dayTicks(dayCount, step);
    const clear = ticks.every((day, k) => {
      const next = ticks[k + 1];
      if (next === undefined) return true;
      const here = lineWidths(day, step);
      const there = lineWidths(next, step);
      return here.every((w, line) => {
        const v = there[line] ?? 0;
        return w === 0 || v === 0 || (next - day) * dayWidth >= (w + v) / 2 + X_LABEL_GAP;
      });
    });
    if (clear) return step;
  }
  return candidates[candidates.length - 1] ?? 1;
}

/** A `<text>` element; `attrs` are already-safe attributes. */
const text = (x: number, y: number, content: string, attrs: string) =>
  `<text x="${coord(x)}" y="${coord(y)}" ${attrs}>${escapeXml(content)}</text>`;

/** The width of a legend entry: a 18-unit swatch, 6 units, the name. */
const legendEntryWidth = (name: string) => 24 + textWidth(name, size.legend);

/**
 * Renders the chart as a standalone SVG document (UTF-8 text, starting with `<svg`).
 * Negative and non-finite values are drawn as 0.
 * @throws RangeError when a series has a different length than `days`, a colour is not
 * `#rrggbb`, or there is no day or no panel.
 */
export function renderDailyChart(chart: DailyChart): string {
  const width = chart.width ?? 800;
  const height = chart.height ?? 480;
  const { days, panels, text: t } = chart;
  const n = days.length;
  if (n === 0 || panels.length === 0) throw new RangeError("a chart needs at least one day and one panel");
  for (const s of panels.flatMap((p) => p.series)) {
    if (s.values.length !== n) throw new RangeError(`series "${s.name}" has ${s.values.length} values for ${n} days`);
    if (!hexColor.test(s.color)) throw new RangeError(`series "${s.name}" colour must be #rrggbb`);
  }
  const clean = (v: number) => (Number.isFinite(v) && v > 0 ? v : 0);
  const todayIndex = chart.today === undefined ? -1 : days.indexOf(chart.today);
  const partial = todayIndex >= 0;

  // Date labels: a date line, and a second line with the weekday (every day labelled) or "today".
  const labelLines = (i: number, step: number): [string, string] => {
    const day = days[i] ?? "";
    const weekday = step === 1 ? t.weekday(day) : "";
    const second = i === todayIndex ? [weekday, t.today].filter(Boolean).join(", ") : weekday;
    return [t.shortDay(day), second];
  };
  // Width of each line (the last day's date is bold), and of the widest line.
  const lineWidths = (i: number, step: number) => {
    const [date, second] = labelLines(i, step);
    return [textWidth(date, size.tick, i === n - 1 ? "bold" : "regular"), textWidth(second, size.tick)] as const;
  };
  const labelWidth = (i: number, step: number) => Math.max(...lineWidths(i, step));
  const widestLabel = Math.max(...days.map((_, i) => Math.max(labelWidth(i, 1), labelWidth(i, 7))));

  // Y scales first: their labels set the left margin.
  const scales = panels.map((panel) => Math.max(0, ...panel.series.flatMap((s) => s.values.map(clean))));
  const totalShare = panels.reduce((sum, p) => sum + (p.share ?? 1), 0);
  // Room for two lines of date labels (weekdays, "today"), whether or not the second is used:
  // the spacing of the labels depends on the plot's width, which depends on this layout.
  const xAxisHeight = 16 + 14 + 12;
  const top = 60;
  const plotsHeight = height - top - xAxisHeight - panels.length * panelHeader - (panels.length - 1) * panelGap;
  const heights = panels.map((p) => (plotsHeight * (p.share ?? 1)) / totalShare);
  const yTicks = scales.map((max, k) => {
    const count = Math.max(2, Math.floor((heights[k] ?? 0) / 42));
    const step = niceStep(max, count);
    const ceiling = step * Math.max(1, Math.ceil(max / step));
    return { step, ceiling, values: Array.from({ length: Math.round(ceiling / step) + 1 }, (_, j) => j * step) };
  });
  const yLabelWidth = Math.max(...yTicks.flatMap((s) => s.values.map((v) => textWidth(t.axisNumber(v), size.tick))));
  const left = Math.ceil(Math.max(pad + yLabelWidth + 8, pad + widestLabel / 2));
  const right = width - Math.ceil(Math.max(pad, labelWidth(n - 1, 1) / 2 + 4, labelWidth(n - 1, 7) / 2 + 4));
  const plotWidth = right - left;
  const dayWidth = n <= 1 ? plotWidth : plotWidth / (n - 1);
  const x = (i: number) => left + (n <= 1 ? plotWidth / 2 : i * dayWidth);
  const step = dayTickStep(n, dayWidth, lineWidths);
  const ticks = dayTicks(n, step);

  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeXml(chart.title)}" font-family="${fontFamily}">`,
    `<title>${escapeXml(chart.title)}</title>`,
    `<desc>${escapeXml(chart.description)}</desc>`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
  ];

  const title = fitText(chart.title, width - 2 * pad, size.title, 13, "bold");
  parts.push(text(pad, 26, title.text, `class="title" font-size="${title.fontSize}" font-weight="600" fill="${ink.title}"`));

  // The partial-day note, right of the subtitle: the words, then the mark as the plot draws it
  // (shaded half-day, dashed segment, hollow point), its point right above today's.
  const noteWidth = partial ? 28 + textWidth(t.partial, size.legend) + (width - pad - right) : 0;
  if (partial) {
    parts.push(
      `<g class="legend-partial"><rect x="${coord(right - 22)}" y="37" width="22" height="17" fill="${ink.band}"/>`,
      `<line x1="${coord(right - 20)}" y1="46" x2="${coord(right - 4)}" y2="46" stroke="${ink.muted}" stroke-width="2" stroke-dasharray="4 3"/>`,
      `<circle cx="${coord(right)}" cy="46" r="3.5" fill="#ffffff" stroke="${ink.muted}" stroke-width="2"/>`,
      text(right - 28, 50, t.partial, `font-size="${size.legend}" fill="${ink.text}" text-anchor="end"`),
      "</g>",
    );
  }
  const subtitle = fitText(chart.subtitle, width - 2 * pad - (partial ? noteWidth + 16 : 0), size.subtitle, 10.5);
  parts.push(text(pad, 50, subtitle.text, `class="subtitle" font-size="${subtitle.fontSize}" fill="${ink.muted}"`));

  const empty = scales.every((max) => max === 0);
  let cursor = top;
  panels.forEach((panel, k) => {
    const scale = yTicks[k] ?? { step: 1, ceiling: 1, values: [0, 1] };
    const plotTop = cursor + panelHeader;
    const plotHeight = heights[k] ?? 0;
    const bottom = plotTop + plotHeight;
    const y = (v: number) => bottom - (clean(v) / scale.ceiling) * plotHeight;
    parts.push('<g class="panel">');

    // Header: the axis title left, the legend right.
    const legendWidth = panel.series.reduce((sum, s) => sum + legendEntryWidth(s.name), 0) + 14 * (panel.series.length - 1);
    const headerY = plotTop - 14;
    const axisTitle = fitText(panel.axisTitle, right - legendWidth - 16 - pad, size.axisTitle, 10.5, "bold");
    parts.push(
      text(pad, headerY, axisTitle.text, `class="axis-title" font-size="${axisTitle.fontSize}" font-weight="600" fill="${ink.text}"`),
    );
    parts.push(`<g class="legend" font-size="${size.legend}" fill="${ink.text}">`);
    let lx = right - legendWidth;
    for (const s of panel.series) {
      parts.push(
        `<line x1="${coord(lx)}" y1="${coord(headerY - 4)}" x2="${coord(lx + 18)}" y2="${coord(headerY - 4)}" stroke="${s.color}" stroke-width="3" stroke-linecap="round"/>`,
      );
      parts.push(text(lx + 24, headerY, s.name, ""));
      lx += legendEntryWidth(s.name) + 14;
    }
    parts.push("</g>");

    // Today's half-day, shaded behind the lines.
    if (partial) {
      const from = Math.max(left, x(todayIndex) - dayWidth / 2);
      const to = Math.min(right, x(todayIndex) + dayWidth / 2);
      parts.push(
        `<rect class="today-band" x="${coord(from)}" y="${coord(plotTop)}" width="${coord(Math.max(to - from, 0))}" height="${coord(plotHeight)}" fill="${ink.band}"/>`,
      );
    }

    // Grid: a vertical line at each date label, a horizontal one at each y tick, the baseline darker.
    parts.push(`<g stroke="${ink.vgrid}" stroke-width="1">`);
    for (const i of ticks) parts.push(`<line x1="${coord(x(i))}" y1="${coord(plotTop)}" x2="${coord(x(i))}" y2="${coord(bottom)}"/>`);
    parts.push("</g>");
    parts.push(`<g stroke="${ink.grid}" stroke-width="1">`);
    for (const v of scale.values.slice(1))
      parts.push(`<line x1="${coord(left)}" y1="${coord(y(v))}" x2="${coord(right)}" y2="${coord(y(v))}"/>`);
    parts.push("</g>");
    parts.push(
      `<line x1="${coord(left)}" y1="${coord(bottom)}" x2="${coord(right)}" y2="${coord(bottom)}" stroke="${ink.axis}" stroke-width="1"/>`,
    );
    parts.push(`<g class="y-ticks" font-size="${size.tick}" fill="${ink.muted}" text-anchor="end">`);
    for (const v of scale.values) parts.push(text(left - 8, y(v) + 4, t.axisNumber(v), 'class="y-tick"'));
    parts.push("</g>");
    if (empty && k === 0)
      parts.push(text((left + right) / 2, plotTop + plotHeight / 2, t.noData, `font-size="13" fill="${ink.muted}" text-anchor="middle"`));

    // Lines: solid over the complete days, dashed into today, a hollow point on today.
    const completeEnd = partial ? todayIndex : n;
    const dots = dayWidth >= 28;
    for (const s of panel.series) {
      const points = s.values
        .slice(0, completeEnd)
        .map((v, i) => `${coord(x(i))},${coord(y(v))}`)
        .join(" ");
      parts.push(
        `<polyline class="series" fill="none" stroke="${s.color}" stroke-width="2" stroke-linejoin="round" stroke-linecap="round" points="${points}"><title>${escapeXml(s.name)}</title></polyline>`,
      );
      if (dots)
        for (let i = 0; i < completeEnd; i++)
          parts.push(`<circle cx="${coord(x(i))}" cy="${coord(y(s.values[i] ?? 0))}" r="2.5" fill="${s.color}"/>`);
      if (partial) {
        const from = Math.max(0, todayIndex - 1);
        const d = s.values
          .slice(from)
          .map((v, i) => `${i === 0 ? "M" : "L"}${coord(x(from + i))},${coord(y(v))}`)
          .join(" ");
        parts.push(
          `<path class="partial" d="${d}" fill="none" stroke="${s.color}" stroke-width="2" stroke-dasharray="4 3" stroke-linecap="butt"/>`,
          `<circle class="partial-point" cx="${coord(x(todayIndex))}" cy="${coord(y(s.values[todayIndex] ?? 0))}" r="3.5" fill="#ffffff" stroke="${s.color}" stroke-width="2"/>`,
        );
      }
    }
    parts.push("</g>");
    cursor = bottom + panelGap;
  });

  // The shared date axis under the last panel.
  const axisY = cursor - panelGap;
  parts.push(`<g class="x-axis" font-size="${size.tick}" fill="${ink.muted}" text-anchor="middle">`);
  for (const i of ticks) {
    const [date, second] = labelLines(i, step);
    const isToday = i === todayIndex;
    const weight = i === n - 1 ? ` font-weight="600" fill="${ink.text}"` : "";
    parts.push(`<line x1="${coord(x(i))}" y1="${coord(axisY)}" x2="${coord(x(i))}" y2="${coord(axisY + 4)}" stroke="${ink.axis}"/>`);
    parts.push(text(x(i), axisY + 17, date, `class="x-tick"${weight}`));
    if (second) parts.push(text(x(i), axisY + 31, second, `class="x-tick-note"${isToday ? ` fill="${ink.text}"` : ""}`));
  }
  parts.push("</g>");
  parts.push("</svg>");
  return parts.join("");
}

/** The SVG as a `data:image/svg+xml;base64,…` URI (UTF-8 bytes, base64). */
export function svgDataUri(svg: string): string {
  const bytes = new TextEncoder().encode(svg);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return `data:image/svg+xml;base64,${btoa(binary)}`;
}
