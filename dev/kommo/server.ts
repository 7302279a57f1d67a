/**
 * Local double of the Kommo (amoCRM) API for one or more accounts: the OAuth 2.0 token endpoint,
 * leads and contacts in API v4's HAL JSON, Kommo's error bodies and its rate limit. The account of
 * an API request is the one its access token was issued for (the real API is per account domain,
 * `https://{subdomain}.kommo.com`; the double serves every account on one origin).
 *
 * API (counted in `/__stats`):
 * - `POST /oauth2/access_token`, body JSON or form: `{client_id, client_secret, grant_type, code,
 *   redirect_uri}` (`authorization_code`) or `{…, grant_type: "refresh_token", refresh_token}` →
 *   200 `{token_type: "Bearer", expires_in, server_time, access_token, refresh_token}`.
 *   An authorization code is valid 20 minutes and once; a refresh token once (the answer carries the
 *   next), 3 months; an access token 24 hours (`expires_in` 86,400) and stays valid after a refresh
 *   until it expires. Errors are Kommo's OAuth problem (`type`
 *   `https://developers.amocrm.ru/v3/errors/OAuthProblemJson`, `hint` saying what was wrong, as
 *   amoCRM answers; it runs league/oauth2-server): 400 for a bad request, grant type or code
 *   (`Authorization code has expired`, `… has been revoked`, `Cannot decrypt the authorization
 *   code`, `Invalid redirect URI`), 401 for a bad client (`Client authentication failed`) or refresh
 *   token (`Token has been revoked`, `Token has expired`, `Cannot decrypt the refresh token`).
 * - `GET /api/v4/leads/{id}` (`?with=contacts`), `GET /api/v4/contacts/{id}` (`?with=leads`),
 *   `GET /api/v4/account`: `Authorization: Bearer <access token>`, `Content-Type:
 *   application/hal+json`. An entity that does not exist → 204 without a body (as Kommo).
 *   `_links.self.href` is the account's real URL (`https://{subdomain}.kommo.com/api/v4/leads/{id}`).
 * - Errors are `application/problem+json` `{title, type: "https://httpstatus.es/<status>", status,
 *   detail}`: 401 missing, unknown or expired access token; 404 unknown path; 405 wrong method (with
 *   `Allow`); 429 over the rate limit.
 * - Rate limit: at most 7 requests per second per account (Kommo's documented limit), counted over
 *   the last 1,000 ms of accepted API requests; the rest get 429. Kommo documents no `Retry-After`
 *   and the double sends none. `rateLimitPerSecond: null` turns it off.
 *
 * Order of checks: path → method → access token (401) → rate limit (429) → entity (204/200).
 *
 * Test and control endpoints (no token, not counted, JSON):
 * - `GET /__stats` → `{"requests": N, "byPath": {"/api/v4/leads/{id}": N}}`, `POST /__stats/reset`;
 * - `POST /__control/integrations` `{client_id, client_secret, redirect_uri}` → 201;
 * - `POST /__control/accounts` `{subdomain, id?}` → 201 `{subdomain, id}`;
 * - `POST /__control/authorization-codes` `{client_id, subdomain, state?}` → 201 `{code, referer,
 *   redirect_url, expires_in}`: what Kommo's consent page would redirect the user's browser to
 *   (`redirect_uri?code=…&state=…&referer={subdomain}.kommo.com&client_id=…`);
 * - `POST /__control/long-lived-tokens` `{subdomain, expires_in?}` → 201 `{access_token}` (Kommo's
 *   long-lived token of a private integration);
 * - `POST /__control/accounts/{subdomain}/leads` `{leads: [...]}`, `…/contacts` `{contacts: [...]}`
 *   → 201 with the stored entities: creates or merges by `id` (a new id is assigned when absent);
 *   lead seeds may link contacts (`contacts: [{id, is_main?}]`), tags (`tags: [{name}]`) and
 *   companies (`companies: [id]`); `DELETE …/leads/{id}`, `…/contacts/{id}` remove one;
 * - `POST /__control/expire-access-tokens` `{access_token?}` → 200 `{expired: N}` (one, or all);
 * - `POST /__control/rate-limit` `{perSecond: number | null}` → 200.
 *
 * @see https://developers.kommo.com/reference/get-token
 * @see https://developers.kommo.com/docs/oauth-20
 * @see https://developers.kommo.com/reference/getting-a-lead-by-its-id
 * @see https://developers.kommo.com/reference/get-contact
 * @see https://developers.kommo.com/docs/limitations
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { z } from "zod";
import type {
  KommoContact,
  KommoLead,
  KommoLinks,
  KommoOAuthProblem,
  KommoProblem,
  KommoTag,
  KommoTokenResponse,
} from "../../src/integrations/kommo/types";
import { listenOnLoopback, runAsScript } from "../serve";

/** An OAuth integration (Kommo: Settings → Integrations → Keys and scopes). */
export interface KommoIntegration {
  clientId: string;
  clientSecret: string;
  redirectUri: string;
}

