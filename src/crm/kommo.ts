/**
 * Kommo integrations: connecting one through OAuth 2.0, keeping its tokens fresh, and re-reading
 * the leads and contacts a Kommo webhook names through the Kommo API.
 *
 * OAuth (`/api/v1/integrations/kommo/oauth/*`):
 * 1. `start`: a random `state` (32 bytes, base64url) bound to the admin, the org and the
 *    integration is stored in Redis as `kommo-oauth-state:{state}` for {@link OAUTH_STATE_TTL_SECONDS}
 *    seconds, and the browser goes to Kommo's consent page with our client id and the state.
 * 2. `callback`: Kommo sends the browser back with `code`, `state` and `referer` (the account's
 *    domain). The state is taken with GETDEL (known, unexpired, single use); the referer must be a
 *    Kommo account domain (`parseKommoAccountDomain`) before any request leaves (no SSRF); then the
 *    code is exchanged at `https://{account}/oauth2/access_token` and the tokens are stored
 *    AES-GCM encrypted with the access token's expiry and the account domain.
 *
 * Tokens: Kommo's access token lives 24 hours, its refresh token is single use (each refresh answers
 * the next one). The access token is refreshed on demand when it expires within
 * {@link REFRESH_MARGIN_MS}, on a 401, and by the hourly `kommo-token-refresh` job
 * (`src/jobs/kommo-token-refresh.ts`) when it expires within 6 hours. A new pair is stored the moment
 * Kommo issues it (the spent refresh token is dead by then); when two refreshes race, the loser finds
 * the winner's pair in the row and uses it.
 *
 * Rate limit: every API request of an account takes a token of an `@upstash/ratelimit` bucket keyed
 * by its domain (see {@link kommoThrottle}), shared by every Worker and delivery.
 *
 * @see https://developers.kommo.com/docs/oauth-20
 * @see https://developers.kommo.com/docs/limitations
 */
import { Ratelimit } from "@upstash/ratelimit";
import { and, eq } from "drizzle-orm";
import type { Services } from "../core/context";
import { decryptSecretWithKeys, encryptionKeys, encryptSecret, toBase64Url } from "../core/crypto";
import { crmIntegrations } from "../core/db/schema";
import type { AppConfig } from "../core/env";
import { ApiError } from "../core/errors";
import type { Redis } from "../core/redis";
import { isoTime } from "../core/time";
import {
  createKommoClient,
  KommoApiError,
  KommoAuthError,
  type KommoClient,
  type KommoOAuthClient,
  KommoRateLimitError,
  type KommoTokens,
} from "../integrations/kommo/client";
import { type KommoAccountDomain, parseKommoAccountDomain } from "../integrations/kommo/domain";
import type { KommoContact, KommoLead } from "../integrations/kommo/types";
import type { KommoWebhookEvent } from "../integrations/kommo/webhook";
import type { ContactUpdate, CrmEntityUpdate, LeadUpdate } from "./entities";
import { integrationCacheKey } from "./integrations";

/** Seconds an OAuth `state` stays valid (the admin has this long to consent at Kommo). */
export const OAUTH_STATE_TTL_SECONDS = 600;

/** An access token expiring within this many ms is refreshed before use. */
export const REFRESH_MARGIN_MS = 5 * 60_000;

/**
 * Kommo's limit of 7 API requests per second per account, as our bucket: one token every 170 ms,
 * at most one stored. Kommo counts requests as they arrive over any second; a window counted at
 * send time lets 8 or more fall into one of Kommo's seconds (two bursts at a window edge, latency
 * jitter). Spacing requests by 170 ms admits at most 1 + ⌈1020 / 170⌉ = 7 requests in any second
 * even with 20 ms of jitter, about 5.9 requests per second sustained.
 */
export const KOMMO_REQUEST_SPACING_MS = 170;

/** Longest wait for a request slot before giving up with {@link KommoRateLimitError}, ms. */
export const THROTTLE_TIMEOUT_MS = 10_000;

/** The Redis key of an OAuth state. */
export const oauthStateKey = (state: string) => `kommo-oauth-state:${state}`;

/** What an OAuth state stands for. */
export interface KommoOAuthState {
  userId: string;
  orgId: string;
  integrationId: string;
}

