/**
 * One QStash delivery of a `helpdesk-update` job (payload `{ botId, updateId }`, created with the
 * inbox row by `ingestUpdate`): applies one Telegram update of the org's support bot to the client's
 * conversation (`src/helpdesk/conversation.ts`), exactly once.
 *
 * 1. Reads the update from the inbox (`telegram_updates`), and upserts its client (bot, Telegram user:
 *    names refreshed, `blocked_at` cleared — a client who writes has unblocked the bot) with an `idle`
 *    session if they had none: one idempotent statement, so a retry repeats it harmlessly.
 * 2. Reads the session, the client's tickets and the org's categories (one Neon request).
 * 3. Commits in ONE batch with the lease check and the job's `succeeded` mark ({@link runJobDelivery}):
 *    a {@link stateCheck} that the session's `updated_at` is still the one read, the new session, the
 *    new ticket or the client's message with its media, and one `helpdesk-notify` job per bot answer
 *    (the outbox). Two updates of one client applied at once: the later commit finds the session
 *    changed, its batch aborts, and the delivery answers 503 (`Retry-After: 1`) so QStash redelivers
 *    it against the new state — never a lost or doubled transition.
 * 4. After the commit, publishes the notify jobs; a publish lost here is relayed by the reaper.
 * The bot never sends from this job: every answer goes through `helpdesk-notify` (retries, the
 * dead-letter queue, blocked clients in one place; `src/helpdesk/notify.ts`).
 */
