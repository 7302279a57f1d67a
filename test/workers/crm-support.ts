/**
 * Support of the CRM tests: integrations, received events and their `crm-event` jobs written
 * straight to the database (as the webhook ingest would), signed deliveries to `/jobs/crm-event`,
 * publishing through the QStash emulator, and reads of the leads and contacts tables.
 */
import { and, eq, sql } from "drizzle-orm";
import { encryptSecret } from "../../src/core/crypto";
import { type CrmProvider, crmContacts, crmEvents, crmIntegrations, crmLeads, type JobStatus, jobs } from "../../src/core/db/schema";
import { createQueue } from "../../src/core/queue";
import { insertJob, publishRequest } from "../../src/jobs/ledger";
import { api, config, db, testEnv } from "./helpers";
import { publicJobUrl, signQStash } from "./sync-support";

/** Creates a CRM integration of `orgId` (its webhook secret encrypted) and returns its id. */
export async function createCrmIntegration(orgId: string, provider: CrmProvider = "standard-webhooks"): Promise<string> {
  const id = crypto.randomUUID();
  const secretCiphertext = await encryptSecret(`whsec_${btoa(crypto.randomUUID())}`, config().ENCRYPTION_KEY);
  await db()
    .insert(crmIntegrations)
    .values({ id, orgId, provider, name: `CRM ${id.slice(0, 8)}`, secretCiphertext });
  return id;
}

/** Posts to a control endpoint of the Kommo double (`KOMMO_API_ORIGIN`). */
export async function kommoControl<T>(path: string, body: unknown): Promise<T> {
  const res = await fetch(`${testEnv.KOMMO_API_ORIGIN}${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`Kommo double refused ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/**
 * A Kommo integration of `orgId` connected to a fresh account of the Kommo double: a long-lived
 * access token valid for a day (so no refresh happens) stored encrypted, as the OAuth callback would.
 */
export async function createConnectedKommoIntegration(orgId: string): Promise<{ integrationId: string; subdomain: string }> {
  const subdomain = `crm-${crypto.randomUUID().slice(0, 8)}`;
  await kommoControl("/__control/accounts", { subdomain });
  const { access_token } = await kommoControl<{ access_token: string }>("/__control/long-lived-tokens", { subdomain, expires_in: 86_400 });
  const integrationId = await createCrmIntegration(orgId, "kommo");
  const key = config().ENCRYPTION_KEY;
  await db()
    .update(crmIntegrations)
    .set({
      accountDomain: `${subdomain}.kommo.com`,
      accessTokenCiphertext: await encryptSecret(access_token, key),
      refreshTokenCiphertext: await encryptSecret("unused-refresh-token", key),
      accessTokenExpiresAt: new Date(Date.now() + 86_400_000).toISOString(),
    })
    .where(eq(crmIntegrations.id, integrationId));
  return { integrationId, subdomain };
}

/** A received event to store: its scheme, type and payload (Standard Webhooks `{ type, data }` by default). */
export interface TestCrmEvent {
  scheme?: string;
  type: string;
  payload?: unknown;
  /** Default: `{ type, data }`. */
  data?: unknown;
  /** The job's status (default `queued`), for read tests. */
  jobStatus?: JobStatus;
  lastError?: string;
  /** `received_at`, default now. */
  receivedAt?: string;
}

/**
 * Stores a received event and its `crm-event` job (payload `{ eventId }`) in one batch, as the
 * ingest does, without publishing it. @returns the event row id and the job id.
 */
export async function insertCrmEvent(
  orgId: string,
  integrationId: string,
  event: TestCrmEvent,
): Promise<{ eventId: string; jobId: string }> {
  const database = db();
  const eventId = crypto.randomUUID();
  const jobId = crypto.randomUUID();
  const payload = event.payload ?? { type: event.type, timestamp: new Date().toISOString(), data: event.data ?? {} };
  await database.batch([
    insertJob(database, { id: jobId, kind: "crm-event", orgId, payload: { eventId } }),
    database.insert(crmEvents).values({
      id: eventId,
      orgId,
      integrationId,
      eventId: `msg_${crypto.randomUUID()}`,
      scheme: event.scheme ?? "standard-webhooks",
      type: event.type,
      payload,
      jobId,
      ...(event.receivedAt ? { receivedAt: event.receivedAt } : {}),
    }),
    ...(event.jobStatus || event.lastError
      ? [
          database
            .update(jobs)
            .set({ status: event.jobStatus ?? "queued", lastError: event.lastError ?? null })
            .where(eq(jobs.id, jobId)),
        ]
      : []),
  ]);
  return { eventId, jobId };
}

/** Posts a signed QStash delivery of job `jobId` to `/jobs/crm-event` (checked against the contract). */
export async function deliverCrmJob(jobId: string): Promise<Response> {
  const body = JSON.stringify({ jobId });
  const signature = await signQStash(body, publicJobUrl("/jobs/crm-event"));
  return api("/jobs/crm-event", { method: "POST", body, headers: { "Content-Type": "application/json", "Upstash-Signature": signature } });
}

/** Publishes `crm-event` job `jobId` through the QStash emulator like production, optionally with fewer retries. */
export async function publishCrmJob(jobId: string, opts: { retries?: number } = {}) {
  const request = publishRequest(config(), { jobId, kind: "crm-event", deduplicationId: `${jobId}:test:${crypto.randomUUID()}` });
  return createQueue(config()).publishJSON({ ...request, ...(opts.retries === undefined ? {} : { retries: opts.retries }) });
}

/** The stored lead, or undefined. */
export async function getLead(integrationId: string, leadId: number) {
  const [row] = await db()
    .select()
    .from(crmLeads)
    .where(and(eq(crmLeads.integrationId, integrationId), eq(crmLeads.leadId, leadId)));
  return row;
}

/** The stored contact, or undefined. */
export async function getContact(integrationId: string, contactId: number) {
  const [row] = await db()
    .select()
    .from(crmContacts)
    .where(and(eq(crmContacts.integrationId, integrationId), eq(crmContacts.contactId, contactId)));
  return row;
}

/** The stored event row. */
export async function getCrmEvent(eventId: string) {
  const [row] = await db().select().from(crmEvents).where(eq(crmEvents.id, eventId));
  if (!row) throw new Error(`no crm event ${eventId}`);
  return row;
}

/** Inserts leads of `orgId` straight into `crm_leads` (for the read API). */
export async function seedLeads(
  orgId: string,
  integrationId: string,
  leads: Array<{ leadId: number; updatedAt: string; statusId?: number; pipelineId?: number; deleted?: boolean }>,
) {
  await db()
    .insert(crmLeads)
    .values(
      leads.map((l) => ({
        integrationId,
        leadId: l.leadId,
        orgId,
        name: `Lead ${l.leadId}`,
        statusId: l.statusId ?? null,
        pipelineId: l.pipelineId ?? null,
        crmUpdatedAt: l.updatedAt,
        deletedAt: l.deleted ? sql`now()` : null,
      })),
    );
}

/** A lead as a Standard Webhooks `data` in Kommo's field names; `updated_at` in Unix seconds or ISO 8601. */
export function leadData(id: number, updatedAt: number | string, fields: Record<string, unknown> = {}) {
  return {
    id,
    name: `Deal #${id}`,
    price: 1500,
    status_id: 142,
    pipeline_id: 7000001,
    responsible_user_id: 501,
    created_at: 1_764_000_000,
    updated_at: updatedAt,
    ...fields,
  };
}
