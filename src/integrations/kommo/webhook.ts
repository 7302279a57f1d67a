/**
 * Reads a Kommo (amoCRM) CRM webhook: an `application/x-www-form-urlencoded` body with PHP-style
 * bracket keys, one batch of events per request, e.g.
 *
 * ```
 * leads[status][0][id]=4821&leads[status][0][status_id]=142&leads[status][0][old_status_id]=70000001
 *   &leads[status][0][pipeline_id]=7000001&contacts[update][0][id]=991&contacts[update][0][type]=contact
 *   &account[subdomain]=acme&account[id]=29000001&account[_links][self]=https://acme.kommo.com
 * ```
 *
 * into typed events `{ entity, action, id, …, accountSubdomain }`, in the order of the body.
 * - `leads[add|update|status|delete]` → `entity: "lead"`; `status` events carry `statusId`,
 *   `oldStatusId`, `pipelineId`, `oldPipelineId`.
 * - `contacts[add|update|delete]` → `entity: "contact"`, or `"company"` when `type=company`
 *   (Kommo sends companies under `contacts[…]`).
 * - Other entities and actions (`leads[restore]`, `leads[responsible]`, `task[…]`, `message[…]`,
 *   `unsorted[…]`, …) are skipped and listed in `ignored` (e.g. `"leads[restore]"`), as are nested
 *   details (`custom_fields`, `tags`).
 * - Every value arrives as text: ids must be positive integers, other numbers are read when they are
 *   integers and left out otherwise (Kommo sends `price=` empty for no price).
 *
 * Refused (`ok: false`, with a reason for logs): no valid `account[subdomain]`, an event without a
 * valid `id`, a key given twice, more than 1,000 events. A pure function: the caller has already
 * checked that the request came from Kommo.
 *
 * @see https://developers.kommo.com/docs/webhooks-general
 */

/** An event of a lead. */
export interface KommoLeadWebhookEvent {
  entity: "lead";
  action: "add" | "update" | "status" | "delete";
  id: number;
  accountSubdomain: string;
  accountId?: number;
  name?: string;
  /** Stage after the event. */
  statusId?: number;
  /** Stage before a `status` event. */
  oldStatusId?: number;
  pipelineId?: number;
  oldPipelineId?: number;
  price?: number;
  responsibleUserId?: number;
  /** `last_modified`, Unix seconds. */
  updatedAt?: number;
}

/** An event of a contact, or of a company (which Kommo sends as a contact with `type=company`). */
export interface KommoContactWebhookEvent {
  entity: "contact" | "company";
  action: "add" | "update" | "delete";
  id: number;
  accountSubdomain: string;
  accountId?: number;
  name?: string;
  responsibleUserId?: number;
  /** `last_modified`, Unix seconds. */
  updatedAt?: number;
}

export type KommoWebhookEvent = KommoLeadWebhookEvent | KommoContactWebhookEvent;

export type KommoWebhookParseResult =
  | {
      ok: true;
      accountSubdomain: string;
      accountId?: number;
      events: KommoWebhookEvent[];
      /** `entity[action]` groups present in the body but not read, e.g. `["leads[restore]", "task[add]"]`. */
      ignored: string[];
    }
  | { ok: false; reason: string };

const ENTITY_FIELD = /^(leads|contacts)\[([a-z_]+)\]\[(\d{1,4})\]\[([a-z_]+)\](.*)$/;
const ACCOUNT_FIELD = /^account\[([a-z_]+)\]$/;
const GROUP = /^([a-z_]+)(\[[a-z_]+\])?/i;
const SUBDOMAIN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const MAX_EVENTS = 1000;

const LEAD_ACTIONS = new Set(["add", "update", "status", "delete"]);
const CONTACT_ACTIONS = new Set(["add", "update", "delete"]);

/** A positive integer written in decimal, or `undefined`. */
function positiveId(text: string | undefined): number | undefined {
  if (text === undefined || !/^[1-9]\d{0,15}$/.test(text)) return undefined;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : undefined;
}

