/**
 * One QStash delivery of a `crm-event` job: the job (payload `{ eventId }` = `crm_events.id`)
 * applies one received CRM webhook event to the org's leads and contacts, exactly once.
 *
 * The delivery runs through {@link runJobDelivery}: it claims the job (a job already `succeeded`,
 * `dead`, unknown, or leased by another delivery is acknowledged without work), reads the event and
 * builds its entity updates, then commits — in ONE `db.batch` with the lease check and the
 * `succeeded` mark — the upserts of {@link crmEntityWrites} and `crm_events.processed_at = now()`.
 * A delivery that dies before that batch wrote nothing; the redelivery (QStash's retry, or the
 * reaper once the lease expired) claims the job again and writes the effect once. Ten concurrent
 * deliveries of one job: one claims it, the others are `ignored`.
 *
 * By scheme (`crm_events.scheme`):
 * - `standard-webhooks`: payload `{ type, data }`. `lead.created|updated|deleted` and
 *   `contact.created|updated|deleted` validate `data` ({@link standardWebhookUpdate}); any other type
 *   is processed with no effect (`effect: "none"`, the reason in the result).
 * - `kommo`: payload `{ accountSubdomain, events, ignored }` of `parseKommoWebhook`; each lead and
 *   contact named is re-read through the Kommo API (`kommoEntityUpdates` of `src/crm/kommo.ts`) — an
 *   entity Kommo no longer has becomes a deletion; companies are not stored. Kommo's refusals and
 *   outages fail the attempt (429 with its retry time, 502, 503) so QStash retries.
 * - `kommo-chats`: processed with no entity effect; the helpdesk consumes those events (later).
 * - an unknown scheme: processed with no effect, the reason in the result.
 *
 * Order: an update older (by the CRM's `updated_at`) than the stored row changes nothing, so
 * events applied out of order converge on the newest state.
 *
 * Poison: data that fails validation (or a job payload without an event id) fails the attempt with
 * a 500 whose `detail` is the validation error in words (`invalid lead.updated data: updated_at:
 * Invalid input`); QStash retries it, and after its last retry the failure callback marks the job
 * `dead` (the event then reads `dead`). Replaying the dead letter once the data is fixed processes it.
 */
import { and, eq, sql } from "drizzle-orm";
import { z } from "zod";
import type { Services } from "../core/context";
import { crmEvents, crmIntegrations } from "../core/db/schema";
import { CrmDataError, type CrmEntityUpdate, crmEntityWrites, isCrmEntityEventType, standardWebhookUpdate } from "../crm/entities";
import { KommoNotConnectedError, kommoEntityUpdates } from "../crm/kommo";
import { KommoApiError, KommoRateLimitError, KommoUnavailableError } from "../integrations/kommo/client";
import type { KommoWebhookEvent } from "../integrations/kommo/webhook";
import { JobAttemptError, type JobDeliveryResult, runJobDelivery } from "./ledger";

/** What a `crm-event` delivery did, in its 200 answer (`result` of a `succeeded` outcome). */
export interface CrmEventResult {
  /** `crm_events.id`. */
  eventId: string;
  /** Null when the event no longer exists (its integration was deleted). */
  scheme: string | null;
  type: string | null;
  /** `applied`: its updates were written (each only if not older than the stored row); `none`: nothing to apply. */
  effect: "applied" | "none";
  /** Why there was nothing to apply (an unknown type, a Kommo Chats event, a deleted event). */
  reason?: string;
  /** Leads and contacts the event updated (one per entity: the newest), before the ordering check. */
  leads: number;
  contacts: number;
}

/** Payload of a `crm-event` job. */
const jobPayload = z.object({ eventId: z.uuid() });

/** Payload of a `standard-webhooks` event: the JSON body as received. */
const standardWebhookPayload = z.looseObject({ type: z.string().min(1).max(200), data: z.unknown() });

const kommoInt = z.number().int().min(-Number.MAX_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER);
const kommoEventBase = {
  id: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  accountSubdomain: z.string(),
  accountId: kommoInt.optional(),
  name: z.string().optional(),
  responsibleUserId: kommoInt.optional(),
  updatedAt: kommoInt.optional(),
};

/** Payload of a `kommo` event: `parseKommoWebhook`'s `{ accountSubdomain, events, ignored }`, checked again. */
const kommoPayload = z.looseObject({
  accountSubdomain: z.string(),
  events: z
    .array(
      z.discriminatedUnion("entity", [
        z.object({
          ...kommoEventBase,
          entity: z.literal("lead"),
          action: z.enum(["add", "update", "status", "delete"]),
          statusId: kommoInt.optional(),
          oldStatusId: kommoInt.optional(),
          pipelineId: kommoInt.optional(),
          oldPipelineId: kommoInt.optional(),
          price: kommoInt.optional(),
        }),
        z.object({ ...kommoEventBase, entity: z.enum(["contact", "company"]), action: z.enum(["add", "update", "delete"]) }),
      ]),
    )
    .max(1000),
  ignored: z.array(z.string()).optional(),
});