/** Our Kommo OAuth client from the env. @throws ApiError 503 "Kommo OAuth is not configured" when a variable is missing. */
export function kommoOAuthClient(
  config: Pick<AppConfig, "KOMMO_CLIENT_ID" | "KOMMO_CLIENT_SECRET" | "KOMMO_REDIRECT_URI">,
): KommoOAuthClient {
  const { KOMMO_CLIENT_ID: clientId, KOMMO_CLIENT_SECRET: clientSecret, KOMMO_REDIRECT_URI: redirectUri } = config;
  if (!clientId || !clientSecret || !redirectUri) {
    throw new ApiError("SERVICE_UNAVAILABLE", {
      detail: "Kommo OAuth is not configured (KOMMO_CLIENT_ID, KOMMO_CLIENT_SECRET, KOMMO_REDIRECT_URI).",
    });
  }
  return { clientId, clientSecret, redirectUri };
}

/** Kommo's consent page: `https://www.kommo.com/oauth` (or `${KOMMO_API_ORIGIN}/oauth`), `mode=post_message`. */
export function kommoConsentUrl(config: Pick<AppConfig, "KOMMO_API_ORIGIN">, clientId: string, state: string): string {
  const url = new URL("/oauth", config.KOMMO_API_ORIGIN ?? "https://www.kommo.com");
  url.searchParams.set("client_id", clientId);
  url.searchParams.set("state", state);
  url.searchParams.set("mode", "post_message");
  return url.toString();
}

/** Epoch ms of a `timestamptz` text; NaN for none (an unknown expiry counts as expired). */
const ms = (timestamp: string | null) => (timestamp === null ? Number.NaN : Date.parse(isoTime(timestamp)));

/** The org's Kommo integration `id` that may be connected. @throws ApiError 404 (none in the org), 409 (not Kommo, or disabled). */
async function connectableIntegration(services: Pick<Services, "db">, orgId: string, id: string) {
  const [row] = await services.db
    .select({ provider: crmIntegrations.provider, disabledAt: crmIntegrations.disabledAt })
    .from(crmIntegrations)
    .where(and(eq(crmIntegrations.id, id), eq(crmIntegrations.orgId, orgId)));
  if (!row) throw new ApiError("NOT_FOUND", { detail: "No CRM integration with this id in the org." });
  if (row.provider !== "kommo") throw new ApiError("CONFLICT", { detail: "The integration is not a Kommo integration." });
  if (row.disabledAt !== null) throw new ApiError("CONFLICT", { detail: "The integration is disabled." });
}

/**
 * Starts the OAuth consent for integration `integrationId` of the caller's org: stores a fresh state
 * for {@link OAUTH_STATE_TTL_SECONDS} s and returns Kommo's consent URL.
 * @throws ApiError 503 (OAuth not configured, or Redis unavailable), 404/409 (see `connectableIntegration`).
 */
export async function startKommoOAuth(services: Pick<Services, "db" | "redis" | "config">, binding: KommoOAuthState): Promise<string> {
  const oauth = kommoOAuthClient(services.config);
  await connectableIntegration(services, binding.orgId, binding.integrationId);
  const state = toBase64Url(crypto.getRandomValues(new Uint8Array(32)));
  await services.redis.set(oauthStateKey(state), JSON.stringify(binding), { ex: OAUTH_STATE_TTL_SECONDS }).catch((err: unknown) => {
    throw new ApiError("SERVICE_UNAVAILABLE", {
      detail: "Could not store the OAuth state (Redis unavailable).",
      headers: { "Retry-After": "5" },
      cause: err,
    });
  });
  return kommoConsentUrl(services.config, oauth.clientId, state);
}

/** The callback's query as Kommo sends it. */
export interface KommoOAuthCallback {
  code?: string | undefined;
  state?: string | undefined;
  referer?: string | undefined;
  client_id?: string | undefined;
  error?: string | undefined;
}

/**
 * Completes the OAuth consent (see the module comment): state, then referer, then the code exchange.
 * @returns the connected integration, its account domain and the access token's expiry (RFC 3339).
 * @throws ApiError 400 (unknown, used or expired state; a referer that is no Kommo account; a refusal
 *   or a foreign client id), 409 (the integration was disabled meanwhile), 502 (Kommo refused the
 *   code — its hint in `detail` — or failed), 503 (not configured, Redis down).
 */