import { and, desc, eq, ne, type SQL, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { z } from "zod";
import type { Services } from "../core/context";
import type { Database } from "../core/db/client";
import { helpdeskClients, helpdeskSessions, helpdeskSettings, helpdeskTickets, telegramUpdates } from "../core/db/schema";
import { insertJob, JobAttemptError, type JobDeliveryResult, runJobDelivery, stateCheck } from "../jobs/ledger";
import { type ConversationState, converse, type PendingMedia, readUpdate, type TelegramClient } from "./conversation";
import { type NotifyPayload, publishNotifications } from "./notify";
import { DEFAULT_SETTINGS } from "./settings";

/** What a `helpdesk-update` delivery did (`result` of its 200 answer). */
export interface HelpdeskUpdateResult {
  /** What the update did in words (`opened a ticket`, `ignored: an edited message …`). */
  effect: string;
  /** The ticket it opened or wrote to. */
  ticketId?: string;
  /** The `helpdesk-notify` jobs of the bot's answers. */
  notifyJobIds: string[];
}

const jobPayload = z.object({ botId: z.uuid(), updateId: z.number().int().positive() });
const storedMedia = z.array(
  z.object({
    fileId: z.string(),
    fileUniqueId: z.string(),
    type: z.enum(["photo", "video", "document", "voice"]),
    size: z.number().nullable(),
    mimeType: z.string().nullable(),
  }),
);

/** Upserts the client and makes sure they have a session; returns the client id. One statement. */
async function upsertClient(db: Database, orgId: string, botId: string, client: TelegramClient): Promise<string> {
  const { rows } = await db.execute<{ id: string }>(sql`
    with c as (
      insert into ${helpdeskClients} (org_id, bot_id, telegram_user_id, chat_id, username, first_name, last_name)
      values (${orgId}, ${botId}, ${client.telegramUserId}, ${client.chatId}, ${client.username}, ${client.firstName}, ${client.lastName})
      on conflict (bot_id, telegram_user_id) do update set chat_id = excluded.chat_id, username = excluded.username,
        first_name = excluded.first_name, last_name = excluded.last_name, blocked_at = null
      returning id
    ), s as (
      insert into ${helpdeskSessions} (client_id) select id from c on conflict (client_id) do nothing
    )
    select id from c`);
  const id = rows[0]?.id;
  if (!id) throw new JobAttemptError("the client upsert returned no row", 500);
  return id;
}

/** The statement that stores a client's (or anyone's) message with its media in one go. */
export function insertMessageWithMedia(
  db: Database,
  message: { ticketId: string; orgId: string; author: "client"; text: string; telegramMessageId: number; media: PendingMedia[] },
) {
  const media = JSON.stringify(
    message.media.map((m) => ({ file_id: m.fileId, file_unique_id: m.fileUniqueId, type: m.type, size: m.size, mime_type: m.mimeType })),
  );
  return db.execute(sql`
    with m as (
      insert into helpdesk_messages (ticket_id, org_id, author, kind, text, telegram_message_id)
      values (${message.ticketId}, ${message.orgId}, ${message.author}, 'message', ${message.text}, ${message.telegramMessageId})
      returning id
    )
    insert into helpdesk_media (org_id, ticket_id, message_id, file_id, file_unique_id, type, size, mime_type)
    select ${message.orgId}, ${message.ticketId}, m.id, x.file_id, x.file_unique_id, x.type, x.size, x.mime_type
    from m, jsonb_to_recordset(${media}::jsonb) as x(file_id text, file_unique_id text, type text, size int, mime_type text)`);
}

/**
 * Handles one delivery of `helpdesk-update` job `jobId` (see the module comment), then publishes the
 * notify jobs it committed.
 * @throws ApiError 503 (a concurrent update of the client, the database), 500 (a corrupt job payload).
 */
export async function deliverHelpdeskUpdate(services: Services, jobId: string): Promise<JobDeliveryResult<HelpdeskUpdateResult>> {
  const { db } = services;
  const result = await runJobDelivery<HelpdeskUpdateResult>(services, "helpdesk-update", jobId, async (job) => {
    const payload = jobPayload.safeParse(job.payload);
    if (!payload.success) throw new JobAttemptError("invalid helpdesk-update job payload: expected { botId: uuid, updateId }", 500);
    const { botId, updateId } = payload.data;
    const [stored] = await db
      .select({ payload: telegramUpdates.payload })
      .from(telegramUpdates)
      .where(and(eq(telegramUpdates.botId, botId), eq(telegramUpdates.updateId, updateId), eq(telegramUpdates.orgId, job.orgId)));
    if (!stored) return { writes: [], result: { effect: "ignored: the update no longer exists", notifyJobIds: [] } };
    const read = readUpdate(stored.payload);
    if ("ignored" in read) return { writes: [], result: { effect: `ignored: ${read.ignored}`, notifyJobIds: [] } };

    const clientId = await upsertClient(db, job.orgId, botId, read.client);
    const ticketOfClient = and(eq(helpdeskTickets.clientId, clientId), eq(helpdeskTickets.orgId, job.orgId));
    const ticketFields = { id: helpdeskTickets.id, category: helpdeskTickets.category, status: helpdeskTickets.status };
    const [[session], recentTickets, [openTicket], [settingsRow]] = await db.batch([
      db.select().from(helpdeskSessions).where(eq(helpdeskSessions.clientId, clientId)),
      db
        .select(ticketFields)
        .from(helpdeskTickets)
        .where(ticketOfClient)
        .orderBy(desc(helpdeskTickets.createdAt), desc(helpdeskTickets.id))
        .limit(10),
      db
        .select(ticketFields)
        .from(helpdeskTickets)
        .where(and(ticketOfClient, ne(helpdeskTickets.status, "closed")))
        .orderBy(desc(helpdeskTickets.createdAt), desc(helpdeskTickets.id))
        .limit(1),
      db.select({ categories: helpdeskSettings.categories }).from(helpdeskSettings).where(eq(helpdeskSettings.orgId, job.orgId)),
    ]);
    if (!session) throw new JobAttemptError("the client's session was not created", 500);
    const pending = storedMedia.safeParse(session.pendingMedia);
    const state: ConversationState = {
      step: session.step,
      category: session.category,
      pendingMedia: pending.success ? pending.data : [],
      openTicket: openTicket ?? null,
      recentTickets,
      categories: settingsRow?.categories ?? DEFAULT_SETTINGS.categories,
    };
    const newTicketId = crypto.randomUUID();
    const outcome = converse(state, read.input, newTicketId);

    const writes: BatchItem<"pg">[] = [
      stateCheck(
        db,
        helpdeskSessions,
        and(eq(helpdeskSessions.clientId, clientId), sql`${helpdeskSessions.updatedAt} = ${session.updatedAt}::timestamptz`) as SQL,
      ),
      db
        .update(helpdeskSessions)
        .set({
          step: outcome.session.step,
          category: outcome.session.category,
          pendingMedia: outcome.session.pendingMedia,
          updatedAt: sql`greatest(now(), ${helpdeskSessions.updatedAt} + interval '1 microsecond')`,
        })
        .where(eq(helpdeskSessions.clientId, clientId)),
    ];
    let ticketId: string | undefined;
    if (outcome.createTicket) {
      const t = outcome.createTicket;
      ticketId = newTicketId;
      writes.push(
        db.insert(helpdeskTickets).values({ id: newTicketId, orgId: job.orgId, clientId, category: t.category, subject: t.text }),
        insertMessageWithMedia(db, { ...t, ticketId, orgId: job.orgId, author: "client" }),
      );
    }
    if (outcome.appendToTicket) {
      const a = outcome.appendToTicket;
      ticketId = a.ticketId;
      writes.push(
        db
          .update(helpdeskTickets)
          .set({
            lastMessageAt: sql`now()`,
            updatedAt: sql`now()`,
            clientBlocked: false,
            ...(a.reopen ? { status: "open" as const, resolvedAt: null } : {}),
          })
          .where(and(eq(helpdeskTickets.id, a.ticketId), eq(helpdeskTickets.orgId, job.orgId))),
        insertMessageWithMedia(db, { ...a, orgId: job.orgId, author: "client" }),
      );
    }
    const notifyJobIds = outcome.replies.map(() => crypto.randomUUID());
    outcome.replies.forEach((reply, i) => {
      const notify: NotifyPayload = { botId, clientId, chatId: read.client.chatId, text: reply.text, replyMarkup: reply.replyMarkup };
      writes.push(
        insertJob(db, {
          id: notifyJobIds[i] as string,
          kind: "helpdesk-notify",
          orgId: job.orgId,
          idempotencyKey: `helpdesk-notify:${job.id}:${i}`,
          payload: notify,
        }),
      );
    });
    return { writes, result: { effect: outcome.effect, ...(ticketId ? { ticketId } : {}), notifyJobIds } };
  });
  if (result.outcome === "succeeded") await publishNotifications(services, result.result.notifyJobIds);
  return result;
}
