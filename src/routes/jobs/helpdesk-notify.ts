/** `POST /jobs/helpdesk-notify`: QStash delivers a `helpdesk-notify` job here; the work is `deliverHelpdeskNotify` (`src/helpdesk/notify.ts`). */
import { z } from "@hono/zod-openapi";
import { qstashAccess } from "../../core/access";
import { jobStatuses } from "../../core/db/schema";
import { defineOperation } from "../../core/route";
import { deliverHelpdeskNotify } from "../../helpdesk/notify";
import { jobPaths } from "../../jobs/ledger";
import { group } from "./group";
import { jobMessageBody } from "./schemas";

/** 200 of a `helpdesk-notify` delivery. */
const helpdeskNotifyDeliveryResult = z
  .object({
    jobId: z.string().uuid(),
    outcome: z.enum(["succeeded", "ignored"]),
    status: z.enum(jobStatuses).nullable(),
    result: z
      .object({ outcome: z.enum(["sent", "blocked", "skipped"]), parts: z.number().int().nonnegative(), reason: z.string().optional() })
      .optional(),
    reason: z.string().optional(),
  })
  .openapi("HelpdeskNotifyDeliveryResult");

/** One delivery of a `helpdesk-notify` job: one message of the support bot to a client. */
export const helpdeskNotifyDelivery = defineOperation({
  route: group.route({
    method: "post",
    path: jobPaths["helpdesk-notify"],
    summary: "Send a support bot message (QStash)",
    description: [
      "QStash delivers a `helpdesk-notify` job message (`{ jobId }`) here. The job is a manager's reply (`{ messageId }`) " +
        "or a bot answer (`{ botId, clientId, chatId, text, replyMarkup? }`); the delivery sends it with `sendMessage` " +
        "(over 4,096 characters: several messages) and marks a reply delivered.",
      "A client who blocked the bot (Telegram 403) ends the job `succeeded` with `result.outcome: blocked`, no retries: " +
        "the client and the ticket are marked. Telegram's 429 is answered 429 with its `retry_after`.",
    ].join("\n\n"),
    access: qstashAccess,
    request: { body: { required: true, content: { "application/json": { schema: jobMessageBody } } } },
    errors: {
      429: "Telegram's flood control; QStash retries after `Retry-After` (Telegram's `retry_after`).",
      500: "A corrupt job payload, an unreadable bot token or a database error; QStash retries.",
      502: "Telegram refused the message (other than a block); QStash retries, then the dead letter.",
      503: "Telegram or the database is unavailable; QStash retries after `Retry-After`.",
    },
    responses: {
      200: { description: "The delivery's outcome.", content: { "application/json": { schema: helpdeskNotifyDeliveryResult } } },
    },
  }),
  handler: async (c) => {
    const { jobId } = c.req.valid("json");
    return c.json(await deliverHelpdeskNotify(c.var.services, jobId), 200);
  },
});