/** Options of {@link startKommoDouble}. */
export interface KommoDoubleOptions {
  /** Port to listen on; default 0 (a free port). */
  port?: number;
  /** Interface to listen on; default `127.0.0.1`. */
  host?: string;
  integrations?: KommoIntegration[];
  /** Accounts to create; `id` defaults to a generated one. */
  accounts?: Array<{ subdomain: string; id?: number }>;
  /** API requests per second per account; default 7 (Kommo); `null` or 0: no limit. */
  rateLimitPerSecond?: number | null;
  /** Access token lifetime, seconds; default 86,400. */
  accessTokenTtlSeconds?: number;
  /** Refresh token lifetime, seconds; default 90 days. */
  refreshTokenTtlSeconds?: number;
  /** Authorization code lifetime, seconds; default 1,200 (20 minutes). */
  authorizationCodeTtlSeconds?: number;
}

/** Request counts since start or the last reset; `byPath` keys are route templates. */
export interface KommoRequestStats {
  requests: number;
  byPath: Record<string, number>;
}

/** A lead to create or merge; absent fields keep their stored (or default) value. */
export type KommoLeadSeed = Partial<Omit<KommoLead, "_links" | "_embedded">> & {
  tags?: Array<{ id?: number; name: string; color?: string | null }>;
  contacts?: Array<{ id: number; is_main?: boolean }>;
  companies?: number[];
};

/** A contact to create or merge. */
export type KommoContactSeed = Partial<Omit<KommoContact, "_links" | "_embedded">> & {
  tags?: Array<{ id?: number; name: string; color?: string | null }>;
  companies?: number[];
};

/** A running double. */
export interface KommoDouble {
  /** Base URL, e.g. `http://127.0.0.1:40123`; the API is under `/api/v4/…`, OAuth under `/oauth2/…`. */
  url: string;
  stats(): KommoRequestStats;
  resetStats(): void;
  addIntegration(integration: KommoIntegration): void;
  /** Creates an account (or returns the existing one). */
  addAccount(subdomain: string, id?: number): { subdomain: string; id: number };
  /** What the consent page would redirect to: a fresh code for `clientId` on `subdomain`'s account. */
  issueAuthorizationCode(input: { clientId: string; subdomain: string; state?: string }): {
    code: string;
    referer: string;
    redirectUrl: string;
  };
  /** A long-lived access token for the account (private integrations); default lifetime 1 year. */
  issueLongLivedToken(subdomain: string, ttlSeconds?: number): string;
  upsertLeads(subdomain: string, leads: KommoLeadSeed[]): KommoLead[];
  upsertContacts(subdomain: string, contacts: KommoContactSeed[]): KommoContact[];
  deleteLead(subdomain: string, id: number): boolean;
  deleteContact(subdomain: string, id: number): boolean;
  /** Expires one access token, or all; returns how many. */
  expireAccessTokens(accessToken?: string): number;
  /** Sets (or with `null` removes) the per-account limit; clears the windows. */
  setRateLimit(perSecond: number | null): void;
  close(): Promise<void>;
}

interface StoredLead {
  fields: Omit<KommoLead, "_links" | "_embedded">;
  tags: KommoTag[];
  contacts: Array<{ id: number; is_main: boolean }>;
  companies: number[];
}

interface StoredContact {
  fields: Omit<KommoContact, "_links" | "_embedded">;
  tags: KommoTag[];
  companies: number[];
}

interface Account {
  id: number;
  subdomain: string;
  leads: Map<number, StoredLead>;
  contacts: Map<number, StoredContact>;
  /** Times (ms) of the API requests accepted in the last second. */
  window: number[];
}

interface AuthorizationCode {
  clientId: string;
  subdomain: string;
  redirectUri: string;
  expiresAt: number;
  used: boolean;
}

interface IssuedToken {
  clientId: string;
  subdomain: string;
  expiresAt: number;
  revoked: boolean;
}

