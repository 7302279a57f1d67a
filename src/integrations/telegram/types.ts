/**
 * Wire types of the Telegram Bot API, taken from grammY (`grammy/types`, generated from the Bot API
 * reference) rather than written again here, plus the few names of the HTTP protocol around them.
 *
 * Types and three protocol constants, no code: the helpdesk and assistant bots import them, and so
 * does the local double under `dev/telegram/` (dev may import `src/`, never the reverse).
 *
 * Protocol:
 * - `https://api.telegram.org/bot<token>/<method>`, GET or POST, parameters in the query string,
 *   `application/x-www-form-urlencoded`, `application/json` or `multipart/form-data`; method names
 *   are case-insensitive;
 * - every answer is `{ok: true, result}` or `{ok: false, error_code, description, parameters?}`,
 *   with `parameters.retry_after` (seconds) on 429 flood control;
 * - files: `getFile` gives a `file_path`, downloaded from `https://api.telegram.org/file/bot<token>/<file_path>`
 *   (at most 20 MB);
 * - webhooks: Telegram POSTs each `Update` as JSON to the URL given to `setWebhook`, with the header
 *   `X-Telegram-Bot-Api-Secret-Token` carrying `secret_token` when one was set (1–256 characters of
 *   `A-Z a-z 0-9 _ -`).
 *
 * @see https://core.telegram.org/bots/api#making-requests
 * @see https://core.telegram.org/bots/api#setwebhook
 * @see https://grammy.dev/ref/types
 */
import type { ApiError, ApiSuccess } from "grammy/types";

export type {
  ApiError,
  ApiSuccess,
  Chat,
  File,
  InlineKeyboardMarkup,
  Message,
  ResponseParameters,
  Update,
  User,
  UserFromGetMe,
  WebhookInfo,
} from "grammy/types";

/** An answer of the Bot API. */
export type TelegramApiResponse<T> = ApiSuccess<T> | ApiError;

/** The header a webhook delivery carries when `setWebhook` was given a `secret_token`. */
export const TELEGRAM_SECRET_TOKEN_HEADER = "X-Telegram-Bot-Api-Secret-Token";

/** The longest `text` of `sendMessage`, in characters after entity parsing. */
export const TELEGRAM_MAX_MESSAGE_LENGTH = 4096;

/** The largest file a bot can download with `getFile`, bytes (20 MB). */
export const TELEGRAM_MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024;