/** The event and its integration, as the consumer reads them. */
interface StoredEvent {
  id: string;
  integrationId: string;
  orgId: string;
  scheme: string;
  type: string;
  payload: unknown;
}

/** The entity updates of an event, or why it has none. */
type EventUpdates = { updates: CrmEntityUpdate[] } | { none: string };

/**
 * The updates `event` makes, by scheme (see the module comment).
 * @throws CrmDataError when the payload or its data fails validation (a poison message).
 */
async function eventUpdates(services: Services, event: StoredEvent): Promise<EventUpdates> {
  switch (event.scheme) {
    case "standard-webhooks": {
      const parsed = standardWebhookPayload.safeParse(event.payload);
      if (!parsed.success) throw new CrmDataError("invalid Standard Webhooks payload: not an object with a string `type` and `data`");
      const { type, data } = parsed.data;
      if (!isCrmEntityEventType(type)) return { none: `type ${type} has no effect on leads or contacts` };
      return { updates: [standardWebhookUpdate(type, data)] };
    }
    case "kommo": {
      const parsed = kommoPayload.safeParse(event.payload);
      if (!parsed.success) throw new CrmDataError("invalid Kommo payload: not { accountSubdomain, events } of a parsed Kommo webhook");
      const events: KommoWebhookEvent[] = parsed.data.events;
      if (!events.some((e) => e.entity !== "company")) return { none: "the Kommo webhook names no lead or contact" };
      return { updates: await kommoEntityUpdates(services, event.integrationId, events) };
    }
    case "kommo-chats":
      return { none: "Kommo Chats events are read by the helpdesk, not applied to leads or contacts" };
    default:
      return { none: `scheme ${event.scheme} has no effect on leads or contacts` };
  }
}

/**
 * A failure while building the updates, as the answer that makes QStash retry: poison data and an
 * unconnected Kommo integration 500, Kommo's rate limit 429 (with its retry time), Kommo down 503,
 * another Kommo refusal 502. Anything else (a database error) is left to `runJobDelivery`.
 */
function attemptError(err: unknown): unknown {
  if (err instanceof CrmDataError) return new JobAttemptError(err.message, 500, undefined, { cause: err });
  if (err instanceof KommoNotConnectedError) return new JobAttemptError(err.message, 500, undefined, { cause: err });
  if (err instanceof KommoRateLimitError) return new JobAttemptError(err.message, 429, err.retryAfterSeconds, { cause: err });
  if (err instanceof KommoUnavailableError) return new JobAttemptError(err.message, 503, undefined, { cause: err });
  if (err instanceof KommoApiError) return new JobAttemptError(err.message, 502, undefined, { cause: err });
  return err;
}

/**
 * Handles one delivery of `crm-event` job `jobId` (see the module comment).
 * @throws ApiError 500 (poison data, an unconnected Kommo integration, a database error), 429/502/503 (the
 *   Kommo API), whose `detail` is the recorded cause.
 */
export function deliverCrmEvent(services: Services, jobId: string): Promise<JobDeliveryResult<CrmEventResult>> {
  const { db } = services;
  return runJobDelivery<CrmEventResult>(services, "crm-event", jobId, async (job) => {
    const payload = jobPayload.safeParse(job.payload);
    if (!payload.success) throw new JobAttemptError("invalid crm-event job payload: expected { eventId: uuid }", 500);
    const { eventId } = payload.data;
    const [event] = await db
      .select({
        id: crmEvents.id,
        integrationId: crmEvents.integrationId,
        orgId: crmEvents.orgId,
        scheme: crmEvents.scheme,
        type: crmEvents.type,
        payload: crmEvents.payload,
      })
      .from(crmEvents)
      .innerJoin(crmIntegrations, eq(crmIntegrations.id, crmEvents.integrationId))
      .where(and(eq(crmEvents.id, eventId), eq(crmEvents.orgId, job.orgId)));
    if (!event) {
      return {
        writes: [],
        result: { eventId, scheme: null, type: null, effect: "none", reason: "the event no longer exists", leads: 0, contacts: 0 },
      };
    }
    let found: EventUpdates;
    try {
      found = await eventUpdates(services, event);
    } catch (err) {
      throw attemptError(err);
    }
    const processed = db.update(crmEvents).set({ processedAt: sql`now()` }).where(eq(crmEvents.id, event.id));
    const base = { eventId, scheme: event.scheme, type: event.type };
    if ("none" in found) return { writes: [processed], result: { ...base, effect: "none", reason: found.none, leads: 0, contacts: 0 } };
    const writes = crmEntityWrites(db, { orgId: event.orgId, integrationId: event.integrationId }, found.updates);
    const entities = new Set(found.updates.map((u) => `${u.entity}:${u.id}`));
    const count = (entity: CrmEntityUpdate["entity"]) => [...entities].filter((key) => key.startsWith(`${entity}:`)).length;
    return {
      writes: [...writes, processed],
      result: { ...base, effect: "applied", leads: count("lead"), contacts: count("contact") },
    };
  });
}