const HAL_JSON = "application/hal+json";
const PROBLEM_JSON = "application/problem+json";
const OAUTH_PROBLEM_TYPE = "https://developers.amocrm.ru/v3/errors/OAuthProblemJson";
/** The responsible user of generated entities, and the first stage of the main pipeline. */
const DEFAULT_USER_ID = 8_000_001;
const DEFAULT_PIPELINE_ID = 7_000_001;
const DEFAULT_STATUS_ID = 70_000_001;
const WON_STATUS_ID = 142;
const LOST_STATUS_ID = 143;

const TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  404: "Not Found",
  405: "Method Not Allowed",
  429: "Too Many Requests",
  500: "Internal Server Error",
};

class KommoHttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: KommoProblem | KommoOAuthProblem,
    readonly headers: Record<string, string> = {},
  ) {
    super(body.detail);
  }
}

const problem = (status: number, detail: string, headers: Record<string, string> = {}) =>
  new KommoHttpError(status, { title: TITLES[status] ?? "Error", type: `https://httpstatus.es/${status}`, status, detail }, headers);

/** Kommo's OAuth error body (as amoCRM answers, with league/oauth2-server's hints). */
const oauthProblem = (status: 400 | 401, hint: string) =>
  new KommoHttpError(status, {
    hint,
    title: "Некорректный запрос",
    type: OAUTH_PROBLEM_TYPE,
    status,
    detail: "В запросе отсутствует ряд параметров или параметры невалидны",
  });

const nowSeconds = () => Math.floor(Date.now() / 1000);
const base64url = (value: string | Buffer) => Buffer.from(value).toString("base64url");

/** An opaque value in the shape of Kommo's encrypted codes and refresh tokens (`def50200…`). */
const opaqueToken = () => `def50200${randomBytes(96).toString("hex")}`;

/** A JWT-shaped access token, like Kommo's (not signed with anything a client could check). */
function accessTokenFor(clientId: string, account: Account, expiresAt: number): string {
  const header = base64url(JSON.stringify({ typ: "JWT", alg: "RS256", jti: randomBytes(20).toString("hex") }));
  const claims = base64url(
    JSON.stringify({
      aud: clientId,
      jti: randomBytes(20).toString("hex"),
      iat: nowSeconds(),
      nbf: nowSeconds(),
      exp: Math.floor(expiresAt / 1000),
      sub: String(DEFAULT_USER_ID),
      account_id: account.id,
      base_domain: "kommo.com",
      scopes: ["crm", "notifications"],
    }),
  );
  return `${header}.${claims}.${randomBytes(256).toString("base64url")}`;
}

/** The string fields of a token request; anything else is dropped. */
function tokenRequestFields(raw: unknown): Record<string, string> {
  const fields: Record<string, string> = {};
  if (typeof raw !== "object" || raw === null) return fields;
  for (const [key, value] of Object.entries(raw)) if (typeof value === "string" && value !== "") fields[key] = value;
  return fields;
}

const tagSeed = z.object({ id: z.number().int().positive().optional(), name: z.string().min(1), color: z.string().nullable().optional() });
const customFields = z
  .array(
    z.object({
      field_id: z.number().int(),
      field_name: z.string(),
      field_code: z.string().nullable(),
      field_type: z.string(),
      values: z.array(
        z.object({
          value: z.union([z.string(), z.number(), z.boolean()]),
          enum_id: z.number().int().optional(),
          enum_code: z.string().nullable().optional(),
        }),
      ),
    }),
  )
  .nullable()
  .optional();

const leadSeedSchema = z
  .object({
    id: z.number().int().positive().optional(),
    name: z.string().optional(),
    price: z.number().int().optional(),
    status_id: z.number().int().positive().optional(),
    pipeline_id: z.number().int().positive().optional(),
    responsible_user_id: z.number().int().positive().optional(),
    created_at: z.number().int().optional(),
    updated_at: z.number().int().optional(),
    closed_at: z.number().int().nullable().optional(),
    group_id: z.number().int().optional(),
    loss_reason_id: z.number().int().nullable().optional(),
    created_by: z.number().int().optional(),
    updated_by: z.number().int().optional(),
    closest_task_at: z.number().int().nullable().optional(),
    score: z.number().int().nullable().optional(),
    labor_cost: z.number().int().nullable().optional(),
    custom_fields_values: customFields,
    tags: z.array(tagSeed).optional(),
    contacts: z.array(z.object({ id: z.number().int().positive(), is_main: z.boolean().optional() })).optional(),
    companies: z.array(z.number().int().positive()).optional(),
  })
  .strict();

