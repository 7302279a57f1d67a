/**
 * The `helpdesk-notify` job: every message the support bot sends — a manager's reply and the bot's
 * own answers (greeting, category buttons, confirmations) — is one job, sent with `sendMessage`
 * from a QStash delivery, so retries, the dead-letter queue and blocked clients are handled in one
 * place and never inline in a request.
 *
 * Payload: `{ messageId }` (a manager's reply stored in `helpdesk_messages`; a note is never sent)
 * or `{ botId, clientId, chatId, text, replyMarkup? }` (a bot answer, not stored in a ticket).
 *
 * - Text over 4,096 characters (Telegram's limit) is sent as several messages, cut at a line break
 *   or a space where there is one; the buttons go with the last part.
 * - Telegram 403 (the client blocked the bot): the job ends `succeeded` without retries; the client
 *   gets `blocked_at`, the ticket (every not-closed ticket of the client for a bot answer)
 *   `client_blocked`, the message `delivery_error` — the recorded cause.
 * - 429: the attempt fails with 429 and Telegram's `retry_after` as `Retry-After`; QStash retries.
 * - Another refusal (400 chat not found…) → 502, Telegram unreachable → 503: QStash retries, then
 *   the dead letter.
 * Delivery is at least once: a delivery that dies after Telegram accepted the message and before
 * its commit sends it again on the retry (Telegram has no idempotency key for `sendMessage`); a
 * delivered reply (`delivered_at` set) is never sent again.
 * @see https://core.telegram.org/bots/api#sendmessage
 * @see https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this
 */
