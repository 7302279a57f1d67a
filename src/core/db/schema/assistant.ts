/**
 * The LLM assistant: its settings per org, the Telegram users who talk to it, their dialogs (a
 * `/reset` ends one and starts the next) and every message with its model, tokens and latency.
 * The statistics API reads these. See docs/assistant.md.
 */
import { sql } from "drizzle-orm";
import { bigint, boolean, index, integer, pgTable, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { orgs } from "./identity";
import { telegramBots } from "./telegram";

export const assistantRoles = ["user", "assistant"] as const;

/** The org's assistant settings. */
export const assistantSettings = pgTable("assistant_settings", {
  orgId: uuid("org_id")
    .primaryKey()
    .references(() => orgs.id, { onDelete: "cascade" }),
  systemPrompt: text("system_prompt").notNull().default("You are a helpful assistant of a marketplace seller. Answer briefly."),
  /** Messages of history sent to the model (default 20). */
  maxHistoryMessages: integer("max_history_messages").notNull().default(20),
  /** IANA time zone of the statistics' buckets. */
  timeZone: text("time_zone").notNull().default("Europe/Moscow"),
  updatedAt: timestamp("updated_at", { withTimezone: true, mode: "string" }).notNull().defaultNow(),
});

/** A Telegram user of the assistant. */
export const assistantUsers = pgTable(
  "assistant_users",
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
    /** The user's own history length; null = the org's setting. */
    maxHistoryMessages: integer("max_history_messages"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "string" }).notNull().defaultNow(),
    lastActiveAt: timestamp("last_active_at", { withTimezone: true, mode: "string" }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("assistant_users_bot_user_uq").on(t.botId, t.telegramUserId),
    index("assistant_users_org_created_idx").on(t.orgId, t.createdAt),
  ],
);

/** A dialog: the messages between two `/reset`s. */
export const assistantDialogs = pgTable(
  "assistant_dialogs",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    orgId: uuid("org_id")
      .notNull()
      .references(() => orgs.id, { onDelete: "cascade" }),
    userId: uuid("user_id")
      .notNull()
      .references(() => assistantUsers.id, { onDelete: "cascade" }),
    startedAt: timestamp("started_at", { withTimezone: true, mode: "string" }).notNull().defaultNow(),
    lastMessageAt: timestamp("last_message_at", { withTimezone: true, mode: "string" }).notNull().defaultNow(),
    messageCount: integer("message_count").notNull().default(0),
    /** Set by `/reset`: the dialog's messages leave the history (soft delete). */
    resetAt: timestamp("reset_at", { withTimezone: true, mode: "string" }),
  },
  (t) => [
    index("assistant_dialogs_org_last_idx").on(t.orgId, t.lastMessageAt),
    uniqueIndex("assistant_dialogs_user_open_uq").on(t.userId).where(sql`reset_at is null`),
  ],
);

export const assistantMessages = pgTable(
  "assistant_messages",
  {
    id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    orgId: uuid("org_id")
      .notNull()
      .references(() => orgs.id, { onDelete: "cascade" }),
    dialogId: uuid("dialog_id")
      .notNull()
      .references(() => assistantDialogs.id, { onDelete: "cascade" }),
    userId: uuid("user_id")
      .notNull()
      .references(() => assistantUsers.id, { onDelete: "cascade" }),
    role: text("role", { enum: assistantRoles }).notNull(),
    content: text("content").notNull(),
    /** Characters (code points). */
    contentLength: integer("content_length").notNull(),
    /** The model that wrote an assistant message. */
    model: text("model"),
    promptTokens: integer("prompt_tokens"),
    completionTokens: integer("completion_tokens"),
    /** Milliseconds from the user's message to the reply being produced (assistant messages). */
    latencyMs: integer("latency_ms"),
    /** The reply came from the fallback model. */
    fallbackUsed: boolean("fallback_used").notNull().default(false),
    /** The Telegram update that carried a user message (unique: one reply per update). */
    telegramUpdateId: bigint("telegram_update_id", { mode: "number" }),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "string" }).notNull().defaultNow(),
    deletedAt: timestamp("deleted_at", { withTimezone: true, mode: "string" }),
  },
  (t) => [
    index("assistant_messages_org_created_idx").on(t.orgId, t.createdAt),
    index("assistant_messages_dialog_idx").on(t.dialogId, t.id),
    index("assistant_messages_user_idx").on(t.userId, t.id),
  ],
);
