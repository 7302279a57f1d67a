/**
 * Text measurement for the SVG charts, without a font engine: an upper bound of the width a
 * label takes, so a chart can lay text out (fit a title, space date labels) before any browser
 * sees it.
 *
 * The bound is conservative on purpose. The charts name no web font (they must stay
 * self-contained), so the viewer's sans-serif draws them: Segoe UI, Roboto, San Francisco,
 * Helvetica/Arial or, on Linux, DejaVu Sans — the widest of these. Each character is counted at
 * the advance width of its class in **DejaVu Sans** (regular or bold): the widest glyph of the
 * class, read from the font's `hmtx` table. So text in any of those fonts is at most as wide as
 * measured here, and in DejaVu Sans itself about 5–15 % narrower.
 * @see https://learn.microsoft.com/typography/opentype/spec/hmtx
 */

/** Character classes with their advance widths in em, regular and bold (DejaVu Sans, widest of the class). */
const classWidths: ReadonlyArray<readonly [chars: string, regular: number, bold: number]> = [
  [" .,:;'!|/\\()[]-·ijlIJfrt\u00a0\u202f", 0.42, 0.5],
  ['"*_–`sz', 0.53, 0.6],
  ["дмцъ", 0.8, 0.86],
  ["mwMWДЦЪЫфжшщыюФМ%@&—…#+<=>^~", 1.0, 1.11],
  ["ЖШЩЮ№", 1.1, 1.33],
];
const widthOf = new Map<string, readonly [number, number]>(
  classWidths.flatMap(([chars, regular, bold]) => [...chars].map((ch) => [ch, [regular, bold]] as const)),
);
/** Capitals not listed above (at most `O`: 0.79 em regular, 0.85 em bold). */
const upperEm = [0.8, 0.86] as const;
/** Other ASCII and Russian letters: digits (0.64/0.70 em), lower case (at most `п` 0.65, `л` 0.73 bold), ₽, «». */
const defaultEm = [0.66, 0.75] as const;
/** Any other character (other alphabets, CJK, emoji): as wide as the widest above. */
const otherEm = [1.1, 1.33] as const;
/** Characters measured by case: ASCII, the Russian alphabet, ₽ and «». */
const measured = /^[\x20-\x7eА-яЁё₽«»]$/;

/** The widths of one character, regular and bold. */
const charEm = (ch: string): readonly [number, number] => {
  const known = widthOf.get(ch);
  if (known) return known;
  if (!measured.test(ch)) return otherEm;
  return ch !== ch.toLowerCase() ? upperEm : defaultEm;
};

/** An upper bound of the width of `text` set at `fontSize` user units, in user units. */
export function textWidth(text: string, fontSize: number, weight: "regular" | "bold" = "regular"): number {
  const k = weight === "bold" ? 1 : 0;
  let em = 0;
  for (const ch of text) em += charEm(ch)[k];
  return em * fontSize;
}

/** A text shrunk to fit a width: the text (shortened with "…" if it had to be) and its font size. */
export interface FittedText {
  text: string;
  fontSize: number;
}

/**
 * Fits `text` into `maxWidth`: at `fontSize` if it fits, else at the largest smaller size down to
 * `minFontSize` (steps of 0.5), else at `minFontSize`, cut at a word (or character) with "…".
 */
export function fitText(
  text: string,
  maxWidth: number,
  fontSize: number,
  minFontSize = fontSize,
  weight: "regular" | "bold" = "regular",
): FittedText {
  for (let size = fontSize; size >= minFontSize; size -= 0.5) {
    if (textWidth(text, size, weight) <= maxWidth) return { text, fontSize: size };
  }
  const fits = (cut: string) => textWidth(`${cut}…`, minFontSize, weight) <= maxWidth;
  const words = text.split(" ");
  const trim = (cut: string) => cut.replace(/[\s,.;:–-]+$/, "");
  for (let n = words.length - 1; n > 0; n--) {
    const cut = trim(words.slice(0, n).join(" "));
    if (cut && fits(cut)) return { text: `${cut}…`, fontSize: minFontSize };
  }
  const chars = [...text];
  for (let end = chars.length - 1; end > 0; end--) {
    const cut = trim(chars.slice(0, end).join(""));
    if (cut && fits(cut)) return { text: `${cut}…`, fontSize: minFontSize };
  }
  return { text: "…", fontSize: minFontSize };
}
