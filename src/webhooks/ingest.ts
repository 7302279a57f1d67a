/**
 * Persist before acknowledging: a verified delivery's event goes into the inbox (`crm_events`,
 * keyed by integration and the sender's event id) and its outbox row — the event's `crm-event` job
 * in the job ledger — in ONE SQL statement, so one Neon request; only then does the route answer
 * 2xx. A redelivery finds its inbox row, inserts nothing (`ON CONFLICT DO NOTHING`; the job is
 * inserted only from the inbox insert's `RETURNING`, so never without its event) and is answered
 * 2xx with `duplicate: true`.
 *
 * After the answer, a new job is published to QStash in `waitUntil` with the job id as
 * deduplication id. A publish that fails leaves the job `queued` with its publish deadline
 * (`lease_until`, {@link PUBLISH_GRACE_SECONDS} s on): the every-minute reaper (`src/jobs/reaper.ts`,
 * the outbox relay) publishes it then.
 *
 * Postgres unreachable (the request fails without a Postgres error, or with a connection-class
 * one) is 503 with `Retry-After: 5` (`databaseFailure`, src/core/db/errors.ts): nothing was stored,
 * nothing is acknowledged, the sender retries.
 * @see https://www.postgresql.org/docs/current/queries-with.html#QUERIES-WITH-MODIFYING (one snapshot, executed once)
 */
import { sql } from "drizzle-orm";
import type { Services } from "../core/context";
import { databaseFailure } from "../core/db/errors";
import { crmEvents, jobs } from "../core/db/schema";
import { PUBLISH_GRACE_SECONDS, publishAfterCommit } from "../jobs/ledger";
import type { WebhookDelivery } from "./delivery";

/** The event of a delivery as the inbox stores it. */
export interface InboxEvent {
  /** `lead.updated`, `kommo.lead.status`, `chats.message`… (see each route). */
  type: string;
  /** The event as received and parsed (JSON; Kommo's form as `{ accountSubdomain, events, ignored }`). */
  payload: unknown;
}

/** The outcome of {@link ingestWebhook}: a new event and its job, or a redelivery of a stored one. */
export type IngestResult = { duplicate: false; eventRowId: string; jobId: string } | { duplicate: true };

/**
 * Stores `event` of `delivery` in the inbox with its `crm-event` job (one statement, one Neon
 * request) and, when it is new, publishes the job after the answer (`waitUntil`).
 * @throws ApiError 503 (`Retry-After`) when Postgres is unavailable; any other database error as is.
 */
export async function ingestWebhook(
  services: Pick<Services, "db" | "queue" | "config" | "logger" | "metrics">,
  delivery: WebhookDelivery,
  event: InboxEvent,
  waitUntil: (work: Promise<unknown>) => void,
): Promise<IngestResult> {
  const { db } = services;
  const { integration } = delivery;
  // Both ids are made here, so the inbox row can name its job and the job its event in one statement.
  const eventRowId = crypto.randomUUID();
  const jobId = crypto.randomUUID();
  // The inbox row references its job, inserted by a sibling CTE: foreign keys are checked at the end
  // of the statement, when both rows exist. A conflict inserts neither.
  const statement = sql`
    with ev as (
      insert into ${crmEvents} (id, org_id, integration_id, event_id, scheme, type, payload, job_id)
      values (${eventRowId}, ${integration.orgId}, ${integration.id}, ${delivery.eventId}, ${delivery.scheme}, ${event.type},
              ${JSON.stringify(event.payload)}::jsonb, ${jobId})
      on conflict (integration_id, event_id) do nothing
      returning id
    ), job as (
      insert into ${jobs} (id, org_id, kind, dedup_id, payload, lease_until)
      select ${jobId}, ${integration.orgId}, 'crm-event', 'crm-event:' || ev.id, jsonb_build_object('eventId', ev.id),
             now() + make_interval(secs => ${PUBLISH_GRACE_SECONDS})
      from ev
      returning id
    )
    select (select id from ev) as event_row_id, (select id from job) as job_id`;
  let created: { event_row_id: string | null; job_id: string | null } | undefined;
  try {
    const result = await db.execute<{ event_row_id: string | null; job_id: string | null }>(statement);
    created = result.rows[0];
  } catch (err) {
    throw databaseFailure(err);
  }
  const duplicate = !created?.event_row_id || !created.job_id;
  services.metrics.count("webhook_deliveries_total", { scheme: delivery.scheme, outcome: duplicate ? "duplicate" : "stored" });
  if (duplicate) return { duplicate: true };
  waitUntil(publishAfterCommit(services, { jobId, kind: "crm-event", deduplicationId: jobId }));
  return { duplicate: false, eventRowId, jobId };
}