/** An integer written in decimal (Kommo's numbers in webhooks are integers), or `undefined`. */
function integer(text: string | undefined): number | undefined {
  if (text === undefined || !/^-?\d{1,16}$/.test(text)) return undefined;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : undefined;
}

/** Copies the defined entries of `fields` onto `target`. */
function withDefined<T extends object>(target: T, fields: Record<string, string | number | undefined>): T {
  for (const [key, value] of Object.entries(fields)) if (value !== undefined) Object.assign(target, { [key]: value });
  return target;
}

/**
 * Parses a Kommo webhook body; see the module comment.
 * @param form the decoded body (`new URLSearchParams(await request.text())`).
 */
export function parseKommoWebhook(form: URLSearchParams): KommoWebhookParseResult {
  const seen = new Set<string>();
  const account: Record<string, string> = {};
  /** `leads|status|0` → scalar fields of that entry, in order of first appearance. */
  const entries = new Map<string, { entity: string; action: string; index: string; fields: Record<string, string> }>();
  const ignored = new Set<string>();

  for (const [key, value] of form) {
    if (seen.has(key)) return { ok: false, reason: `key ${key} given twice` };
    seen.add(key);

    const accountField = ACCOUNT_FIELD.exec(key);
    if (accountField?.[1] !== undefined) {
      account[accountField[1]] = value;
      continue;
    }
    const field = ENTITY_FIELD.exec(key);
    const [, entity, action, index, name, rest] = field ?? [];
    if (entity === undefined || action === undefined || index === undefined || name === undefined) {
      const group = GROUP.exec(key)?.[0];
      if (group !== undefined && !key.startsWith("account[")) ignored.add(group);
      continue;
    }
    const known = entity === "leads" ? LEAD_ACTIONS.has(action) : CONTACT_ACTIONS.has(action);
    if (!known) {
      ignored.add(`${entity}[${action}]`);
      continue;
    }
    const entryKey = `${entity}|${action}|${index}`;
    let entry = entries.get(entryKey);
    if (entry === undefined) {
      if (entries.size >= MAX_EVENTS) return { ok: false, reason: `more than ${MAX_EVENTS} events` };
      entry = { entity, action, index, fields: {} };
      entries.set(entryKey, entry);
    }
    if (rest === "") entry.fields[name] = value;
  }

  const accountSubdomain = account.subdomain?.toLowerCase();
  if (accountSubdomain === undefined || !SUBDOMAIN.test(accountSubdomain)) {
    return { ok: false, reason: "account[subdomain] is missing or not a subdomain" };
  }
  const accountId = positiveId(account.id);
  const base = withDefined({ accountSubdomain }, { accountId });

  const events: KommoWebhookEvent[] = [];
  for (const { entity, action, index, fields } of entries.values()) {
    const id = positiveId(fields.id);
    if (id === undefined) return { ok: false, reason: `${entity}[${action}][${index}][id] is missing or not an id` };
    const common = {
      name: fields.name,
      responsibleUserId: integer(fields.responsible_user_id),
      updatedAt: integer(fields.last_modified),
    };
    if (entity === "leads") {
      const event: KommoLeadWebhookEvent = { entity: "lead", action: action as KommoLeadWebhookEvent["action"], id, ...base };
      events.push(
        withDefined(event, {
          ...common,
          statusId: integer(fields.status_id),
          oldStatusId: integer(fields.old_status_id),
          pipelineId: integer(fields.pipeline_id),
          oldPipelineId: integer(fields.old_pipeline_id),
          price: integer(fields.price),
        }),
      );
    } else {
      const event: KommoContactWebhookEvent = {
        entity: fields.type === "company" ? "company" : "contact",
        action: action as KommoContactWebhookEvent["action"],
        id,
        ...base,
      };
      events.push(withDefined(event, common));
    }
  }
  return { ok: true, ...base, events, ignored: [...ignored] };
}