export async function completeKommoOAuth(
  services: Pick<Services, "db" | "redis" | "config" | "logger">,
  query: KommoOAuthCallback,
): Promise<{ integrationId: string; accountDomain: string; expiresAt: string }> {
  const { config, db, logger } = services;
  const oauth = kommoOAuthClient(config);
  if (!query.state) throw new ApiError("BAD_REQUEST", { detail: "The callback has no state." });
  const stored = await services.redis.getdel<string>(oauthStateKey(query.state)).catch((err: unknown) => {
    throw new ApiError("SERVICE_UNAVAILABLE", {
      detail: "Could not read the OAuth state (Redis unavailable).",
      headers: { "Retry-After": "5" },
      cause: err,
    });
  });
  if (stored === null)
    throw new ApiError("BAD_REQUEST", { detail: "Unknown, expired or already used OAuth state; start the connection again." });
  const binding = JSON.parse(stored) as KommoOAuthState;
  if (query.error) throw new ApiError("BAD_REQUEST", { detail: `Kommo did not grant access: ${query.error.slice(0, 100)}.` });
  // The account domain is checked before anything is sent anywhere: it decides where the code goes.
  const domain = parseKommoAccountDomain(query.referer ?? "");
  if (!domain.ok) throw new ApiError("BAD_REQUEST", { detail: `The referer is not a Kommo account domain: ${domain.reason}.` });
  if (query.client_id !== undefined && query.client_id !== oauth.clientId) {
    throw new ApiError("BAD_REQUEST", { detail: "The callback is for another Kommo integration (client_id)." });
  }
  if (!query.code) throw new ApiError("BAD_REQUEST", { detail: "The callback has no code." });
  await connectableIntegration(services, binding.orgId, binding.integrationId);

  let tokens: KommoTokens;
  try {
    tokens = await createKommoClient({ account: domain, oauth, apiOrigin: config.KOMMO_API_ORIGIN }).exchangeAuthorizationCode(query.code);
  } catch (err) {
    if (!(err instanceof KommoApiError)) throw err;
    logger.info("kommo code exchange failed", { integrationId: binding.integrationId, account: domain.host, cause: err.message });
    throw new ApiError("BAD_GATEWAY", { detail: err.message, cause: err });
  }
  const expiresAt = new Date(tokens.expiresAt).toISOString();
  await db
    .update(crmIntegrations)
    .set({ accountDomain: domain.host, ...(await encryptedTokens(config, tokens)) })
    .where(and(eq(crmIntegrations.id, binding.integrationId), eq(crmIntegrations.orgId, binding.orgId)));
  await services.redis.del(integrationCacheKey(binding.integrationId)).catch(() => undefined);
  logger.info("kommo connected", {
    integrationId: binding.integrationId,
    orgId: binding.orgId,
    userId: binding.userId,
    account: domain.host,
  });
  return { integrationId: binding.integrationId, accountDomain: domain.host, expiresAt };
}

/** The token columns of `tokens`, encrypted with the current key. */
async function encryptedTokens(config: Pick<AppConfig, "ENCRYPTION_KEY">, tokens: KommoTokens) {
  return {
    accessTokenCiphertext: await encryptSecret(tokens.accessToken, config.ENCRYPTION_KEY),
    refreshTokenCiphertext: await encryptSecret(tokens.refreshToken, config.ENCRYPTION_KEY),
    accessTokenExpiresAt: new Date(tokens.expiresAt).toISOString(),
  };
}

/** A Kommo integration without OAuth tokens (never connected). */
export class KommoNotConnectedError extends Error {
  override readonly name = "KommoNotConnectedError";
}

const ephemeralCache = new Map<string, number>();

/**
 * Waits for a request slot of an account's Kommo bucket ({@link KOMMO_REQUEST_SPACING_MS}),
 * at most {@link THROTTLE_TIMEOUT_MS}.
 * @throws KommoRateLimitError when no slot came in time.
 */
export function kommoThrottle(redis: Redis): (accountHost: string) => Promise<void> {
  const limiter = new Ratelimit({
    redis,
    limiter: Ratelimit.tokenBucket(1, `${KOMMO_REQUEST_SPACING_MS} ms`, 1),
    prefix: "ratelimit:kommo-api",
    ephemeralCache,
    timeout: 1000,
    analytics: false,
  });
  return async (accountHost) => {
    const { success } = await limiter.blockUntilReady(accountHost, THROTTLE_TIMEOUT_MS);
    if (!success) {
      throw new KommoRateLimitError(
        `Kommo rate limit: no request slot for ${accountHost} within ${THROTTLE_TIMEOUT_MS / 1000} s (we keep to 7 requests/s per account)`,
        "throttle",
        1,
      );
    }
  };
}

type IntegrationTokensRow = {
  orgId: string;
  accountDomain: string | null;
  accessTokenCiphertext: string | null;
  refreshTokenCiphertext: string | null;
  accessTokenExpiresAt: string | null;
  disabledAt: string | null;
};

