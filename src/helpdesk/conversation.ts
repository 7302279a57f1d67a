/**
 * The support bot's conversation with one client, as a pure function: what the client sent (read
 * from a Telegram `Update` by {@link readUpdate}) and the client's state (session step, pending
 * media, open ticket, the org's categories) in; the new session, the ticket or message to write and
 * the bot's answers out ({@link converse}). No I/O: the `helpdesk-update` job reads the state and
 * commits the outcome (`src/helpdesk/update-job.ts`); every answer is sent by a `helpdesk-notify` job.
 *
 * Steps (`helpdesk_sessions.step`), drawn in docs/helpdesk.md:
 * - `idle`: `/start` greets; `/tickets` lists the client's tickets; `/new` offers the categories; any
 *   other message goes to the client's open ticket (the newest one not `closed`, reopened when it was
 *   `pending` or `resolved`), or — without one — starts a ticket: the categories are offered;
 * - `choosing_category`: a category button (callback data `category:<index>`) moves to `describing`;
 *   anything else is answered with the buttons again (media are kept as pending);
 * - `describing`: a message with text (or a caption) opens the ticket: its category, the text as the
 *   subject and first message, the pending media and the message's own attached to it; media
 *   without text are kept as pending.
 * Edited messages, other chats than private ones, and bots are ignored.
 * @see https://core.telegram.org/bots/api#update
 * @see https://core.telegram.org/bots/features#inline-keyboards
 */
import { z } from "zod";
import type { MediaType, SessionStep, TicketStatus } from "../core/db/schema";
import type { InlineKeyboardMarkup } from "../integrations/telegram/types";

/** Media kept in the session until the description arrives, or attached to a message. */
export interface PendingMedia {
  fileId: string;
  fileUniqueId: string;
  type: MediaType;
  /** Bytes, as Telegram reports them. */
  size: number | null;
  mimeType: string | null;
}

/** Most media kept before the description. */
export const MAX_PENDING_MEDIA = 10;
/** Longest ticket subject and client message stored, characters (Telegram's own message limit). */
export const MAX_CLIENT_TEXT = 4096;

/** The Telegram user who wrote (`from`), as the client row keeps them. */
export interface TelegramClient {
  telegramUserId: number;
  chatId: number;
  username: string | null;
  firstName: string | null;
  lastName: string | null;
}

/** What the client sent. */
export type ClientInput =
  | { kind: "command"; command: "start" | "tickets" | "new" }
  | { kind: "message"; text: string; media: PendingMedia[]; telegramMessageId: number }
  | { kind: "category"; index: number }
  | { kind: "unsupported" };

/** An update read: the client and their input, or why it is ignored. */
export type ReadUpdate = { client: TelegramClient; input: ClientInput } | { ignored: string };

const fileFields = {
  file_id: z.string().min(1).max(300),
  file_unique_id: z.string().min(1).max(200),
  file_size: z
    .number()
    .int()
    .nonnegative()
    .max(2 ** 31 - 1)
    .optional(),
};
const mediaFile = z.looseObject({ ...fileFields, mime_type: z.string().max(200).optional() });
const user = z.looseObject({
  id: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  is_bot: z.boolean().optional(),
  username: z.string().max(64).optional(),
  first_name: z.string().max(256).optional(),
  last_name: z.string().max(256).optional(),
});
const chat = z.looseObject({ id: z.number().int().min(-Number.MAX_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER), type: z.string() });
const message = z.looseObject({
  message_id: z.number().int().positive(),
  from: user.optional(),
  chat,
  text: z.string().optional(),
  caption: z.string().optional(),
  photo: z.array(z.looseObject({ ...fileFields })).optional(),
  video: mediaFile.optional(),
  document: mediaFile.optional(),
  voice: mediaFile.optional(),
});
/** The parts of an `Update` the bot reads (the rest is kept in the inbox as received). */
const update = z.looseObject({
  update_id: z.number().int().positive(),
  message: message.optional(),
  edited_message: z.unknown().optional(),
  callback_query: z
    .looseObject({ id: z.string(), from: user, data: z.string().max(64).optional(), message: z.looseObject({ chat }).optional() })
    .optional(),
});

/** Callback data of the category button `index`. */
export const categoryCallback = (index: number) => `category:${index}`;

