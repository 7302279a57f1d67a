/**
 * The helpdesk end to end, through the real Worker, QStash emulator and Telegram Bot API double:
 * a client talks to the support bot (updates injected at the double, delivered to the Worker's
 * webhook, applied by `helpdesk-update` jobs, answered by `helpdesk-notify` jobs) and opens a ticket
 * with a photo; a manager assigns it, an agent answers, the client receives it, replies, and the
 * ticket reopens. Duplicates have one effect, a forged secret is refused, an agent never sees a
 * colleague's ticket, message paging is stable while messages arrive, blocked clients and
 * Telegram's flood control are handled by the notify job, and SLA flags, stats and settings hold.
 */
import { and, eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import {
  type BotPurpose,
  helpdeskClients,
  helpdeskMessages,
  helpdeskSessions,
  helpdeskTickets,
  jobs,
  type TicketStatus,
} from "../../src/core/db/schema";
import { splitMessage } from "../../src/helpdesk/notify";
import { addMember, api, createTenant, db, problem } from "./helpers";
import { expectProblem } from "./security-support";
import { getJob, waitForJobStatus } from "./sync-support";
import { addDoubleBot, newBotToken, postUpdate, seedTelegramBot, telegramControl } from "./telegram-support";

/** The user id (`sub`) of an access token. */
const userIdOf = (token: string) =>
  (JSON.parse(atob((token.split(".")[1] as string).replaceAll("-", "+").replaceAll("_", "/"))) as { sub: string }).sub;

/** Polls `read` until `done` holds for its value; throws with the last value after `timeoutMs`. */
async function waitFor<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not reached in ${timeoutMs} ms; last: ${JSON.stringify(value).slice(0, 800)}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

interface SentMessage {
  message_id: number;
  text?: string;
  reply_markup?: { inline_keyboard: { text: string; callback_data: string }[][] };
}

/** What the bot sent to chat `chatId`. */
const botMessages = async (token: string, chatId: number) =>
  (await telegramControl<{ messages: SentMessage[] }>(`/__control/messages?token=${encodeURIComponent(token)}&chat_id=${chatId}`)).messages;

/** Waits until the bot has sent chat `chatId` a message matching `pattern`; returns it. */
async function waitForBotMessage(token: string, chatId: number, pattern: RegExp): Promise<SentMessage> {
  const messages = await waitFor(
    `bot message ${pattern}`,
    () => botMessages(token, chatId),
    (ms) => ms.some((m) => pattern.test(m.text ?? "")),
  );
  return messages.find((m) => pattern.test(m.text ?? "")) as SentMessage;
}

/** A Telegram user writing privately. */
function telegramUser(id = 500_000_000 + Math.floor(Math.random() * 400_000_000)) {
  const from = { id, is_bot: false, first_name: "Anna", last_name: "Client", username: `anna${id}` };
  return { from, chat: { id, type: "private" as const, first_name: "Anna", username: from.username } };
}
type TelegramUser = ReturnType<typeof telegramUser>;

/** The client sends `message` fields: the double fills ids and delivers the update to the bot's webhook. */
async function clientSends(token: string, user: TelegramUser, message: Record<string, unknown>) {
  const res = await telegramControl<{ update: { update_id: number }; delivery: { status?: number; error?: string } }>(
    "/__control/updates",
    {
      token,
      update: { message: { from: user.from, chat: user.chat, ...message } },
    },
  );
  expect(res.delivery, JSON.stringify(res.delivery)).toEqual({ status: 200 });
  return res.update;
}

/** The client presses an inline button of `message`. */
async function clientPresses(token: string, user: TelegramUser, message: SentMessage, data: string) {
  const res = await telegramControl<{ delivery: { status?: number } }>("/__control/updates", {
    token,
    update: {
      callback_query: {
        id: String(Math.random()).slice(2),
        from: user.from,
        chat_instance: "1",
        data,
        message: { message_id: message.message_id, date: Math.floor(Date.now() / 1000), chat: user.chat },
      },
    },
  });
  expect(res.delivery).toEqual({ status: 200 });
}

/** An org with an owner and a support bot registered through the API (webhook set at the double). */
async function registeredHelpdesk() {
  const owner = await createTenant({ role: "owner" });
  const token = newBotToken();
  await addDoubleBot(token);
  const res = await api("/api/v1/helpdesk/bots", { method: "POST", token: owner.token, json: { token } });
  expect(res.status, await res.clone().text()).toBe(201);
  const bot = (await res.json()) as { id: string; webhookUrl: string; username: string };
  const webhook = await telegramControl<{ url: string; secretToken: string }>(`/__control/webhook?token=${encodeURIComponent(token)}`);
  return { owner, token, bot: { ...bot, purpose: "helpdesk" as BotPurpose }, secret: webhook.secretToken, webhook };
}

interface TicketBody {
  id: string;
  status: TicketStatus;
  subject: string;
  category: string;
  assigneeId: string | null;
  unread: number;
  overdue: boolean;
  clientBlocked: boolean;
  firstResponseAt: string | null;
  resolvedAt: string | null;
  sla: { firstResponseBreached: boolean; resolutionBreached: boolean };
  media?: { id: string; type: string; size: number | null; url: string }[];
}
interface MessageBody {
  id: number;
  author: string;
  kind: string;
  text: string;
  deliveredAt: string | null;
  deliveryError: string | null;
  media: { id: string; type: string }[];
}
interface MessagesPage {
  items: MessageBody[];
  hasMore: boolean;
  before: number | null;
  after: number | null;
}

async function json<T>(res: Response, status = 200): Promise<T> {
  expect(res.status, await res.clone().text()).toBe(status);
  return (await res.json()) as T;
}

/** Stores a client of `botId` with a ticket (and `messages` client messages), straight into the database. */
async function seedTicket(
  orgId: string,
  botId: string,
  opts: { assigneeId?: string | null; messages?: number; chatId?: number; createdMinutesAgo?: number; subject?: string } = {},
) {
  const database = db();
  const chatId = opts.chatId ?? 600_000_000 + Math.floor(Math.random() * 300_000_000);
  const [client] = await database
    .insert(helpdeskClients)
    .values({ orgId, botId, telegramUserId: chatId, chatId, username: `c${chatId}`, firstName: "Seeded" })
    .returning({ id: helpdeskClients.id });
  const created = sql`now() - make_interval(mins => ${opts.createdMinutesAgo ?? 0})`;
  const [ticket] = await database
    .insert(helpdeskTickets)
    .values({
      orgId,
      clientId: client?.id as string,
      category: "Order",
      subject: opts.subject ?? "Seeded question",
      assigneeId: opts.assigneeId ?? null,
      createdAt: created,
      lastMessageAt: created,
    })
    .returning({ id: helpdeskTickets.id });
  const ticketId = ticket?.id as string;
  const ids = await addClientMessages(orgId, ticketId, opts.messages ?? 1);
  return { clientId: client?.id as string, ticketId, chatId, messageIds: ids };
}

/** Adds `n` client messages to a ticket; returns their ids in order. */
async function addClientMessages(orgId: string, ticketId: string, n: number, prefix = "m") {
  if (n === 0) return [];
  const rows = await db()
    .insert(helpdeskMessages)
    .values(Array.from({ length: n }, (_, i) => ({ orgId, ticketId, author: "client" as const, text: `${prefix}${i + 1}` })))
    .returning({ id: helpdeskMessages.id });
  return rows.map((r) => r.id).sort((a, b) => a - b);
}

describe("the support bot end to end", () => {
  it("a client opens a ticket with a photo; a manager assigns it, the agent answers, the client receives it, replies, and the ticket reopens", async () => {
    const { owner, token, bot, webhook } = await registeredHelpdesk();
    expect(webhook.url).toMatch(new RegExp(`^https?://.+/webhooks/telegram/helpdesk/${bot.id}$`));
    const user = telegramUser();

    await clientSends(token, user, { text: "/start" });
    await waitForBotMessage(token, user.chat.id, /^Hello!/);

    await clientSends(token, user, { text: "Hi, I need help" });
    const keyboard = await waitForBotMessage(token, user.chat.id, /Choose a category/);
    expect(keyboard.reply_markup?.inline_keyboard.map((row) => row[0]?.text)).toEqual([
      "Order",
      "Delivery",
      "Return",
      "Product question",
      "Other",
    ]);

    await clientPresses(token, user, keyboard, "category:1");
    await waitForBotMessage(token, user.chat.id, /^Delivery: now describe/);

    const file = await telegramControl<{ file_id: string; file_unique_id: string; file_size: number }>("/__control/files", {
      token,
      content: "JPEG-BYTES-OF-A-BROKEN-PARCEL",
      file_path: "photos/file_1.jpg",
    });
    await clientSends(token, user, {
      photo: [
        { file_id: `${file.file_id}-small`, file_unique_id: `${file.file_unique_id}-s`, width: 90, height: 90, file_size: 10 },
        { file_id: file.file_id, file_unique_id: file.file_unique_id, width: 1280, height: 960, file_size: file.file_size },
      ],
    });
    await waitForBotMessage(token, user.chat.id, /^Attachment saved/);
    await clientSends(token, user, { text: "My parcel arrived broken" });
    const opened = await waitForBotMessage(token, user.chat.id, /^Ticket #[0-9A-F]{8} is open \(Delivery\)/);

    // The manager finds it in the unassigned queue.
    const manager = await addMember(owner.orgId, "manager");
    const queue = await json<{ items: TicketBody[]; counts: { mine: number; unassigned: number; all: number } }>(
      await api("/api/v1/helpdesk/tickets?assignee=unassigned", { token: manager }),
    );
    expect(queue.counts).toEqual({ mine: 0, unassigned: 1, all: 1 });
    const [ticket] = queue.items;
    expect(ticket).toMatchObject({
      status: "open",
      category: "Delivery",
      subject: "My parcel arrived broken",
      assigneeId: null,
      unread: 1,
    });
    const ticketId = ticket?.id as string;
    expect(opened.text).toContain(ticketId.slice(0, 8).toUpperCase());

    // Assigns it to an agent.
    const agent = await addMember(owner.orgId, "agent");
    const agentId = userIdOf(agent);
    const assigned = await json<TicketBody>(
      await api(`/api/v1/helpdesk/tickets/${ticketId}`, {
        method: "PATCH",
        token: manager,
        json: { assigneeId: agentId, priority: "high" },
      }),
    );
    expect(assigned).toMatchObject({ assigneeId: agentId, status: "open" });

    // The agent sees the photo and downloads it through the Worker.
    const detail = await json<TicketBody>(await api(`/api/v1/helpdesk/tickets/${ticketId}`, { token: agent }));
    expect(detail.media).toHaveLength(1);
    expect(detail.media?.[0]).toMatchObject({ type: "photo", size: file.file_size });
    const download = await api(detail.media?.[0]?.url as string, { token: agent });
    expect(download.status).toBe(200);
    expect(download.headers.get("Content-Type")).toBe("image/jpeg");
    expect(new TextDecoder().decode(await download.arrayBuffer())).toBe("JPEG-BYTES-OF-A-BROKEN-PARCEL");

    // The agent answers; the reply reaches the client through a helpdesk-notify job.
    const reply = await json<MessageBody>(
      await api(`/api/v1/helpdesk/tickets/${ticketId}/messages`, {
        method: "POST",
        token: agent,
        json: { text: "Sorry about that! A replacement is on its way." },
      }),
      201,
    );
    expect(reply).toMatchObject({ author: "manager", kind: "message", deliveredAt: null });
    await waitForBotMessage(token, user.chat.id, /^Sorry about that! A replacement is on its way\.$/);
    const delivered = await waitFor(
      "reply delivered",
      async () => json<MessagesPage>(await api(`/api/v1/helpdesk/tickets/${ticketId}/messages`, { token: agent })),
      (page) => page.items[0]?.deliveredAt !== null,
    );
    expect(delivered.items.map((m) => [m.author, m.text, m.media.length])).toEqual([
      ["manager", "Sorry about that! A replacement is on its way.", 0],
      ["client", "My parcel arrived broken", 1],
    ]);
    expect((await json<TicketBody>(await api(`/api/v1/helpdesk/tickets/${ticketId}`, { token: agent }))).firstResponseAt).not.toBeNull();

    // Resolved; the client writes again; the ticket reopens.
    const resolved = await json<TicketBody>(
      await api(`/api/v1/helpdesk/tickets/${ticketId}`, { method: "PATCH", token: agent, json: { status: "resolved" } }),
    );
    expect(resolved.resolvedAt).not.toBeNull();
    await clientSends(token, user, { text: "It still has not arrived" });
    await waitForBotMessage(token, user.chat.id, /is open again/);
    const reopened = await json<TicketBody>(await api(`/api/v1/helpdesk/tickets/${ticketId}`, { token: agent }));
    expect(reopened).toMatchObject({ status: "open", resolvedAt: null, unread: 2 });
    const read = await json<{ lastReadMessageId: number; unread: number }>(
      await api(`/api/v1/helpdesk/tickets/${ticketId}/read`, { method: "POST", token: agent, json: {} }),
    );
    expect(read.unread).toBe(0);
    expect((await json<TicketBody>(await api(`/api/v1/helpdesk/tickets/${ticketId}`, { token: agent }))).unread).toBe(0);

    // /tickets lists the client's tickets; /new offers the categories for another.
    await clientSends(token, user, { text: "/tickets" });
    await waitForBotMessage(token, user.chat.id, /^Your tickets:\n#[0-9A-F]{8} · Delivery · open$/);
    await clientSends(token, user, { text: "/new" });
    await waitFor(
      "second keyboard",
      () => botMessages(token, user.chat.id),
      (ms) => ms.filter((m) => m.reply_markup).length === 2,
    );
  });

  it("applies a duplicated update once, refuses a forged secret, and refuses unknown query parameters", async () => {
    const { owner, token, bot, secret } = await registeredHelpdesk();
    const seeded = await seedTicket(owner.orgId, bot.id, { messages: 1 });
    const user = telegramUser(seeded.chatId);
    await telegramControl("/__control/chats", { token, chat: user.chat });
    const update = {
      update_id: 4242,
      message: { message_id: 77, date: 1_764_500_000, from: user.from, chat: user.chat, text: "once only" },
    };
    const first = await json<{ ok: true; duplicate: boolean }>(await postUpdate(bot, update, secret));
    const second = await json<{ ok: true; duplicate: boolean }>(await postUpdate(bot, update, secret));
    expect([first.duplicate, second.duplicate]).toEqual([false, true]);
    const messages = await waitFor(
      "the update applied",
      () => db().select().from(helpdeskMessages).where(eq(helpdeskMessages.ticketId, seeded.ticketId)),
      (rows) => rows.length === 2,
    );
    await new Promise((r) => setTimeout(r, 500));
    expect(
      (await db().select().from(helpdeskMessages).where(eq(helpdeskMessages.ticketId, seeded.ticketId))).map((m) => m.text).sort(),
    ).toEqual(["m1", "once only"]);
    expect(messages.find((m) => m.text === "once only")?.telegramMessageId).toBe(77);
    const updateJobs = await db()
      .select()
      .from(jobs)
      .where(and(eq(jobs.orgId, owner.orgId), eq(jobs.kind, "helpdesk-update")));
    expect(updateJobs).toHaveLength(1);

    const forged = await postUpdate(bot, { ...update, update_id: 4243 }, `${secret}x`);
    expect((await problem(forged.clone())).detail).toBe("Invalid secret token.");
    await expectProblem(forged, 401, "forged secret");
    await expectProblem(await postUpdate(bot, update, secret.slice(0, -1)), 401, "near miss");
    const withQuery = await api(`/webhooks/telegram/helpdesk/${bot.id}?debug=1`, {
      method: "POST",
      json: update,
      headers: { "X-Telegram-Bot-Api-Secret-Token": secret },
    });
    await expectProblem(withQuery, 400, "unknown query");
    await expectProblem(await postUpdate(bot, { update_id: -1 }, secret), 400, "update_id must be positive");
  });

  it("serializes concurrent updates of one client: five descriptions at once open one ticket holding all five", async () => {
    const { owner, bot, secret } = await registeredHelpdesk();
    const user = telegramUser();
    const [client] = await db()
      .insert(helpdeskClients)
      .values({ orgId: owner.orgId, botId: bot.id, telegramUserId: user.from.id, chatId: user.chat.id })
      .returning({ id: helpdeskClients.id });
    await db()
      .insert(helpdeskSessions)
      .values({ clientId: client?.id as string, step: "describing", category: "Return" });
    const answers = await Promise.all(
      [1, 2, 3, 4, 5].map((n) =>
        postUpdate(
          bot,
          { update_id: 7000 + n, message: { message_id: n, date: 1, from: user.from, chat: user.chat, text: `part ${n}` } },
          secret,
        ),
      ),
    );
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    const updateJobs = () =>
      db()
        .select()
        .from(jobs)
        .where(and(eq(jobs.orgId, owner.orgId), eq(jobs.kind, "helpdesk-update")));
    await waitFor("five updates applied", updateJobs, (rows) => rows.length === 5 && rows.every((j) => j.status === "succeeded"), 60_000);
    const tickets = await db()
      .select()
      .from(helpdeskTickets)
      .where(eq(helpdeskTickets.clientId, client?.id as string));
    expect(tickets).toHaveLength(1);
    const messages = await db()
      .select()
      .from(helpdeskMessages)
      .where(eq(helpdeskMessages.ticketId, tickets[0]?.id as string));
    expect(messages.map((m) => m.text).sort()).toEqual(["part 1", "part 2", "part 3", "part 4", "part 5"]);
    expect(tickets[0]?.subject).toMatch(/^part [1-5]$/);
  });

  it("registers a bot only with a token Telegram accepts (422 otherwise), and answers it without the token", async () => {
    const owner = await createTenant({ role: "owner" });
    const unknown = await api("/api/v1/helpdesk/bots", { method: "POST", token: owner.token, json: { token: newBotToken() } });
    await expectProblem(unknown, 422, "a token Telegram does not know");
    const token = newBotToken();
    await addDoubleBot(token);
    const res = await api("/api/v1/helpdesk/bots", { method: "POST", token: owner.token, json: { token } });
    const text = await res.text();
    expect(res.status).toBe(201);
    expect(text).not.toContain(token.split(":")[1]);
    const badShape = await api("/api/v1/helpdesk/bots", { method: "POST", token: owner.token, json: { token: "not-a-token" } });
    await expectProblem(badShape, 400, "malformed token");
  });
});

describe("access to tickets", () => {
  async function org() {
    const owner = await createTenant({ role: "owner" });
    const bot = await seedTelegramBot("helpdesk", { orgId: owner.orgId, onDouble: true });
    const [agentA, agentB, manager] = await Promise.all([
      addMember(owner.orgId, "agent"),
      addMember(owner.orgId, "agent"),
      addMember(owner.orgId, "manager"),
    ]);
    return { owner, bot, agentA, agentB, manager };
  }

  it("an agent sees their own tickets and the queue, and gets 404 for a colleague's, like another org's", async () => {
    const { owner, bot, agentA, agentB, manager } = await org();
    const mine = await seedTicket(owner.orgId, bot.id, { assigneeId: userIdOf(agentA) });
    const colleagues = await seedTicket(owner.orgId, bot.id, { assigneeId: userIdOf(agentB) });
    const queued = await seedTicket(owner.orgId, bot.id);
    const media = await db().execute<{ id: string }>(
      sql`insert into helpdesk_media (org_id, ticket_id, file_id, file_unique_id, type) values (${owner.orgId}, ${colleagues.ticketId}, 'f', 'u', 'photo') returning id`,
    );
    const mediaId = media.rows[0]?.id as string;

    const list = await json<{ items: TicketBody[]; counts: Record<string, number> }>(
      await api("/api/v1/helpdesk/tickets", { token: agentA }),
    );
    expect(list.items.map((t) => t.id).sort()).toEqual([mine.ticketId, queued.ticketId].sort());
    expect(list.counts).toEqual({ mine: 1, unassigned: 1, all: 2 });
    const all = await json<{ counts: Record<string, number> }>(await api("/api/v1/helpdesk/tickets", { token: manager }));
    expect(all.counts).toEqual({ mine: 0, unassigned: 1, all: 3 });

    const other = await createTenant({ role: "owner" });
    const unknown = crypto.randomUUID();
    const attempts = (id: string) =>
      [
        ["GET", `/api/v1/helpdesk/tickets/${id}`, undefined],
        ["GET", `/api/v1/helpdesk/tickets/${id}/messages`, undefined],
        ["PATCH", `/api/v1/helpdesk/tickets/${id}`, { status: "resolved" }],
        ["PATCH", `/api/v1/helpdesk/tickets/${id}`, { assigneeId: userIdOf(agentA) }],
        ["POST", `/api/v1/helpdesk/tickets/${id}/messages`, { text: "hijack" }],
        ["POST", `/api/v1/helpdesk/tickets/${id}/read`, {}],
      ] as const;
    for (const [caller, token, id] of [
      ["agent A, colleague's ticket", agentA, colleagues.ticketId],
      ["another org's owner", other.token, colleagues.ticketId],
      ["agent A, unknown ticket", agentA, unknown],
    ] as const) {
      for (const [method, path, body] of attempts(id)) {
        const res = await api(path, { method, token, ...(body ? { json: body } : {}) });
        expect((await problem(res.clone())).detail).toBe("No such ticket.");
        await expectProblem(res, 404, `${caller}: ${method} ${path}`);
      }
    }
    await expectProblem(await api(`/api/v1/helpdesk/media/${mediaId}`, { token: agentA }), 404, "a colleague's attachment");
    await expectProblem(await api(`/api/v1/helpdesk/media/${mediaId}`, { token: other.token }), 404, "another org's attachment");
    const [ticket] = await db().select().from(helpdeskTickets).where(eq(helpdeskTickets.id, colleagues.ticketId));
    expect(ticket).toMatchObject({ status: "open", assigneeId: userIdOf(agentB) });
    expect(await db().select().from(helpdeskMessages).where(eq(helpdeskMessages.ticketId, colleagues.ticketId))).toHaveLength(1);
  });

  it("an agent takes a queued ticket (one of two racing agents wins), must take it before answering, and assigns only themselves", async () => {
    const { owner, bot, agentA, agentB } = await org();
    const queued = await seedTicket(owner.orgId, bot.id);
    const path = `/api/v1/helpdesk/tickets/${queued.ticketId}`;
    await expectProblem(
      await api(`${path}/messages`, { method: "POST", token: agentA, json: { text: "hello" } }),
      403,
      "answer before taking it",
    );
    await expectProblem(await api(path, { method: "PATCH", token: agentA, json: { status: "pending" } }), 403, "change before taking it");
    await expectProblem(
      await api(path, { method: "PATCH", token: agentA, json: { assigneeId: userIdOf(agentB) } }),
      403,
      "assign to a colleague",
    );
    const race = await Promise.all(
      [agentA, agentB].map((token) => api(path, { method: "PATCH", token, json: { assigneeId: userIdOf(token) } })),
    );
    const statuses = race.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect([404, 409]).toContain(statuses.find((s) => s !== 200));
    const [ticket] = await db().select().from(helpdeskTickets).where(eq(helpdeskTickets.id, queued.ticketId));
    const winner = ticket?.assigneeId === userIdOf(agentA) ? agentA : agentB;
    expect(race[winner === agentA ? 0 : 1]?.status).toBe(200);
    const note = await json<MessageBody>(
      await api(`${path}/messages`, { method: "POST", token: winner, json: { text: "internal", kind: "note" } }),
      201,
    );
    expect(note.kind).toBe("note");
    // A note never reaches the client: it has no notify job.
    const notifies = await db()
      .select()
      .from(jobs)
      .where(and(eq(jobs.orgId, owner.orgId), eq(jobs.kind, "helpdesk-notify")));
    expect(notifies).toEqual([]);
    await expectProblem(
      await api(path, { method: "PATCH", token: winner, json: { assigneeId: crypto.randomUUID() } }),
      403,
      "an agent assigning a stranger",
    );
  });

  it("a manager assigns only members who handle tickets; closed is final", async () => {
    const { owner, bot, manager } = await org();
    const { ticketId } = await seedTicket(owner.orgId, bot.id);
    const analyst = await addMember(owner.orgId, "analyst");
    const path = `/api/v1/helpdesk/tickets/${ticketId}`;
    await expectProblem(await api(path, { method: "PATCH", token: manager, json: { assigneeId: userIdOf(analyst) } }), 422, "an analyst");
    await expectProblem(await api(path, { method: "PATCH", token: manager, json: { assigneeId: crypto.randomUUID() } }), 422, "a stranger");
    await expectProblem(await api(path, { method: "PATCH", token: manager, json: {} }), 400, "no field");
    const closed = await json<TicketBody & { closedAt: string | null }>(
      await api(path, { method: "PATCH", token: manager, json: { status: "closed" } }),
    );
    expect(closed.closedAt).not.toBeNull();
    await expectProblem(await api(path, { method: "PATCH", token: manager, json: { status: "open" } }), 409, "reopen a closed ticket");
    await expectProblem(await api(`${path}/messages`, { method: "POST", token: manager, json: { text: "late" } }), 409, "reply to closed");
  });
});

describe("messages", () => {
  it("pages by message id, stable while new messages arrive", async () => {
    const owner = await createTenant({ role: "owner" });
    const bot = await seedTelegramBot("helpdesk", { orgId: owner.orgId });
    const { ticketId, messageIds } = await seedTicket(owner.orgId, bot.id, { messages: 25 });
    const path = `/api/v1/helpdesk/tickets/${ticketId}/messages`;
    const first = await json<MessagesPage>(await api(`${path}?limit=10`, { token: owner.token }));
    expect(first.items.map((m) => m.id)).toEqual(messageIds.slice(15).reverse());
    expect(first).toMatchObject({ hasMore: true, before: messageIds[15], after: messageIds[24] });

    const newer = await addClientMessages(owner.orgId, ticketId, 5, "new");
    const second = await json<MessagesPage>(await api(`${path}?limit=10&before=${first.before}`, { token: owner.token }));
    expect(second.items.map((m) => m.id)).toEqual(messageIds.slice(5, 15).reverse());
    const third = await json<MessagesPage>(await api(`${path}?limit=10&before=${second.before}`, { token: owner.token }));
    expect(third.items.map((m) => m.id)).toEqual(messageIds.slice(0, 5).reverse());
    expect(third.hasMore).toBe(false);
    const seen = [...first.items, ...second.items, ...third.items].map((m) => m.id);
    expect(new Set(seen).size).toBe(25);

    const since = await json<MessagesPage>(await api(`${path}?limit=3&after=${first.after}`, { token: owner.token }));
    expect(since.items.map((m) => m.id)).toEqual(newer.slice(0, 3).reverse());
    expect(since.hasMore).toBe(true);
    const rest = await json<MessagesPage>(await api(`${path}?limit=3&after=${since.after}`, { token: owner.token }));
    expect(rest.items.map((m) => m.text)).toEqual(["new5", "new4"]);
    expect(rest.hasMore).toBe(false);
    const none = await json<MessagesPage>(await api(`${path}?after=${rest.after}`, { token: owner.token }));
    expect(none).toEqual({ items: [], hasMore: false, before: null, after: rest.after });
    await expectProblem(await api(`${path}?limit=101`, { token: owner.token }), 400, "limit over 100");
    await expectProblem(await api(`${path}?before=-1`, { token: owner.token }), 400, "negative cursor");
  });
});

describe("helpdesk-notify", () => {
  async function replyTo(opts: { blocked?: boolean; fault?: Record<string, unknown>; text?: string } = {}) {
    const owner = await createTenant({ role: "owner" });
    const bot = await seedTelegramBot("helpdesk", { orgId: owner.orgId, onDouble: true });
    const seeded = await seedTicket(owner.orgId, bot.id, { assigneeId: owner.userId });
    await telegramControl("/__control/chats", { token: bot.token, chat: { id: seeded.chatId, type: "private", first_name: "Seeded" } });
    if (opts.blocked) await telegramControl("/__control/blocked", { token: bot.token, chat_id: seeded.chatId });
    if (opts.fault) await telegramControl("/__control/faults", { token: bot.token, ...opts.fault });
    const message = await json<MessageBody>(
      await api(`/api/v1/helpdesk/tickets/${seeded.ticketId}/messages`, {
        method: "POST",
        token: owner.token,
        json: { text: opts.text ?? "Hello!" },
      }),
      201,
    );
    const [job] = await db()
      .select()
      .from(jobs)
      .where(eq(jobs.dedupId, `helpdesk-notify:message:${message.id}`));
    if (!job) throw new Error("no notify job");
    return { owner, bot, seeded, message, job };
  }

  it("a client who blocked the bot: the job succeeds without retries and marks the client and the ticket", async () => {
    const { seeded, message, job, owner } = await replyTo({ blocked: true });
    const done = await waitForJobStatus(job.id, "succeeded");
    expect(done.attempts).toBe(1);
    const [client] = await db().select().from(helpdeskClients).where(eq(helpdeskClients.id, seeded.clientId));
    expect(client?.blockedAt).not.toBeNull();
    const ticket = await json<TicketBody & { client: { blockedAt: string | null } }>(
      await api(`/api/v1/helpdesk/tickets/${seeded.ticketId}`, { token: owner.token }),
    );
    expect(ticket.clientBlocked).toBe(true);
    expect(ticket.client.blockedAt).not.toBeNull();
    const [row] = await db().select().from(helpdeskMessages).where(eq(helpdeskMessages.id, message.id));
    expect(row?.deliveredAt).toBeNull();
    expect(row?.deliveryError).toMatch(/blocked the bot \(403\)/);
  });

  it("Telegram's 429: the attempt fails with its retry_after and the retry delivers", async () => {
    const { bot, seeded, message, job } = await replyTo({ fault: { error_code: 429, method: "sendMessage", retry_after: 1, times: 1 } });
    const done = await waitForJobStatus(job.id, "succeeded");
    expect(done.attempts).toBe(2);
    expect((await botMessages(bot.token, seeded.chatId)).map((m) => m.text)).toEqual(["Hello!"]);
    const [row] = await db().select().from(helpdeskMessages).where(eq(helpdeskMessages.id, message.id));
    expect(row?.deliveredAt).not.toBeNull();
    expect(row?.telegramMessageId).toBeGreaterThan(0);
  });

  it("a reply over 4,096 characters arrives as several messages", async () => {
    const text = `${"Lorem ipsum dolor sit amet. ".repeat(200)}\nThe end.`;
    const { bot, seeded, job } = await replyTo({ text });
    await waitForJobStatus(job.id, "succeeded");
    const sent = (await botMessages(bot.token, seeded.chatId)).map((m) => m.text ?? "");
    expect(sent.length).toBe(2);
    for (const part of sent) expect(part.length).toBeLessThanOrEqual(4096);
    expect(sent.join(" ").replace(/\s+/g, " ")).toBe(text.trim().replace(/\s+/g, " "));
    expect(splitMessage("a".repeat(5000)).map((p) => p.length)).toEqual([4096, 904]);
    expect(splitMessage(`${"a".repeat(4095)}😀b`).join("")).toBe(`${"a".repeat(4095)}😀b`);
  });
});

describe("service levels, stats and settings", () => {
  it("flags a ticket past its targets, measures medians, and keeps settings per org", async () => {
    const owner = await createTenant({ role: "owner" });
    const bot = await seedTelegramBot("helpdesk", { orgId: owner.orgId });
    const defaults = await json<{ categories: string[]; sla: { firstResponse: number; resolution: number } }>(
      await api("/api/v1/helpdesk/settings", { token: owner.token }),
    );
    expect(defaults.sla).toEqual({ firstResponse: 60, resolution: 1440 });
    const late = await seedTicket(owner.orgId, bot.id, { createdMinutesAgo: 30, subject: "late one" });
    const fresh = await seedTicket(owner.orgId, bot.id, { subject: "fresh one" });
    const before = await json<{ items: TicketBody[] }>(await api("/api/v1/helpdesk/tickets", { token: owner.token }));
    expect(before.items.every((t) => !t.overdue)).toBe(true);

    const settings = { categories: ["Orders", "Refunds"], sla: { firstResponse: 10, resolution: 120 } };
    expect(await json(await api("/api/v1/helpdesk/settings", { method: "PUT", token: owner.token, json: settings }))).toEqual(settings);
    const after = await json<{ items: TicketBody[] }>(await api("/api/v1/helpdesk/tickets", { token: owner.token }));
    const byId = new Map(after.items.map((t) => [t.id, t]));
    expect(byId.get(late.ticketId)).toMatchObject({ overdue: true, sla: { firstResponseBreached: true, resolutionBreached: false } });
    expect(byId.get(fresh.ticketId)?.overdue).toBe(false);
    const search = await json<{ items: TicketBody[] }>(await api("/api/v1/helpdesk/tickets?q=LATE%25", { token: owner.token }));
    expect(search.items).toEqual([]);
    const found = await json<{ items: TicketBody[] }>(await api("/api/v1/helpdesk/tickets?q=late", { token: owner.token }));
    expect(found.items.map((t) => t.id)).toEqual([late.ticketId]);

    // The late ticket answered 30 minutes after creation and resolved at once.
    await db()
      .update(helpdeskTickets)
      .set({
        firstResponseAt: sql`created_at + interval '30 minutes'`,
        resolvedAt: sql`created_at + interval '40 minutes'`,
        status: "resolved",
      })
      .where(eq(helpdeskTickets.id, late.ticketId));
    const analyst = await addMember(owner.orgId, "analyst");
    const stats = await json<Record<string, unknown>>(await api("/api/v1/helpdesk/stats?period=7d", { token: analyst }));
    expect(stats).toMatchObject({
      period: "7d",
      created: 2,
      byStatus: { open: 1, pending: 0, resolved: 1, closed: 0 },
      medianFirstResponseMinutes: 30,
      medianResolutionMinutes: 40,
      firstResponseBreached: 1,
      resolutionBreached: 0,
      sla: { firstResponse: 10, resolution: 120 },
    });
    await expectProblem(await api("/api/v1/helpdesk/tickets", { token: analyst }), 403, "an analyst reads stats only");
    await expectProblem(
      await api("/api/v1/helpdesk/settings", { method: "PUT", token: owner.token, json: { ...settings, categories: ["A", "A"] } }),
      400,
      "duplicate categories",
    );
    const other = await createTenant({ role: "owner" });
    expect((await json<{ sla: unknown }>(await api("/api/v1/helpdesk/settings", { token: other.token }))).sla).toEqual(defaults.sla);
  });

  it("the bot offers the org's categories, and keeps the conversation in Postgres", async () => {
    const { owner, token, bot } = await registeredHelpdesk();
    await api("/api/v1/helpdesk/settings", {
      method: "PUT",
      token: owner.token,
      json: { categories: ["Orders", "Refunds"], sla: { firstResponse: 10, resolution: 120 } },
    });
    const user = telegramUser();
    await clientSends(token, user, { text: "hello" });
    const keyboard = await waitForBotMessage(token, user.chat.id, /Choose a category/);
    expect(keyboard.reply_markup?.inline_keyboard.flat().map((b) => [b.text, b.callback_data])).toEqual([
      ["Orders", "category:0"],
      ["Refunds", "category:1"],
    ]);
    const [client] = await db().select().from(helpdeskClients).where(eq(helpdeskClients.botId, bot.id));
    const [session] = await db()
      .select()
      .from(helpdeskSessions)
      .where(eq(helpdeskSessions.clientId, client?.id as string));
    expect(session).toMatchObject({ step: "choosing_category", category: null });
    // A sticker is not read; the answer says what is.
    await clientSends(token, user, {
      sticker: { file_id: "s", file_unique_id: "s", type: "regular", width: 1, height: 1, is_animated: false, is_video: false },
    });
    await waitForBotMessage(token, user.chat.id, /^Sorry, I can read text/);
    const job = await getJob(
      (
        await db()
          .select()
          .from(jobs)
          .where(and(eq(jobs.orgId, owner.orgId), eq(jobs.kind, "helpdesk-update")))
      )[0]?.id as string,
    );
    expect(job.status).toBe("succeeded");
  });
});
