/**
 * Support for the metrics tests: scraping `/metrics` from the in-process Worker or the HTTP Worker
 * of the stack, and an independent parser of the Prometheus text exposition format 0.0.4 (written
 * from the format's description, not from `src/core/metrics.ts`).
 * @see https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
 */
import { expect } from "vitest";
import { api, testEnv } from "./helpers";

/** One sample line: metric name, labels, value. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A parsed exposition: samples and the `# HELP` / `# TYPE` of each metric family. */
export interface Exposition {
  samples: Sample[];
  help: Map<string, string>;
  type: Map<string, string>;
}

const metricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Parses a label set `a="x",b="y\"z"` (escapes: `\\`, `\"`, `\n`). */
function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf("=", i);
    const name = text.slice(i, eq);
    if (!labelName.test(name) || text[eq + 1] !== '"') throw new Error(`bad label at ${i}: ${text}`);
    let value = "";
    let j = eq + 2;
    for (; j < text.length && text[j] !== '"'; j++) {
      if (text[j] === "\\") {
        j++;
        value += text[j] === "n" ? "\n" : text[j];
      } else value += text[j];
    }
    if (text[j] !== '"') throw new Error(`unterminated label value: ${text}`);
    labels[name] = value;
    i = j + 1;
    if (text[i] === ",") i++;
  }
  return labels;
}

/**
 * Parses an exposition, checking the format on the way: every line a comment, blank or a sample;
 * names and label names valid; values numbers.
 */
export function parseExposition(text: string): Exposition {
  const exposition: Exposition = { samples: [], help: new Map(), type: new Map() };
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta) {
      const [, kind, name = "", rest = ""] = meta;
      expect(name, line).toMatch(metricName);
      (kind === "HELP" ? exposition.help : exposition.type).set(name, rest);
      continue;
    }
    if (line.startsWith("#")) continue;
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!sample) throw new Error(`not a sample line: ${line}`);
    const [, name = "", labels = "", value = ""] = sample;
    const number = value === "+Inf" ? Number.POSITIVE_INFINITY : value === "-Inf" ? Number.NEGATIVE_INFINITY : Number(value);
    if (Number.isNaN(number) && value !== "NaN") throw new Error(`not a number: ${line}`);
    exposition.samples.push({ name, labels: parseLabels(labels), value: number });
  }
  return exposition;
}

/** The sum of the samples `name` whose labels include `labels` (0 when there is none). */
export function sampleSum(exposition: Exposition, name: string, labels: Record<string, string> = {}): number {
  const found = exposition.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return found.reduce((sum, s) => sum + s.value, 0);
}

/** The token of `GET /metrics` on the stack. */
export const metricsToken = () => testEnv.METRICS_TOKEN as string;

/** Scrapes `/metrics` from the in-process Worker (`api()`, contract-checked) or the HTTP Worker (`WORKER_URL`). */
export async function scrape(from: "in-process" | "http" = "in-process"): Promise<Exposition> {
  const res =
    from === "in-process"
      ? await api("/metrics", { token: metricsToken() })
      : await fetch(`${testEnv.WORKER_URL}/metrics`, { headers: { Authorization: `Bearer ${metricsToken()}` } });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`/metrics (${from}) answered ${res.status}: ${text}`);
  expect(res.headers.get("Content-Type")).toBe("text/plain; version=0.0.4; charset=utf-8");
  return parseExposition(text);
}
