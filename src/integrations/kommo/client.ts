/**
 * Client of the Kommo (amoCRM) API for one account: the OAuth 2.0 token endpoint
 * (`POST /oauth2/access_token`, grants `authorization_code` and `refresh_token`) and the reads the
 * CRM sync needs, `GET /api/v4/leads/{id}?with=contacts` and `GET /api/v4/contacts/{id}`.
 *
 * - Destination: the account's own validated domain (`parseKommoAccountDomain`, so never a host a
 *   user or a webhook chose), or `apiOrigin` (the local double, `KOMMO_API_ORIGIN`) when set.
 * - Rate limit: Kommo allows 7 requests per second per account. Every API request first waits for a
 *   slot of `throttle` (see `src/crm/kommo.ts`: `@upstash/ratelimit` per account domain, shared by
 *   every Worker); a 429 from Kommo is retried after a backoff ({@link RATE_LIMIT_BACKOFF_MS}), then
 *   thrown as {@link KommoRateLimitError}. The token endpoint is not throttled (Kommo limits the API).
 * - Tokens: `tokens.accessToken()` gives the current access token; on a 401 the client asks
 *   `tokens.refresh()` once for a new one and retries; a second 401 is {@link KommoAuthError}.
 * - An entity that does not exist (or was deleted) is answered 204 without a body: `null`.
 *
 * Errors carry Kommo's own words (`hint` of an OAuth problem, `detail` of an API problem) and the
 * request (`GET /api/v4/leads/{id}`), never a token, so `describeCause` can record them as they are.
 *
 * @see https://developers.kommo.com/reference/get-token
 * @see https://developers.kommo.com/docs/oauth-20
 * @see https://developers.kommo.com/reference/getting-a-lead-by-its-id
 * @see https://developers.kommo.com/reference/get-contact
 * @see https://developers.kommo.com/docs/limitations (7 requests per second; 429 when exceeded)
 */
import type { KommoAccountDomain } from "./domain";
import type { KommoContact, KommoLead, KommoTokenResponse } from "./types";

/** Waits before each 429 retry, ms: two retries, then {@link KommoRateLimitError}. */
export const RATE_LIMIT_BACKOFF_MS = [1000, 2000] as const;

/** Timeout of one request to Kommo, ms. */
export const KOMMO_TIMEOUT_MS = 15_000;