const contactSeedSchema = z
  .object({
    id: z.number().int().positive().optional(),
    name: z.string().optional(),
    first_name: z.string().optional(),
    last_name: z.string().optional(),
    responsible_user_id: z.number().int().positive().optional(),
    created_at: z.number().int().optional(),
    updated_at: z.number().int().optional(),
    group_id: z.number().int().optional(),
    created_by: z.number().int().optional(),
    updated_by: z.number().int().optional(),
    closest_task_at: z.number().int().nullable().optional(),
    is_unsorted: z.boolean().optional(),
    custom_fields_values: customFields,
    tags: z.array(tagSeed).optional(),
    companies: z.array(z.number().int().positive()).optional(),
  })
  .strict();

const controlSchemas = {
  integration: z.object({ client_id: z.string().min(1), client_secret: z.string().min(1), redirect_uri: z.string().url() }),
  account: z.object({ subdomain: z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/), id: z.number().int().positive().optional() }),
  code: z.object({ client_id: z.string().min(1), subdomain: z.string().min(1), state: z.string().optional() }),
  longLived: z.object({ subdomain: z.string().min(1), expires_in: z.number().int().positive().optional() }),
  leads: z.object({ leads: z.array(leadSeedSchema) }),
  contacts: z.object({ contacts: z.array(contactSeedSchema) }),
  expire: z.object({ access_token: z.string().optional() }),
  rateLimit: z.object({ perSecond: z.number().int().min(0).nullable() }),
};

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function parseJson(text: string): unknown {
  try {
    return text === "" ? {} : (JSON.parse(text) as unknown);
  } catch {
    throw problem(400, "body is not JSON");
  }
}

function parseControl<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    throw problem(400, parsed.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; "));
  }
  return parsed.data;
}

function link(href: string): KommoLinks {
  return { self: { href } };
}

/**
 * Starts the double on `host:port` (default `127.0.0.1:0`).
 * @see the module comment for the protocol.
 */
