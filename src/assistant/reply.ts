/**
 * One QStash delivery of an `assistant-reply` job: the job (payload `{ botId, updateId }`, created
 * with the update by `ingestUpdate`) answers one Telegram update to the org's assistant bot.
 *
 * - `/start`, `/help`: the fixed text. `/reset`: the open dialog gets `reset_at` and its messages
 *   `deleted_at` (soft delete: the statistics keep them, the model never sees them again); the
 *   next message opens a new dialog. A message without text: a fixed "text only" answer. Other
 *   updates (edits, callback queries, messages from bots) are acknowledged without an answer.
 * - A text: the sender becomes (or stays) an `assistant_users` row, the open dialog is found or
 *   opened, and — unless this user is over `ASSISTANT_USER_MESSAGES_PER_MINUTE` (then a polite
 *   "too many messages" without the model) — the model is asked with the system prompt, the last
 *   `max_history_messages` (the user's, else the org's, default 20) non-deleted messages of the
 *   open dialog and the new text (`src/assistant/llm.ts`: the fallback model on 429, 5xx or a
 *   timeout).
 *
 * **One reply per update: the reply is recorded before it is sent.** As soon as the model has
 * answered, one batch — fenced by the job's lease — stores the user's message and the reply
 * (role, content, length, model, tokens, latency, fallback, the update id) and the dialog's
 * counters. Only then is the reply sent, and then the job is marked `succeeded`. A redelivery
 * (QStash's retry, or the relay after the Worker died) first looks for a reply recorded for this
 * update: if there is one, it sends that text again without asking the model or storing anything.
 * So a crash between the model and the record costs one more model request and nothing else; a
 * crash after the record resends the recorded reply; only a crash in the instant between
 * Telegram's answer to `sendMessage` and the `succeeded` commit can show the user the same reply
 * twice (Telegram's `sendMessage` has no idempotency key, so at-least-once is the best there is —
 * and no reply is ever lost). Duplicate updates never get this far: the inbox keeps one job per
 * `update_id`. Commands commit their writes in the `succeeded` batch, after the answer was sent
 * (a `/reset` applied twice is still one reset).
 *
 * `latency_ms` of a reply is the time from the update's arrival (`telegram_updates.received_at`) to
 * the reply's record, both on the database's clock, so it is what the user waited minus the send.
 * The org's cache version is bumped once per recorded reply or reset (not per message), so the
 * statistics API's cached answers go stale at once.
 */
