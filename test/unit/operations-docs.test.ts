/**
 * The Grafana dashboard and the Prometheus alert rules of docs/operations.md query only metrics
 * the Workers publish (`src/core/metrics.ts`), so renaming a metric cannot silently empty a panel
 * or an alert.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { recordedMetrics, scrapedGauges } from "../../src/core/metrics";

const published = new Set<string>(["up"]);
for (const [name, definition] of Object.entries(recordedMetrics)) {
  published.add(name);
  if (definition.type === "histogram") for (const suffix of ["_bucket", "_sum", "_count"]) published.add(name + suffix);
}
for (const name of Object.keys(scrapedGauges)) published.add(name);

const keywords = new Set(["by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset"]);

/** The metric names a PromQL expression selects (strings, label matchers, groupings and functions left out). */
function metricsIn(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, "")
    .replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, "")
    .replace(/\[[^\]]*\]/g, "");
  return [...bare.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(\s*\()?/g)]
    .filter(([, token, call]) => !call && !keywords.has(token as string) && !/^\d/.test(token as string))
    .map(([, token]) => token as string)
    .filter((token) => !/^(e|Inf|NaN)$/.test(token));
}

describe("docs/grafana-dashboard.json", () => {
  const dashboard = JSON.parse(readFileSync("docs/grafana-dashboard.json", "utf8")) as {
    panels: { title: string; type: string; targets?: { expr: string }[] }[];
  };

  it("queries only published metrics, in every panel", () => {
    const panels = dashboard.panels.filter((p) => p.type !== "row");
    expect(panels.length).toBeGreaterThanOrEqual(11);
    for (const panel of panels) {
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      for (const { expr } of panel.targets ?? []) {
        const names = metricsIn(expr.replaceAll("$__rate_interval", "5m"));
        expect(names.length, `${panel.title}: ${expr}`).toBeGreaterThan(0);
        for (const name of names) expect(published, `${panel.title}: ${name}`).toContain(name);
      }
    }
  });
});

describe("docs/prometheus-alerts.yml", () => {
  const text = readFileSync("docs/prometheus-alerts.yml", "utf8");
  // Each rule's `expr:`, inline or as a `|` block (its more-indented lines).
  const exprs = [...text.matchAll(/^(\s*)expr: (\|\n((?:\1\s+.*\n)+)|(.*)\n)/gm)].map((m) => (m[3] ?? m[4] ?? "").trim());

  it("has the alerts docs/operations.md lists, each querying only published metrics", () => {
    const alerts = [...text.matchAll(/- alert: (\w+)/g)].map((m) => m[1]);
    expect(alerts).toEqual([
      "SellerEdgeHigh5xxRate",
      "SellerEdgeHighLatency",
      "SellerEdgeDeadLettersGrowing",
      "SellerEdgeSyncStale",
      "SellerEdgeWbTokenExpiring",
      "SellerEdgeWbTokenExpired",
      "SellerEdgeMetricsDown",
    ]);
    const doc = readFileSync("docs/operations.md", "utf8");
    for (const alert of alerts) expect(doc, alert).toContain(`\`${alert}\``);
    expect(exprs).toHaveLength(alerts.length);
    for (const expr of exprs) {
      const names = metricsIn(expr);
      expect(names.length, expr).toBeGreaterThan(0);
      for (const name of names) expect(published, `${expr}: ${name}`).toContain(name);
    }
  });
});
