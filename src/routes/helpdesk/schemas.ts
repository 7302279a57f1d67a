/**
 * Request and response schemas of the `helpdesk` route group: the support bot's webhook, its
 * registration, the panel's tickets, messages, read marks, media, stats and settings. Times in
 * answers are RFC 3339 UTC. Closed sets (statuses, priorities, media types, authors) come from the
 * schema (`src/core/db/schema/helpdesk.ts`); texts are bounded; Telegram ids are positive.
 */
import { z } from "@hono/zod-openapi";
import { uuidCursorParam } from "../../core/cursor";
import { mediaTypes, messageAuthors, messageKinds, ticketPriorities, ticketStatuses } from "../../core/db/schema";
import { integerQueryParam } from "../../core/validation";
import { MAX_CATEGORIES, MAX_CATEGORY_CHARS } from "../../helpdesk/settings";

/** A path id: a UUID (anything else is a 404, like an unknown one, not a 400). */
const pathId = (name: string) =>
  z.string().openapi({ param: { name, in: "path" }, example: "5d0c1e7a-3b2f-4c8e-9a61-0b7f4e2d9c15", description: "A UUID." });

/** Path of a ticket route. */
export const ticketParams = z.object({ id: pathId("id") });
/** Path of the media route. */
export const mediaParams = z.object({ id: pathId("id") });
/** Path of the bot's webhook: the bot the update is for. */
export const botParams = z.object({ botId: pathId("botId") });

/** Replaces U+0000 in every string of `value` with U+FFFD (Postgres cannot store NUL; a client can send one). */
function withoutNul(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return value.replaceAll("\u0000", "\uFFFD");
  if (value === null || typeof value !== "object" || depth > 32) return value;
  if (Array.isArray(value)) return value.map((v) => withoutNul(v, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k.replaceAll("\u0000", "\uFFFD"), withoutNul(v, depth + 1)]));
}

/**
 * A Telegram `Update` as the webhook receives it: `update_id` a positive integer, everything else
 * kept as sent (loose; the job reads the parts it needs). A NUL in a string becomes U+FFFD: a 400
 * would only make Telegram redeliver the same update.
 * @see https://core.telegram.org/bots/api#update
 */
export const telegramUpdate = z
  .preprocess(
    (value) => withoutNul(value),
    z.looseObject({
      update_id: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
    }),
  )
  .openapi("TelegramUpdate", {
    type: "object",
    example: {
      update_id: 100000001,
      message: {
        message_id: 1,
        date: 1764500000,
        chat: { id: 5550001, type: "private" },
        from: { id: 5550001, is_bot: false },
        text: "Hi",
      },
    },
  });

/** 200 of the webhook. */
export const updateAck = z
  .object({
    ok: z.literal(true),
    duplicate: z.boolean().openapi({ description: "True when this update_id was stored before: nothing new happened." }),
  })
  .openapi("TelegramUpdateAck");

/** Body of `POST /api/v1/helpdesk/bots`: the token @BotFather gave. */
export const registerBotBody = z
  .object({
    token: z
      .string()
      .regex(/^\d{1,20}:[A-Za-z0-9_-]{20,100}$/, "Not a Telegram bot token (`<bot id>:<secret>`)")
      .openapi({ example: "7000000001:AAEhBOweik6ad9r_QXMENQjcrGbqCr4K-sY" }),
  })
  .strict();

/** A registered bot (never its token or webhook secret). */
export const registeredBot = z
  .object({
    id: z.string().uuid(),
    purpose: z.literal("helpdesk"),
    telegramId: z.number().int().positive(),
    username: z.string(),
    webhookUrl: z.string().url(),
    createdAt: z.string(),
  })
  .openapi("HelpdeskBot");

/** Who a list shows: the caller's tickets, the unassigned queue, or every ticket the caller may see. */
export const assigneeTabs = ["me", "unassigned", "all"] as const;

/** Query of `GET /api/v1/helpdesk/tickets`. */
export const ticketsQuery = z
  .object({
    status: z.enum(ticketStatuses).optional(),
    assignee: z.enum(assigneeTabs).default("all"),
    priority: z.enum(ticketPriorities).optional(),
    q: z.string().trim().min(1).max(200).optional().openapi({ description: "Searches the subject, category and the client's names." }),
    cursor: uuidCursorParam.optional(),
    limit: integerQueryParam(1, 100).default(50).openapi({ type: "integer", minimum: 1, maximum: 100, default: 50 }),
  })
  .strict();

