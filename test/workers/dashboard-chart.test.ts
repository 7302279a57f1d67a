/**
 * The daily-trends chart through the route: `Accept-Language` picks Russian or English labels
 * (answered with `Content-Language` and `Vary: Accept-Language`), the header is in the contract,
 * both forms (SVG and the JSON's data URI) carry the same chart, today is drawn as a partial day,
 * and cancellations and returns have their own panel. The layout itself (ticks, fit, scales) is
 * tested on the demo data set in test/unit/chart.test.ts. No sync needed: an org without data
 * still gets every label.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { bumpCacheVersion, json } from "./dashboard-support";
import { api, client, createTenant, type Tenant } from "./helpers";

let tenant: Tenant;

beforeAll(async () => {
  tenant = await createTenant({ role: "analyst" });
});

/**
 * The chart for `acceptLanguage`, computed afresh (each read starts from a new cache version, so
 * what is checked is the route's own answer; the cache's part is the test "caches each language apart").
 */
async function chartFor(acceptLanguage: string | undefined, path = "/api/v1/analytics/daily-trends?format=svg&period=7d") {
  await bumpCacheVersion(tenant.orgId);
  const headers: Record<string, string> = acceptLanguage === undefined ? {} : { "Accept-Language": acceptLanguage };
  const res = await api(path, { token: tenant.token, headers });
  expect(res.status).toBe(200);
  return res;
}

const russianTitle = "<title>Заказы, выкупы, отмены и возвраты по дням</title>";
const englishTitle = "<title>Orders, buyouts, cancellations and returns per day</title>";

describe("daily-trends chart language", () => {
  it.each([
    ["ru", "ru"],
    ["ru-RU", "ru"],
    ["ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7", "ru"],
    ["en;q=0.4, ru;q=0.8", "ru"],
    ["de-DE, ru;q=0.5", "ru"],
    [undefined, "en"],
    ["en-US,en;q=0.9", "en"],
    ["en-US,ru;q=0.9", "en"],
    ["de", "en"],
    ["ru;q=0", "en"],
    ["ru;q=oops", "en"],
  ])("Accept-Language %s → %s", async (header, language) => {
    const res = await chartFor(header);
    expect(res.headers.get("Content-Type")).toBe("image/svg+xml");
    expect(res.headers.get("Content-Language")).toBe(language);
    expect(res.headers.get("Vary")?.split(/,\s*/)).toContain("Accept-Language");
    const svg = await res.text();
    expect(svg).toContain(language === "ru" ? russianTitle : englishTitle);
    const labels = [...svg.matchAll(/<text [^>]*>([^<]*)<\/text>/g)].map((m) => m[1] ?? "");
    for (const label of labels) expect(label).not.toMatch(language === "ru" ? /[A-Za-z]/ : /[А-Яа-яЁё]/);
    expect(svg).toMatch(language === "ru" ? /> ?\d{1,2} (ноя|дек|янв|фев|мар|апр|мая|июн|июл|авг|сен|окт)</ : /> ?\d{1,2} [A-Z][a-z]{2}</);
  });

  it("puts the same chart, in the same language, in the JSON's data URI", async () => {
    const res = await chartFor("ru", "/api/v1/analytics/daily-trends?period=30d");
    expect(res.headers.get("Content-Language")).toBe("ru");
    const body = await json<{ chart: string }>(res);
    const svg = new TextDecoder().decode(Uint8Array.from(atob(body.chart.split(",")[1] ?? ""), (c) => c.charCodeAt(0)));
    expect(svg).toContain(russianTitle);
    const alone = await (await chartFor("ru", "/api/v1/analytics/daily-trends?period=30d&format=svg")).text();
    expect(svg).toBe(alone);
  });

  it("takes the header through the typed client", async () => {
    await bumpCacheVersion(tenant.orgId);
    const res = await client(tenant.token).dashboard.api.v1.analytics["daily-trends"].$get({
      query: { period: "7d", format: "svg" },
      header: { "accept-language": "ru" },
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain(russianTitle);
  });

  it("declares Accept-Language in the contract, and Content-Language and Vary on the 200", async () => {
    type Operation = {
      parameters?: Array<{ name: string; in: string; required?: boolean }>;
      responses: Record<string, { headers?: Record<string, unknown> }>;
    };
    const spec = await json<{ paths: Record<string, { get: Operation }> }>(await api("/openapi.json"));
    const operation = spec.paths["/api/v1/analytics/daily-trends"]?.get;
    expect(operation?.parameters).toContainEqual(expect.objectContaining({ name: "accept-language", in: "header" }));
    expect(operation?.parameters?.find((p) => p.name === "accept-language")?.required).not.toBe(true);
    expect(Object.keys(operation?.responses["200"]?.headers ?? {})).toEqual(expect.arrayContaining(["Content-Language", "Vary"]));
  });

  it("caches each language apart: en MISS, ru MISS, en HIT, ru HIT; a hit says its language", async () => {
    await bumpCacheVersion(tenant.orgId);
    const path = "/api/v1/analytics/daily-trends?format=svg&period=30d";
    const read = async (acceptLanguage: string) => {
      const res = await api(path, { token: tenant.token, headers: { "Accept-Language": acceptLanguage } });
      expect(res.status).toBe(200);
      return {
        cache: res.headers.get("X-Cache"),
        language: res.headers.get("Content-Language"),
        vary: res.headers.get("Vary"),
        svg: await res.text(),
      };
    };
    const en = await read("en-US,en;q=0.9");
    const ru = await read("ru-RU,ru;q=0.9,en;q=0.8");
    const enAgain = await read("en");
    const ruAgain = await read("ru");
    expect([en.cache, ru.cache, enAgain.cache, ruAgain.cache]).toEqual(["MISS", "MISS", "HIT", "HIT"]);
    expect([enAgain.language, ruAgain.language]).toEqual(["en", "ru"]);
    expect(enAgain.vary).toMatch(/\bAccept-Language\b/);
    expect(enAgain.svg).toBe(en.svg);
    expect(ruAgain.svg).toBe(ru.svg);
    expect(ru.svg).toContain(russianTitle);
    expect(en.svg).toContain(englishTitle);
  });
});

describe("daily-trends chart shape", () => {
  it("marks today as partial and gives cancellations and returns their own panel", async () => {
    const svg = await (await chartFor("en", "/api/v1/analytics/daily-trends?format=svg&period=30d")).text();
    expect(svg).toMatch(/^<svg [^>]*role="img"/);
    expect(svg).toContain("<desc>");
    expect(svg.match(/<path class="partial" /g)).toHaveLength(4);
    expect(svg).toContain(">today, partial</text>");
    const panels = svg.split('<g class="panel">').slice(1);
    expect(panels).toHaveLength(2);
    expect(panels[1]).toContain(">Cancellations and returns, pcs per day (own scale)</text>");
    expect(panels[1]).toMatch(/>Cancellations<\/text>.*>Returns<\/text>/);
    expect(panels[1]).toContain('class="y-tick"');
  });
});