const COMMAND = /^\/(start|tickets|new)(?:@\w+)?(?:\s|$)/;

/** The media of a message: the largest photo size, a video, a document or a voice message. */
function mediaOf(m: z.infer<typeof message>): PendingMedia[] {
  const media: PendingMedia[] = [];
  const largest = m.photo?.at(-1);
  if (largest)
    media.push({
      fileId: largest.file_id,
      fileUniqueId: largest.file_unique_id,
      type: "photo",
      size: largest.file_size ?? null,
      mimeType: "image/jpeg",
    });
  for (const type of ["video", "document", "voice"] as const) {
    const file = m[type];
    if (file)
      media.push({
        fileId: file.file_id,
        fileUniqueId: file.file_unique_id,
        type,
        size: file.file_size ?? null,
        mimeType: file.mime_type ?? null,
      });
  }
  return media;
}

/** The client of `from` in chat `chatId`. */
const clientOf = (from: z.infer<typeof user>, chatId: number): TelegramClient => ({
  telegramUserId: from.id,
  chatId,
  username: from.username ?? null,
  firstName: from.first_name ?? null,
  lastName: from.last_name ?? null,
});

/** Reads what a client sent from an `Update` (see the module comment for what is ignored). */
export function readUpdate(raw: unknown): ReadUpdate {
  const parsed = update.safeParse(raw);
  if (!parsed.success) return { ignored: `not an update the bot reads: ${parsed.error.issues[0]?.message ?? "invalid"}` };
  const { message: m, callback_query: callback } = parsed.data;
  if (m) {
    if (!m.from || m.from.is_bot) return { ignored: "a message without a human sender" };
    if (m.chat.type !== "private") return { ignored: `a message in a ${m.chat.type} chat` };
    const client = clientOf(m.from, m.chat.id);
    const text = (m.text ?? m.caption ?? "").trim();
    const command = COMMAND.exec(text)?.[1] as "start" | "tickets" | "new" | undefined;
    if (command) return { client, input: { kind: "command", command } };
    const media = mediaOf(m);
    if (text === "" && media.length === 0) return { client, input: { kind: "unsupported" } };
    return { client, input: { kind: "message", text: text.slice(0, MAX_CLIENT_TEXT), media, telegramMessageId: m.message_id } };
  }
  if (callback) {
    if (callback.from.is_bot) return { ignored: "a callback from a bot" };
    const chatId = callback.message?.chat.id ?? callback.from.id;
    if (callback.message && callback.message.chat.type !== "private") return { ignored: "a callback in a group chat" };
    const index = /^category:(\d{1,3})$/.exec(callback.data ?? "")?.[1];
    if (index === undefined) return { ignored: "a callback the bot did not offer" };
    return { client: clientOf(callback.from, chatId), input: { kind: "category", index: Number(index) } };
  }
  if (parsed.data.edited_message !== undefined) return { ignored: "an edited message (the ticket keeps the original)" };
  return { ignored: "an update kind the bot does not read" };
}

/** A ticket of the client, as the conversation needs it. */
export interface ClientTicket {
  id: string;
  category: string;
  status: TicketStatus;
}

/** The client's state before the update. */
export interface ConversationState {
  step: SessionStep;
  category: string | null;
  pendingMedia: PendingMedia[];
  /** The newest ticket of the client that is not closed. */
  openTicket: ClientTicket | null;
  /** The client's latest tickets, newest first (for `/tickets`). */
  recentTickets: ClientTicket[];
  categories: string[];
}

/** A message of the bot to the client. */
export interface BotReply {
  text: string;
  replyMarkup?: InlineKeyboardMarkup;
}

/** What an update changes and answers. */
export interface ConversationOutcome {
  session: { step: SessionStep; category: string | null; pendingMedia: PendingMedia[] };
  /** A new ticket with its first message (the description) and the media attached to it. */
  createTicket?: { category: string; text: string; media: PendingMedia[]; telegramMessageId: number };
  /** A client message for the open ticket (`reopen`: it was pending or resolved and opens again). */
  appendToTicket?: { ticketId: string; text: string; media: PendingMedia[]; telegramMessageId: number; reopen: boolean };
  replies: BotReply[];
  /** What happened, in a few words (the job's result). */
  effect: string;
}

