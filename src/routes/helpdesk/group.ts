/**
 * Route group `helpdesk`, its own Worker: the org's Telegram support bot and the panel its managers
 * answer from. Telegram posts the bot's updates to `/webhooks/telegram/helpdesk/{botId}` (proven by
 * the bot's secret token, stored before the answer, applied by the `helpdesk-update` job); the panel
 * API under `/api/v1/helpdesk` takes a user's access token (the org comes from it) and is rate
 * limited in the buckets `helpdesk-read` and `helpdesk-write`. Replies reach clients through
 * `helpdesk-notify` jobs, never inline. See docs/helpdesk.md.
 */
import { orgAdmins, telegramAccess, tokenAccess } from "../../core/access";
import { defineGroup } from "../../core/route";

export const group = defineGroup({
  name: "helpdesk",
  description: "Helpdesk: the org's Telegram support bot, and tickets, messages and media for its managers.",
});

/** Telegram, posting the support bot's updates. */
export const supportBotUpdates = telegramAccess("helpdesk");

/**
 * Who works tickets: agents (their own and the unassigned queue), managers, owners and admins
 * (every ticket of the org). Users only: no API key reads clients' conversations.
 */
export const ticketWorkers = tokenAccess(["owner", "admin", "manager", "agent"]);

/** Who reads the helpdesk's stats: analysts, and those who see every ticket. */
export const statsReaders = tokenAccess(["owner", "admin", "manager", "analyst"]);

/** Who manages the bot and the helpdesk's settings. */
export const helpdeskAdmins = tokenAccess(orgAdmins);