/** Base of every error of this client; `status` is Kommo's HTTP status, 0 when there was no answer. */
export class KommoApiError extends Error {
  override readonly name: string = "KommoApiError";
  constructor(
    message: string,
    readonly status: number,
    /** The request, e.g. `GET /api/v4/leads/{id}`. */
    readonly request: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Kommo refused the access token (401) after one refresh, or a token grant (400/401: code or refresh token). */
export class KommoAuthError extends KommoApiError {
  override readonly name = "KommoAuthError";
}

/** Kommo's rate limit (429) persisted through the retries, or no request slot came in time. */
export class KommoRateLimitError extends KommoApiError {
  override readonly name = "KommoRateLimitError";
  constructor(
    message: string,
    request: string,
    /** Seconds after which a retry is sensible. */
    readonly retryAfterSeconds: number,
  ) {
    super(message, 429, request);
  }
}

/** Kommo failed (5xx), was unreachable or timed out. */
export class KommoUnavailableError extends KommoApiError {
  override readonly name = "KommoUnavailableError";
}

/** Any other answer: an unexpected status or a body that is not what Kommo documents. */
export class KommoResponseError extends KommoApiError {
  override readonly name = "KommoResponseError";
}

/** Our OAuth integration with Kommo (`KOMMO_CLIENT_ID`, `KOMMO_CLIENT_SECRET`, `KOMMO_REDIRECT_URI`). */
export interface KommoOAuthClient {
  clientId: string;
  clientSecret: string;
  redirectUri: string;
}

/** A token pair as stored: `expiresAt` is epoch ms. */
export interface KommoTokens {
  accessToken: string;
  refreshToken: string;
  expiresAt: number;
}

/** Where the access token comes from, and how a rejected one is replaced. */
export interface KommoTokenSource {
  /** The current access token (refreshed beforehand when it is about to expire). */
  accessToken(): Promise<string>;
  /** A new access token after Kommo rejected `rejected` (a refresh_token grant, stored). */
  refresh(rejected: string): Promise<string>;
}

/** Options of {@link createKommoClient}. */
export interface KommoClientOptions {
  account: KommoAccountDomain;
  oauth: KommoOAuthClient;
  /** `KOMMO_API_ORIGIN`: local stack only; replaces `https://{account}` for every request. */
  apiOrigin?: string;
  /** Resolves when the account may send one more API request (throws when no slot comes in time). */
  throttle?: (accountHost: string) => Promise<void>;
  /** Needed for the API reads; the token endpoint works without. */
  tokens?: KommoTokenSource;
  fetch?: typeof fetch;
  timeoutMs?: number;
  /** Waits before the 429 retries, ms (default {@link RATE_LIMIT_BACKOFF_MS}). */
  backoffMs?: readonly number[];
}

/** The Kommo API of one account. */
export interface KommoClient {
  /** Exchanges an authorization code (valid 20 minutes, once) for a token pair. @throws KommoAuthError with Kommo's hint. */
  exchangeAuthorizationCode(code: string): Promise<KommoTokens>;
  /** Spends a refresh token (single use) for a new pair. @throws KommoAuthError with Kommo's hint. */
  refreshTokens(refreshToken: string): Promise<KommoTokens>;
  /** The lead with its contacts, or null when Kommo has none with this id (204). */
  getLead(id: number): Promise<KommoLead | null>;
  /** The contact, or null when Kommo has none with this id (204). */
  getContact(id: number): Promise<KommoContact | null>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Kommo's own words from an error body: an OAuth problem's `hint`, else `detail` or `title`. */
async function kommoReason(res: Response): Promise<string> {
  const text = await res.text().catch(() => "");
  try {
    const body = JSON.parse(text) as { hint?: unknown; detail?: unknown; title?: unknown };
    for (const field of [body.hint, body.detail, body.title]) if (typeof field === "string" && field !== "") return field.slice(0, 300);
  } catch {
    // not JSON: the status says it
  }
  return text.slice(0, 200) || res.statusText || "no reason given";
}

function isTokenResponse(body: unknown): body is KommoTokenResponse {
  const b = body as Partial<KommoTokenResponse> | null;
  return (
    typeof b === "object" &&
    b !== null &&
    typeof b.access_token === "string" &&
    typeof b.refresh_token === "string" &&
    typeof b.expires_in === "number" &&
    b.expires_in > 0
  );
}

/** Creates the client of `options.account`. */
export function createKommoClient(options: KommoClientOptions): KommoClient {
  const origin = (options.apiOrigin ?? options.account.baseUrl).replace(/\/+$/, "");
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? KOMMO_TIMEOUT_MS;
  const backoff = options.backoffMs ?? RATE_LIMIT_BACKOFF_MS;
  const host = options.account.host;

  async function send(request: string, url: string, init: RequestInit): Promise<Response> {
    try {
      return await doFetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
      const reason = err instanceof Error && err.name === "TimeoutError" ? `timed out after ${timeoutMs} ms` : String(err);
      throw new KommoUnavailableError(`Kommo unreachable: ${reason} [${request}]`, 0, request, { cause: err });
    }
  }

  async function grant(body: Record<string, string>): Promise<KommoTokens> {
    const request = `POST /oauth2/access_token (${body.grant_type})`;
    const res = await send(request, `${origin}/oauth2/access_token`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({
        client_id: options.oauth.clientId,
        client_secret: options.oauth.clientSecret,
        redirect_uri: options.oauth.redirectUri,
        ...body,
      }),
    });
    if (res.status === 400 || res.status === 401 || res.status === 403) {
      throw new KommoAuthError(
        `Kommo refused the ${body.grant_type} grant (${res.status}): ${await kommoReason(res)}`,
        res.status,
        request,
      );
    }
    if (res.status === 429) throw new KommoRateLimitError(`Kommo rate limit (429) on the token endpoint for ${host}`, request, 2);
    if (res.status >= 500)
      throw new KommoUnavailableError(`Kommo server error (${res.status}): ${await kommoReason(res)}`, res.status, request);
    const parsed: unknown = res.ok ? await res.json().catch(() => undefined) : undefined;
    if (!isTokenResponse(parsed)) {
      throw new KommoResponseError(`Kommo answered the token request unexpectedly (${res.status})`, res.status, request);
    }
    return { accessToken: parsed.access_token, refreshToken: parsed.refresh_token, expiresAt: Date.now() + parsed.expires_in * 1000 };
  }

  /** An authenticated GET: throttled, a 429 retried after a backoff, a 401 answered with one refresh. */
  async function get<T>(template: string, path: string): Promise<T | null> {
    const request = `GET ${template}`;
    const tokens = options.tokens;
    if (!tokens) throw new Error("createKommoClient: API reads need a token source");
    let token = await tokens.accessToken();
    let refreshed = false;
    for (let retry = 0; ; ) {
      await options.throttle?.(host);
      const res = await send(request, `${origin}${path}`, {
        headers: { Authorization: `Bearer ${token}`, Accept: "application/hal+json, application/json" },
      });
      if (res.status === 204) return null;
      if (res.ok) {
        const body: unknown = await res.json().catch(() => undefined);
        if (typeof body !== "object" || body === null || typeof (body as { id?: unknown }).id !== "number") {
          throw new KommoResponseError(`Kommo answered ${request} with a body that is not an entity`, res.status, request);
        }
        return body as T;
      }
      if (res.status === 401 && !refreshed) {
        await res.body?.cancel();
        refreshed = true;
        token = await tokens.refresh(token);
        continue;
      }
      if (res.status === 429) {
        await res.body?.cancel();
        const wait = backoff[retry];
        if (wait === undefined) {
          throw new KommoRateLimitError(
            `Kommo rate limit: 429 for ${host} after ${retry} retries (Kommo allows 7 requests/s per account) [${request}]`,
            request,
            Math.ceil((backoff.at(-1) ?? 1000) / 1000),
          );
        }
        retry++;
        await sleep(wait);
        continue;
      }
      const reason = await kommoReason(res);
      if (res.status === 401 || res.status === 403) {
        throw new KommoAuthError(`Kommo rejected the token (${res.status}): ${reason} [${request}]`, res.status, request);
      }
      if (res.status >= 500)
        throw new KommoUnavailableError(`Kommo server error (${res.status}): ${reason} [${request}]`, res.status, request);
      throw new KommoResponseError(`Kommo answered unexpectedly (${res.status}): ${reason} [${request}]`, res.status, request);
    }
  }

  return {
    exchangeAuthorizationCode: (code) => grant({ grant_type: "authorization_code", code }),
    refreshTokens: (refreshToken) => grant({ grant_type: "refresh_token", refresh_token: refreshToken }),
    getLead: (id) => get<KommoLead>("/api/v4/leads/{id}", `/api/v4/leads/${id}?with=contacts`),
    getContact: (id) => get<KommoContact>("/api/v4/contacts/{id}", `/api/v4/contacts/${id}`),
  };
}
