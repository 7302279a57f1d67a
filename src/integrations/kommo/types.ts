/**
 * Wire types of Kommo (amoCRM): OAuth 2.0 token exchange, the API v4 lead and contact entities
 * (HAL JSON), error bodies, and the form-encoded CRM webhook, field for field as Kommo sends them.
 *
 * Pure types, no runtime values: the production client imports them, and so does the local double
 * under `dev/kommo/` (dev may import `src/`, never the reverse).
 *
 * Conventions:
 * - times are Unix timestamps in seconds (`created_at`, `updated_at`, webhook `last_modified`);
 * - money (`price`) is an integer in the account's currency;
 * - successful entity bodies are `application/hal+json`, errors `application/problem+json`;
 * - an API host is the account's own domain: `https://{subdomain}.kommo.com` (or `.amocrm.ru`,
 *   `.amocrm.com`), never `www.kommo.com`.
 *
 * @see https://developers.kommo.com/reference/get-token (OAuth token exchange)
 * @see https://developers.kommo.com/reference/getting-a-lead-by-its-id
 * @see https://developers.kommo.com/reference/get-contact
 * @see https://developers.kommo.com/docs/webhooks-general
 * @see https://developers.kommo.com/docs/limitations (7 requests per second)
 */

/** Body of `POST /oauth2/access_token` exchanging an authorization code (JSON or form). */
export interface KommoAuthorizationCodeRequest {
  client_id: string;
  client_secret: string;
  grant_type: "authorization_code";
  /** The code from the redirect; valid 20 minutes, once. */
  code: string;
  /** The redirect URI registered with the integration. */
  redirect_uri: string;
}

/** Body of `POST /oauth2/access_token` spending a refresh token. */
export interface KommoRefreshTokenRequest {
  client_id: string;
  client_secret: string;
  grant_type: "refresh_token";
  /** Single use: the answer carries the next one. */
  refresh_token: string;
  redirect_uri: string;
}

export type KommoTokenRequest = KommoAuthorizationCodeRequest | KommoRefreshTokenRequest;

/** Answer of `POST /oauth2/access_token`. */
export interface KommoTokenResponse {
  token_type: "Bearer";
  /** Lifetime of `access_token`, seconds (Kommo: 86,400). */
  expires_in: number;
  /** Issue time on Kommo's server, Unix seconds (present on current accounts). */
  server_time?: number;
  access_token: string;
  /** Replaces the refresh token just spent; valid about 3 months if unused. */
  refresh_token: string;
}

/**
 * An OAuth error (`type` = `https://developers.amocrm.ru/v3/errors/OAuthProblemJson`); `hint`
 * says what was wrong, e.g. `Authorization code has expired`, `Token has been revoked`.
 */
export interface KommoOAuthProblem {
  hint?: string;
  title: string;
  type: string;
  status: number;
  detail: string;
}

/** An API error (`application/problem+json`), e.g. 401 `{title: "Unauthorized", type: "https://httpstatus.es/401", …}`. */
export interface KommoProblem {
  title: string;
  type: string;
  status: number;
  detail: string;
}

/** HAL link. */
export interface KommoLink {
  href: string;
}

/** `_links` of an entity: at least `self`. */
export interface KommoLinks {
  self: KommoLink;
  [rel: string]: KommoLink;
}

/** One value of a custom field; `enum_id`/`enum_code` for list fields. */
export interface KommoCustomFieldValueItem {
  value: string | number | boolean;
  enum_id?: number;
  enum_code?: string | null;
}

/** A custom field with its values, as in `custom_fields_values`. */
export interface KommoCustomFieldValues {
  field_id: number;
  field_name: string;
  /** `PHONE`, `EMAIL`, … for system fields; `null` otherwise. */
  field_code: string | null;
  /** `text`, `numeric`, `checkbox`, `select`, `multitext`, `date`, … */
  field_type: string;
  values: KommoCustomFieldValueItem[];
}

export interface KommoTag {
  id: number;
  name: string;
  color: string | null;
}

