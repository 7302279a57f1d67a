/**
 * The org's Telegram bots, shared by the helpdesk's support bot and the LLM assistant: registering
 * a bot (`getMe`, a generated webhook secret, `setWebhook`), the Bot API client of a bot, and the
 * bot a webhook update names, as the route guard needs it.
 *
 * - The token is stored AES-GCM encrypted and never returned; the webhook secret (32 random bytes,
 *   base64url: Telegram allows `A-Z a-z 0-9 _ -`, 1–256 characters) only as its SHA-256, which the
 *   guard compares, in constant time, with the SHA-256 of `X-Telegram-Bot-Api-Secret-Token`.
 * - The Bot API client is grammY's `Api` (`grammy/web`, which runs on Workers) on
 *   `TELEGRAM_API_ORIGIN`; its errors are grammY's `GrammyError` (`error_code`, `description`,
 *   `parameters.retry_after`) and `HttpError` (the network).
 * - The bot of a webhook is cached in Redis (`telegram-bot:{id}`, 60 s; an unknown id 5 min) and
 *   read in the same pipelined request as the caller IP's failure count.
 * @see https://core.telegram.org/bots/api#setwebhook
 * @see https://grammy.dev/ref/core/api
 */
import { and, eq, isNull } from "drizzle-orm";
import { Api } from "grammy/web";
import { loadCachedRow, readCachedRow } from "../core/cached-row";
import { decryptSecretWithKeys, encryptionKeys, encryptSecret, sha256Hex, timingSafeEqual, toBase64Url } from "../core/crypto";
import type { Database } from "../core/db/client";
import { type BotPurpose, telegramBots } from "../core/db/schema";
import type { AppConfig } from "../core/env";
import { publicWebhooksUrl } from "../core/env";
import type { Redis } from "../core/redis";

/** The bot an update is for, as handlers see it. */
export interface TelegramBotRef {
  id: string;
  orgId: string;
  purpose: BotPurpose;
}

/** What the guard caches of a bot: the reference, the secret's hash, and whether it is disabled. */
export interface CachedBot extends TelegramBotRef {
  webhookSecretHash: string;
  disabledAt: string | null;
}

/** Seconds a known bot is cached; an unknown id is remembered {@link UNKNOWN_BOT_SECONDS}. */
export const BOT_CACHE_SECONDS = 60;
export const UNKNOWN_BOT_SECONDS = 300;

/** Updates the bots receive (`allowed_updates` of `setWebhook`). */
export const ALLOWED_UPDATES = ["message", "edited_message", "callback_query"] as const;

/** Redis key of the cached bot `id`. */
export const botCacheKey = (id: string) => `telegram-bot:${id}`;

/** The Bot API client of a bot token (grammY), on `TELEGRAM_API_ORIGIN`. */
export function telegramApi(config: Pick<AppConfig, "TELEGRAM_API_ORIGIN">, token: string): Api {
  return new Api(token, { apiRoot: config.TELEGRAM_API_ORIGIN });
}

/**
 * The URL Telegram posts a bot's updates to: `{base}/webhooks/telegram/{purpose}/{botId}` on the
 * Worker that serves the purpose — `PUBLIC_HELPDESK_URL` or `PUBLIC_ASSISTANT_URL`, else
 * `PUBLIC_WEBHOOKS_URL` (else `PUBLIC_JOBS_URL`), for one all-in-one Worker.
 */
export function botWebhookUrl(
  config: Pick<AppConfig, "PUBLIC_WEBHOOKS_URL" | "PUBLIC_JOBS_URL" | "PUBLIC_HELPDESK_URL" | "PUBLIC_ASSISTANT_URL">,
  purpose: BotPurpose,
  botId: string,
) {
  const own = purpose === "helpdesk" ? config.PUBLIC_HELPDESK_URL : config.PUBLIC_ASSISTANT_URL;
  const base = own ? own.replace(/\/+$/, "") : publicWebhooksUrl(config);
  return `${base}/webhooks/telegram/${purpose}/${botId}`;
}

/** A bot as the registration answers it (never the token or the secret). */
export interface RegisteredBot {
  id: string;
  purpose: BotPurpose;
  telegramId: number;
  username: string;
  webhookUrl: string;
  createdAt: string;
}

