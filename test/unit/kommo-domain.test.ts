/**
 * `parseKommoAccountDomain` (src/integrations/kommo/domain.ts): Kommo's three API domains with one
 * account label are accepted in canonical form; every other host, and every trick that could make
 * a request go elsewhere, is refused.
 */
import { describe, expect, it } from "vitest";
import { kommoAccountDomain, parseKommoAccountDomain } from "../../src/integrations/kommo/domain";

describe("parseKommoAccountDomain", () => {
  it("accepts an account on kommo.com, amocrm.ru and amocrm.com, as a host or an https origin", () => {
    expect(parseKommoAccountDomain("acme.kommo.com")).toEqual({
      ok: true,
      subdomain: "acme",
      apiDomain: "kommo.com",
      host: "acme.kommo.com",
      baseUrl: "https://acme.kommo.com",
    });
    expect(parseKommoAccountDomain("Shop-42.AmoCRM.ru")).toMatchObject({
      ok: true,
      subdomain: "shop-42",
      baseUrl: "https://shop-42.amocrm.ru",
    });
    expect(parseKommoAccountDomain("https://acme.amocrm.com/")).toMatchObject({ ok: true, host: "acme.amocrm.com" });
    expect(parseKommoAccountDomain("HTTPS://acme.kommo.com")).toMatchObject({ ok: true, host: "acme.kommo.com" });
    expect(parseKommoAccountDomain(`${"a".repeat(63)}.kommo.com`)).toMatchObject({ ok: true });
    expect(kommoAccountDomain("acme")).toMatchObject({ ok: true, baseUrl: "https://acme.kommo.com" });
    expect(kommoAccountDomain("acme", "amocrm.ru")).toMatchObject({ ok: true, baseUrl: "https://acme.amocrm.ru" });
  });

  it.each([
    ["another host", "acme.example.com"],
    ["a look-alike suffix", "kommo.com.evil.io"],
    ["a look-alike with an account", "acme.kommo.com.evil.io"],
    ["a look-alike label", "evilkommo.com"],
    ["a look-alike TLD", "acme.kommo.co"],
    ["a hyphenated look-alike", "acme-kommo.com"],
    ["the bare domain", "kommo.com"],
    ["www", "www.kommo.com"],
    ["a nested label", "a.b.kommo.com"],
    ["an empty label", ".kommo.com"],
    ["a leading hyphen", "-acme.kommo.com"],
    ["a trailing hyphen", "acme-.kommo.com"],
    ["a label over 63 characters", `${"a".repeat(64)}.kommo.com`],
    ["a trailing dot", "acme.kommo.com."],
    ["a port", "acme.kommo.com:8443"],
    ["a port in a URL", "https://acme.kommo.com:443"],
    ["userinfo", "https://user:pass@acme.kommo.com"],
    ["userinfo pointing elsewhere", "acme.kommo.com@evil.io"],
    ["userinfo hiding the host", "https://acme.kommo.com@127.0.0.1"],
    ["an IPv4 address", "127.0.0.1"],
    ["an IPv4 address in a URL", "https://169.254.169.254/"],
    ["an IPv6 address", "[::1]"],
    ["a numeric host", "2130706433"],
    ["http", "http://acme.kommo.com"],
    ["another scheme", "ftp://acme.kommo.com"],
    ["a path", "https://acme.kommo.com/api/v4"],
    ["a query", "https://acme.kommo.com?x=1"],
    ["a fragment", "https://acme.kommo.com#x"],
    ["percent-encoding", "acme%2ekommo.com"],
    ["a backslash", "https://evil.io\\@acme.kommo.com"],
    ["whitespace", " acme.kommo.com"],
    ["an inner newline", "acme.kommo.com\nevil.io"],
    ["a Cyrillic look-alike", "acme.kоmmo.com"],
    ["a Kelvin sign", "acme.\u212Aommo.com"],
    ["punycode of the domain", "acme.xn--kmmo-6ve.com"],
    ["an empty string", ""],
  ])("refuses %s: %j", (_what, input) => {
    expect(parseKommoAccountDomain(input)).toMatchObject({ ok: false, reason: expect.any(String) });
  });

  it("refuses a subdomain that is not one label", () => {
    expect(kommoAccountDomain("a.b")).toMatchObject({ ok: false });
    expect(kommoAccountDomain("evil.io/")).toMatchObject({ ok: false });
    expect(kommoAccountDomain("")).toMatchObject({ ok: false });
  });
});