/** A ticket's short number as the bot shows it: `#` and the first 8 hex digits of its id. */
export const ticketNumber = (ticketId: string) => `#${ticketId.slice(0, 8).toUpperCase()}`;

const greeting =
  "Hello! This is the seller's support. Write your question and a manager will answer here.\n" +
  "/new opens a new ticket, /tickets lists yours.";

/** The category question with one button per category. */
function categoryPrompt(categories: string[], nudge = false): BotReply {
  return {
    text: nudge ? "Please choose a category with the buttons below." : "What is your question about? Choose a category:",
    replyMarkup: { inline_keyboard: categories.map((name, i) => [{ text: name, callback_data: categoryCallback(i) }]) },
  };
}

/** The `/tickets` answer. */
function ticketList(tickets: ClientTicket[]): BotReply {
  if (tickets.length === 0) return { text: "You have no tickets yet. Write your question to open one." };
  return { text: ["Your tickets:", ...tickets.map((t) => `${ticketNumber(t.id)} · ${t.category} · ${t.status}`)].join("\n") };
}

/** Keeps at most {@link MAX_PENDING_MEDIA} media, the earliest. */
const capMedia = (media: PendingMedia[]) => media.slice(0, MAX_PENDING_MEDIA);

/**
 * The outcome of `input` for a client in `state` (see the module comment).
 * @param newTicketId the id the ticket gets when this update opens one.
 */
export function converse(state: ConversationState, input: ClientInput, newTicketId: string): ConversationOutcome {
  const keep = { step: state.step, category: state.category, pendingMedia: state.pendingMedia };
  const choosing = { step: "choosing_category" as const, category: null, pendingMedia: [] as PendingMedia[] };
  switch (input.kind) {
    case "command":
      if (input.command === "start") return { session: keep, replies: [{ text: greeting }], effect: "greeted" };
      if (input.command === "tickets") return { session: keep, replies: [ticketList(state.recentTickets)], effect: "listed tickets" };
      return { session: choosing, replies: [categoryPrompt(state.categories)], effect: "offered the categories" };
    case "unsupported":
      return {
        session: keep,
        replies: [{ text: "Sorry, I can read text, photos, videos, documents and voice messages." }],
        effect: "unsupported content",
      };
    case "category": {
      const category = state.categories[input.index];
      if (state.step !== "choosing_category") return { session: keep, replies: [], effect: "a category button of a finished question" };
      if (category === undefined)
        return { session: keep, replies: [categoryPrompt(state.categories, true)], effect: "an unknown category" };
      return {
        session: { step: "describing", category, pendingMedia: state.pendingMedia },
        replies: [{ text: `${category}: now describe your question in one message. You can attach photos or videos.` }],
        effect: "chose a category",
      };
    }
    case "message": {
      const media = capMedia([...state.pendingMedia, ...input.media]);
      if (state.step === "choosing_category")
        return { session: { ...keep, pendingMedia: media }, replies: [categoryPrompt(state.categories, true)], effect: "asked again" };
      if (state.step === "describing") {
        if (input.text === "") {
          return {
            session: { ...keep, pendingMedia: media },
            replies: [{ text: "Attachment saved. Now describe your question in a message." }],
            effect: "kept media",
          };
        }
        const category = state.category ?? state.categories.at(-1) ?? "Other";
        return {
          session: { step: "idle", category: null, pendingMedia: [] },
          createTicket: { category, text: input.text, media, telegramMessageId: input.telegramMessageId },
          replies: [{ text: `Ticket ${ticketNumber(newTicketId)} is open (${category}). A manager will answer here.` }],
          effect: "opened a ticket",
        };
      }
      if (state.openTicket) {
        const reopen = state.openTicket.status === "pending" || state.openTicket.status === "resolved";
        return {
          session: keep,
          appendToTicket: {
            ticketId: state.openTicket.id,
            text: input.text,
            media: input.media,
            telegramMessageId: input.telegramMessageId,
            reopen,
          },
          replies: reopen ? [{ text: `Ticket ${ticketNumber(state.openTicket.id)} is open again. A manager will answer here.` }] : [],
          effect: reopen ? "reopened the ticket" : "added to the ticket",
        };
      }
      return {
        session: { step: "choosing_category", category: null, pendingMedia: capMedia(input.media) },
        replies: [categoryPrompt(state.categories)],
        effect: "offered the categories",
      };
    }
  }
}
