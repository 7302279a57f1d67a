/**
 * The helpdesk: clients who write to the org's support bot, their conversation state, tickets,
 * messages (client's, managers' replies, internal notes), media attachments, per-manager read
 * marks, and the org's service-level targets. See docs/helpdesk.md.
 */
import { sql } from "drizzle-orm";
import { bigint, boolean, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { orgs, users } from "./identity";
import { telegramBots } from "./telegram";

export const ticketStatuses = ["open", "pending", "resolved", "closed"] as const;
export type TicketStatus = (typeof ticketStatuses)[number];
export const ticketPriorities = ["low", "normal", "high", "urgent"] as const;
export type TicketPriority = (typeof ticketPriorities)[number];
export const messageAuthors = ["client", "manager", "bot"] as const;
export const messageKinds = ["message", "note"] as const;
export const mediaTypes = ["photo", "video", "document", "voice"] as const;
export type MediaType = (typeof mediaTypes)[number];
export const sessionSteps = ["idle", "choosing_category", "describing"] as const;
export type SessionStep = (typeof sessionSteps)[number];

/** The org's helpdesk settings: categories offered by the bot and service-level targets (minutes). */
export const helpdeskSettings = pgTable("helpdesk_settings", {
  orgId: uuid("org_id")
    .primaryKey()
    .references(() => orgs.id, { onDelete: "cascade" }),
  categories: text("categories").array().notNull().default(sql`'{Order,Delivery,Return,Product question,Other}'::text[]`),
  slaFirstResponseMinutes: integer("sla_first_response_minutes").notNull().default(60),
  slaResolutionMinutes: integer("sla_resolution_minutes").notNull().default(1440),
  updatedAt: timestamp("updated_at", { withTimezone: true, mode: "string" }).notNull().defaultNow(),
});

/** A Telegram user who wrote to the org's support bot. */
export const helpdeskClients = pgTable(
  "helpdesk_clients",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    orgId: uuid("org_id")
      .notNull()
      .references(() => orgs.id, { onDelete: "cascade" }),
    botId: uuid("bot_id")
      .notNull()
      .references(() => telegramBots.id, { onDelete: "cascade" }),
    telegramUserId: bigint("telegram_user_id", { mode: "number" }).notNull(),
    chatId: bigint("chat_id", { mode: "number" }).notNull(),
    username: text("username"),
    firstName: text("first_name"),
    lastName: text("last_name"),
    /** Set when Telegram answered 403 (the client blocked the bot); cleared when they write again. */
    blockedAt: timestamp("blocked_at", { withTimezone: true, mode: "string" }),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "string" }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("helpdesk_clients_bot_user_uq").on(t.botId, t.telegramUserId)],
);

/** A client's conversation state with the bot (never kept in memory: Workers are stateless). */
export const helpdeskSessions = pgTable("helpdesk_sessions", {
  clientId: uuid("client_id")
    .primaryKey()
    .references(() => helpdeskClients.id, { onDelete: "cascade" }),
  step: text("step", { enum: sessionSteps }).notNull().default("idle"),
  category: text("category"),
  /** Media sent before the description: `[{ fileId, fileUniqueId, type, size, mimeType }]`. */
  pendingMedia: jsonb("pending_media").notNull().default(sql`'[]'::jsonb`),
  updatedAt: timestamp("updated_at", { withTimezone: true, mode: "string" }).notNull().defaultNow(),
});

export const helpdeskTickets = pgTable(
  "helpdesk_tickets",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    orgId: uuid("org_id")
      .notNull()
      .references(() => orgs.id, { onDelete: "cascade" }),
    clientId: uuid("client_id")
      .notNull()
      .references(() => helpdeskClients.id, { onDelete: "cascade" }),
    category: text("category").notNull(),
    /** The client's description (first message), at most 4,096 characters. */
    subject: text("subject").notNull(),
    status: text("status", { enum: ticketStatuses }).notNull().default("open"),
    priority: text("priority", { enum: ticketPriorities }).notNull().default("normal"),
    assigneeId: uuid("assignee_id").references(() => users.id, { onDelete: "set null" }),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "string" }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "string" }).notNull().defaultNow(),
    lastMessageAt: timestamp("last_message_at", { withTimezone: true, mode: "string" }).notNull().defaultNow(),
    /** The first manager reply (not a note). */
    firstResponseAt: timestamp("first_response_at", { withTimezone: true, mode: "string" }),
    resolvedAt: timestamp("resolved_at", { withTimezone: true, mode: "string" }),
    closedAt: timestamp("closed_at", { withTimezone: true, mode: "string" }),
    /** A reply could not be delivered because the client blocked the bot. */
    clientBlocked: boolean("client_blocked").notNull().default(false),
  },
  (t) => [
    index("helpdesk_tickets_org_status_idx").on(t.orgId, t.status, t.lastMessageAt),
    index("helpdesk_tickets_org_assignee_idx").on(t.orgId, t.assigneeId, t.lastMessageAt),
    index("helpdesk_tickets_client_idx").on(t.clientId, t.createdAt),
  ],
);

export const helpdeskMessages = pgTable(
  "helpdesk_messages",
  {
    /** Monotonic: the cursor of the message list. */
    id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    ticketId: uuid("ticket_id")
      .notNull()
      .references(() => helpdeskTickets.id, { onDelete: "cascade" }),
    orgId: uuid("org_id")
      .notNull()
      .references(() => orgs.id, { onDelete: "cascade" }),
    author: text("author", { enum: messageAuthors }).notNull(),
    /** The manager who wrote it (manager messages and notes). */
    authorUserId: uuid("author_user_id").references(() => users.id, { onDelete: "set null" }),
    /** `note`: internal, never sent to the client. */
    kind: text("kind", { enum: messageKinds }).notNull().default("message"),
    text: text("text").notNull().default(""),
    /** The Telegram message id (received, or sent once delivered). */
    telegramMessageId: bigint("telegram_message_id", { mode: "number" }),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "string" }).notNull().defaultNow(),
    deliveredAt: timestamp("delivered_at", { withTimezone: true, mode: "string" }),
    deliveryError: text("delivery_error"),
  },
  (t) => [index("helpdesk_messages_ticket_idx").on(t.ticketId, t.id)],
);

export const helpdeskMedia = pgTable(
  "helpdesk_media",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    orgId: uuid("org_id")
      .notNull()
      .references(() => orgs.id, { onDelete: "cascade" }),
    ticketId: uuid("ticket_id")
      .notNull()
      .references(() => helpdeskTickets.id, { onDelete: "cascade" }),
    messageId: bigint("message_id", { mode: "number" }).references(() => helpdeskMessages.id, { onDelete: "set null" }),
    /** Telegram `file_id` (to download) and `file_unique_id` (stable across bots). */
    fileId: text("file_id").notNull(),
    fileUniqueId: text("file_unique_id").notNull(),
    type: text("type", { enum: mediaTypes }).notNull(),
    /** Bytes, as Telegram reports them. */
    size: integer("size"),
    mimeType: text("mime_type"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "string" }).notNull().defaultNow(),
  },
  (t) => [index("helpdesk_media_ticket_idx").on(t.ticketId)],
);

/** The last message a manager has read in a ticket: unread = messages after it. */
export const helpdeskReads = pgTable(
  "helpdesk_reads",
  {
    ticketId: uuid("ticket_id")
      .notNull()
      .references(() => helpdeskTickets.id, { onDelete: "cascade" }),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    lastReadMessageId: bigint("last_read_message_id", { mode: "number" }).notNull(),
    readAt: timestamp("read_at", { withTimezone: true, mode: "string" }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.ticketId, t.userId] })],
);
