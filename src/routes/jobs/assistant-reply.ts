/** `POST /jobs/assistant-reply`: QStash delivers an `assistant-reply` job here; the work is `deliverAssistantReply` (`src/assistant/reply.ts`). */
import { z } from "@hono/zod-openapi";
import { deliverAssistantReply } from "../../assistant/reply";
import { qstashAccess } from "../../core/access";
import { jobStatuses } from "../../core/db/schema";
import { defineOperation } from "../../core/route";
import { jobPaths } from "../../jobs/ledger";
import { group } from "./group";
import { jobMessageBody } from "./schemas";

/** What an `assistant-reply` delivery did (`AssistantReplyResult` of `src/assistant/reply.ts`). */
const assistantReplyEffect = z.object({
  action: z.enum(["replied", "command", "rate-limited", "unsupported", "ignored"]),
  command: z.enum(["start", "help", "reset"]).optional(),
  model: z.string().optional(),
  fallbackUsed: z.boolean().optional(),
  reply: z.enum(["recorded", "resent"]).optional(),
  delivery: z.enum(["sent", "blocked", "none"]),
  parts: z.number().int().nonnegative(),
  reason: z.string().optional(),
});

/** 200 of an `assistant-reply` delivery. */
const assistantReplyDeliveryResult = z
  .object({
    jobId: z.string().uuid(),
    outcome: z.enum(["succeeded", "ignored"]),
    /** The job's status after this delivery; null for an unknown job. */
    status: z.enum(jobStatuses).nullable(),
    result: assistantReplyEffect.optional(),
    reason: z.string().optional(),
  })
  .openapi("AssistantReplyDeliveryResult");

/** One delivery of an `assistant-reply` job: the model's reply (or a command's answer), recorded, then sent — once. */
export const assistantReplyDelivery = defineOperation({
  route: group.route({
    method: "post",
    path: jobPaths["assistant-reply"],
    summary: "Answer a Telegram message to the assistant (QStash)",
    description: [
      "QStash delivers an `assistant-reply` job message (`{ jobId }`) here, signed for `PUBLIC_JOBS_URL` + `/jobs/assistant-reply`. " +
        "The job names a stored Telegram update of the org's assistant bot. Commands (`/start`, `/help`, `/reset`) get fixed " +
        "answers; a text is answered by the model (`LLM_MODEL`, with `LLM_FALLBACK_MODEL` on 429, 5xx or a timeout) with the " +
        "system prompt and the dialog's recent history, unless the user is over the per-user message limit.",
      "The reply is recorded (both messages, tokens, latency, the dialog's counters) before it is sent, so a redelivery " +
        "resends the recorded reply instead of asking the model again; the job is marked succeeded after the send. " +
        "See docs/assistant.md.",
      "200 `succeeded` (with what it did) or `ignored` (the job is finished or unknown, or another delivery holds its lease).",
    ].join("\n\n"),
    access: qstashAccess,
    request: { body: { required: true, content: { "application/json": { schema: jobMessageBody } } } },
    errors: {
      429: "The model (both models) or Telegram rate-limited the attempt; QStash retries after `Retry-After`.",
      500: "An unexpected error (a database error, an invalid job payload); the attempt is recorded and QStash retries.",
      502: "The model refused the request (bad key, unknown model) or Telegram refused the message; QStash retries.",
      503: "The LLM is not configured, or the model, Telegram or the database is unavailable; QStash retries after `Retry-After`.",
    },
    responses: {
      200: {
        description: "The delivery's outcome: `succeeded` (with what it did) or `ignored` (with the reason).",
        content: { "application/json": { schema: assistantReplyDeliveryResult } },
      },
    },
  }),
  handler: async (c) => {
    const { jobId } = c.req.valid("json");
    return c.json(await deliverAssistantReply(c.var.services, jobId), 200);
  },
});