export async function startKommoDouble(options: KommoDoubleOptions = {}): Promise<KommoDouble> {
  const accessTtlMs = (options.accessTokenTtlSeconds ?? 86_400) * 1000;
  const refreshTtlMs = (options.refreshTokenTtlSeconds ?? 90 * 86_400) * 1000;
  const codeTtlMs = (options.authorizationCodeTtlSeconds ?? 1_200) * 1000;
  let rateLimit = options.rateLimitPerSecond === undefined ? 7 : options.rateLimitPerSecond;

  const integrations = new Map<string, KommoIntegration>();
  const accounts = new Map<string, Account>();
  const codes = new Map<string, AuthorizationCode>();
  const accessTokens = new Map<string, IssuedToken>();
  const refreshTokens = new Map<string, IssuedToken>();
  let stats: KommoRequestStats = { requests: 0, byPath: {} };
  let nextAccountId = 29_000_001;
  let nextEntityId = 4_800_001;
  let nextTagId = 90_001;

  const addIntegration = (integration: KommoIntegration) => {
    integrations.set(integration.clientId, integration);
  };

  const addAccount = (subdomain: string, id?: number): Account => {
    let account = accounts.get(subdomain);
    if (account === undefined) {
      account = { id: id ?? nextAccountId++, subdomain, leads: new Map(), contacts: new Map(), window: [] };
      accounts.set(subdomain, account);
    }
    return account;
  };

  const accountOf = (subdomain: string): Account => {
    const account = accounts.get(subdomain);
    if (account === undefined) throw problem(404, `no account ${subdomain}`);
    return account;
  };

  for (const integration of options.integrations ?? []) addIntegration(integration);
  for (const { subdomain, id } of options.accounts ?? []) addAccount(subdomain, id);

  const apiBase = (account: Account) => `https://${account.subdomain}.kommo.com`;

  const tags = (seeds: KommoLeadSeed["tags"] | undefined, current: KommoTag[]): KommoTag[] =>
    seeds === undefined ? current : seeds.map((tag) => ({ id: tag.id ?? nextTagId++, name: tag.name, color: tag.color ?? null }));

  const upsertLeads = (subdomain: string, seeds: KommoLeadSeed[]): KommoLead[] => {
    const account = accountOf(subdomain);
    const now = nowSeconds();
    return seeds.map((seed) => {
      const { tags: tagSeeds, contacts, companies, ...fields } = seed;
      const id = fields.id ?? nextEntityId++;
      nextEntityId = Math.max(nextEntityId, id + 1);
      const existing = account.leads.get(id);
      const base: StoredLead["fields"] = existing?.fields ?? {
        id,
        name: `Lead #${id}`,
        price: 0,
        responsible_user_id: DEFAULT_USER_ID,
        group_id: 0,
        status_id: DEFAULT_STATUS_ID,
        pipeline_id: DEFAULT_PIPELINE_ID,
        loss_reason_id: null,
        created_by: DEFAULT_USER_ID,
        updated_by: DEFAULT_USER_ID,
        created_at: now,
        updated_at: now,
        closed_at: null,
        closest_task_at: null,
        is_deleted: false,
        custom_fields_values: null,
        score: null,
        account_id: account.id,
        labor_cost: null,
      };
      const merged = {
        ...base,
        ...fields,
        id,
        account_id: account.id,
        updated_at: fields.updated_at ?? (existing ? now : base.updated_at),
      };
      const closed = merged.status_id === WON_STATUS_ID || merged.status_id === LOST_STATUS_ID;
      if (closed && merged.closed_at === null && fields.closed_at === undefined) merged.closed_at = merged.updated_at;
      const stored: StoredLead = {
        fields: merged,
        tags: tags(tagSeeds, existing?.tags ?? []),
        contacts:
          contacts === undefined ? (existing?.contacts ?? []) : contacts.map((c, i) => ({ id: c.id, is_main: c.is_main ?? i === 0 })),
        companies: companies ?? existing?.companies ?? [],
      };
      account.leads.set(id, stored);
      return renderLead(account, stored, new Set(["contacts"]));
    });
  };

  const upsertContacts = (subdomain: string, seeds: KommoContactSeed[]): KommoContact[] => {
    const account = accountOf(subdomain);
    const now = nowSeconds();
    return seeds.map((seed) => {
      const { tags: tagSeeds, companies, ...fields } = seed;
      const id = fields.id ?? nextEntityId++;
      nextEntityId = Math.max(nextEntityId, id + 1);
      const existing = account.contacts.get(id);
      const base: StoredContact["fields"] = existing?.fields ?? {
        id,
        name: "",
        first_name: "",
        last_name: "",
        responsible_user_id: DEFAULT_USER_ID,
        group_id: 0,
        created_by: DEFAULT_USER_ID,
        updated_by: DEFAULT_USER_ID,
        created_at: now,
        updated_at: now,
        closest_task_at: null,
        is_deleted: false,
        is_unsorted: false,
        custom_fields_values: null,
        account_id: account.id,
      };
      const merged = {
        ...base,
        ...fields,
        id,
        account_id: account.id,
        updated_at: fields.updated_at ?? (existing ? now : base.updated_at),
      };
      if (fields.name === undefined && (fields.first_name !== undefined || fields.last_name !== undefined)) {
        merged.name = `${merged.first_name} ${merged.last_name}`.trim();
      }
      if (merged.name === "") merged.name = `Contact #${id}`;
      const stored: StoredContact = {
        fields: merged,
        tags: tags(tagSeeds, existing?.tags ?? []),
        companies: companies ?? existing?.companies ?? [],
      };
      account.contacts.set(id, stored);
      return renderContact(account, stored, new Set(["leads"]));
    });
  };

  const renderLead = (account: Account, lead: StoredLead, withs: Set<string>): KommoLead => {
    const base = apiBase(account);
    const companyRefs = lead.companies.map((id) => ({ id, _links: link(`${base}/api/v4/companies/${id}`) }));
    return {
      ...lead.fields,
      _links: link(`${base}/api/v4/leads/${lead.fields.id}`),
      _embedded: {
        tags: lead.tags,
        companies: companyRefs,
        ...(withs.has("contacts")
          ? { contacts: lead.contacts.map((c) => ({ id: c.id, is_main: c.is_main, _links: link(`${base}/api/v4/contacts/${c.id}`) })) }
          : {}),
      },
    };
  };

  const renderContact = (account: Account, contact: StoredContact, withs: Set<string>): KommoContact => {
    const base = apiBase(account);
    const id = contact.fields.id;
    const leads = [...account.leads.values()].filter((lead) => lead.contacts.some((c) => c.id === id)).map((lead) => lead.fields.id);
    return {
      ...contact.fields,
      _links: link(`${base}/api/v4/contacts/${id}`),
      _embedded: {
        tags: contact.tags,
        companies: contact.companies.map((companyId) => ({ id: companyId, _links: link(`${base}/api/v4/companies/${companyId}`) })),
        ...(withs.has("leads") ? { leads: leads.map((leadId) => ({ id: leadId, _links: link(`${base}/api/v4/leads/${leadId}`) })) } : {}),
      },
    };
  };

  const issueAuthorizationCode = (input: { clientId: string; subdomain: string; state?: string }) => {
    const integration = integrations.get(input.clientId);
    if (integration === undefined) throw problem(404, `no integration ${input.clientId}`);
    accountOf(input.subdomain);
    const code = opaqueToken();
    codes.set(code, {
      clientId: input.clientId,
      subdomain: input.subdomain,
      redirectUri: integration.redirectUri,
      expiresAt: Date.now() + codeTtlMs,
      used: false,
    });
    const referer = `${input.subdomain}.kommo.com`;
    const redirect = new URL(integration.redirectUri);
    redirect.searchParams.set("code", code);
    if (input.state !== undefined) redirect.searchParams.set("state", input.state);
    redirect.searchParams.set("referer", referer);
    redirect.searchParams.set("client_id", input.clientId);
    return { code, referer, redirectUrl: redirect.toString() };
  };

  const issueTokens = (clientId: string, account: Account): KommoTokenResponse => {
    const now = Date.now();
    const access = accessTokenFor(clientId, account, now + accessTtlMs);
    const refresh = opaqueToken();
    accessTokens.set(access, { clientId, subdomain: account.subdomain, expiresAt: now + accessTtlMs, revoked: false });
    refreshTokens.set(refresh, { clientId, subdomain: account.subdomain, expiresAt: now + refreshTtlMs, revoked: false });
    return {
      token_type: "Bearer",
      expires_in: Math.round(accessTtlMs / 1000),
      server_time: Math.floor(now / 1000),
      access_token: access,
      refresh_token: refresh,
    };
  };

  const issueLongLivedToken = (subdomain: string, ttlSeconds = 365 * 86_400): string => {
    const account = accountOf(subdomain);
    const expiresAt = Date.now() + ttlSeconds * 1000;
    const token = accessTokenFor("long-lived", account, expiresAt);
    accessTokens.set(token, { clientId: "long-lived", subdomain, expiresAt, revoked: false });
    return token;
  };

  const expireAccessTokens = (accessToken?: string): number => {
    let expired = 0;
    for (const [token, issued] of accessTokens) {
      if (accessToken !== undefined && token !== accessToken) continue;
      if (issued.expiresAt > Date.now()) expired++;
      issued.expiresAt = 0;
    }
    return expired;
  };

  /** `POST /oauth2/access_token`. */
  const exchangeToken = async (req: IncomingMessage): Promise<KommoTokenResponse> => {
    const text = await readBody(req);
    const type = req.headers["content-type"] ?? "";
    const raw = type.includes("application/x-www-form-urlencoded") ? Object.fromEntries(new URLSearchParams(text)) : parseJson(text);
    const body = tokenRequestFields(raw);
    for (const name of ["client_id", "client_secret", "grant_type"]) {
      if (body[name] === undefined) throw oauthProblem(400, `Check the \`${name}\` parameter`);
    }
    if (body.grant_type !== "authorization_code" && body.grant_type !== "refresh_token") {
      throw oauthProblem(400, "The authorization grant type is not supported by the authorization server.");
    }
    const integration = integrations.get(body.client_id ?? "");
    if (integration === undefined || integration.clientSecret !== body.client_secret) {
      throw oauthProblem(401, "Client authentication failed");
    }
    if (body.grant_type === "authorization_code") {
      if (!body.code) throw oauthProblem(400, "Check the `code` parameter");
      const code = codes.get(body.code);
      if (code === undefined) throw oauthProblem(400, "Cannot decrypt the authorization code");
      if (code.clientId !== integration.clientId) throw oauthProblem(400, "Authorization code was not issued to this client");
      if (code.used) throw oauthProblem(400, "Authorization code has been revoked");
      if (Date.now() > code.expiresAt) throw oauthProblem(400, "Authorization code has expired");
      if (body.redirect_uri !== code.redirectUri) throw oauthProblem(400, "Invalid redirect URI");
      code.used = true;
      return issueTokens(integration.clientId, accountOf(code.subdomain));
    }
    if (!body.refresh_token) throw oauthProblem(400, "Check the `refresh_token` parameter");
    const refresh = refreshTokens.get(body.refresh_token);
    if (refresh === undefined) throw oauthProblem(401, "Cannot decrypt the refresh token");
    if (refresh.clientId !== integration.clientId) throw oauthProblem(401, "Token is not linked to client");
    if (Date.now() > refresh.expiresAt) throw oauthProblem(401, "Token has expired");
    if (refresh.revoked) throw oauthProblem(401, "Token has been revoked");
    refresh.revoked = true;
    return issueTokens(integration.clientId, accountOf(refresh.subdomain));
  };

  /** The account of a valid bearer access token, or 401. */
  const authenticate = (req: IncomingMessage): Account => {
    const header = req.headers.authorization ?? "";
    const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
    if (match?.[1] === undefined) throw problem(401, "Authorization header with a Bearer access token is required");
    const issued = accessTokens.get(match[1]);
    if (issued === undefined || issued.revoked) throw problem(401, "Invalid user name or password");
    if (Date.now() >= issued.expiresAt) throw problem(401, "Access token has expired");
    return accountOf(issued.subdomain);
  };

  const applyRateLimit = (account: Account): void => {
    if (!rateLimit) return;
    const now = Date.now();
    account.window = account.window.filter((at) => at > now - 1000);
    if (account.window.length >= rateLimit) throw problem(429, `Too many requests: more than ${rateLimit} per second`);
    account.window.push(now);
  };

  const send = (res: ServerResponse, status: number, body: unknown, type = "application/json", headers: Record<string, string> = {}) => {
    if (status === 204) {
      res.writeHead(204, headers);
      res.end();
      return;
    }
    res.writeHead(status, { "Content-Type": type, ...headers });
    res.end(JSON.stringify(body));
  };

  /** Route template and captured id of an API path, or `undefined`. */
  const route = (path: string): { template: string; id?: number } | undefined => {
    if (path === "/oauth2/access_token" || path === "/api/v4/account") return { template: path };
    const entity = /^\/api\/v4\/(leads|contacts)\/(\d{1,15})$/.exec(path);
    if (entity?.[1] !== undefined) return { template: `/api/v4/${entity[1]}/{id}`, id: Number(entity[2]) };
    return undefined;
  };

  const serveApi = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const found = route(url.pathname);
    const key = found?.template ?? url.pathname;
    stats.requests++;
    stats.byPath[key] = (stats.byPath[key] ?? 0) + 1;
    if (found === undefined) throw problem(404, `no route ${url.pathname}`);
    const method = found.template === "/oauth2/access_token" ? "POST" : "GET";
    if (req.method !== method) throw problem(405, `${req.method} ${url.pathname}`, { Allow: method });

    if (found.template === "/oauth2/access_token") return send(res, 200, await exchangeToken(req));

    const account = authenticate(req);
    applyRateLimit(account);
    const withs = new Set((url.searchParams.get("with") ?? "").split(",").filter(Boolean));
    if (found.template === "/api/v4/account") {
      return send(
        res,
        200,
        {
          id: account.id,
          name: account.subdomain,
          subdomain: account.subdomain,
          current_user_id: DEFAULT_USER_ID,
          country: "RU",
          currency: "RUB",
          currency_symbol: "₽",
          is_unsorted_on: true,
          is_loss_reason_enabled: true,
          is_technical_account: false,
          _links: link(`${apiBase(account)}/api/v4/account`),
        },
        HAL_JSON,
      );
    }
    const id = found.id ?? 0;
    if (found.template === "/api/v4/leads/{id}") {
      const lead = account.leads.get(id);
      return lead === undefined ? send(res, 204, undefined) : send(res, 200, renderLead(account, lead, withs), HAL_JSON);
    }
    const contact = account.contacts.get(id);
    return contact === undefined ? send(res, 204, undefined) : send(res, 200, renderContact(account, contact, withs), HAL_JSON);
  };

  const serveControl = async (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> => {
    const request = `${req.method} ${path}`;
    if (request === "GET /__stats") return send(res, 200, stats);
    if (request === "POST /__stats/reset") {
      stats = { requests: 0, byPath: {} };
      return send(res, 200, stats);
    }
    const body = req.method === "POST" ? parseJson(await readBody(req)) : {};
    if (request === "POST /__control/integrations") {
      const input = parseControl(controlSchemas.integration, body);
      addIntegration({ clientId: input.client_id, clientSecret: input.client_secret, redirectUri: input.redirect_uri });
      return send(res, 201, { client_id: input.client_id });
    }
    if (request === "POST /__control/accounts") {
      const input = parseControl(controlSchemas.account, body);
      const account = addAccount(input.subdomain, input.id);
      return send(res, 201, { subdomain: account.subdomain, id: account.id });
    }
    if (request === "POST /__control/authorization-codes") {
      const input = parseControl(controlSchemas.code, body);
      const issued = issueAuthorizationCode({
        clientId: input.client_id,
        subdomain: input.subdomain,
        ...(input.state === undefined ? {} : { state: input.state }),
      });
      return send(res, 201, { code: issued.code, referer: issued.referer, redirect_url: issued.redirectUrl, expires_in: codeTtlMs / 1000 });
    }
    if (request === "POST /__control/long-lived-tokens") {
      const input = parseControl(controlSchemas.longLived, body);
      return send(res, 201, { access_token: issueLongLivedToken(input.subdomain, input.expires_in) });
    }
    if (request === "POST /__control/expire-access-tokens") {
      const input = parseControl(controlSchemas.expire, body);
      return send(res, 200, { expired: expireAccessTokens(input.access_token) });
    }
    if (request === "POST /__control/rate-limit") {
      const input = parseControl(controlSchemas.rateLimit, body);
      setRateLimit(input.perSecond);
      return send(res, 200, { perSecond: rateLimit });
    }
    const entities = /^\/__control\/accounts\/([a-z0-9-]+)\/(leads|contacts)(?:\/(\d{1,15}))?$/.exec(path);
    if (entities?.[1] !== undefined) {
      const [, subdomain, kind, id] = entities as unknown as [string, string, "leads" | "contacts", string | undefined];
      if (req.method === "POST" && id === undefined) {
        if (kind === "leads") return send(res, 201, { leads: upsertLeads(subdomain, parseControl(controlSchemas.leads, body).leads) });
        return send(res, 201, { contacts: upsertContacts(subdomain, parseControl(controlSchemas.contacts, body).contacts) });
      }
      if (req.method === "DELETE" && id !== undefined) {
        const deleted = kind === "leads" ? accountOf(subdomain).leads.delete(Number(id)) : accountOf(subdomain).contacts.delete(Number(id));
        return send(res, deleted ? 200 : 404, { deleted });
      }
    }
    throw problem(404, `no control route ${request}`);
  };

  const setRateLimit = (perSecond: number | null) => {
    rateLimit = perSecond;
    for (const account of accounts.values()) account.window = [];
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (url.pathname === "/__stats" || url.pathname.startsWith("/__stats/") || url.pathname.startsWith("/__control/")) {
      return serveControl(req, res, url.pathname);
    }
    return serveApi(req, res, url);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      const httpError = error instanceof KommoHttpError ? error : problem(500, error instanceof Error ? error.message : String(error));
      if (res.headersSent) {
        res.destroy();
        return;
      }
      send(res, httpError.status, httpError.body, PROBLEM_JSON, httpError.headers);
    });
  });
  const { url } = await listenOnLoopback(server, options.port, options.host);

  let closing: Promise<void> | undefined;
  return {
    url,
    stats: () => ({ requests: stats.requests, byPath: { ...stats.byPath } }),
    resetStats: () => {
      stats = { requests: 0, byPath: {} };
    },
    addIntegration,
    addAccount: (subdomain, id) => {
      const account = addAccount(subdomain, id);
      return { subdomain: account.subdomain, id: account.id };
    },
    issueAuthorizationCode,
    issueLongLivedToken,
    upsertLeads,
    upsertContacts,
    deleteLead: (subdomain, id) => accountOf(subdomain).leads.delete(id),
    deleteContact: (subdomain, id) => accountOf(subdomain).contacts.delete(id),
    expireAccessTokens,
    setRateLimit,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/**
 * `npx tsx dev/kommo/server.ts`: runs the double until SIGINT/SIGTERM, with one account and one
 * integration, and prints a long-lived token and a fresh authorization code.
 * Env: `KOMMO_PORT` (default 8084), `KOMMO_SUBDOMAIN` (default `dev`), `KOMMO_CLIENT_ID`,
 * `KOMMO_CLIENT_SECRET`, `KOMMO_REDIRECT_URI`.
 */
async function main(): Promise<void> {
  const subdomain = process.env.KOMMO_SUBDOMAIN || "dev";
  const clientId = process.env.KOMMO_CLIENT_ID || "dev-kommo-client";
  const double = await startKommoDouble({
    port: Number(process.env.KOMMO_PORT ?? 8084),
    accounts: [{ subdomain }],
    integrations: [
      {
        clientId,
        clientSecret: process.env.KOMMO_CLIENT_SECRET || "dev-kommo-secret",
        redirectUri: process.env.KOMMO_REDIRECT_URI || "http://127.0.0.1:8787/api/v1/integrations/kommo/callback",
      },
    ],
  });
  const code = double.issueAuthorizationCode({ clientId, subdomain });
  process.stdout.write(
    `kommo double: ${double.url} (account ${subdomain})\n` +
      `  long-lived token: ${double.issueLongLivedToken(subdomain)}\n` +
      `  consent redirect: ${code.redirectUrl}\n`,
  );
  const stop = () => void double.close().then(() => process.exit(0));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

runAsScript(import.meta.url, main);
