/**
 * `Accept-Language` negotiation (RFC 9110 §12.5.4), shared by the routes that answer in more than
 * one language and by the guard's cache key, so a cached answer is the one of the language asked.
 * @see https://www.rfc-editor.org/rfc/rfc9110#name-accept-language
 */

/**
 * The language of `offered` (e.g. a chart's `["en", "ru"]`) that an `Accept-Language` value
 * prefers: the one with the highest weight (`q`, default 1), matched on the primary subtag
 * (`ru-RU` → `ru`), `*` standing for any language not named; ties go to the range listed first.
 * The first offered language when the header is absent, names none of them, or gives them all
 * `q=0`. Malformed ranges are skipped, never an error.
 * Examples: `ru` → ru; `ru-RU,ru;q=0.9,en;q=0.8` → ru; `en-US,ru;q=0.9` → en;
 * `de,ru;q=0.5` → ru (German is not offered, Russian is preferred to the default); `de` → en.
 */
export function negotiateLanguage<const L extends string>(header: string | null | undefined, offered: readonly [L, ...L[]]): L {
  const weights = new Map<string, { q: number; position: number }>();
  (header ?? "").split(",").forEach((part, position) => {
    const [range = "", ...params] = part.split(";").map((s) => s.trim());
    const primary = range.toLowerCase().split("-")[0] ?? "";
    if (!/^([a-z]{1,8}|\*)$/.test(primary)) return;
    const qParam = params.find((p) => /^q\s*=/i.test(p));
    const qValue = qParam === undefined ? "1" : /^q\s*=\s*(0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/i.exec(qParam)?.[1];
    if (qValue === undefined) return;
    const q = Number(qValue);
    // The most preferred mention of a language counts (`ru-RU;q=0.9, ru;q=0.5` weighs ru 0.9).
    const seen = weights.get(primary);
    if (!seen || q > seen.q) weights.set(primary, { q, position: seen?.position ?? position });
  });
  const any = weights.get("*");
  let best = offered[0];
  let bestWeight = { q: 0, position: Number.POSITIVE_INFINITY };
  for (const language of offered) {
    const weight = weights.get(language.toLowerCase()) ?? any;
    if (weight && weight.q > 0 && (weight.q > bestWeight.q || (weight.q === bestWeight.q && weight.position < bestWeight.position))) {
      best = language;
      bestWeight = weight;
    }
  }
  return best;
}
