/**
 * Support of the Telegram bot tests (helpdesk, assistant, security): bot tokens registered on the
 * local Telegram Bot API double (`TELEGRAM_API_ORIGIN`, its `/__control/*` endpoints), bots stored
 * straight into the local stack's database with a known webhook secret (as `registerBot` stores
 * them, without calling Telegram), and signed webhook deliveries to the Worker under test.
 */
import { encryptSecret, sha256Hex } from "../../src/core/crypto";
import { type BotPurpose, orgs, telegramBots } from "../../src/core/db/schema";
import { TELEGRAM_SECRET_TOKEN_HEADER } from "../../src/integrations/telegram/types";
import { api, config, db, testEnv } from "./helpers";

/** The Telegram double's origin. */
export const telegramOrigin = () => testEnv.TELEGRAM_API_ORIGIN as string;

/** A control call of the Telegram double; throws on a non-2xx answer. */
export async function telegramControl<T = unknown>(path: string, body?: unknown, method = body === undefined ? "GET" : "POST"): Promise<T> {
  const res = await fetch(`${telegramOrigin()}${path}`, {
    method,
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`Telegram double ${method} ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** A fresh, well-formed bot token (`<id>:<secret>`) whose id no other test uses. */
export function newBotToken(): string {
  const id = 7_000_000_000 + Math.floor(Math.random() * 999_999_999);
  const secret = Array.from(
    crypto.getRandomValues(new Uint8Array(35)),
    (b) => "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"[b % 64],
  ).join("");
  return `${id}:${secret}`;
}

/** Makes the double serve a bot with `token`; returns its `getMe` user. */
export function addDoubleBot(token: string, username?: string) {
  return telegramControl<{ id: number; username: string }>("/__control/bots", { token, ...(username ? { username } : {}) });
}

/** A bot stored like `registerBot` stores it, with a known webhook secret. */
export interface SeededBot {
  id: string;
  orgId: string;
  purpose: BotPurpose;
  token: string;
  secret: string;
}

/**
 * Stores a bot of `purpose` for `orgId` (a fresh org when absent) with a fresh token and secret;
 * `onDouble` also makes the double serve its token. No webhook is set.
 */
export async function seedTelegramBot(purpose: BotPurpose, opts: { orgId?: string; onDouble?: boolean } = {}): Promise<SeededBot> {
  const database = db();
  const orgId = opts.orgId ?? crypto.randomUUID();
  if (!opts.orgId) await database.insert(orgs).values({ id: orgId, name: `Bot org ${orgId.slice(0, 8)}` });
  const token = newBotToken();
  const secret = crypto.randomUUID().replaceAll("-", "");
  if (opts.onDouble) await addDoubleBot(token);
  const [row] = await database
    .insert(telegramBots)
    .values({
      orgId,
      purpose,
      telegramId: Number(token.split(":")[0]),
      username: `seeded_${token.split(":")[0]}_bot`,
      tokenCiphertext: await encryptSecret(token, config().ENCRYPTION_KEY),
      webhookSecretHash: await sha256Hex(secret),
    })
    .returning({ id: telegramBots.id });
  if (!row) throw new Error("bot not stored");
  return { id: row.id, orgId, purpose, token, secret };
}

/** Posts `update` to the bot's webhook route on the Worker under test (in-process), with `secret` unless null. */
export function postUpdate(bot: { id: string; purpose: BotPurpose }, update: unknown, secret: string | null, ip?: string) {
  return api(`/webhooks/telegram/${bot.purpose}/${bot.id}`, {
    method: "POST",
    json: update,
    headers: { ...(secret === null ? {} : { [TELEGRAM_SECRET_TOKEN_HEADER]: secret }), ...(ip ? { "CF-Connecting-IP": ip } : {}) },
  });
}