/** A linked entity inside `_embedded`: its id and a link to it. */
export interface KommoEmbeddedRef {
  id: number;
  _links: KommoLinks;
}

/** A lead (deal), `GET /api/v4/leads/{id}`. */
export interface KommoLead {
  id: number;
  name: string;
  price: number;
  responsible_user_id: number;
  group_id: number;
  /** Stage; 142 = won, 143 = lost in every pipeline. */
  status_id: number;
  pipeline_id: number;
  loss_reason_id: number | null;
  created_by: number;
  updated_by: number;
  created_at: number;
  updated_at: number;
  closed_at: number | null;
  closest_task_at: number | null;
  is_deleted: boolean;
  custom_fields_values: KommoCustomFieldValues[] | null;
  score: number | null;
  account_id: number;
  /** Time spent on the deal, seconds. */
  labor_cost: number | null;
  _links: KommoLinks;
  _embedded: {
    tags: KommoTag[];
    companies: KommoEmbeddedRef[];
    /** Only with `?with=contacts`. */
    contacts?: Array<KommoEmbeddedRef & { is_main: boolean }>;
  };
}

/** A contact, `GET /api/v4/contacts/{id}`. */
export interface KommoContact {
  id: number;
  name: string;
  first_name: string;
  last_name: string;
  responsible_user_id: number;
  group_id: number;
  created_by: number;
  updated_by: number;
  created_at: number;
  updated_at: number;
  closest_task_at: number | null;
  is_deleted: boolean;
  is_unsorted: boolean;
  custom_fields_values: KommoCustomFieldValues[] | null;
  account_id: number;
  _links: KommoLinks;
  _embedded: {
    tags: KommoTag[];
    companies: KommoEmbeddedRef[];
    /** Only with `?with=leads`. */
    leads?: KommoEmbeddedRef[];
  };
}

/** Events of a Kommo CRM webhook: the second key of `leads[<action>][n][field]`. */
export type KommoWebhookAction = "add" | "update" | "delete" | "restore" | "status" | "responsible";

/**
 * A lead as a webhook carries it (`leads[status][0][…]`): every value arrives as text in the form;
 * this is its JSON reading. Webhooks use the legacy field names (`last_modified`, `date_create`,
 * `modified_user_id`), not the API v4 ones.
 */
export interface KommoWebhookLead {
  id: number | string;
  name?: string;
  status_id?: number | string;
  /** Only in `status` events: the stage before the move. */
  old_status_id?: number | string;
  pipeline_id?: number | string;
  old_pipeline_id?: number | string;
  price?: number | string;
  responsible_user_id?: number | string;
  /** Unix seconds. */
  last_modified?: number | string;
  modified_user_id?: number | string;
  created_user_id?: number | string;
  /** Unix seconds. */
  date_create?: number | string;
  account_id?: number | string;
  [field: string]: unknown;
}

/** A contact or company as a webhook carries it; companies arrive under `contacts[…]` with `type=company`. */
export interface KommoWebhookContact {
  id: number | string;
  name?: string;
  /** `contact` or `company`. */
  type?: "contact" | "company";
  responsible_user_id?: number | string;
  last_modified?: number | string;
  modified_user_id?: number | string;
  created_user_id?: number | string;
  date_create?: number | string;
  account_id?: number | string;
  [field: string]: unknown;
}

/**
 * The JSON reading of a webhook body (`application/x-www-form-urlencoded` with PHP-style bracket
 * keys: `leads[status][0][id]=…&account[subdomain]=…`).
 */
export interface KommoWebhookPayload {
  leads?: Partial<Record<KommoWebhookAction, KommoWebhookLead[]>>;
  contacts?: Partial<Record<Exclude<KommoWebhookAction, "status">, KommoWebhookContact[]>>;
  account: {
    subdomain: string;
    id?: number | string;
    /** `{ self: "https://{subdomain}.kommo.com" }`. */
    _links?: { self?: string };
  };
}
