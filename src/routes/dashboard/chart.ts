/**
 * A small, dependency-free SVG line chart for the daily trends: axes, horizontal gridlines
 * with "nice" tick values, one polyline per series, a legend and a `<title>`.
 *
 * Deterministic: the same input gives byte-identical output (coordinates with one decimal,
 * no ids, no clock). CSP-safe: presentation attributes only — no `<script>`, no event
 * handlers, no `<style>` or `style=""` (blocked by `default-src 'none'`), no external links,
 * no `<foreignObject>`. Every text node and attribute value from the input is XML-escaped.
 * @see https://www.w3.org/TR/SVG2/shapes.html#PolylineElement
 */

/** One line of the chart: a legend name, a stroke colour (`#rrggbb`) and one value per label. */
export interface ChartSeries {
  name: string;
  color: string;
  values: readonly number[];
}

/** Input of {@link renderLineChart}. `labels` are the x positions (e.g. days), in order. */
export interface LineChart {
  title: string;
  labels: readonly string[];
  series: readonly ChartSeries[];
  /** Canvas size in user units; default 800 × 400. */
  width?: number;
  height?: number;
}

const margin = { top: 40, right: 24, bottom: 72, left: 64 } as const;
const maxXLabels = 8;
const yTicks = 5;
const font = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif"';
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

/** Formats an axis value: thousands as `12k`, millions as `1.2M`. */
function axisLabel(value: number): string {
  if (value >= 1_000_000) return `${Number((value / 1_000_000).toFixed(1))}M`;
  if (value >= 10_000) return `${Number((value / 1000).toFixed(1))}k`;
  return String(value);
}

/**
 * Renders the chart as a standalone SVG document (UTF-8 text, starting with `<svg`).
 * Negative and non-finite values are drawn as 0.
 * @throws RangeError when a series has a different length than `labels` or a colour is not `#rrggbb`.
 */
export function renderLineChart(chart: LineChart): string {
  const width = chart.width ?? 800;
  const height = chart.height ?? 400;
  const n = chart.labels.length;
  for (const s of chart.series) {
    if (s.values.length !== n) throw new RangeError(`series "${s.name}" has ${s.values.length} values for ${n} labels`);
    if (!hexColor.test(s.color)) throw new RangeError(`series "${s.name}" colour must be #rrggbb`);
  }
  const clean = (v: number) => (Number.isFinite(v) && v > 0 ? v : 0);
  const max = Math.max(0, ...chart.series.flatMap((s) => s.values.map(clean)));
  const step = niceStep(max, yTicks);
  const top = step * Math.max(1, Math.ceil(max / step));
  const plot = { x: margin.left, y: margin.top, w: width - margin.left - margin.right, h: height - margin.top - margin.bottom };
  const x = (i: number) => plot.x + (n <= 1 ? plot.w / 2 : (i * plot.w) / (n - 1));
  const y = (v: number) => plot.y + plot.h - (clean(v) / top) * plot.h;

  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeXml(chart.title)}">`,
    `<title>${escapeXml(chart.title)}</title>`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${coord(width / 2)}" y="24" text-anchor="middle" ${font} font-size="16" font-weight="600" fill="#111827">${escapeXml(chart.title)}</text>`,
  ];

  parts.push('<g stroke="#e5e7eb" stroke-width="1">');
  for (let t = 0; t * step <= top; t++)
    parts.push(`<line x1="${plot.x}" y1="${coord(y(t * step))}" x2="${plot.x + plot.w}" y2="${coord(y(t * step))}"/>`);
  parts.push("</g>");
  parts.push(`<g ${font} font-size="11" fill="#6b7280" text-anchor="end">`);
  for (let t = 0; t * step <= top; t++) parts.push(`<text x="${plot.x - 8}" y="${coord(y(t * step) + 4)}">${axisLabel(t * step)}</text>`);
  parts.push("</g>");

  const every = Math.max(1, Math.ceil(n / maxXLabels));
  parts.push(`<g ${font} font-size="11" fill="#6b7280" text-anchor="middle">`);
  for (let i = 0; i < n; i++) {
    if (i % every !== 0 && i !== n - 1) continue;
    if (i !== n - 1 && i + every > n - 1 && n - 1 - i < every / 2) continue;
    parts.push(`<text x="${coord(x(i))}" y="${plot.y + plot.h + 18}">${escapeXml(chart.labels[i] ?? "")}</text>`);
  }
  parts.push("</g>");
  parts.push(
    `<g stroke="#9ca3af" stroke-width="1"><line x1="${plot.x}" y1="${plot.y}" x2="${plot.x}" y2="${plot.y + plot.h}"/><line x1="${plot.x}" y1="${plot.y + plot.h}" x2="${plot.x + plot.w}" y2="${plot.y + plot.h}"/></g>`,
  );

  for (const s of chart.series) {
    const points = s.values.map((v, i) => `${coord(x(i))},${coord(y(v))}`).join(" ");
    parts.push(
      `<polyline fill="none" stroke="${s.color}" stroke-width="2" stroke-linejoin="round" stroke-linecap="round" points="${points}"><title>${escapeXml(s.name)}</title></polyline>`,
    );
  }

  const legendY = height - 20;
  const slot = plot.w / Math.max(1, chart.series.length);
  parts.push(`<g ${font} font-size="12" fill="#374151">`);
  chart.series.forEach((s, i) => {
    const lx = plot.x + i * slot;
    parts.push(
      `<line x1="${coord(lx)}" y1="${legendY - 4}" x2="${coord(lx + 20)}" y2="${legendY - 4}" stroke="${s.color}" stroke-width="3"/>`,
    );
    parts.push(`<text x="${coord(lx + 26)}" y="${legendY}">${escapeXml(s.name)}</text>`);
  });
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
