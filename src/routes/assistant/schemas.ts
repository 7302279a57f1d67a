/**
 * Request and response schemas of the `assistant` route group. Times are RFC 3339 UTC. A bot token
 * is accepted in a request and never answered.
 */
import { z } from "@hono/zod-openapi";
import { isTimeZone } from "../../assistant/settings";
import { statsPeriods } from "../../assistant/stats";
import { botPurposes } from "../../core/db/schema";

/** Path of the webhook: the bot's id (`telegram_bots.id`). */
export const botParams = z.object({
  botId: z.string().openapi({ param: { name: "botId", in: "path" }, example: "0b6f1c7e-5f7a-4f7c-9a51-1f0f5d4d8a3e" }),
});

/**
 * A Telegram `Update` as Telegram posts it: `update_id` is checked, everything else is stored as
 * sent and read by the job (unknown fields of future Bot API versions must not be refused).
 * @see https://core.telegram.org/bots/api#update
 */
export const telegramUpdate = z
  .looseObject({ update_id: z.number().int().positive().max(Number.MAX_SAFE_INTEGER) })
  .openapi("TelegramUpdate", { description: "A Telegram Update (https://core.telegram.org/bots/api#update)." });

/** 200 of the webhook. */
export const updateAck = z
  .object({ ok: z.literal(true), duplicate: z.boolean().openapi({ description: "The update was stored before (a redelivery)." }) })
  .openapi("TelegramUpdateAck");

/** Body of `POST /api/v1/assistant/bots`. */
export const registerBotBody = z
  .object({
    token: z
      .string()
      .trim()
      .regex(/^\d{1,20}:[A-Za-z0-9_-]{1,200}$/, "must be a bot token from @BotFather (`<bot id>:<secret>`)")
      .openapi({ description: "The bot's token from @BotFather.", example: "7000000001:AAE-local-bot-token-0000000000" }),
  })
  .strict();

/** A registered bot (never its token or webhook secret). */
export const registeredBot = z
  .object({
    id: z.string().uuid(),
    purpose: z.enum(botPurposes),
    telegramId: z.number().int(),
    username: z.string(),
    webhookUrl: z.string().url(),
    createdAt: z.string(),
  })
  .openapi("AssistantBot");

/** Body of `PUT /api/v1/assistant/settings`. */
export const settingsBody = z
  .object({
    systemPrompt: z.string().trim().min(1).max(8000).openapi({ description: "Sent first to the model with every question." }),
    maxHistoryMessages: z
      .number()
      .int()
      .min(0)
      .max(100)
      .openapi({ description: "Messages of the open dialog sent with each question (a user's own setting wins).", example: 20 }),
    timeZone: z.string().refine(isTimeZone, "must be an IANA time zone (Europe/Moscow)").optional().openapi({
      description: "IANA time zone of the statistics' buckets; absent: unchanged (default Europe/Moscow).",
      example: "Europe/Moscow",
    }),
  })
  .strict();

/** The org's assistant settings. */
export const assistantSettingsView = z
  .object({
    systemPrompt: z.string(),
    maxHistoryMessages: z.number().int(),
    timeZone: z.string(),
    updatedAt: z.string().nullable().openapi({ description: "Null while the org has the defaults." }),
  })
  .openapi("AssistantSettings");

/** Query of `GET /api/v1/assistant/stats`. */
export const statsQuery = z
  .object({
    period: z.enum(statsPeriods).default("week").openapi({ description: "`day` (24 hourly buckets), `week` (7 days), `month` (30 days)." }),
  })
  .strict();

const statsUser = z.object({
  id: z.string().uuid(),
  telegramUserId: z.number().int(),
  username: z.string().nullable(),
  firstName: z.string().nullable(),
});

/** The statistics (definitions in docs/assistant.md). */
export const assistantStats = z
  .object({
    period: z.enum(statsPeriods),
    timeZone: z.string(),
    range: z.object({ from: z.string(), to: z.string() }),
    summary: z.object({
      users: z.number().int().nonnegative(),
      activeUsers: z.number().int().nonnegative(),
      newUsers: z.number().int().nonnegative(),
      dialogs: z.number().int().nonnegative(),
      messages: z.number().int().nonnegative(),
      averageMessagesPerDialog: z.number().nullable(),
      medianReplyLatencyMs: z.number().int().nullable(),
      fallbackShare: z.number().min(0).max(1).nullable(),
    }),
    activity: z.array(
      z.object({
        start: z.string().openapi({ description: "The bucket's start (UTC)." }),
        label: z.string().openapi({ description: "The bucket in the org's time zone: `YYYY-MM-DD HH:00` or `YYYY-MM-DD`." }),
        messages: z.number().int().nonnegative(),
        activeUsers: z.number().int().nonnegative(),
      }),
    ),
    recentDialogs: z.array(
      z.object({
        dialogId: z.string().uuid(),
        user: statsUser,
        messageCount: z.number().int().nonnegative(),
        lastMessagePreview: z.string().max(240).nullable(),
        lastActivity: z.string(),
      }),
    ),
    topUsers: z.array(z.object({ user: statsUser, messages: z.number().int().positive() })),
  })
  .openapi("AssistantStats");
