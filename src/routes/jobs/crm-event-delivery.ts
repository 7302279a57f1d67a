/** `POST /jobs/crm-event`: QStash delivers a `crm-event` job here; the work is `deliverCrmEvent` (`src/jobs/crm-event.ts`). */
import { z } from "@hono/zod-openapi";
import { qstashAccess } from "../../core/access";
import { jobStatuses } from "../../core/db/schema";
import { defineOperation } from "../../core/route";
import { deliverCrmEvent } from "../../jobs/crm-event";
import { jobPaths } from "../../jobs/ledger";
import { group } from "./group";
import { jobMessageBody } from "./schemas";

/** What a `crm-event` delivery applied (`CrmEventResult` of `src/jobs/crm-event.ts`). */
const crmEventEffect = z.object({
  eventId: z.string().uuid(),
  scheme: z.string().nullable(),
  type: z.string().nullable(),
  effect: z.enum(["applied", "none"]),
  reason: z.string().optional(),
  leads: z.number().int().nonnegative(),
  contacts: z.number().int().nonnegative(),
});

/** 200 of a `crm-event` delivery. */
const crmEventDeliveryResult = z
  .object({
    jobId: z.string().uuid(),
    outcome: z.enum(["succeeded", "ignored"]),
    /** The job's status after this delivery; null for an unknown job. */
    status: z.enum(jobStatuses).nullable(),
    /** What the event did, when this delivery processed it. */
    result: crmEventEffect.optional(),
    /** Why a delivery was ignored. */
    reason: z.string().optional(),
  })
  .openapi("CrmEventDeliveryResult");

/** One delivery of a `crm-event` job: claim, apply the event's lead and contact updates, mark it processed — once. */
export const crmEventDelivery = defineOperation({
  route: group.route({
    method: "post",
    path: jobPaths["crm-event"],
    summary: "Apply a received CRM event (QStash)",
    description: [
      "QStash delivers a `crm-event` job message (`{ jobId }`) here, signed for `PUBLIC_JOBS_URL` + `/jobs/crm-event`. " +
        "The job's payload names the received event (`crm_events.id`). The delivery claims the job, turns the event into " +
        "lead and contact updates keyed by the CRM's ids (Standard Webhooks `lead.*`/`contact.*` data; Kommo form " +
        "webhooks re-read through the Kommo API), and commits the upserts, `processed_at` and the job's `succeeded` mark " +
        "in one transaction fenced by its lease: one effect however often the message is delivered.",
      "An update older than the stored row (by the CRM's `updated_at`) changes nothing. Other Standard Webhooks types, " +
        "Kommo Chats events and events of unknown schemes are processed with no effect (`result.effect: none`, the " +
        "reason in `result.reason`).",
      "200 `succeeded`: processed (`result` says what it did). 200 `ignored`: nothing to do — the job is finished or " +
        "unknown, or another delivery holds its lease.",
    ].join("\n\n"),
    access: qstashAccess,
    request: { body: { required: true, content: { "application/json": { schema: jobMessageBody } } } },
    errors: {
      429: "Kommo rate-limited the re-read of an entity; QStash retries after `Retry-After`.",
      500: "The event cannot be applied — its data fails validation (`detail` names the fields: a poison message, dead after QStash's retries; replay it once fixed), or its Kommo integration has no OAuth tokens — or a database error; the attempt is recorded and QStash retries with backoff.",
      502: "The Kommo API refused or answered unexpectedly while re-reading an entity; the attempt is recorded and QStash retries.",
      503: "A dependency (the database for the claim, or the Kommo API) is unavailable; QStash retries after `Retry-After`.",
    },
    responses: {
      200: {
        description: "The delivery's outcome: `succeeded` (with what it applied) or `ignored` (with the reason).",
        content: { "application/json": { schema: crmEventDeliveryResult } },
      },
    },
  }),
  handler: async (c) => {
    const { jobId } = c.req.valid("json");
    return c.json(await deliverCrmEvent(c.var.services, jobId), 200);
  },
});
