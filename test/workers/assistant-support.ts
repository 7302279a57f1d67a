/**
 * Support for the assistant tests: a bot registered through the API on the Telegram double,
 * messages injected as Telegram would send them (the double posts them to the HTTP Worker's
 * webhook, whose job QStash delivers back to it), what the bot sent, and the LLM double's log and
 * faults. Nothing of ours is mocked: the updates, jobs and messages go through the local stack.
 */
import { and, asc, eq } from "drizzle-orm";
import { expect } from "vitest";
import { assistantMessages, assistantUsers, telegramUpdates } from "../../src/core/db/schema";
import type { ChatMessage } from "../../src/integrations/llm/types";
import { api, createTenant, db, type Tenant, testEnv, waitForJob } from "./helpers";

const telegramOrigin = () => testEnv.TELEGRAM_API_ORIGIN as string;
const llmOrigin = () => new URL(testEnv.LLM_API_URL as string).origin;

/** A fresh bot token the Telegram double knows (`<bot id>:<secret>`). */
export async function createDoubleBot(): Promise<string> {
  const id = 7_100_000_000 + Math.floor(Math.random() * 800_000_000);
  const token = `${id}:AAE${crypto.randomUUID().replaceAll("-", "")}`;
  const res = await fetch(`${telegramOrigin()}/__control/bots`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ token }),
  });
  expect(res.status).toBe(201);
  return token;
}

/** An org whose owner registered an assistant bot (`POST /api/v1/assistant/bots`). */
export interface AssistantSetup {
  tenant: Tenant;
  token: string;
  botId: string;
}

/** Creates an org and registers its assistant bot on the Telegram double through the API. */
export async function setupAssistant(): Promise<AssistantSetup> {
  const tenant = await createTenant();
  const token = await createDoubleBot();
  const res = await api("/api/v1/assistant/bots", { method: "POST", token: tenant.token, json: { token } });
  expect(res.status, await res.clone().text()).toBe(201);
  const { id } = (await res.json()) as { id: string };
  return { tenant, token, botId: id };
}

/** A Telegram user writing to the bot (private chat: chat id = user id). */
export const telegramUser = (id = 500_000_000 + Math.floor(Math.random() * 400_000_000)) => ({
  id,
  is_bot: false,
  first_name: `User ${id}`,
  username: `user_${id}`,
});
export type TelegramTestUser = ReturnType<typeof telegramUser>;

/**
 * Has the Telegram double deliver a text message from `user` to the bot's webhook; returns the
 * update as delivered. @throws when the webhook did not answer 200.
 */
export async function sendUpdate(
  setup: AssistantSetup,
  user: TelegramTestUser,
  text: string | undefined,
  extra: Record<string, unknown> = {},
) {
  const res = await fetch(`${telegramOrigin()}/__control/updates`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      token: setup.token,
      update: {
        message: {
          chat: { id: user.id, type: "private", first_name: user.first_name },
          from: user,
          ...(text === undefined ? {} : { text }),
          ...extra,
        },
      },
    }),
  });
  const body = (await res.json()) as {
    update: { update_id: number } & Record<string, unknown>;
    delivery: { status?: number; error?: string };
  };
  expect(body.delivery, JSON.stringify(body)).toEqual({ status: 200 });
  return body.update;
}

/** The job of a stored update, waited for until it succeeded. */
export async function waitForUpdateJob(botId: string, updateId: number) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const [row] = await db()
      .select({ jobId: telegramUpdates.jobId })
      .from(telegramUpdates)
      .where(and(eq(telegramUpdates.botId, botId), eq(telegramUpdates.updateId, updateId)));
    if (row?.jobId) return waitForJob(row.jobId, 60_000);
    if (Date.now() > deadline) throw new Error(`update ${updateId} of bot ${botId} was not stored`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Sends a text and waits until its job succeeded; returns the update and the job. */
export async function converse(setup: AssistantSetup, user: TelegramTestUser, text: string) {
  const update = await sendUpdate(setup, user, text);
  const job = await waitForUpdateJob(setup.botId, update.update_id);
  return { update, job };
}

/** The texts the bot sent to `chatId`, oldest first. */
export async function sentTexts(token: string, chatId: number): Promise<string[]> {
  const res = await fetch(`${telegramOrigin()}/__control/messages?token=${encodeURIComponent(token)}&chat_id=${chatId}`);
  const { messages } = (await res.json()) as { messages: { text?: string }[] };
  return messages.map((m) => m.text ?? "");
}

/** The webhook as the bot set it on the double (URL and secret token). */
export async function webhookOf(token: string): Promise<{ url: string; secretToken: string }> {
  const res = await fetch(`${telegramOrigin()}/__control/webhook?token=${encodeURIComponent(token)}`);
  return (await res.json()) as { url: string; secretToken: string };
}

/** One chat completion request the LLM double received. */
export interface LlmRequestLog {
  model?: string;
  status: number;
  messages?: ChatMessage[];
}

/** The completion requests whose last message contains `marker`, oldest first. */
export async function llmRequestsWith(marker: string): Promise<LlmRequestLog[]> {
  const res = await fetch(`${llmOrigin()}/__requests`);
  const { requests } = (await res.json()) as { requests: LlmRequestLog[] };
  return requests.filter((r) => {
    const last = r.messages?.at(-1)?.content;
    return typeof last === "string" && last.includes(marker);
  });
}

/** Injects a fault into the LLM double (`POST /__control/faults`). */
export async function llmFault(fault: {
  model?: string;
  times?: number;
  status?: 429 | 500 | 502 | 503;
  retryAfterSeconds?: number;
  delayMs?: number;
}) {
  const res = await fetch(`${llmOrigin()}/__control/faults`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(fault),
  });
  expect(res.status).toBe(201);
}

/** Clears the LLM double's faults. */
export async function clearLlmFaults() {
  await fetch(`${llmOrigin()}/__control/faults`, { method: "DELETE" });
}

/** The assistant user of `telegramUserId` on `botId` and its messages, oldest first. */
export async function storedConversation(botId: string, telegramUserId: number) {
  const [user] = await db()
    .select()
    .from(assistantUsers)
    .where(and(eq(assistantUsers.botId, botId), eq(assistantUsers.telegramUserId, telegramUserId)));
  const messages = user
    ? await db().select().from(assistantMessages).where(eq(assistantMessages.userId, user.id)).orderBy(asc(assistantMessages.id))
    : [];
  return { user, messages };
}