async function readTokensRow(services: Pick<Services, "db">, integrationId: string): Promise<IntegrationTokensRow> {
  const [row] = await services.db
    .select({
      orgId: crmIntegrations.orgId,
      provider: crmIntegrations.provider,
      accountDomain: crmIntegrations.accountDomain,
      accessTokenCiphertext: crmIntegrations.accessTokenCiphertext,
      refreshTokenCiphertext: crmIntegrations.refreshTokenCiphertext,
      accessTokenExpiresAt: crmIntegrations.accessTokenExpiresAt,
      disabledAt: crmIntegrations.disabledAt,
    })
    .from(crmIntegrations)
    .where(eq(crmIntegrations.id, integrationId));
  if (!row) throw new KommoNotConnectedError(`Kommo integration ${integrationId} does not exist`);
  if (row.provider !== "kommo") throw new KommoNotConnectedError(`CRM integration ${integrationId} is not a Kommo integration`);
  return row;
}

/** A connected Kommo integration: its account, client and token state. */
export interface KommoConnection {
  integrationId: string;
  orgId: string;
  account: KommoAccountDomain;
  client: KommoClient;
  /** The access token's expiry now (epoch ms; follows refreshes). */
  expiresAt(): number;
  /** Refreshes the tokens now (refresh_token grant), storing the new pair. */
  refresh(): Promise<KommoTokens>;
}

/**
 * The Kommo API of integration `integrationId`, with its tokens from the row (decrypted with
 * `ENCRYPTION_KEY`, then `ENCRYPTION_KEY_PREVIOUS`), refreshed on demand and stored.
 * @throws KommoNotConnectedError (no such Kommo integration, no tokens, no valid account domain),
 *   ApiError 503 when OAuth is not configured.
 */
export async function kommoConnection(
  services: Pick<Services, "db" | "redis" | "config" | "logger">,
  integrationId: string,
): Promise<KommoConnection> {
  const { config, db } = services;
  const oauth = kommoOAuthClient(config);
  const keys = encryptionKeys(config);
  const row = await readTokensRow(services, integrationId);
  if (!row.accessTokenCiphertext || !row.refreshTokenCiphertext) {
    throw new KommoNotConnectedError(`Kommo integration not connected (no OAuth tokens): ${integrationId}`);
  }
  const domain = parseKommoAccountDomain(row.accountDomain ?? "");
  if (!domain.ok) throw new KommoNotConnectedError(`Kommo integration ${integrationId} has no valid account domain: ${domain.reason}`);

  const decrypt = async (ciphertext: string) => (await decryptSecretWithKeys(ciphertext, keys)).plaintext;
  let state = {
    accessToken: await decrypt(row.accessTokenCiphertext),
    refreshCiphertext: row.refreshTokenCiphertext,
    expiresAt: ms(row.accessTokenExpiresAt),
  };
  let inFlight: Promise<KommoTokens> | undefined;

  /** Spends the stored refresh token; when another refresh won the race, adopts its pair. */
  const refreshOnce = async (): Promise<KommoTokens> => {
    const spent = state.refreshCiphertext;
    let tokens: KommoTokens;
    try {
      tokens = await client.refreshTokens(await decrypt(spent));
    } catch (err) {
      if (!(err instanceof KommoAuthError)) throw err;
      const current = await readTokensRow(services, integrationId);
      if (current.refreshTokenCiphertext && current.accessTokenCiphertext && current.refreshTokenCiphertext !== spent) {
        const adopted = {
          accessToken: await decrypt(current.accessTokenCiphertext),
          refreshToken: await decrypt(current.refreshTokenCiphertext),
          expiresAt: ms(current.accessTokenExpiresAt),
        };
        state = { accessToken: adopted.accessToken, refreshCiphertext: current.refreshTokenCiphertext, expiresAt: adopted.expiresAt };
        return adopted;
      }
      throw new KommoAuthError(`${err.message}; reconnect the Kommo integration (OAuth)`, err.status, err.request, { cause: err });
    }
    const columns = await encryptedTokens(config, tokens);
    // Stored at once and only over the pair just spent: a reconnection meanwhile is not overwritten.
    await db
      .update(crmIntegrations)
      .set(columns)
      .where(and(eq(crmIntegrations.id, integrationId), eq(crmIntegrations.refreshTokenCiphertext, spent)));
    state = { accessToken: tokens.accessToken, refreshCiphertext: columns.refreshTokenCiphertext, expiresAt: tokens.expiresAt };
    services.logger.info("kommo tokens refreshed", { integrationId, account: domain.host, expiresAt: columns.accessTokenExpiresAt });
    return tokens;
  };
  const refresh = () => {
    inFlight ??= refreshOnce().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };

  const client: KommoClient = createKommoClient({
    account: domain,
    oauth,
    apiOrigin: config.KOMMO_API_ORIGIN,
    throttle: kommoThrottle(services.redis),
    tokens: {
      accessToken: async () => {
        if (!(state.expiresAt - Date.now() > REFRESH_MARGIN_MS)) await refresh();
        return state.accessToken;
      },
      refresh: async (rejected) => {
        if (state.accessToken === rejected) await refresh();
        return state.accessToken;
      },
    },
  });
  return { integrationId, orgId: row.orgId, account: domain, client, expiresAt: () => state.expiresAt, refresh };
}

