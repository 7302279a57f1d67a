/**
 * What a Wildberries API token says about itself, read without WB.
 *
 * WB API tokens are JWTs (RFC 7519) valid for 180 days. Their payload carries, among others:
 * - `exp`: expiry, seconds since the epoch;
 * - `s`: a bitmask of the API categories the token may call — bit `n` (counted from the least
 *   significant bit, `(s >> n) & 1`) grants category `n` of {@link WB_TOKEN_CATEGORY_BITS}
 *   (bit 5: Statistics, the category of `statistics-api.wildberries.ru`), and bit 30 marks a
 *   read-only token;
 * - `t`: true for a sandbox (test-scope) token; `acc`, `for`: the token type.
 *
 * We decode the payload only (jose `decodeJwt`): the signature is WB's, made with a key we do
 * not have, so it is not verified here. That is enough to refuse a token that cannot work
 * (malformed, without Statistics, expired) before asking WB; WB's own answer (`GET /ping`) is the
 * authority on whether it is valid.
 *
 * Source of the bit layout: WB documents the JWT fields and the category bitmask in its token
 * decoding article and decoder tool; the positions used here (1 Content, 2 Analytics, 3 Prices
 * and discounts, 4 Marketplace, 5 Statistics, 6 Promotion, 7 Questions and feedbacks, 9 Buyers
 * chat, 10 Supplies, 11 Buyer returns, 12 Documents, 30 read-only) are those of public client code
 * that cites WB's "Token decode" section. We could not read WB's own table (the article's text
 * was not retrievable), so this layout is an assumption, stated again in docs/api.md; bits outside
 * it (newer categories such as Finance or Users) are ignored.
 * @see https://dev.wildberries.ru/knowledge-base/articles/019d49a1-1540-76f6-befe-726633dc11be (token decoding, JWT fields, category bitmask)
 * @see https://dev.wildberries.ru/openapi/api-information (tokens: 180 days, categories, read-only, sandbox)
 * @see https://www.rfc-editor.org/rfc/rfc7519
 */
import { decodeJwt } from "jose";
import { isoTime } from "../../core/time";

/** Bit of `s` (`(s >> bit) & 1`) → category name, as far as known (see the module comment). */
export const WB_TOKEN_CATEGORY_BITS = {
  1: "content",
  2: "analytics",
  3: "prices",
  4: "marketplace",
  5: "statistics",
  6: "promotion",
  7: "feedbacks",
  9: "buyers-chat",
  10: "supplies",
  11: "returns",
  12: "documents",
} as const;

/** A WB API category a token may grant. */
export type WbTokenCategory = (typeof WB_TOKEN_CATEGORY_BITS)[keyof typeof WB_TOKEN_CATEGORY_BITS];

/** Every known category, in bit order. */
export const wbTokenCategories = Object.values(WB_TOKEN_CATEGORY_BITS) as WbTokenCategory[];

/** Bit of `s` marking a read-only token. */
export const WB_TOKEN_READ_ONLY_BIT = 30;

/** How long WB tokens live, days. */
export const WB_TOKEN_LIFETIME_DAYS = 180;

/** What the payload of a WB token says. */
export interface WbTokenInfo {
  /** `exp` as an instant. */
  expiresAt: Date;
  /** The categories `s` grants, in bit order. */
  categories: WbTokenCategory[];
  readOnly: boolean;
  /** `t`: a sandbox token (works only against WB's test hosts). */
  sandbox: boolean;
}

/** The text is not a WB token (not a JWT, or its payload lacks a numeric `exp` or `s`). */
export class WbTokenFormatError extends Error {
  override readonly name = "WbTokenFormatError";
}

/** The categories bitmask `s` grants, in bit order. */
export function categoriesOf(s: number): WbTokenCategory[] {
  return Object.entries(WB_TOKEN_CATEGORY_BITS).flatMap(([bit, name]) => (Math.floor(s / 2 ** Number(bit)) % 2 === 1 ? [name] : []));
}

/** The bitmask `s` of `categories` (and the read-only bit): the inverse of {@link categoriesOf}, for doubles and tests. */
export function bitmaskOf(categories: readonly WbTokenCategory[], readOnly = false): number {
  const bits = Object.entries(WB_TOKEN_CATEGORY_BITS).filter(([, name]) => categories.includes(name));
  return bits.reduce((s, [bit]) => s + 2 ** Number(bit), readOnly ? 2 ** WB_TOKEN_READ_ONLY_BIT : 0);
}

/**
 * Reads a WB token's payload without verifying its signature (see the module comment).
 * @throws WbTokenFormatError when `token` is not a JWT or its payload has no numeric `exp` and `s`.
 */
export function readWbToken(token: string): WbTokenInfo {
  let payload: Record<string, unknown>;
  try {
    payload = decodeJwt(token);
  } catch {
    throw new WbTokenFormatError("not a Wildberries API token: expected a JWT (three base64url parts separated by dots)");
  }
  const { exp, s, t } = payload;
  if (typeof exp !== "number" || !Number.isFinite(exp)) throw new WbTokenFormatError("the token has no expiry (`exp`)");
  if (typeof s !== "number" || !Number.isSafeInteger(s) || s < 0) {
    throw new WbTokenFormatError("the token has no category bitmask (`s`)");
  }
  return {
    expiresAt: new Date(exp * 1000),
    categories: categoriesOf(s),
    readOnly: Math.floor(s / 2 ** WB_TOKEN_READ_ONLY_BIT) % 2 === 1,
    sandbox: t === true,
  };
}

/** Days before expiry from which a token counts as expiring soon (flagged, and warned about once a day). */
export const EXPIRY_WARNING_DAYS = 14;

/** A stored token's expiry as the API shows it. */
export interface TokenExpiry {
  /** RFC 3339 UTC; null when unknown (a token stored without one). */
  expiresAt: string | null;
  /** Whole days left (rounded down; 0 once expired); null when unknown. */
  daysLeft: number | null;
  /** Expires within {@link EXPIRY_WARNING_DAYS} days, or has expired. */
  expiringSoon: boolean;
}

/** The expiry view of `expiresAt` (a `timestamptz` text or an instant) at `now`. */
export function tokenExpiry(expiresAt: string | Date | null, now = Date.now()): TokenExpiry {
  if (expiresAt === null) return { expiresAt: null, daysLeft: null, expiringSoon: false };
  const iso = expiresAt instanceof Date ? expiresAt.toISOString() : isoTime(expiresAt);
  const msLeft = Date.parse(iso) - now;
  if (Number.isNaN(msLeft)) return { expiresAt: null, daysLeft: null, expiringSoon: false };
  return {
    expiresAt: iso,
    daysLeft: Math.max(0, Math.floor(msLeft / 86_400_000)),
    expiringSoon: msLeft <= EXPIRY_WARNING_DAYS * 86_400_000,
  };
}
