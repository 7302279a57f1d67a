/** `POST /jobs/helpdesk-update`: QStash delivers a `helpdesk-update` job here; the work is `deliverHelpdeskUpdate` (`src/helpdesk/update-job.ts`). */
import { z } from "@hono/zod-openapi";
import { qstashAccess } from "../../core/access";
import { jobStatuses } from "../../core/db/schema";
import { defineOperation } from "../../core/route";
import { deliverHelpdeskUpdate } from "../../helpdesk/update-job";
import { jobPaths } from "../../jobs/ledger";
import { group } from "./group";
import { jobMessageBody } from "./schemas";

/** 200 of a `helpdesk-update` delivery. */
const helpdeskUpdateDeliveryResult = z
  .object({
    jobId: z.string().uuid(),
    outcome: z.enum(["succeeded", "ignored"]),
    status: z.enum(jobStatuses).nullable(),
    result: z.object({ effect: z.string(), ticketId: z.string().uuid().optional(), notifyJobIds: z.array(z.string().uuid()) }).optional(),
    reason: z.string().optional(),
  })
  .openapi("HelpdeskUpdateDeliveryResult");

/** One delivery of a `helpdesk-update` job: the client's conversation step, committed once. */
export const helpdeskUpdateDelivery = defineOperation({
  route: group.route({
    method: "post",
    path: jobPaths["helpdesk-update"],
    summary: "Apply a support bot update (QStash)",
    description: [
      "QStash delivers a `helpdesk-update` job message (`{ jobId }`) here. The job names a stored Telegram update of an " +
        "org's support bot; the delivery applies it to the client's conversation (session step, ticket, message, media) " +
        "and queues the bot's answers as `helpdesk-notify` jobs — in one transaction with the job's `succeeded` mark, " +
        "fenced by its lease: one effect however often it is delivered.",
      "200 `succeeded` (`result.effect` says what it did; updates the bot does not read are `ignored: …`), 200 `ignored` " +
        "(the job is finished, unknown or leased by another delivery).",
    ].join("\n\n"),
    access: qstashAccess,
    request: { body: { required: true, content: { "application/json": { schema: jobMessageBody } } } },
    errors: {
      500: "A corrupt job payload or a database error; the attempt is recorded and QStash retries.",
      503: "Another update of the same client changed the conversation meanwhile (retried against the new state), or the database is unavailable; QStash retries after `Retry-After`.",
    },
    responses: {
      200: { description: "The delivery's outcome.", content: { "application/json": { schema: helpdeskUpdateDeliveryResult } } },
    },
  }),
  handler: async (c) => {
    const { jobId } = c.req.valid("json");
    return c.json(await deliverHelpdeskUpdate(c.var.services, jobId), 200);
  },
});
