/**
 * Validation of Kommo (amoCRM) account domains, before any request goes to one (an OAuth token
 * exchange, an API call, a link from a webhook): the host must be one account subdomain of Kommo's
 * three API domains, so a value from a user or a webhook cannot point our requests elsewhere (SSRF).
 *
 * Accepted: `acme.kommo.com`, `acme.amocrm.ru`, `acme.amocrm.com`, case-insensitive, optionally
 * written as `https://acme.kommo.com` or `https://acme.kommo.com/`. The subdomain is one DNS label
 * (letters, digits, inner hyphens, at most 63 characters), never `www`.
 *
 * Refused: other hosts and look-alikes (`kommo.com.evil.io`, `evilkommo.com`, `acme.kommo.co`),
 * nested labels (`a.b.kommo.com`), the bare domains, IP addresses, ports, userinfo (`x@…`), `http:`,
 * paths, queries, fragments, percent-encoding, backslashes, whitespace, trailing dots and non-ASCII
 * (IDN look-alikes). The text
 * is matched as written, not normalized through a URL parser first, so nothing is "repaired" into
 * an accepted host.
 *
 * @see https://developers.kommo.com/docs/limitations ("requests must be made … on the exact address of your account")
 */

/** The API domains of Kommo accounts. */
export const KOMMO_API_DOMAINS = ["kommo.com", "amocrm.ru", "amocrm.com"] as const;

export type KommoApiDomain = (typeof KOMMO_API_DOMAINS)[number];

/** A validated account domain. */
export interface KommoAccountDomain {
  /** `acme` (lower case). */
  subdomain: string;
  /** `kommo.com`, `amocrm.ru` or `amocrm.com`. */
  apiDomain: KommoApiDomain;
  /** `acme.kommo.com`. */
  host: string;
  /** `https://acme.kommo.com`, the base of every API URL (`/api/v4/…`, `/oauth2/access_token`). */
  baseUrl: string;
}

export type KommoDomainResult = ({ ok: true } & KommoAccountDomain) | { ok: false; reason: string };

const HOST = /^([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)\.(kommo\.com|amocrm\.ru|amocrm\.com)$/;

/**
 * Parses an account domain or origin; see the module comment for what is accepted.
 * @returns the canonical domain, or a reason (for logs and form errors) why it is refused.
 */
export function parseKommoAccountDomain(input: string): KommoDomainResult {
  if (input.length === 0 || input.length > 300) return { ok: false, reason: "empty or too long" };
  // Printable ASCII only, checked before lower-casing (U+212A KELVIN SIGN lower-cases to "k").
  if (!/^[\x21-\x7e]+$/.test(input)) return { ok: false, reason: "not printable ASCII" };
  let host = input.toLowerCase();
  if (host.includes("://")) {
    if (!host.startsWith("https://")) return { ok: false, reason: "only https is allowed" };
    host = host.slice("https://".length);
    if (host.endsWith("/")) host = host.slice(0, -1);
  }
  const match = HOST.exec(host);
  if (match === null) return { ok: false, reason: "not an account subdomain of kommo.com, amocrm.ru or amocrm.com" };
  const [, subdomain = "", apiDomain = ""] = match;
  if (subdomain === "www") return { ok: false, reason: "www is not an account" };
  return { ok: true, subdomain, apiDomain: apiDomain as KommoApiDomain, host, baseUrl: `https://${host}` };
}

/**
 * The account domain for a subdomain alone (as a webhook's `account[subdomain]` gives it).
 * @param apiDomain default `kommo.com`.
 */
export function kommoAccountDomain(subdomain: string, apiDomain: KommoApiDomain = "kommo.com"): KommoDomainResult {
  if (subdomain.includes(".")) return { ok: false, reason: "a subdomain is one label" };
  return parseKommoAccountDomain(`${subdomain}.${apiDomain}`);
}