/** Why a registration failed: Telegram refused the token (`rejected`), or could not be reached. */
export class BotRegistrationError extends Error {
  override readonly name = "BotRegistrationError";
  constructor(
    message: string,
    readonly reason: "rejected" | "unavailable",
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** True for a grammY `GrammyError` (Telegram answered `ok: false`). */
const isTelegramError = (err: unknown): err is Error & { error_code: number; description: string } =>
  err instanceof Error && typeof (err as { error_code?: unknown }).error_code === "number";

/**
 * Registers (or replaces) the org's bot of `purpose`: checks the token with `getMe`, generates the
 * webhook secret, stores the bot (token encrypted), then calls `setWebhook` with the URL and the
 * secret. A previous bot of the same purpose is disabled in the same batch.
 * @throws BotRegistrationError `rejected` when Telegram refuses the token (401/404) or the webhook,
 *   `unavailable` when it cannot be reached; nothing is stored when `getMe` fails; when
 *   `setWebhook` fails the new bot is disabled again.
 */
export async function registerBot(
  services: { db: Database; redis: Redis; config: AppConfig },
  input: { orgId: string; purpose: BotPurpose; token: string; createdBy: string | null },
): Promise<RegisteredBot> {
  const { db, config } = services;
  const api = telegramApi(config, input.token);
  const me = await api.getMe().catch((err: unknown) => {
    if (isTelegramError(err))
      throw new BotRegistrationError(`Telegram refused the token (${err.error_code}): ${err.description}`, "rejected", { cause: err });
    throw new BotRegistrationError(`Telegram could not be reached: ${err instanceof Error ? err.message : String(err)}`, "unavailable", {
      cause: err,
    });
  });
  const secret = toBase64Url(crypto.getRandomValues(new Uint8Array(32)));
  const id = crypto.randomUUID();
  const [previous, [row]] = await db.batch([
    db
      .update(telegramBots)
      .set({ disabledAt: new Date().toISOString() })
      .where(and(eq(telegramBots.orgId, input.orgId), eq(telegramBots.purpose, input.purpose), isNull(telegramBots.disabledAt)))
      .returning({ id: telegramBots.id }),
    db
      .insert(telegramBots)
      .values({
        id,
        orgId: input.orgId,
        purpose: input.purpose,
        telegramId: me.id,
        username: me.username,
        tokenCiphertext: await encryptSecret(input.token, config.ENCRYPTION_KEY),
        webhookSecretHash: await sha256Hex(secret),
        createdBy: input.createdBy,
      })
      .returning({ createdAt: telegramBots.createdAt }),
  ]);
  // The replaced bot's webhook answers 404 from now on, not after its cache entry expires.
  await Promise.all(previous.map((p) => services.redis.del(botCacheKey(p.id)).catch(() => undefined)));
  const webhookUrl = botWebhookUrl(config, input.purpose, id);
  try {
    await api.setWebhook(webhookUrl, { secret_token: secret, allowed_updates: [...ALLOWED_UPDATES] });
  } catch (err) {
    await db.update(telegramBots).set({ disabledAt: new Date().toISOString() }).where(eq(telegramBots.id, id));
    if (isTelegramError(err))
      throw new BotRegistrationError(`Telegram refused the webhook (${err.error_code}): ${err.description}`, "rejected", { cause: err });
    throw new BotRegistrationError(`Telegram could not be reached: ${err instanceof Error ? err.message : String(err)}`, "unavailable", {
      cause: err,
    });
  }
  return {
    id,
    purpose: input.purpose,
    telegramId: me.id,
    username: me.username,
    webhookUrl,
    createdAt: row?.createdAt ?? new Date().toISOString(),
  };
}

/**
 * The Bot API client of bot `botId` (its token decrypted with `ENCRYPTION_KEY`, then
 * `ENCRYPTION_KEY_PREVIOUS`). @throws when the bot does not exist or its token cannot be decrypted.
 */
export async function botApi(
  services: { db: Database; config: AppConfig },
  botId: string,
): Promise<{ api: Api; bot: typeof telegramBots.$inferSelect }> {
  const [bot] = await services.db.select().from(telegramBots).where(eq(telegramBots.id, botId));
  if (!bot) throw new Error(`no Telegram bot ${botId}`);
  const keys = encryptionKeys(services.config);
  const { plaintext } = await decryptSecretWithKeys(bot.tokenCiphertext, keys);
  return { api: telegramApi(services.config, plaintext), bot };
}

/** A cached lookup: the bot, `null` for an id remembered as unknown, `undefined` when Redis has nothing usable. */
export const readCachedBot = (cached: string | null | undefined) => readCachedRow<CachedBot>(cached);

/** Reads bot `id` (a UUID) from Postgres and caches the answer, found or not, in `waitUntil`. @throws the database error. */
export function loadBot(db: Database, redis: Redis, id: string, waitUntil: (work: Promise<unknown>) => void): Promise<CachedBot | null> {
  const load = async () =>
    (
      await db
        .select({
          id: telegramBots.id,
          orgId: telegramBots.orgId,
          purpose: telegramBots.purpose,
          webhookSecretHash: telegramBots.webhookSecretHash,
          disabledAt: telegramBots.disabledAt,
        })
        .from(telegramBots)
        .where(eq(telegramBots.id, id))
        .limit(1)
    )[0];
  return loadCachedRow(redis, botCacheKey(id), { found: BOT_CACHE_SECONDS, unknown: UNKNOWN_BOT_SECONDS }, load, waitUntil);
}

/** True when `header` is the webhook secret whose SHA-256 is `secretHash` (constant time). */
export async function secretTokenMatches(header: string | undefined, secretHash: string): Promise<boolean> {
  if (header === undefined || header.length === 0 || header.length > 256) return false;
  return timingSafeEqual(await sha256Hex(header), secretHash);
}
