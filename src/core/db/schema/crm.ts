/**
 * CRM integrations (Kommo/amoCRM and Standard Webhooks senders), the webhook inbox, and the leads
 * and contacts the inbox's events produce. See docs/webhooks.md.
 *
 * - `crm_integrations`: one per connected CRM of an org; its webhook secret (and the previous one
 *   during a rotation, for 24 hours) and, for Kommo, the OAuth tokens and the chats channel secret,
 *   all AES-GCM encrypted (`src/core/crypto.ts`), never returned after creation.
 * - `crm_events`: the inbox, keyed by (integration, the sender's event id): a redelivery finds its
 *   row and changes nothing. Each event has one job (`job_id`, kind `crm-event`) in the job ledger,
 *   which is the outbox: the event's processing state is its job's status.
 * - `crm_leads`, `crm_contacts`: keyed by (integration, the CRM's id); `crm_updated_at` (the CRM's
 *   `updated_at`) orders updates, so an update older than the stored one changes nothing.
 */
import { sql } from "drizzle-orm";
import { bigint, index, jsonb, pgTable, primaryKey, text, timestamp, unique, uuid } from "drizzle-orm/pg-core";
import { orgs, users } from "./identity";
import { jobs } from "./jobs";

export const crmProviders = ["kommo", "standard-webhooks"] as const;
export type CrmProvider = (typeof crmProviders)[number];

export const crmIntegrations = pgTable(
  "crm_integrations",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    orgId: uuid("org_id")
      .notNull()
      .references(() => orgs.id, { onDelete: "cascade" }),
    provider: text("provider", { enum: crmProviders }).notNull(),
    name: text("name").notNull(),
    /** The webhook secret, encrypted: `whsec_…` (Standard Webhooks) or Kommo's path secret. */
    secretCiphertext: text("secret_ciphertext").notNull(),
    /** The secret before the last rotation, accepted until `previous_secret_expires_at`. */
    previousSecretCiphertext: text("previous_secret_ciphertext"),
    previousSecretExpiresAt: timestamp("previous_secret_expires_at", { withTimezone: true, mode: "string" }),
    /** Kommo Chats: the channel secret (HMAC-SHA1 key of `X-Signature`), encrypted; set by the admin. */
    chatsSecretCiphertext: text("chats_secret_ciphertext"),
    /** Kommo: the account domain (`acme.kommo.com`) from the OAuth callback's `referer`. */
    accountDomain: text("account_domain"),
    /** Kommo OAuth tokens, encrypted, and the access token's expiry. */
    accessTokenCiphertext: text("access_token_ciphertext"),
    refreshTokenCiphertext: text("refresh_token_ciphertext"),
    accessTokenExpiresAt: timestamp("access_token_expires_at", { withTimezone: true, mode: "string" }),
    createdBy: uuid("created_by").references(() => users.id, { onDelete: "set null" }),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "string" }).notNull().defaultNow(),
    /** Set by `DELETE`: the integration's webhooks answer 404 from then on. */
    disabledAt: timestamp("disabled_at", { withTimezone: true, mode: "string" }),
  },
  (t) => [index("crm_integrations_org_idx").on(t.orgId, t.createdAt)],
);

export const crmEvents = pgTable(
  "crm_events",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    orgId: uuid("org_id")
      .notNull()
      .references(() => orgs.id, { onDelete: "cascade" }),
    integrationId: uuid("integration_id")
      .notNull()
      .references(() => crmIntegrations.id, { onDelete: "cascade" }),
    /** The sender's event id: `webhook-id` (Standard Webhooks), or a SHA-256 of the raw body (Kommo sends none). */
    eventId: text("event_id").notNull(),
    /** `standard-webhooks`, `kommo` (form webhook) or `kommo-chats`. */
    scheme: text("scheme").notNull(),
    /** `lead.updated`, `contact.created`… (Standard Webhooks `type`; Kommo: the form's first entity and action). */
    type: text("type").notNull(),
    /** The event as received and parsed (JSON, or Kommo's form as nested JSON). */
    payload: jsonb("payload").notNull(),
    receivedAt: timestamp("received_at", { withTimezone: true, mode: "string" }).notNull().defaultNow(),
    processedAt: timestamp("processed_at", { withTimezone: true, mode: "string" }),
    /** The event's `crm-event` job: its status is the event's processing state. */
    jobId: uuid("job_id").references(() => jobs.id, { onDelete: "set null" }),
  },
  (t) => [
    unique("crm_events_integration_event_uq").on(t.integrationId, t.eventId),
    index("crm_events_org_received_idx").on(t.orgId, t.receivedAt),
  ],
);

export const crmLeads = pgTable(
  "crm_leads",
  {
    integrationId: uuid("integration_id")
      .notNull()
      .references(() => crmIntegrations.id, { onDelete: "cascade" }),
    /** The CRM's lead id. */
    leadId: bigint("lead_id", { mode: "number" }).notNull(),
    orgId: uuid("org_id")
      .notNull()
      .references(() => orgs.id, { onDelete: "cascade" }),
    name: text("name").notNull().default(""),
    /** Budget in the account's currency (Kommo `price`). */
    price: bigint("price", { mode: "number" }),
    statusId: bigint("status_id", { mode: "number" }),
    pipelineId: bigint("pipeline_id", { mode: "number" }),
    responsibleUserId: bigint("responsible_user_id", { mode: "number" }),
    /** The main contact's CRM id, when the CRM says. */
    contactId: bigint("contact_id", { mode: "number" }),
    crmCreatedAt: timestamp("crm_created_at", { withTimezone: true, mode: "string" }),
    /** The CRM's `updated_at`: an update older than this one is ignored. */
    crmUpdatedAt: timestamp("crm_updated_at", { withTimezone: true, mode: "string" }).notNull(),
    closedAt: timestamp("closed_at", { withTimezone: true, mode: "string" }),
    deletedAt: timestamp("deleted_at", { withTimezone: true, mode: "string" }),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "string" }).notNull().default(sql`now()`),
  },
  (t) => [primaryKey({ columns: [t.integrationId, t.leadId] }), index("crm_leads_org_idx").on(t.orgId, t.crmUpdatedAt)],
);

export const crmContacts = pgTable(
  "crm_contacts",
  {
    integrationId: uuid("integration_id")
      .notNull()
      .references(() => crmIntegrations.id, { onDelete: "cascade" }),
    /** The CRM's contact id. */
    contactId: bigint("contact_id", { mode: "number" }).notNull(),
    orgId: uuid("org_id")
      .notNull()
      .references(() => orgs.id, { onDelete: "cascade" }),
    name: text("name").notNull().default(""),
    responsibleUserId: bigint("responsible_user_id", { mode: "number" }),
    crmCreatedAt: timestamp("crm_created_at", { withTimezone: true, mode: "string" }),
    crmUpdatedAt: timestamp("crm_updated_at", { withTimezone: true, mode: "string" }).notNull(),
    deletedAt: timestamp("deleted_at", { withTimezone: true, mode: "string" }),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "string" }).notNull().default(sql`now()`),
  },
  (t) => [primaryKey({ columns: [t.integrationId, t.contactId] }), index("crm_contacts_org_idx").on(t.orgId, t.crmUpdatedAt)],
);