/** The client of a ticket. */
export const ticketClient = z.object({
  id: z.string().uuid(),
  telegramUserId: z.number().int().positive(),
  username: z.string().nullable(),
  firstName: z.string().nullable(),
  lastName: z.string().nullable(),
  /** When the client blocked the bot (replies cannot reach them); null otherwise. */
  blockedAt: z.string().nullable(),
});

/** A ticket's service levels against the org's targets. */
export const ticketSla = z.object({
  firstResponseDueAt: z.string(),
  resolutionDueAt: z.string(),
  /** The first reply came (or is still missing) after its target. */
  firstResponseBreached: z.boolean(),
  /** The ticket was resolved (or is still unresolved) after its target. */
  resolutionBreached: z.boolean(),
});

/** A ticket as the panel shows it. */
export const ticketView = z
  .object({
    id: z.string().uuid(),
    /** The short number the bot shows the client (`#` and the first 8 hex digits of the id). */
    number: z.string(),
    category: z.string(),
    subject: z.string(),
    status: z.enum(ticketStatuses),
    priority: z.enum(ticketPriorities),
    assigneeId: z.string().uuid().nullable(),
    client: ticketClient,
    clientBlocked: z.boolean(),
    createdAt: z.string(),
    updatedAt: z.string(),
    lastMessageAt: z.string(),
    firstResponseAt: z.string().nullable(),
    resolvedAt: z.string().nullable(),
    closedAt: z.string().nullable(),
    /** Messages after the caller's read mark, not written by the caller. */
    unread: z.number().int().nonnegative(),
    sla: ticketSla,
    /** Past either service-level target. */
    overdue: z.boolean(),
  })
  .openapi("HelpdeskTicket");
export type TicketView = z.infer<typeof ticketView>;

/** Counts per tab under the same filters. */
export const tabCounts = z.object({
  mine: z.number().int().nonnegative(),
  unassigned: z.number().int().nonnegative(),
  all: z.number().int().nonnegative(),
});

/** 200 of `GET /api/v1/helpdesk/tickets`. */
export const ticketsPage = z.object({
  items: z.array(ticketView),
  /** The next page's `cursor`; null on the last page. */
  nextCursor: z.string().nullable(),
  counts: tabCounts,
});

/** An attachment. */
export const mediaView = z
  .object({
    id: z.string().uuid(),
    type: z.enum(mediaTypes),
    /** Bytes, as Telegram reported them. */
    size: z.number().int().nullable(),
    mimeType: z.string().nullable(),
    /** The message it came with. */
    messageId: z.number().int().nullable(),
    /** `GET` it (with the caller's token) to download it. */
    url: z.string(),
  })
  .openapi("HelpdeskMedia");
export type MediaView = z.infer<typeof mediaView>;

/** 200 of `GET /api/v1/helpdesk/tickets/{id}`. */
export const ticketDetail = ticketView.extend({ media: z.array(mediaView) }).openapi("HelpdeskTicketDetail");

/** Body of `PATCH /api/v1/helpdesk/tickets/{id}`: at least one field. */
export const updateTicketBody = z
  .object({
    status: z.enum(ticketStatuses).optional(),
    priority: z.enum(ticketPriorities).optional(),
    assigneeId: z.string().uuid().nullable().optional().openapi({ description: "A member's user id; null unassigns." }),
  })
  .strict()
  .refine((b) => b.status !== undefined || b.priority !== undefined || b.assigneeId !== undefined, "Name at least one field to change");

/** Longest manager message or note, characters (a reply over 4,096 reaches the client in several messages). */
export const MAX_MANAGER_TEXT = 10_000;

/** Body of `POST /api/v1/helpdesk/tickets/{id}/messages`. */
export const createMessageBody = z
  .object({
    text: z.string().trim().min(1).max(MAX_MANAGER_TEXT),
    kind: z.enum(messageKinds).default("message").openapi({ description: "`note`: internal, never sent to the client." }),
  })
  .strict();

