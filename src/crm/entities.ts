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
