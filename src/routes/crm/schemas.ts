/**
 * Request and response schemas of the `crm` route group. Lists are keyset-paged: `cursor` is the
 * opaque `nextCursor` of the previous page (base64url of the last row's sort key, see
 * `src/core/cursor.ts`); a cursor that is not one of the list's is a 400 naming `cursor`. Times in
 * answers are RFC 3339 UTC (`isoTime`). Event payloads are never returned (they may hold personal data).
 */
import { z } from "@hono/zod-openapi";
import { cursorParam, type KeysetCursor } from "../../core/cursor";
import { integerQueryParam, isUuid } from "../../core/validation";

/** `limit`: 1–100, default 50. */
const limit = integerQueryParam(1, 100).default(50).openapi({ type: "integer", minimum: 1, maximum: 100, default: 50 });

/** A CRM id filter (`status`, `pipeline`): a positive integer. */
const crmIdParam = integerQueryParam(1, Number.MAX_SAFE_INTEGER).optional();

/** A keyset cursor of a list whose row id is read by `readId` (undefined: not this list's cursor). */
const listCursor = <Id>(readId: (id: string) => Id | undefined) =>
  cursorParam
    .transform((cursor: KeysetCursor, ctx) => {
      const id = readId(cursor.id);
      if (id === undefined) {
        ctx.addIssue({ code: "custom", message: "Not a cursor of this list: pass `nextCursor` from the previous page as is." });
        return z.NEVER;
      }
      return { time: cursor.time, id };
    })
    .openapi({ type: "string", description: "`nextCursor` of the previous page (opaque)." });

/** The last lead of a page: its CRM id and integration (`{leadId}:{integrationId}` in the cursor). */
export interface LeadKey {
  leadId: number;
  integrationId: string;
}

/** Encodes a lead's keyset id for the cursor. */
export const leadKeyId = (key: LeadKey) => `${key.leadId}:${key.integrationId}`;

function readLeadKey(id: string): LeadKey | undefined {
  const match = /^([1-9]\d{0,15}):(.+)$/.exec(id);
  const leadId = Number(match?.[1]);
  const integrationId = match?.[2];
  if (!Number.isSafeInteger(leadId) || integrationId === undefined || !isUuid(integrationId)) return undefined;
  return { leadId, integrationId };
}

/** Query of `GET /api/v1/crm/leads`. */
export const leadsQuery = z
  .object({
    status: crmIdParam.openapi({ description: "Only leads at this stage (the CRM's `status_id`)." }),
    pipeline: crmIdParam.openapi({ description: "Only leads of this pipeline (the CRM's `pipeline_id`)." }),
    cursor: listCursor(readLeadKey).optional(),
    limit,
  })
  .strict();

/** A lead as the CRM last said it was (times RFC 3339 UTC). */
export const leadView = z
  .object({
    integrationId: z.string().uuid(),
    /** The CRM's lead id. */
    leadId: z.number().int(),
    name: z.string(),
    /** Budget in the account's currency. */
    price: z.number().int().nullable(),
    statusId: z.number().int().nullable(),
    pipelineId: z.number().int().nullable(),
    responsibleUserId: z.number().int().nullable(),
    /** The main contact's CRM id. */
    contactId: z.number().int().nullable(),
    createdAt: z.string().nullable(),
    /** The CRM's `updated_at` of the version kept. */
    updatedAt: z.string(),
    closedAt: z.string().nullable(),
  })
  .openapi("CrmLead");
export type LeadView = z.infer<typeof leadView>;

/** 200 of `GET /api/v1/crm/leads`. */
export const leadsPage = z.object({
  items: z.array(leadView),
  /** The next page's `cursor`; null on the last page. */
  nextCursor: z.string().nullable(),
});

/** An event's processing state, derived from its job: queued/running → received, succeeded → processed, failed, dead. */
export const crmEventStates = ["received", "processed", "failed", "dead"] as const;
export type CrmEventState = (typeof crmEventStates)[number];

/** Query of `GET /api/v1/crm/events`. */
export const eventsQuery = z
  .object({
    state: z.enum(crmEventStates).optional(),
    cursor: listCursor((id) => (isUuid(id) ? id : undefined)).optional(),
    limit,
  })
  .strict();

/** A received CRM event, without its payload (times RFC 3339 UTC). */
export const eventView = z
  .object({
    id: z.string().uuid(),
    integrationId: z.string().uuid(),
    /** The sender's event id (`webhook-id`, or a hash of a Kommo body). */
    eventId: z.string(),
    /** `standard-webhooks`, `kommo` or `kommo-chats`. */
    scheme: z.string(),
    type: z.string(),
    state: z.enum(crmEventStates),
    receivedAt: z.string(),
    processedAt: z.string().nullable(),
    jobId: z.string().uuid().nullable(),
    /** The job's last error: why an attempt failed, or why it died. */
    lastError: z.string().nullable(),
  })
  .openapi("CrmEvent");
export type EventView = z.infer<typeof eventView>;

/** 200 of `GET /api/v1/crm/events`. */
export const eventsPage = z.object({
  items: z.array(eventView),
  /** The next page's `cursor`; null on the last page. */
  nextCursor: z.string().nullable(),
});