/** A message of a ticket. */
export const messageView = z
  .object({
    id: z.number().int().positive(),
    ticketId: z.string().uuid(),
    author: z.enum(messageAuthors),
    authorUserId: z.string().uuid().nullable(),
    kind: z.enum(messageKinds),
    text: z.string(),
    createdAt: z.string(),
    /** When Telegram accepted a reply; null for notes, client messages and replies not yet delivered. */
    deliveredAt: z.string().nullable(),
    /** Why the last delivery attempt failed (the client blocked the bot, Telegram refused). */
    deliveryError: z.string().nullable(),
    media: z.array(mediaView),
  })
  .openapi("HelpdeskMessage");
export type MessageView = z.infer<typeof messageView>;

/** Query of `GET /api/v1/helpdesk/tickets/{id}/messages`. */
export const messagesQuery = z
  .object({
    before: integerQueryParam(1, Number.MAX_SAFE_INTEGER).optional().openapi({ description: "Only messages with a smaller id (older)." }),
    after: integerQueryParam(0, Number.MAX_SAFE_INTEGER).optional().openapi({ description: "Only messages with a larger id (newer)." }),
    limit: integerQueryParam(1, 100).default(50).openapi({ type: "integer", minimum: 1, maximum: 100, default: 50 }),
  })
  .strict();

/** 200 of `GET /api/v1/helpdesk/tickets/{id}/messages`. */
export const messagesPage = z.object({
  /** Newest first. */
  items: z.array(messageView),
  /** More messages lie beyond this page: older ones without `after`, newer ones with it. */
  hasMore: z.boolean(),
  /** The oldest id of the page: `before=` it gives the older messages (null: empty page). */
  before: z.number().int().nullable(),
  /** The newest id of the page (or the `after` given when it is empty): `after=` it gives the newer messages. */
  after: z.number().int().nullable(),
});

/** Body of `POST /api/v1/helpdesk/tickets/{id}/read`. */
export const markReadBody = z
  .object({
    messageId: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional().openapi({ description: "Default: the newest message." }),
  })
  .strict();

/** 200 of `POST /api/v1/helpdesk/tickets/{id}/read`. */
export const readMark = z.object({
  ticketId: z.string().uuid(),
  lastReadMessageId: z.number().int().nonnegative(),
  unread: z.number().int().nonnegative(),
});

/** Periods of the stats. */
export const statsPeriods = ["7d", "30d", "90d"] as const;

/** Query of `GET /api/v1/helpdesk/stats`. */
export const statsQuery = z.object({ period: z.enum(statsPeriods).default("30d") }).strict();

/** 200 of `GET /api/v1/helpdesk/stats`. */
export const helpdeskStats = z
  .object({
    period: z.enum(statsPeriods),
    /** Tickets created since (RFC 3339). */
    from: z.string(),
    created: z.number().int().nonnegative(),
    /** Tickets created in the period, by their status now. */
    byStatus: z.object(
      Object.fromEntries(ticketStatuses.map((s) => [s, z.number().int().nonnegative()])) as Record<
        (typeof ticketStatuses)[number],
        z.ZodNumber
      >,
    ),
    /** Median minutes from creation to the first manager reply, of the tickets answered; null when none. */
    medianFirstResponseMinutes: z.number().nullable(),
    /** Median minutes from creation to `resolved`, of the tickets resolved; null when none. */
    medianResolutionMinutes: z.number().nullable(),
    /** Tickets of the period past their targets. */
    firstResponseBreached: z.number().int().nonnegative(),
    resolutionBreached: z.number().int().nonnegative(),
    sla: z.object({ firstResponse: z.number().int(), resolution: z.number().int() }),
  })
  .openapi("HelpdeskStats");

/** The org's helpdesk settings (GET answer and PUT body). */
export const helpdeskSettingsSchema = z
  .object({
    categories: z
      .array(z.string().trim().min(1).max(MAX_CATEGORY_CHARS))
      .min(1)
      .max(MAX_CATEGORIES)
      .refine((c) => new Set(c).size === c.length, "Categories must be distinct"),
    sla: z
      .object({
        /** Minutes from a ticket's creation to the first reply. */
        firstResponse: z.number().int().min(1).max(10_080),
        /** Minutes from a ticket's creation to `resolved`. */
        resolution: z.number().int().min(1).max(43_200),
      })
      .strict(),
  })
  .strict()
  .openapi("HelpdeskSettings");