import { and, eq, ne, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { GrammyError, HttpError } from "grammy/web";
import { z } from "zod";
import type { Services } from "../core/context";
import { helpdeskClients, helpdeskMessages, helpdeskTickets } from "../core/db/schema";
import { type InlineKeyboardMarkup, TELEGRAM_MAX_MESSAGE_LENGTH } from "../integrations/telegram/types";
import { JobAttemptError, type JobDeliveryResult, publishAfterCommit, runJobDelivery } from "../jobs/ledger";
import { botApi } from "../telegram/bots";

/** Payload of a `helpdesk-notify` job. */
export type NotifyPayload =
  | { messageId: number }
  | { botId: string; clientId: string; chatId: number; text: string; replyMarkup?: InlineKeyboardMarkup | undefined };

const payloadSchema = z.union([
  z.object({ messageId: z.number().int().positive() }),
  z.object({
    botId: z.uuid(),
    clientId: z.uuid(),
    chatId: z.number().int(),
    text: z.string().min(1),
    replyMarkup: z.looseObject({ inline_keyboard: z.array(z.array(z.looseObject({ text: z.string() }))) }).optional(),
  }),
]);

/** What a `helpdesk-notify` delivery did. */
export interface HelpdeskNotifyResult {
  /** `sent`; `blocked`: the client blocked the bot (no retries); `skipped`: a note, or already delivered. */
  outcome: "sent" | "blocked" | "skipped";
  /** Telegram messages sent (a long text is several). */
  parts: number;
  reason?: string;
}

/**
 * `text` cut into parts of at most `max` characters (UTF-16 code units, as Telegram counts), each
 * cut at the last line break, else the last space, of the part when it has one in its second half;
 * never inside a surrogate pair.
 */
export function splitMessage(text: string, max = TELEGRAM_MAX_MESSAGE_LENGTH): string[] {
  const parts: string[] = [];
  let rest = text;
  while (rest.length > max) {
    let cut = rest.lastIndexOf("\n", max);
    if (cut < max / 2) cut = rest.lastIndexOf(" ", max);
    if (cut < max / 2) cut = max;
    const code = rest.charCodeAt(cut - 1);
    if (cut === max && code >= 0xd800 && code <= 0xdbff) cut--;
    const part = rest.slice(0, cut).trimEnd();
    if (part) parts.push(part);
    rest = rest.slice(cut).replace(/^[\n ]/, "");
  }
  if (rest.trim()) parts.push(rest);
  return parts;
}

/** Publishes notify jobs committed by the caller (the reaper relays any publish lost here). */
export async function publishNotifications(services: Services, jobIds: readonly string[]): Promise<void> {
  await Promise.all(jobIds.map((jobId) => publishAfterCommit(services, { jobId, kind: "helpdesk-notify", deduplicationId: jobId })));
}

/** The failed attempt for a Telegram error other than 403. */
function attemptError(err: unknown): JobAttemptError {
  if (err instanceof GrammyError) {
    if (err.error_code === 429)
      return new JobAttemptError(`Telegram rate limit (429): ${err.description}`, 429, err.parameters.retry_after ?? 5, { cause: err });
    return new JobAttemptError(`Telegram refused sendMessage (${err.error_code}): ${err.description}`, 502, undefined, { cause: err });
  }
  if (err instanceof HttpError) return new JobAttemptError(`Telegram unreachable: ${err.message}`, 503, 5, { cause: err });
  return new JobAttemptError(`sendMessage failed: ${err instanceof Error ? err.message : String(err)}`, 500, undefined, { cause: err });
}

/**
 * Handles one delivery of `helpdesk-notify` job `jobId` (see the module comment).
 * @throws ApiError 429/502/503 (Telegram), 500 (a corrupt payload, a bot that cannot be read).
 */
export function deliverHelpdeskNotify(services: Services, jobId: string): Promise<JobDeliveryResult<HelpdeskNotifyResult>> {
  const { db } = services;
  return runJobDelivery<HelpdeskNotifyResult>(services, "helpdesk-notify", jobId, async (job) => {
    const parsed = payloadSchema.safeParse(job.payload);
    if (!parsed.success)
      throw new JobAttemptError("invalid helpdesk-notify job payload: expected { messageId } or { botId, clientId, chatId, text }", 500);
    const payload = parsed.data;
    let target: { botId: string; clientId: string; chatId: number; text: string; replyMarkup?: InlineKeyboardMarkup | undefined };
    let messageId: number | undefined;
    let ticketId: string | undefined;
    if ("messageId" in payload) {
      const [row] = await db
        .select({
          kind: helpdeskMessages.kind,
          author: helpdeskMessages.author,
          text: helpdeskMessages.text,
          deliveredAt: helpdeskMessages.deliveredAt,
          ticketId: helpdeskTickets.id,
          clientId: helpdeskClients.id,
          botId: helpdeskClients.botId,
          chatId: helpdeskClients.chatId,
        })
        .from(helpdeskMessages)
        .innerJoin(helpdeskTickets, eq(helpdeskTickets.id, helpdeskMessages.ticketId))
        .innerJoin(helpdeskClients, eq(helpdeskClients.id, helpdeskTickets.clientId))
        .where(and(eq(helpdeskMessages.id, payload.messageId), eq(helpdeskMessages.orgId, job.orgId)));
      if (!row) return { writes: [], result: { outcome: "skipped", parts: 0, reason: "the message no longer exists" } };
      if (row.kind === "note" || row.author === "client")
        return { writes: [], result: { outcome: "skipped", parts: 0, reason: "a note or a client's message is never sent" } };
      if (row.deliveredAt) return { writes: [], result: { outcome: "skipped", parts: 0, reason: "already delivered" } };
      target = row;
      messageId = payload.messageId;
      ticketId = row.ticketId;
    } else {
      target = { ...payload, replyMarkup: payload.replyMarkup as InlineKeyboardMarkup | undefined };
    }
    const parts = splitMessage(target.text);
    if (parts.length === 0) return { writes: [], result: { outcome: "skipped", parts: 0, reason: "an empty message" } };
    const { api } = await botApi(services, target.botId).catch((err: unknown) => {
      throw new JobAttemptError(`the support bot cannot be used: ${err instanceof Error ? err.message : String(err)}`, 500, undefined, {
        cause: err,
      });
    });
    let first: number | undefined;
    try {
      for (const [i, part] of parts.entries()) {
        const last = i === parts.length - 1;
        const sent = await api.sendMessage(target.chatId, part, last && target.replyMarkup ? { reply_markup: target.replyMarkup } : {});
        first ??= sent.message_id;
      }
    } catch (err) {
      if (err instanceof GrammyError && err.error_code === 403) {
        const reason = `the client blocked the bot (403): ${err.description}`;
        services.metrics.count("telegram_messages_sent_total", { purpose: "helpdesk", outcome: "blocked" });
        services.logger.warn("helpdesk client blocked the bot", { jobId, clientId: target.clientId, messageId });
        const writes: BatchItem<"pg">[] = [
          db.update(helpdeskClients).set({ blockedAt: sql`now()` }).where(eq(helpdeskClients.id, target.clientId)),
          db
            .update(helpdeskTickets)
            .set({ clientBlocked: true, updatedAt: sql`now()` })
            .where(
              ticketId
                ? eq(helpdeskTickets.id, ticketId)
                : and(eq(helpdeskTickets.clientId, target.clientId), ne(helpdeskTickets.status, "closed")),
            ),
        ];
        if (messageId !== undefined)
          writes.push(db.update(helpdeskMessages).set({ deliveryError: reason }).where(eq(helpdeskMessages.id, messageId)));
        return { writes, result: { outcome: "blocked", parts: 0, reason } };
      }
      services.metrics.count("telegram_messages_sent_total", { purpose: "helpdesk", outcome: "failed" });
      const failure = attemptError(err);
      if (messageId !== undefined)
        await db
          .update(helpdeskMessages)
          .set({ deliveryError: failure.message })
          .where(eq(helpdeskMessages.id, messageId))
          .catch(() => undefined);
      throw failure;
    }
    services.metrics.count("telegram_messages_sent_total", { purpose: "helpdesk", outcome: "sent" });
    const writes: BatchItem<"pg">[] = [];
    if (messageId !== undefined)
      writes.push(
        db
          .update(helpdeskMessages)
          .set({ deliveredAt: sql`now()`, deliveryError: null, telegramMessageId: first ?? null })
          .where(eq(helpdeskMessages.id, messageId)),
      );
    return { writes, result: { outcome: "sent", parts: parts.length } };
  });
}
