/**
 * Telegram bots of an org (the helpdesk's support bot, the LLM assistant) and their update inbox.
 *
 * - `telegram_bots`: the bot token, AES-GCM encrypted (`src/core/crypto.ts`), never returned; the
 *   webhook secret (`setWebhook`'s `secret_token`) kept only as its SHA-256, compared with the
 *   `X-Telegram-Bot-Api-Secret-Token` header's. At most one active bot per org and purpose.
 * - `telegram_updates`: the inbox, keyed by (bot, `update_id`): a redelivered update finds its row
 *   and changes nothing. Each update has one job (`job_id`: `helpdesk-update`, `assistant-reply`)
 *   in the job ledger, inserted by the same statement (the outbox).
 * @see https://core.telegram.org/bots/api#setwebhook
 * @see https://core.telegram.org/bots/api#update
 */
import { sql } from "drizzle-orm";
import { bigint, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { orgs, users } from "./identity";
import { jobs } from "./jobs";

export const botPurposes = ["helpdesk", "assistant"] as const;
export type BotPurpose = (typeof botPurposes)[number];

export const telegramBots = pgTable(
  "telegram_bots",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    orgId: uuid("org_id")
      .notNull()
      .references(() => orgs.id, { onDelete: "cascade" }),
    purpose: text("purpose", { enum: botPurposes }).notNull(),
    /** The bot's Telegram user id (`getMe`). */
    telegramId: bigint("telegram_id", { mode: "number" }).notNull(),
    username: text("username").notNull(),
    tokenCiphertext: text("token_ciphertext").notNull(),
    /** SHA-256 (hex) of the webhook's `secret_token`. */
    webhookSecretHash: text("webhook_secret_hash").notNull(),
    createdBy: uuid("created_by").references(() => users.id, { onDelete: "set null" }),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "string" }).notNull().defaultNow(),
    disabledAt: timestamp("disabled_at", { withTimezone: true, mode: "string" }),
  },
  (t) => [uniqueIndex("telegram_bots_active_purpose_uq").on(t.orgId, t.purpose).where(sql`disabled_at is null`)],
);

export const telegramUpdates = pgTable(
  "telegram_updates",
  {
    botId: uuid("bot_id")
      .notNull()
      .references(() => telegramBots.id, { onDelete: "cascade" }),
    updateId: bigint("update_id", { mode: "number" }).notNull(),
    orgId: uuid("org_id")
      .notNull()
      .references(() => orgs.id, { onDelete: "cascade" }),
    /** The `Update` as received. */
    payload: jsonb("payload").notNull(),
    receivedAt: timestamp("received_at", { withTimezone: true, mode: "string" }).notNull().defaultNow(),
    jobId: uuid("job_id").references(() => jobs.id, { onDelete: "set null" }),
  },
  (t) => [primaryKey({ columns: [t.botId, t.updateId] })],
);
