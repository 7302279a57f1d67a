/**
 * The dashboard's pure parts: Moscow period math, size order (JS and SQL agree), LIKE
 * escaping, money, and the SVG chart renderer (structure, escaping, CSP safety, determinism).
 */
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { moscowDay, toMoscowDateTime } from "../../src/core/time";
import { type DailyChart, escapeXml, renderDailyChart, svgDataUri } from "../../src/routes/dashboard/chart";
import { escapeLike } from "../../src/routes/dashboard/list-stocks";
import { changePercent, roundRoubles, toKopecks } from "../../src/routes/dashboard/money";
import { addDays, eachDay, periodRange, previousRange } from "../../src/routes/dashboard/period";
import { compareSizes, sizeOrderBy } from "../../src/routes/dashboard/sizes";
import { db } from "./helpers";

describe("Moscow periods", () => {
  it("switches the Moscow day at 21:00 UTC", () => {
    expect(moscowDay(Date.parse("2026-11-20T20:59:59Z"))).toBe("2026-11-20");
    expect(moscowDay(Date.parse("2026-11-20T21:00:00Z"))).toBe("2026-11-21");
    expect(moscowDay(Date.parse("2026-12-31T21:00:00Z"))).toBe("2027-01-01");
  });

  it("makes periods inclusive of today and previous periods of the same length", () => {
    expect(periodRange("7d", "2026-11-20")).toEqual({ from: "2026-11-14", to: "2026-11-20" });
    expect(periodRange("30d", "2026-03-01")).toEqual({ from: "2026-01-31", to: "2026-03-01" });
    expect(previousRange({ from: "2026-11-14", to: "2026-11-20" })).toEqual({ from: "2026-11-07", to: "2026-11-13" });
    expect(eachDay(periodRange("180d", "2026-11-20"))).toHaveLength(180);
    expect(addDays("2028-02-28", 1)).toBe("2028-02-29");
  });

  it("shows timestamps in Moscow time", () => {
    expect(toMoscowDateTime("2026-11-20 21:30:00+00")).toBe("2026-11-21T00:30:00+03:00");
    expect(toMoscowDateTime("2026-11-20 21:30:00.25+03:00")).toBe("2026-11-20T21:30:00+03:00");
    expect(() => toMoscowDateTime("yesterday")).toThrow(RangeError);
  });
});

describe("money", () => {
  it("rounds to kopecks and adds exactly", () => {
    expect(roundRoubles(0.1 + 0.2)).toBe(0.3);
    expect(toKopecks("1234567.89")).toBe(123456789);
    expect(changePercent(150, 100)).toBe(50);
    expect(changePercent(1, 3)).toBe(-66.7);
    expect(changePercent(5, 0)).toBeNull();
  });
});

describe("size order", () => {
  const logical = [
    "0",
    "XXS",
    "XS",
    "S",
    "M",
    "L",
    "XL",
    "2XL",
    "XXL",
    "3XL",
    "XXXL",
    "4XL",
    "5XL",
    "36",
    "36-37",
    "36.5",
    "38-39",
    "42",
    "42-43",
    "42/170",
    "44",
    "100",
    "ONE",
    "S/M",
    "Z",
  ];

  it("sorts one size first, then letters, numerics by first number, then the rest", () => {
    const shuffled = [...logical].reverse();
    expect(shuffled.sort(compareSizes)).toEqual(logical);
    expect(["xl", "m", " s "].sort(compareSizes)).toEqual([" s ", "m", "xl"]);
  });

  it("orders the same way in SQL as in JS", async () => {
    const values = sql.join(
      [...logical].reverse().map((v) => sql`${v}`),
      sql`, `,
    );
    const result = await db().execute(
      sql`select v from unnest(array[${values}]::text[]) as t(v) order by ${sql.join(sizeOrderBy(sql`v`), sql`, `)}`,
    );
    expect(result.rows.map((r) => (r as { v: string }).v)).toEqual(logical);
  });
});

describe("LIKE escaping", () => {
  it("escapes wildcards and the escape character", () => {
    expect(escapeLike("50%_off\\")).toBe("50\\%\\_off\\\\");
  });
});

describe("SVG daily chart", () => {
  const chart: DailyChart = {
    title: `Trends <script>alert("x")</script> & 'more'`,
    subtitle: "14–16 November 2026",
    description: "Orders & returns",
    days: ["2026-11-14", "2026-11-15", "2026-11-16"],
    panels: [
      {
        axisTitle: "pcs per day",
        series: [
          { name: "Orders", color: "#2563eb", values: [10, 25, 17] },
          { name: "Returns <b>", color: "#dc2626", values: [0, 1, 2] },
        ],
      },
    ],
    text: { shortDay: (day) => day.slice(5), weekday: () => "", axisNumber: String, today: "today", partial: "partial", noData: "none" },
  };

  it("has a viewBox, a title, axes, gridlines, a polyline per series and a legend", () => {
    const svg = renderDailyChart(chart);
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" viewBox="0 0 800 480"/);
    expect(svg).toContain("<title>Trends &#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62; &#38; &#39;more&#39;</title>");
    expect(svg.match(/<polyline /g)).toHaveLength(2);
    expect(svg.match(/<line /g)?.length).toBeGreaterThanOrEqual(2 + 2 + 2);
    expect(svg).toContain(">Orders</text>");
    expect(svg).toContain(">Returns &#60;b&#62;</text>");
    expect(svg.endsWith("</svg>")).toBe(true);
  });

  it("is CSP-safe: no script, event handler, style, link or foreign content", () => {
    const svg = renderDailyChart(chart);
    expect(svg).not.toMatch(/<script|<style|style=|\son[a-z]+=|href|<foreignObject|javascript:/i);
  });

  it("is deterministic and encodes to a base64 data URI of its UTF-8 bytes", () => {
    const svg = renderDailyChart({ ...chart, title: "Заказы" });
    expect(renderDailyChart({ ...chart, title: "Заказы" })).toBe(svg);
    const uri = svgDataUri(svg);
    expect(uri.startsWith("data:image/svg+xml;base64,")).toBe(true);
    const bytes = Uint8Array.from(atob(uri.slice(uri.indexOf(",") + 1)), (ch) => ch.charCodeAt(0));
    expect(new TextDecoder().decode(bytes)).toBe(svg);
  });

  it("rejects mismatched series and unsafe colours", () => {
    const panel = (series: DailyChart["panels"][number]["series"]) => [{ axisTitle: "pcs", series }];
    expect(() => renderDailyChart({ ...chart, panels: panel([{ name: "x", color: "#000000", values: [1] }]) })).toThrow(RangeError);
    expect(() => renderDailyChart({ ...chart, panels: panel([{ name: "x", color: 'red" onload="alert(1)', values: [1, 2, 3] }]) })).toThrow(
      RangeError,
    );
  });

  it("escapes every text", () => {
    expect(escapeXml(`<a href="x">'&'</a>`)).toBe("&#60;a href=&#34;x&#34;&#62;&#39;&#38;&#39;&#60;/a&#62;");
  });
});
