/**
 * Builds Kommo CRM webhook bodies, as Kommo posts them: `application/x-www-form-urlencoded` with
 * PHP-style bracket keys, entities first and `account[…]` last:
 *
 * ```
 * leads[status][0][id]=4821&leads[status][0][name]=…&leads[status][0][status_id]=142
 *   &leads[status][0][old_status_id]=70000001&…&account[subdomain]=acme&account[id]=29000001
 *   &account[_links][self]=https://acme.kommo.com
 * ```
 *
 * The description is the JSON reading of that body ({@link KommoWebhookPayload}); nested values
 * (`custom_fields`, `tags`) are flattened to `…[custom_fields][0][values][0][value]=…`. Unless
 * `fillDefaults` is false, the fields Kommo always sends are filled in when the description leaves
 * them out: for leads `name`, `status_id`, `price`, `responsible_user_id`, `last_modified`,
 * `modified_user_id`, `created_user_id`, `date_create`, `pipeline_id`, `account_id`; for contacts
 * `name`, `responsible_user_id`, `date_create`, `last_modified`, `created_user_id`,
 * `modified_user_id`, `type=contact`, `account_id`; and `account[_links][self]`.
 *
 * @see https://developers.kommo.com/docs/webhooks-general
 */
import type { KommoWebhookContact, KommoWebhookLead, KommoWebhookPayload } from "../../src/integrations/kommo/types";

/** `Content-Type` of a Kommo webhook request. */
export const KOMMO_WEBHOOK_CONTENT_TYPE = "application/x-www-form-urlencoded";

/** Options of {@link buildKommoWebhookBody}. */
export interface KommoWebhookBodyOptions {
  /** Fill the fields Kommo always sends (see the module comment); default true. */
  fillDefaults?: boolean;
  /** Time for `last_modified`/`date_create` defaults, Unix seconds; default now. */
  now?: number;
}

/** Appends `value` under `key`, flattening objects and arrays to bracket keys. */
function flatten(params: URLSearchParams, key: string, value: unknown): void {
  if (value === undefined) return;
  if (value === null) {
    params.append(key, "");
  } else if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) flatten(params, `${key}[${index}]`, item);
  } else if (typeof value === "object") {
    for (const [name, item] of Object.entries(value)) flatten(params, `${key}[${name}]`, item);
  } else if (typeof value === "boolean") {
    params.append(key, value ? "1" : "0");
  } else {
    params.append(key, String(value));
  }
}

function leadDefaults(lead: KommoWebhookLead, accountId: number | string | undefined, now: number): KommoWebhookLead {
  return {
    id: lead.id,
    name: `Lead #${lead.id}`,
    status_id: 70_000_001,
    price: 0,
    responsible_user_id: 8_000_001,
    last_modified: now,
    modified_user_id: 8_000_001,
    created_user_id: 8_000_001,
    date_create: now,
    pipeline_id: 7_000_001,
    ...(accountId === undefined ? {} : { account_id: accountId }),
  };
}

function contactDefaults(contact: KommoWebhookContact, accountId: number | string | undefined, now: number): KommoWebhookContact {
  return {
    id: contact.id,
    name: `Contact #${contact.id}`,
    responsible_user_id: 8_000_001,
    date_create: now,
    last_modified: now,
    created_user_id: 8_000_001,
    modified_user_id: 8_000_001,
    type: "contact",
    ...(accountId === undefined ? {} : { account_id: accountId }),
  };
}

/**
 * The form body of a Kommo webhook for `payload`; post it with
 * `Content-Type: application/x-www-form-urlencoded` ({@link KOMMO_WEBHOOK_CONTENT_TYPE}).
 *
 * @example
 * buildKommoWebhookBody({
 *   leads: { status: [{ id: 4821, status_id: 142, old_status_id: 70000001 }] },
 *   account: { subdomain: "acme", id: 29000001 },
 * });
 */
export function buildKommoWebhookBody(payload: KommoWebhookPayload, options: KommoWebhookBodyOptions = {}): string {
  const fill = options.fillDefaults ?? true;
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const accountId = payload.account.id;
  const params = new URLSearchParams();
  for (const [action, leads] of Object.entries(payload.leads ?? {})) {
    (leads ?? []).forEach((lead, index) => {
      flatten(params, `leads[${action}][${index}]`, fill ? { ...leadDefaults(lead, accountId, now), ...lead } : lead);
    });
  }
  for (const [action, contacts] of Object.entries(payload.contacts ?? {})) {
    (contacts ?? []).forEach((contact, index) => {
      flatten(params, `contacts[${action}][${index}]`, fill ? { ...contactDefaults(contact, accountId, now), ...contact } : contact);
    });
  }
  const links = payload.account._links ?? (fill ? { self: `https://${payload.account.subdomain}.kommo.com` } : undefined);
  flatten(params, "account", { ...payload.account, ...(links === undefined ? {} : { _links: links }) });
  return params.toString();
}