import { and, eq, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { z } from "zod";
import { invalidateOrgCache } from "../core/cache";
import type { Services } from "../core/context";
import type { Database } from "../core/db/client";
import { assistantDialogs, assistantMessages, assistantSettings, assistantUsers, telegramUpdates } from "../core/db/schema";
import { checkRateLimit } from "../core/rate-limit";
import { LlmError } from "../integrations/llm/client";
import type { ChatMessage } from "../integrations/llm/types";
import { describeCause } from "../jobs/failure-cause";
import {
  isLeaseLost,
  JobAttemptError,
  type JobDeliveryResult,
  type JobWork,
  type Lease,
  LeaseLostError,
  leaseCheck,
  runJobDelivery,
} from "../jobs/ledger";
import { botApi } from "../telegram/bots";
import { type AssistantCommand, assistantTexts, parseCommand } from "./commands";
import { completeWithFallback, requireLlm } from "./llm";
import { sendText } from "./send";
import { defaultAssistantSettings } from "./settings";

/** What one delivery did (`result` of a `succeeded` outcome). */
export interface AssistantReplyResult {
  /**
   * `replied`: the model's reply was sent; `command`: a command was answered; `rate-limited`: the
   * user was asked to slow down; `unsupported`: a message without text; `ignored`: nothing to answer.
   */
  action: "replied" | "command" | "rate-limited" | "unsupported" | "ignored";
  command?: AssistantCommand;
  /** The model that wrote the reply, and whether it was the fallback. */
  model?: string;
  fallbackUsed?: boolean;
  /** `recorded`: asked the model and stored the reply now; `resent`: a reply stored by an earlier attempt. */
  reply?: "recorded" | "resent";
  /** `sent`, `blocked` (the user blocked the bot), or `none`. */
  delivery: "sent" | "blocked" | "none";
  /** Messages sent (a reply over 4,096 characters is several). */
  parts: number;
  reason?: string;
}

/** Payload of an `assistant-reply` job (`ingestUpdate`). */
const jobPayload = z.object({ botId: z.uuid(), updateId: z.number().int().positive() });

/** The part of a Telegram `Update` the assistant reads. */
const updateSchema = z.looseObject({
  update_id: z.number(),
  message: z
    .looseObject({
      chat: z.looseObject({ id: z.number().int() }),
      from: z
        .looseObject({
          id: z.number().int(),
          is_bot: z.boolean().optional(),
          username: z.string().optional(),
          first_name: z.string().optional(),
        })
        .optional(),
      text: z.string().optional(),
    })
    .optional(),
});

/** The sender of a message, as `assistant_users` keeps them. */
interface Sender {
  orgId: string;
  botId: string;
  telegramUserId: number;
  chatId: number;
  username: string | null;
  firstName: string | null;
}

/** The upsert of the sender: a new user, or the known one with its chat, names and activity refreshed. */
function upsertUser(db: Database, sender: Sender) {
  return db
    .insert(assistantUsers)
    .values(sender)
    .onConflictDoUpdate({
      target: [assistantUsers.botId, assistantUsers.telegramUserId],
      set: {
        chatId: sql`excluded.chat_id`,
        username: sql`excluded.username`,
        firstName: sql`excluded.first_name`,
        lastActiveAt: sql`now()`,
      },
    })
    .returning({ id: assistantUsers.id });
}

/** `/reset`: the user's messages leave the history, then the open dialog is closed (in this order, in one batch). */
function resetWrites(db: Database, sender: Sender): BatchItem<"pg">[] {
  const user = sql`(select ${assistantUsers.id} from ${assistantUsers} where ${assistantUsers.botId} = ${sender.botId} and ${assistantUsers.telegramUserId} = ${sender.telegramUserId})`;
  return [
    db
      .update(assistantMessages)
      .set({ deletedAt: sql`now()` })
      .where(and(sql`${assistantMessages.userId} = ${user}`, sql`${assistantMessages.deletedAt} is null`)),
    db
      .update(assistantDialogs)
      .set({ resetAt: sql`now()` })
      .where(and(sql`${assistantDialogs.userId} = ${user}`, sql`${assistantDialogs.resetAt} is null`)),
  ];
}

/** What the model needs for a text, and a reply already recorded for the update. */
interface DialogContext {
  userId: string;
  dialogId: string;
  systemPrompt: string;
  history: { role: "user" | "assistant"; content: string }[];
  existing: { content: string; model: string | null; fallbackUsed: boolean } | null;
}

/**
 * One Neon request (a batch, one transaction): upserts the sender, opens a dialog unless one is
 * open, and reads the settings, the history (the last N non-deleted messages of the open dialog, N
 * the user's, else the org's, else 20) and a reply already recorded for `updateId`.
 */
async function loadContext(db: Database, sender: Sender, updateId: number): Promise<DialogContext> {
  const [, , context] = await db.batch([
    upsertUser(db, sender),
    db.execute(sql`
      insert into ${assistantDialogs} (org_id, user_id)
      select org_id, id from ${assistantUsers} where bot_id = ${sender.botId} and telegram_user_id = ${sender.telegramUserId}
      on conflict (user_id) where reset_at is null do nothing`),
    db.execute<{
      user_id: string;
      dialog_id: string;
      system_prompt: string | null;
      history: DialogContext["history"];
      existing: DialogContext["existing"];
    }>(sql`
      select u.id as user_id, d.id as dialog_id, s.system_prompt,
        coalesce((
          select json_agg(json_build_object('role', h.role, 'content', h.content) order by h.id)
          from (
            select m.id, m.role, m.content from ${assistantMessages} m
            where m.dialog_id = d.id and m.deleted_at is null
            order by m.id desc
            limit coalesce(u.max_history_messages, s.max_history_messages, ${defaultAssistantSettings.maxHistoryMessages})
          ) h
        ), '[]'::json) as history,
        (
          select json_build_object('content', r.content, 'model', r.model, 'fallbackUsed', r.fallback_used)
          from ${assistantMessages} r
          where r.user_id = u.id and r.telegram_update_id = ${updateId} and r.role = 'assistant'
          order by r.id limit 1
        ) as existing
      from ${assistantUsers} u
      join ${assistantDialogs} d on d.user_id = u.id and d.reset_at is null
      left join ${assistantSettings} s on s.org_id = u.org_id
      where u.bot_id = ${sender.botId} and u.telegram_user_id = ${sender.telegramUserId}`),
  ]);
  const row = context.rows[0];
  if (!row) throw new Error("the assistant user or its open dialog was not found after the upsert");
  return {
    userId: row.user_id,
    dialogId: row.dialog_id,
    systemPrompt: row.system_prompt ?? defaultAssistantSettings.systemPrompt,
    history: row.history,
    existing: row.existing,
  };
}

/** Characters of a text as the statistics count them (code points). */
const codePoints = (text: string) => [...text].length;

/**
 * Records the user's message and the reply with the dialog's counters, in one batch fenced by the
 * lease (see the module comment). @throws LeaseLostError when another delivery took the job over.
 */
async function recordExchange(
  db: Database,
  lease: Lease,
  input: {
    sender: Sender;
    context: DialogContext;
    updateId: number;
    receivedAt: string;
    text: string;
    reply: { content: string; model: string; promptTokens: number; completionTokens: number; fallbackUsed: boolean };
  },
): Promise<void> {
  const { sender, context, updateId, receivedAt, text, reply } = input;
  const base = { orgId: sender.orgId, dialogId: context.dialogId, userId: context.userId, telegramUpdateId: updateId };
  try {
    await db.batch([
      leaseCheck(db, lease),
      db.insert(assistantMessages).values({ ...base, role: "user", content: text, contentLength: codePoints(text), createdAt: receivedAt }),
      db.insert(assistantMessages).values({
        ...base,
        role: "assistant",
        content: reply.content,
        contentLength: codePoints(reply.content),
        model: reply.model,
        promptTokens: reply.promptTokens,
        completionTokens: reply.completionTokens,
        latencyMs: sql`greatest(0, round(extract(epoch from (now() - ${receivedAt}::timestamptz)) * 1000))::int`,
        fallbackUsed: reply.fallbackUsed,
      }),
      db
        .update(assistantDialogs)
        .set({ messageCount: sql`${assistantDialogs.messageCount} + 2`, lastMessageAt: sql`now()` })
        .where(eq(assistantDialogs.id, context.dialogId)),
    ]);
  } catch (err) {
    throw isLeaseLost(err) ? new LeaseLostError(lease) : err;
  }
}

/** The attempt error of a model failure: 429 with its retry time, 503 for an outage, 502 for a refusal. */
function modelFailure(err: unknown): unknown {
  if (!(err instanceof LlmError)) return err;
  if (err.type === "rate_limit")
    return new JobAttemptError(`the model is rate limited: ${err.message}`, 429, err.retryAfterSeconds ?? 30, { cause: err });
  if (err.transient) return new JobAttemptError(`the model is unavailable: ${err.message}`, 503, 10, { cause: err });
  return new JobAttemptError(`the model refused: ${err.message}`, 502, undefined, { cause: err });
}

/**
 * Runs one delivery of `assistant-reply` job `jobId` (see the module comment).
 * @throws ApiError 503 before claiming when the LLM is not configured; the attempt's ApiError
 *   (429/500/502/503) when it failed and QStash should retry.
 */
export async function deliverAssistantReply(services: Services, jobId: string): Promise<JobDeliveryResult<AssistantReplyResult>> {
  const llm = requireLlm(services.config);
  const { db, logger } = services;
  let changedOrg: string | undefined;
  const bump = async (orgId: string) => {
    await invalidateOrgCache(services.redis, orgId).catch((err: unknown) =>
      logger.warn("assistant: cache version not bumped; cached statistics stay until their TTL", { orgId, error: describeCause(err) }),
    );
  };
  const outcome = await runJobDelivery(services, "assistant-reply", jobId, async (job, lease): Promise<JobWork<AssistantReplyResult>> => {
    const payload = jobPayload.safeParse(job.payload);
    if (!payload.success) throw new JobAttemptError(`invalid assistant-reply payload: ${z.prettifyError(payload.error)}`, 500);
    const { botId, updateId } = payload.data;
    const ignored = (reason: string): JobWork<AssistantReplyResult> => ({
      writes: [],
      result: { action: "ignored", delivery: "none", parts: 0, reason },
    });
    const [stored] = await db
      .select({ payload: telegramUpdates.payload, receivedAt: telegramUpdates.receivedAt })
      .from(telegramUpdates)
      .where(and(eq(telegramUpdates.botId, botId), eq(telegramUpdates.updateId, updateId)));
    if (!stored) return ignored("the update is no longer stored (its bot was deleted)");
    const update = updateSchema.safeParse(stored.payload);
    const message = update.success ? update.data.message : undefined;
    if (!message) return ignored("not a new message (an edit, a callback query or another update type)");
    if (!message.from || message.from.is_bot) return ignored("a message without a human sender");
    const sender: Sender = {
      orgId: job.orgId,
      botId,
      telegramUserId: message.from.id,
      chatId: message.chat.id,
      username: message.from.username ?? null,
      firstName: message.from.first_name ?? null,
    };
    const { api } = await botApi(services, botId);

    if (message.text === undefined) {
      const sent = await sendText(services, api, sender.chatId, assistantTexts.unsupported);
      return { writes: [upsertUser(db, sender)], result: { action: "unsupported", delivery: sent.outcome, parts: sent.parts } };
    }
    const command = parseCommand(message.text);
    if (command) {
      const sent = await sendText(services, api, sender.chatId, assistantTexts[command]);
      if (command === "reset") changedOrg = job.orgId;
      return {
        writes: [upsertUser(db, sender), ...(command === "reset" ? resetWrites(db, sender) : [])],
        result: { action: "command", command, delivery: sent.outcome, parts: sent.parts },
      };
    }

    const context = await loadContext(db, sender, updateId);
    let reply: { content: string; model: string | null; fallbackUsed: boolean; state: "recorded" | "resent" };
    if (context.existing) {
      reply = { ...context.existing, state: "resent" };
    } else {
      const limited = await checkRateLimit(
        services.redis,
        { name: "assistant-user-messages", limit: services.config.ASSISTANT_USER_MESSAGES_PER_MINUTE, windowSeconds: 60 },
        `${botId}:${sender.telegramUserId}`,
      );
      if (limited.degraded) logger.warn("assistant: per-user message limit skipped: Redis did not answer", { botId });
      if (!limited.success) {
        const sent = await sendText(services, api, sender.chatId, assistantTexts.rateLimited);
        return { writes: [], result: { action: "rate-limited", delivery: sent.outcome, parts: sent.parts } };
      }
      const messages: ChatMessage[] = [
        { role: "system", content: context.systemPrompt },
        ...context.history,
        { role: "user", content: message.text },
      ];
      const answer = await completeWithFallback(services, llm, messages).catch((err: unknown) => {
        throw modelFailure(err);
      });
      await recordExchange(db, lease, { sender, context, updateId, receivedAt: stored.receivedAt, text: message.text, reply: answer });
      await bump(job.orgId);
      reply = { content: answer.content, model: answer.model, fallbackUsed: answer.fallbackUsed, state: "recorded" };
    }
    const sent = await sendText(services, api, sender.chatId, reply.content);
    return {
      writes: [],
      result: {
        action: "replied",
        ...(reply.model ? { model: reply.model } : {}),
        fallbackUsed: reply.fallbackUsed,
        reply: reply.state,
        delivery: sent.outcome,
        parts: sent.parts,
      },
    };
  });
  if (outcome.outcome === "succeeded" && changedOrg) await bump(changedOrg);
  return outcome;
}
