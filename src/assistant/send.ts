/**
 * Sending the assistant's answers with grammY's `sendMessage`, as plain text (no `parse_mode`: a
 * model's Markdown is not always valid Telegram Markdown, and an invalid one is refused with 400).
 *
 * Telegram refuses a `text` over 4,096 characters (UTF-16 code units), so a longer reply is sent as
 * several messages ({@link splitMessage}), in order. Each sent message is counted in
 * `telegram_messages_sent_total{purpose="assistant",outcome}`; a failure maps to what the job does:
 * - 403 (the user blocked the bot, or deleted their account): `blocked`, nothing more to do;
 * - 429 flood control: a retry after `parameters.retry_after` seconds (`JobAttemptError` 429);
 * - another refusal (400 chat not found…): `JobAttemptError` 502; the network: 503.
 * @see https://core.telegram.org/bots/api#sendmessage
 * @see https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this
 */
import type { Api } from "grammy/web";
import type { Services } from "../core/context";
import { TELEGRAM_MAX_MESSAGE_LENGTH } from "../integrations/telegram/types";
import { JobAttemptError } from "../jobs/ledger";

/** The result of sending a reply: every part sent, or the user has blocked the bot. */
export type SendOutcome = { outcome: "sent"; parts: number } | { outcome: "blocked"; parts: number };

const isHighSurrogate = (code: number) => code >= 0xd800 && code <= 0xdbff;

/**
 * Splits `text` into parts of at most `max` UTF-16 code units, each cut after the last newline in
 * its window, else after the last space, else at `max` (never inside a surrogate pair). Parts are
 * never empty; joined they give `text` back. An empty text is one empty part.
 */
export function splitMessage(text: string, max = TELEGRAM_MAX_MESSAGE_LENGTH): string[] {
  if (text.length <= max) return [text];
  const parts: string[] = [];
  let rest = text;
  while (rest.length > max) {
    const window = rest.slice(0, max);
    let cut = window.lastIndexOf("\n") + 1;
    if (cut <= max / 2) cut = Math.max(cut, window.lastIndexOf(" ") + 1);
    if (cut <= 0) cut = isHighSurrogate(rest.charCodeAt(max - 1)) ? max - 1 : max;
    parts.push(rest.slice(0, cut));
    rest = rest.slice(cut);
  }
  if (rest.length > 0) parts.push(rest);
  return parts;
}

/** grammY's `GrammyError` (Telegram answered `ok: false`), by shape. */
const telegramError = (err: unknown) =>
  err instanceof Error && typeof (err as { error_code?: unknown }).error_code === "number"
    ? (err as Error & { error_code: number; description: string; parameters?: { retry_after?: number } })
    : undefined;

/**
 * Sends `text` to `chatId` (split at 4,096 characters).
 * @throws JobAttemptError 429 (flood control, with Telegram's `retry_after`), 502 (refused), 503 (unreachable).
 */
export async function sendText(services: Pick<Services, "metrics">, api: Api, chatId: number, text: string): Promise<SendOutcome> {
  const parts = splitMessage(text);
  let sent = 0;
  for (const part of parts) {
    try {
      await api.sendMessage(chatId, part);
      sent++;
      services.metrics.count("telegram_messages_sent_total", { purpose: "assistant", outcome: "sent" });
    } catch (err) {
      const refusal = telegramError(err);
      if (refusal?.error_code === 403) {
        services.metrics.count("telegram_messages_sent_total", { purpose: "assistant", outcome: "blocked" });
        return { outcome: "blocked", parts: sent };
      }
      services.metrics.count("telegram_messages_sent_total", { purpose: "assistant", outcome: "failed" });
      if (refusal?.error_code === 429) {
        throw new JobAttemptError(`Telegram flood control (429): ${refusal.description}`, 429, refusal.parameters?.retry_after ?? 5, {
          cause: err,
        });
      }
      if (refusal)
        throw new JobAttemptError(`Telegram refused sendMessage (${refusal.error_code}): ${refusal.description}`, 502, undefined, {
          cause: err,
        });
      throw new JobAttemptError(`Telegram could not be reached: ${err instanceof Error ? err.message : String(err)}`, 503, 5, {
        cause: err,
      });
    }
  }
  return { outcome: "sent", parts: sent };
}
