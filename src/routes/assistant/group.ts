/**
 * Route group `assistant`: the org's LLM assistant on Telegram. Telegram posts the bot's updates to
 * `/webhooks/telegram/assistant/{botId}` (proven by the bot's secret token; stored with their
 * `assistant-reply` job in one statement, answered at once; the reply is the job's, see
 * `src/assistant/reply.ts`). Under `/api/v1/assistant`: the bot's registration and the settings
 * (owners, admins) and the statistics (analysts and up, or an API key with `assistant:read`),
 * cached per org and limited by the policy `stats` (bucket `assistant-stats`, default 10 requests a
 * minute per identity, `RATE_LIMIT_OVERRIDES` may change it). See docs/assistant.md.
 */
import { orgAdmins, telegramAccess, tokenAccess } from "../../core/access";
import { defineGroup } from "../../core/route";

/** Statistics requests per identity per minute unless `RATE_LIMIT_OVERRIDES` sets `assistant-stats`. */
export const STATS_REQUESTS_PER_MINUTE = 10;

export const group = defineGroup({
  name: "assistant",
  description: "The LLM assistant bot on Telegram: its webhook, registration, settings and usage statistics.",
  rateLimits: { stats: () => STATS_REQUESTS_PER_MINUTE },
});

/** Telegram's updates to the org's assistant bot. */
export const assistantBotUpdates = telegramAccess("assistant");

/** Who configures the assistant: owners and admins (no API keys). */
export const assistantAdmins = tokenAccess(orgAdmins);

/** Who reads the assistant's settings and statistics: analysts and up, or an API key with `assistant:read`. */
export const assistantReaders = tokenAccess(["owner", "admin", "analyst", "manager"], ["assistant:read"]);

/** Seconds a statistics answer stays cached (new messages bump the org's cache version before that). */
export const STATS_CACHE_SECONDS = 60;