/** Unix seconds → ISO 8601; null for none. */
const fromUnix = (seconds: number | null | undefined) =>
  typeof seconds === "number" && seconds > 0 ? new Date(seconds * 1000).toISOString() : null;

/** A lead as Kommo answers it, as an update. */
export function leadUpdateOf(lead: KommoLead): LeadUpdate {
  const contacts = lead._embedded?.contacts ?? [];
  const main = contacts.find((c) => c.is_main) ?? contacts[0];
  return {
    entity: "lead",
    id: lead.id,
    name: lead.name ?? "",
    price: lead.price ?? null,
    statusId: lead.status_id ?? null,
    pipelineId: lead.pipeline_id ?? null,
    responsibleUserId: lead.responsible_user_id ?? null,
    contactId: main?.id ?? null,
    createdAt: fromUnix(lead.created_at),
    updatedAt: fromUnix(lead.updated_at) ?? new Date().toISOString(),
    closedAt: fromUnix(lead.closed_at),
    deleted: lead.is_deleted === true,
  };
}

/** A contact as Kommo answers it, as an update. */
export function contactUpdateOf(contact: KommoContact): ContactUpdate {
  return {
    entity: "contact",
    id: contact.id,
    name: contact.name ?? "",
    responsibleUserId: contact.responsible_user_id ?? null,
    createdAt: fromUnix(contact.created_at),
    updatedAt: fromUnix(contact.updated_at) ?? new Date().toISOString(),
    deleted: contact.is_deleted === true,
  };
}

/** The deletion of an entity Kommo no longer has (204), from what the webhook said of it. */
function deletionOf(event: KommoWebhookEvent): CrmEntityUpdate {
  const updatedAt = fromUnix(event.updatedAt) ?? new Date().toISOString();
  if (event.entity === "lead") {
    return {
      entity: "lead",
      id: event.id,
      name: event.name ?? "",
      price: event.price ?? null,
      statusId: event.statusId ?? null,
      pipelineId: event.pipelineId ?? null,
      responsibleUserId: event.responsibleUserId ?? null,
      contactId: null,
      createdAt: null,
      updatedAt,
      closedAt: null,
      deleted: true,
    };
  }
  return {
    entity: "contact",
    id: event.id,
    name: event.name ?? "",
    responsibleUserId: event.responsibleUserId ?? null,
    createdAt: null,
    updatedAt,
    deleted: true,
  };
}

/**
 * The leads and contacts a parsed Kommo webhook names, as Kommo says they are now: each is re-read
 * through the API (`GET /api/v4/leads/{id}?with=contacts`, `GET /api/v4/contacts/{id}`) before its
 * fields are trusted — a webhook is only a hint that something changed. An entity Kommo answers 204
 * for (deleted or absent) becomes a deletion stamped with the webhook's `last_modified` (or now).
 * Each (entity, id) is read once, in the order of `events`; companies are skipped (not stored).
 * @throws KommoNotConnectedError, KommoAuthError ("Kommo rejected the token (401): …"),
 *   KommoRateLimitError ("Kommo rate limit: …"), KommoUnavailableError — for the caller's retry.
 */
export async function kommoEntityUpdates(
  services: Pick<Services, "db" | "redis" | "config" | "logger">,
  integrationId: string,
  events: KommoWebhookEvent[],
): Promise<CrmEntityUpdate[]> {
  const wanted = new Map<string, KommoWebhookEvent>();
  for (const event of events) {
    if (event.entity === "company") continue;
    const key = `${event.entity}:${event.id}`;
    const seen = wanted.get(key);
    // The newest webhook time of an entity stamps its deletion.
    if (!seen || (event.updatedAt ?? 0) > (seen.updatedAt ?? 0)) wanted.set(key, event);
  }
  if (wanted.size === 0) return [];
  const { client } = await kommoConnection(services, integrationId);
  const updates: CrmEntityUpdate[] = [];
  for (const event of wanted.values()) {
    if (event.entity === "lead") {
      const lead = await client.getLead(event.id);
      updates.push(lead ? leadUpdateOf(lead) : deletionOf(event));
    } else {
      const contact = await client.getContact(event.id);
      updates.push(contact ? contactUpdateOf(contact) : deletionOf(event));
    }
  }
  return updates;
}
