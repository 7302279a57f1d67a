/**
 * The Kommo (amoCRM) API double (dev/kommo/server.ts) over plain fetch, in Kommo's documented
 * formats: the OAuth 2.0 code and refresh grants with their errors, leads and contacts in HAL JSON,
 * 401/204/404/405 answers, the 7 requests per second limit per account, and the control endpoints.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type KommoDouble, startKommoDouble } from "../../dev/kommo/server";
import type { KommoContact, KommoLead, KommoOAuthProblem, KommoProblem, KommoTokenResponse } from "../../src/integrations/kommo/types";

const CLIENT = {
  clientId: "7d1e2f10-0000-4000-8000-00000000c0de",
  clientSecret: "s3cr3t-kommo",
  redirectUri: "https://seller.test/kommo/callback",
};
const OAUTH_TYPE = "https://developers.amocrm.ru/v3/errors/OAuthProblemJson";

let kommo: KommoDouble;

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${kommo.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });

const get = (path: string, token?: string) =>
  fetch(`${kommo.url}${path}`, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });

async function issueCode(subdomain = "acme", state?: string): Promise<{ code: string; referer: string; redirect_url: string }> {
  const res = await post("/__control/authorization-codes", { client_id: CLIENT.clientId, subdomain, ...(state ? { state } : {}) });
  expect(res.status).toBe(201);
  return (await res.json()) as { code: string; referer: string; redirect_url: string };
}

async function exchangeCode(code: string, overrides: Record<string, string> = {}): Promise<Response> {
  return post("/oauth2/access_token", {
    client_id: CLIENT.clientId,
    client_secret: CLIENT.clientSecret,
    grant_type: "authorization_code",
    code,
    redirect_uri: CLIENT.redirectUri,
    ...overrides,
  });
}

async function tokensFor(subdomain = "acme"): Promise<KommoTokenResponse> {
  const res = await exchangeCode((await issueCode(subdomain)).code);
  expect(res.status).toBe(200);
  return (await res.json()) as KommoTokenResponse;
}

beforeAll(async () => {
  kommo = await startKommoDouble({ integrations: [CLIENT], accounts: [{ subdomain: "acme", id: 29_000_001 }, { subdomain: "other" }] });
});

afterAll(async () => {
  await kommo.close();
});

beforeEach(() => {
  kommo.setRateLimit(null);
});

describe("OAuth 2.0: POST /oauth2/access_token", () => {
  it("exchanges an authorization code for Kommo's token pair, JSON or form-encoded", async () => {
    const issued = await issueCode("acme", "csrf-123");
    const redirect = new URL(issued.redirect_url);
    expect(redirect.origin + redirect.pathname).toBe(CLIENT.redirectUri);
    expect(Object.fromEntries(redirect.searchParams)).toEqual({
      code: issued.code,
      state: "csrf-123",
      referer: "acme.kommo.com",
      client_id: CLIENT.clientId,
    });

    const res = await exchangeCode(issued.code);
    expect(res.status).toBe(200);
    const tokens = (await res.json()) as KommoTokenResponse;
    expect(Object.keys(tokens).sort()).toEqual(["access_token", "expires_in", "refresh_token", "server_time", "token_type"]);
    expect(tokens).toMatchObject({ token_type: "Bearer", expires_in: 86_400 });
    expect(Math.abs((tokens.server_time ?? 0) - Date.now() / 1000)).toBeLessThan(5);
    expect(tokens.access_token.split(".")).toHaveLength(3);
    expect(tokens.refresh_token).not.toBe(tokens.access_token);

    const form = new URLSearchParams({
      client_id: CLIENT.clientId,
      client_secret: CLIENT.clientSecret,
      grant_type: "authorization_code",
      code: (await issueCode()).code,
      redirect_uri: CLIENT.redirectUri,
    });
    const viaForm = await fetch(`${kommo.url}/oauth2/access_token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: form,
    });
    expect(viaForm.status).toBe(200);
    expect(((await viaForm.json()) as KommoTokenResponse).token_type).toBe("Bearer");
  });

  it("spends a code once and answers Kommo's OAuth problem for bad codes, clients and redirects", async () => {
    const oauthError = async (res: Response, status: number, hint: string) => {
      expect(res.status).toBe(status);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      const body = (await res.json()) as KommoOAuthProblem;
      expect(body).toMatchObject({ hint, type: OAUTH_TYPE, status });
      expect(body.title).toBeTruthy();
      expect(body.detail).toBeTruthy();
    };
    const { code } = await issueCode();
    await oauthError(await exchangeCode(code, { redirect_uri: "https://evil.test/cb" }), 400, "Invalid redirect URI");
    await oauthError(await exchangeCode(code, { client_secret: "wrong" }), 401, "Client authentication failed");
    await oauthError(await exchangeCode(code, { client_id: "unknown" }), 401, "Client authentication failed");
    expect((await exchangeCode(code)).status).toBe(200);
    await oauthError(await exchangeCode(code), 400, "Authorization code has been revoked");
    await oauthError(await exchangeCode("def50200forged"), 400, "Cannot decrypt the authorization code");
    await oauthError(await exchangeCode("", {}), 400, "Check the `code` parameter");
    await oauthError(
      await exchangeCode(code, { grant_type: "password" }),
      400,
      "The authorization grant type is not supported by the authorization server.",
    );
    await oauthError(await post("/oauth2/access_token", { client_id: CLIENT.clientId }), 400, "Check the `client_secret` parameter");
  });

  it("refuses a code after its 20 minutes", async () => {
    const shortLived = await startKommoDouble({
      integrations: [CLIENT],
      accounts: [{ subdomain: "acme" }],
      authorizationCodeTtlSeconds: 0.05,
    });
    try {
      const { code } = shortLived.issueAuthorizationCode({ clientId: CLIENT.clientId, subdomain: "acme" });
      await new Promise((resolve) => setTimeout(resolve, 80));
      const res = await fetch(`${shortLived.url}/oauth2/access_token`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          client_id: CLIENT.clientId,
          client_secret: CLIENT.clientSecret,
          grant_type: "authorization_code",
          code,
          redirect_uri: CLIENT.redirectUri,
        }),
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as KommoOAuthProblem).hint).toBe("Authorization code has expired");
    } finally {
      await shortLived.close();
    }
  });

  it("rotates the refresh token: the old one is spent, the old access token lasts until it expires", async () => {
    const first = await tokensFor();
    const refresh = (refreshToken: string) =>
      post("/oauth2/access_token", {
        client_id: CLIENT.clientId,
        client_secret: CLIENT.clientSecret,
        grant_type: "refresh_token",
        refresh_token: refreshToken,
        redirect_uri: CLIENT.redirectUri,
      });
    const res = await refresh(first.refresh_token);
    expect(res.status).toBe(200);
    const second = (await res.json()) as KommoTokenResponse;
    expect(second.access_token).not.toBe(first.access_token);
    expect(second.refresh_token).not.toBe(first.refresh_token);

    const reused = await refresh(first.refresh_token);
    expect(reused.status).toBe(401);
    expect(((await reused.json()) as KommoOAuthProblem).hint).toBe("Token has been revoked");
    expect((await refresh("def50200unknown")).status).toBe(401);

    expect((await get("/api/v4/account", first.access_token)).status).toBe(200);
    const expired = await post("/__control/expire-access-tokens", { access_token: first.access_token });
    expect(await expired.json()).toEqual({ expired: 1 });
    expect((await get("/api/v4/account", first.access_token)).status).toBe(401);
    expect((await get("/api/v4/account", second.access_token)).status).toBe(200);
  });
});

describe("API v4: leads and contacts", () => {
  let token: string;

  beforeAll(async () => {
    token = (await tokensFor()).access_token;
    const contacts = await post("/__control/accounts/acme/contacts", {
      contacts: [
        {
          id: 991,
          first_name: "Анна",
          last_name: "Смирнова",
          custom_fields_values: [
            {
              field_id: 3,
              field_name: "Phone",
              field_code: "PHONE",
              field_type: "multitext",
              values: [{ value: "+79991234567", enum_code: "WORK" }],
            },
          ],
        },
      ],
    });
    expect(contacts.status).toBe(201);
    const leads = await post("/__control/accounts/acme/leads", {
      leads: [
        {
          id: 4821,
          name: "Опт: 200 футболок",
          price: 150_000,
          status_id: 70_000_002,
          tags: [{ name: "wildberries" }],
          contacts: [{ id: 991 }],
        },
        { id: 4822, name: "Won deal", status_id: 142 },
      ],
    });
    expect(leads.status).toBe(201);
  });

  it("answers a lead in HAL JSON, with its contacts on ?with=contacts", async () => {
    const res = await get("/api/v4/leads/4821", token);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/hal+json");
    const lead = (await res.json()) as KommoLead;
    expect(lead).toMatchObject({
      id: 4821,
      name: "Опт: 200 футболок",
      price: 150_000,
      status_id: 70_000_002,
      pipeline_id: 7_000_001,
      account_id: 29_000_001,
      is_deleted: false,
      closed_at: null,
      loss_reason_id: null,
      custom_fields_values: null,
      _links: { self: { href: "https://acme.kommo.com/api/v4/leads/4821" } },
    });
    expect(Number.isInteger(lead.updated_at) && Math.abs(lead.updated_at - Date.now() / 1000) < 5).toBe(true);
    expect(lead._embedded.tags).toEqual([{ id: expect.any(Number), name: "wildberries", color: null }]);
    expect(lead._embedded.companies).toEqual([]);
    expect(lead._embedded.contacts).toBeUndefined();

    const withContacts = (await (await get("/api/v4/leads/4821?with=contacts", token)).json()) as KommoLead;
    expect(withContacts._embedded.contacts).toEqual([
      { id: 991, is_main: true, _links: { self: { href: "https://acme.kommo.com/api/v4/contacts/991" } } },
    ]);
    const won = (await (await get("/api/v4/leads/4822", token)).json()) as KommoLead;
    expect(won.closed_at).toBe(won.updated_at);
  });

  it("answers a contact, with its leads on ?with=leads", async () => {
    const res = await get("/api/v4/contacts/991?with=leads", token);
    expect(res.status).toBe(200);
    const contact = (await res.json()) as KommoContact;
    expect(contact).toMatchObject({
      id: 991,
      name: "Анна Смирнова",
      first_name: "Анна",
      last_name: "Смирнова",
      account_id: 29_000_001,
      custom_fields_values: [{ field_code: "PHONE", values: [{ value: "+79991234567" }] }],
      _embedded: { tags: [], companies: [], leads: [{ id: 4821, _links: { self: { href: "https://acme.kommo.com/api/v4/leads/4821" } } }] },
    });
  });

  it("answers 204 without a body for an entity that does not exist, and after a delete", async () => {
    const missing = await get("/api/v4/leads/999999", token);
    expect(missing.status).toBe(204);
    expect(await missing.text()).toBe("");
    await post("/__control/accounts/acme/leads", { leads: [{ id: 5000 }] });
    expect((await get("/api/v4/leads/5000", token)).status).toBe(200);
    const deleted = await fetch(`${kommo.url}/__control/accounts/acme/leads/5000`, { method: "DELETE" });
    expect(deleted.status).toBe(200);
    expect((await get("/api/v4/leads/5000", token)).status).toBe(204);
  });

  it("keeps accounts apart: a token sees its own account only", async () => {
    await post("/__control/accounts/other/leads", { leads: [{ id: 7777, name: "Other's" }] });
    expect((await get("/api/v4/leads/7777", token)).status).toBe(204);
    const otherToken = (await tokensFor("other")).access_token;
    expect((await get("/api/v4/leads/7777", otherToken)).status).toBe(200);
    expect((await get("/api/v4/leads/4821", otherToken)).status).toBe(204);
  });

  it("answers 401 problem+json without, with a wrong or with an expired access token", async () => {
    for (const bad of [undefined, "not-a-token"]) {
      const res = await get("/api/v4/leads/4821", bad);
      expect(res.status).toBe(401);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      expect((await res.json()) as KommoProblem).toMatchObject({ title: "Unauthorized", type: "https://httpstatus.es/401", status: 401 });
    }
    const longLived = await post("/__control/long-lived-tokens", { subdomain: "acme" });
    const { access_token } = (await longLived.json()) as { access_token: string };
    expect((await get("/api/v4/leads/4821", access_token)).status).toBe(200);
    kommo.expireAccessTokens(access_token);
    expect((await get("/api/v4/leads/4821", access_token)).status).toBe(401);
  });

  it("answers 404 for unknown paths and 405 with Allow for a wrong method", async () => {
    const unknown = await get("/api/v4/leads/abc", token);
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as KommoProblem).type).toBe("https://httpstatus.es/404");
    const wrong = await fetch(`${kommo.url}/api/v4/leads/4821`, { method: "DELETE", headers: { authorization: `Bearer ${token}` } });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get("allow")).toBe("GET");
  });
});

describe("rate limit: 7 requests per second per account", () => {
  it("answers 429 to the 8th request within a second, per account, and lets requests through again after it", async () => {
    kommo.setRateLimit(7);
    const acme = (await tokensFor("acme")).access_token;
    const other = (await tokensFor("other")).access_token;
    const burst = await Promise.all(Array.from({ length: 8 }, () => get("/api/v4/account", acme)));
    const statuses = burst.map((res) => res.status).sort();
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 200, 429]);
    const limited = burst.find((res) => res.status === 429);
    if (limited === undefined) throw new Error("no 429 in the burst");
    expect(limited.headers.get("content-type")).toBe("application/problem+json");
    expect(((await limited.json()) as KommoProblem).status).toBe(429);

    // Another account has its own budget; the token endpoint is not limited.
    expect((await get("/api/v4/account", other)).status).toBe(200);
    expect((await tokensFor("acme")).token_type).toBe("Bearer");

    expect((await get("/api/v4/account", acme)).status).toBe(429);
    await new Promise((resolve) => setTimeout(resolve, 1_050));
    expect((await get("/api/v4/account", acme)).status).toBe(200);

    // Spread out at 7 per second nothing is refused.
    kommo.setRateLimit(7);
    for (let i = 0; i < 10; i++) {
      expect((await get("/api/v4/account", acme)).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
  });
});

describe("control", () => {
  it("counts API requests by route template, not control requests, and resets", async () => {
    kommo.resetStats();
    const token = (await tokensFor()).access_token;
    await get("/api/v4/leads/4821", token);
    await get("/api/v4/leads/1", token);
    await get("/api/v4/contacts/991", token);
    const stats = await (await fetch(`${kommo.url}/__stats`)).json();
    expect(stats).toEqual({
      requests: 4,
      byPath: { "/oauth2/access_token": 1, "/api/v4/leads/{id}": 2, "/api/v4/contacts/{id}": 1 },
    });
    await fetch(`${kommo.url}/__stats/reset`, { method: "POST" });
    expect(kommo.stats()).toEqual({ requests: 0, byPath: {} });
  });

  it("refuses malformed control bodies with a 400 naming the field", async () => {
    const res = await post("/__control/accounts/acme/leads", { leads: [{ id: "x" }] });
    expect(res.status).toBe(400);
    expect(((await res.json()) as KommoProblem).detail).toContain("leads.0.id");
    expect((await post("/__control/accounts/nobody/leads", { leads: [{}] })).status).toBe(404);
  });
});
