/**
 * What a CRM event does to our copy of the CRM: upserts (or deletions) of leads and contacts,
 * keyed by (integration, the CRM's id) and ordered by the CRM's `updated_at`. Both event schemes
 * (Standard Webhooks JSON, Kommo forms re-read through the Kommo API) are turned into these, and
 * `crmEntityWrites` turns them into batch statements committed with the job's `succeeded` mark.
 *
 * Rule: an update whose `updatedAt` is older than the stored `crm_updated_at` changes nothing
 * (`ON CONFLICT … DO UPDATE … WHERE stored.crm_updated_at <= excluded.crm_updated_at`), so
 * reordered deliveries converge on the newest state, and applying one update twice is a no-op.
 */
import { z } from "@hono/zod-openapi";
import { sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { Database } from "../core/db/client";
import { crmContacts, crmLeads } from "../core/db/schema";

/** A lead as the CRM says it is now (Kommo `GET /api/v4/leads/{id}`, or a Standard Webhooks `data`). */
export interface LeadUpdate {
  entity: "lead";
  /** The CRM's lead id. */
  id: number;
  name: string;
  price: number | null;
  statusId: number | null;
  pipelineId: number | null;
  responsibleUserId: number | null;
  contactId: number | null;
  /** ISO 8601 times. */
  createdAt: string | null;
  updatedAt: string;
  closedAt: string | null;
  /** True for a deletion (the row is kept, stamped `deleted_at`). */
  deleted: boolean;
}

/** A contact as the CRM says it is now. */
export interface ContactUpdate {
  entity: "contact";
  id: number;
  name: string;
  responsibleUserId: number | null;
  createdAt: string | null;
  updatedAt: string;
  deleted: boolean;
}

export type CrmEntityUpdate = LeadUpdate | ContactUpdate;

/** A time as CRMs send it: Unix seconds (Kommo) or an ISO 8601 string with an offset → ISO 8601 UTC. */
const crmTime = z
  .union([
    z.number().int().min(0).max(253_402_300_799),
    z.iso.datetime({ offset: true }).refine((text) => !Number.isNaN(Date.parse(text)), "Not a real time"),
  ])
  .transform((value) => new Date(typeof value === "number" ? value * 1000 : Date.parse(value)).toISOString());

/** A CRM id: a positive safe integer (Kommo ids are). */
const crmId = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
/** An optional integer field that may be absent or null; stored as null then. */
const optionalInteger = z.number().int().min(-Number.MAX_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER).nullish();
const optionalId = crmId.nullish();

/**
 * `data` of a Standard Webhooks `lead.*` event: a lead with Kommo's field names (snake_case, as
 * `GET /api/v4/leads/{id}` answers). Only `id` and `updated_at` are required; the main contact is
 * `contact_id`, or the `is_main` contact of `_embedded.contacts`. Unknown fields are ignored.
 * @see https://developers.kommo.com/reference/getting-a-lead-by-its-id
 */
export const leadData = z.looseObject({
  id: crmId,
  name: z.string().max(1000).nullish(),
  price: optionalInteger,
  status_id: optionalId,
  pipeline_id: optionalId,
  responsible_user_id: optionalId,
  contact_id: optionalId,
  created_at: crmTime.nullish(),
  updated_at: crmTime,
  closed_at: crmTime.nullish(),
  _embedded: z.looseObject({ contacts: z.array(z.looseObject({ id: crmId, is_main: z.boolean().optional() })).optional() }).optional(),
});

/**
 * `data` of a Standard Webhooks `contact.*` event: a contact with Kommo's field names; the name is
 * `name`, else `first_name last_name`. Only `id` and `updated_at` are required.
 * @see https://developers.kommo.com/reference/get-contact
 */
export const contactData = z.looseObject({
  id: crmId,
  name: z.string().max(1000).nullish(),
  first_name: z.string().max(1000).nullish(),
  last_name: z.string().max(1000).nullish(),
  responsible_user_id: optionalId,
  created_at: crmTime.nullish(),
  updated_at: crmTime,
});

/** The Standard Webhooks event types that change leads and contacts; any other type has no effect. */
export const crmEntityEventTypes = [
  "lead.created",
  "lead.updated",
  "lead.deleted",
  "contact.created",
  "contact.updated",
  "contact.deleted",
] as const;
export type CrmEntityEventType = (typeof crmEntityEventTypes)[number];

/** True when `type` is one of {@link crmEntityEventTypes}. */
export const isCrmEntityEventType = (type: string): type is CrmEntityEventType => (crmEntityEventTypes as readonly string[]).includes(type);

/** `data` failed validation: the event can never be applied as it is (a poison message). */
export class CrmDataError extends Error {
  override readonly name = "CrmDataError";
}

/** Zod issues in one line: `updated_at: Invalid input; price: Expected number, received string`. */
function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length ? issue.path.join(".") : "data"}: ${issue.message}`)
    .join("; ");
}

/**
 * The update a Standard Webhooks event of an entity type makes (`lead.updated` with its `data` → a
 * {@link LeadUpdate}; `*.deleted` → the same with `deleted: true`).
 * @throws CrmDataError naming every failing field (at most five) when `data` is not a valid entity.
 */
export function standardWebhookUpdate(type: CrmEntityEventType, data: unknown): CrmEntityUpdate {
  const [entity, action] = type.split(".") as ["lead" | "contact", "created" | "updated" | "deleted"];
  const deleted = action === "deleted";
  if (entity === "lead") {
    const parsed = leadData.safeParse(data);
    if (!parsed.success) throw new CrmDataError(`invalid ${type} data: ${describeIssues(parsed.error)}`);
    const lead = parsed.data;
    const contacts = lead._embedded?.contacts ?? [];
    return {
      entity: "lead",
      id: lead.id,
      name: lead.name ?? "",
      price: lead.price ?? null,
      statusId: lead.status_id ?? null,
      pipelineId: lead.pipeline_id ?? null,
      responsibleUserId: lead.responsible_user_id ?? null,
      contactId: lead.contact_id ?? (contacts.find((c) => c.is_main) ?? contacts[0])?.id ?? null,
      createdAt: lead.created_at ?? null,
      updatedAt: lead.updated_at,
      closedAt: lead.closed_at ?? null,
      deleted,
    };
  }
  const parsed = contactData.safeParse(data);
  if (!parsed.success) throw new CrmDataError(`invalid ${type} data: ${describeIssues(parsed.error)}`);
  const contact = parsed.data;
  const fullName = [contact.first_name, contact.last_name].filter(Boolean).join(" ");
  return {
    entity: "contact",
    id: contact.id,
    name: contact.name ?? fullName,
    responsibleUserId: contact.responsible_user_id ?? null,
    createdAt: contact.created_at ?? null,
    updatedAt: contact.updated_at,
    deleted,
  };
}

/** Rows per upsert statement: 13 columns × 500 stays far under Postgres's 65,535 bind parameters. */
const ROWS_PER_STATEMENT = 500;

/**
 * One update per entity: the newest by `updatedAt` (on a tie the later one given), since one
 * `INSERT … ON CONFLICT DO UPDATE` may not touch a row twice.
 */
export function newestPerEntity(updates: readonly CrmEntityUpdate[]): CrmEntityUpdate[] {
  const byKey = new Map<string, CrmEntityUpdate>();
  for (const update of updates) {
    const key = `${update.entity}:${update.id}`;
    const known = byKey.get(key);
    if (!known || Date.parse(known.updatedAt) <= Date.parse(update.updatedAt)) byKey.set(key, update);
  }
  return [...byKey.values()];
}

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += ROWS_PER_STATEMENT) out.push(items.slice(i, i + ROWS_PER_STATEMENT));
  return out;
}

/**
 * The batch statements that apply `updates` to the integration's leads and contacts: upserts keyed
 * by (integration, the CRM's id) that change a stored row only when the update is not older than it
 * (`WHERE stored.crm_updated_at <= excluded.crm_updated_at`). A deletion keeps the row's fields and
 * stamps `deleted_at` (the deletion's `updatedAt`); for an entity never seen it leaves a tombstone,
 * so an older update arriving after it changes nothing. A newer non-deleting update clears
 * `deleted_at` (the CRM restored it). Several updates of one entity: the newest ({@link newestPerEntity}).
 * Empty when there is nothing to write.
 */
export function crmEntityWrites(
  db: Database,
  target: { orgId: string; integrationId: string },
  updates: readonly CrmEntityUpdate[],
): BatchItem<"pg">[] {
  const { orgId, integrationId } = target;
  const newest = newestPerEntity(updates);
  const leads = newest.filter((u): u is LeadUpdate => u.entity === "lead");
  const contacts = newest.filter((u): u is ContactUpdate => u.entity === "contact");
  const notOlder = (table: typeof crmLeads | typeof crmContacts) => sql`${table.crmUpdatedAt} <= excluded.crm_updated_at`;
  const statements: BatchItem<"pg">[] = [];

  for (const deleted of [false, true]) {
    const leadRows = leads.filter((u) => u.deleted === deleted);
    for (const chunk of chunks(leadRows)) {
      statements.push(
        db
          .insert(crmLeads)
          .values(
            chunk.map((u) => ({
              integrationId,
              leadId: u.id,
              orgId,
              name: u.name,
              price: u.price,
              statusId: u.statusId,
              pipelineId: u.pipelineId,
              responsibleUserId: u.responsibleUserId,
              contactId: u.contactId,
              crmCreatedAt: u.createdAt,
              crmUpdatedAt: u.updatedAt,
              closedAt: u.closedAt,
              deletedAt: deleted ? u.updatedAt : null,
            })),
          )
          .onConflictDoUpdate({
            target: [crmLeads.integrationId, crmLeads.leadId],
            set: deleted
              ? { deletedAt: sql`excluded.deleted_at`, crmUpdatedAt: sql`excluded.crm_updated_at`, updatedAt: sql`now()` }
              : {
                  name: sql`excluded.name`,
                  price: sql`excluded.price`,
                  statusId: sql`excluded.status_id`,
                  pipelineId: sql`excluded.pipeline_id`,
                  responsibleUserId: sql`excluded.responsible_user_id`,
                  contactId: sql`excluded.contact_id`,
                  crmCreatedAt: sql`coalesce(excluded.crm_created_at, ${crmLeads.crmCreatedAt})`,
                  crmUpdatedAt: sql`excluded.crm_updated_at`,
                  closedAt: sql`excluded.closed_at`,
                  deletedAt: null,
                  updatedAt: sql`now()`,
                },
            setWhere: notOlder(crmLeads),
          }),
      );
    }
    const contactRows = contacts.filter((u) => u.deleted === deleted);
    for (const chunk of chunks(contactRows)) {
      statements.push(
        db
          .insert(crmContacts)
          .values(
            chunk.map((u) => ({
              integrationId,
              contactId: u.id,
              orgId,
              name: u.name,
              responsibleUserId: u.responsibleUserId,
              crmCreatedAt: u.createdAt,
              crmUpdatedAt: u.updatedAt,
              deletedAt: deleted ? u.updatedAt : null,
            })),
          )
          .onConflictDoUpdate({
            target: [crmContacts.integrationId, crmContacts.contactId],
            set: deleted
              ? { deletedAt: sql`excluded.deleted_at`, crmUpdatedAt: sql`excluded.crm_updated_at`, updatedAt: sql`now()` }
              : {
                  name: sql`excluded.name`,
                  responsibleUserId: sql`excluded.responsible_user_id`,
                  crmCreatedAt: sql`coalesce(excluded.crm_created_at, ${crmContacts.crmCreatedAt})`,
                  crmUpdatedAt: sql`excluded.crm_updated_at`,
                  deletedAt: null,
                  updatedAt: sql`now()`,
                },
            setWhere: notOlder(crmContacts),
          }),
      );
    }
  }
  return statements;
}
