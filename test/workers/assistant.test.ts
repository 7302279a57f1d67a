/**
 * The LLM assistant end to end through the local stack: the Telegram double posts a user's message
 * to the HTTP Worker's webhook, the update is stored with its `assistant-reply` job, QStash delivers
 * the job back, the job asks the LLM double and sends the reply through the Telegram double. Proves:
 * a message → a stored dialog → the reply sent back; the primary model failing (500, 429) → the
 * fallback answers and `llm_fallback_used_total` moves; duplicate updates → one reply; a redelivery
 * after the reply was recorded → the recorded reply, no second model request; `/reset` → the next
 * request carries no history; the commands, the per-user limit, the settings and registration.
 */
import { eq, sql } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { assistantDialogs, jobs, telegramBots, telegramUpdates } from "../../src/core/db/schema";
import {
  clearLlmFaults,
  converse,
  createDoubleBot,
  llmFault,
  llmRequestsWith,
  sendUpdate,
  sentTexts,
  setupAssistant,
  storedConversation,
  telegramUser,
  waitForUpdateJob,
  webhookOf,
} from "./assistant-support";
import { addMember, api, awaitRoomInMinute, buildRequest, createTenant, db, problem, testEnv, workerFetch } from "./helpers";
import { sampleSum, scrape } from "./metrics-support";
import { cacheVersion, publicJobUrl, signQStash } from "./sync-support";

const marker = () => `q-${crypto.randomUUID().slice(0, 8)}`;

afterEach(clearLlmFaults);

describe("a message to the assistant bot", () => {
  it("is stored as a dialog and answered by the primary model through Telegram", async () => {
    const setup = await setupAssistant();
    const user = telegramUser();
    const text = `What is a buyout? ${marker()}`;
    const versionBefore = await cacheVersion(setup.tenant.orgId);
    const { job } = await converse(setup, user, text);
    expect(job.status).toBe("succeeded");
    // One bump of the org's cache version for the exchange (two messages): cached statistics go stale.
    expect(await cacheVersion(setup.tenant.orgId)).toBe(versionBefore + 1);

    expect(await sentTexts(setup.token, user.id)).toEqual([`Echo from local/primary: ${text}`]);
    const { user: stored, messages } = await storedConversation(setup.botId, user.id);
    expect(stored).toMatchObject({ orgId: setup.tenant.orgId, chatId: user.id, username: user.username, firstName: user.first_name });
    expect(messages).toHaveLength(2);
    const [question, reply] = messages;
    expect(question).toMatchObject({ role: "user", content: text, contentLength: [...text].length, model: null, deletedAt: null });
    expect(reply).toMatchObject({
      role: "assistant",
      content: `Echo from local/primary: ${text}`,
      model: "local/primary",
      fallbackUsed: false,
      telegramUpdateId: question?.telegramUpdateId,
    });
    expect(reply?.promptTokens).toBeGreaterThan(0);
    expect(reply?.completionTokens).toBeGreaterThan(0);
    expect(reply?.latencyMs).toBeGreaterThanOrEqual(0);
    const [dialog] = await db()
      .select()
      .from(assistantDialogs)
      .where(eq(assistantDialogs.userId, stored?.id ?? ""));
    expect(dialog).toMatchObject({ messageCount: 2, resetAt: null });

    // The model saw the default system prompt and the question, nothing else.
    const [request] = await llmRequestsWith(text);
    expect(request?.model).toBe("local/primary");
    expect(request?.messages).toEqual([
      { role: "system", content: "You are a helpful assistant of a marketplace seller. Answer briefly." },
      { role: "user", content: text },
    ]);
  });

  it("sends the dialog's history with the next question", async () => {
    const setup = await setupAssistant();
    const user = telegramUser();
    const first = `first ${marker()}`;
    const second = `second ${marker()}`;
    await converse(setup, user, first);
    await converse(setup, user, second);
    const [request] = await llmRequestsWith(second);
    expect(request?.messages?.map((m) => [m.role, m.content])).toEqual([
      ["system", expect.any(String)],
      ["user", first],
      ["assistant", `Echo from local/primary: ${first}`],
      ["user", second],
    ]);
  });

  it("falls back to the second model when the primary answers 500 or 429, and counts it", async () => {
    const setup = await setupAssistant();
    const user = telegramUser();
    const before = await scrape();
    const fallbacksBefore = sampleSum(before, "llm_fallback_used_total");

    await llmFault({ model: "local/primary", status: 500, times: 1 });
    const failing = `primary down ${marker()}`;
    await converse(setup, user, failing);
    await llmFault({ model: "local/primary", status: 429, times: 1, retryAfterSeconds: 1 });
    const limited = `primary limited ${marker()}`;
    await converse(setup, user, limited);

    expect(await sentTexts(setup.token, user.id)).toEqual([`Echo from local/fallback: ${failing}`, `Echo from local/fallback: ${limited}`]);
    expect((await llmRequestsWith(failing)).map((r) => [r.model, r.status])).toEqual([
      ["local/primary", 500],
      ["local/fallback", 200],
    ]);
    expect((await llmRequestsWith(limited)).map((r) => [r.model, r.status])).toEqual([
      ["local/primary", 429],
      ["local/fallback", 200],
    ]);
    const { messages } = await storedConversation(setup.botId, user.id);
    expect(messages.filter((m) => m.role === "assistant").map((m) => [m.model, m.fallbackUsed])).toEqual([
      ["local/fallback", true],
      ["local/fallback", true],
    ]);

    // The jobs' metrics are flushed after their answers: wait for them.
    let after = await scrape();
    for (let i = 0; i < 50 && sampleSum(after, "llm_fallback_used_total") < fallbacksBefore + 2; i++) {
      await new Promise((r) => setTimeout(r, 100));
      after = await scrape();
    }
    expect(sampleSum(after, "llm_fallback_used_total")).toBeGreaterThanOrEqual(fallbacksBefore + 2);
    const errors = (labels: Record<string, string>) =>
      sampleSum(after, "llm_errors_total", labels) - sampleSum(before, "llm_errors_total", labels);
    expect(errors({ model: "local/primary", error_type: "server_error" })).toBeGreaterThanOrEqual(1);
    expect(errors({ model: "local/primary", error_type: "rate_limit" })).toBeGreaterThanOrEqual(1);
    expect(sampleSum(after, "llm_requests_total", { model: "local/fallback" })).toBeGreaterThan(
      sampleSum(before, "llm_requests_total", { model: "local/fallback" }),
    );
    expect(sampleSum(after, "llm_request_duration_seconds_count", { model: "local/primary", status: "server_error" })).toBeGreaterThan(0);
    expect(sampleSum(after, "telegram_messages_sent_total", { purpose: "assistant", outcome: "sent" })).toBeGreaterThanOrEqual(2);
  });

  it("falls back when the primary does not answer within LLM_TIMEOUT_MS (a slow primary, in-process delivery)", async () => {
    const setup = await setupAssistant();
    const user = telegramUser();
    const text = `slow primary ${marker()}`;
    const update = await sendUpdate(setup, user, text);
    const job = await waitForUpdateJob(setup.botId, update.update_id);
    // Replay the same job in-process with a 300 ms timeout and a primary that takes 2 s.
    await db().execute(sql`delete from assistant_messages where telegram_update_id = ${update.update_id}`);
    await db().update(jobs).set({ status: "failed" }).where(eq(jobs.id, job.id));
    await llmFault({ model: "local/primary", times: 1, delayMs: 2000 });
    const body = JSON.stringify({ jobId: job.id });
    const res = await workerFetch(
      buildRequest("/jobs/assistant-reply", {
        method: "POST",
        body,
        headers: { "Content-Type": "application/json", "Upstash-Signature": await signQStash(body, publicJobUrl("/jobs/assistant-reply")) },
      }),
      { LLM_TIMEOUT_MS: "300" },
    );
    expect(res.status, await res.clone().text()).toBe(200);
    expect(await res.json()).toMatchObject({
      outcome: "succeeded",
      result: { action: "replied", model: "local/fallback", fallbackUsed: true },
    });
    expect((await sentTexts(setup.token, user.id)).at(-1)).toBe(`Echo from local/fallback: ${text}`);
  });

  it("answers a duplicate update once, and a redelivered job resends the recorded reply without asking the model again", async () => {
    const setup = await setupAssistant();
    const user = telegramUser();
    const text = `only once ${marker()}`;
    const update = await sendUpdate(setup, user, text);
    // Telegram delivering the same update again (three times, concurrently) to the Worker over HTTP.
    const { url, secretToken } = await webhookOf(setup.token);
    const again = await Promise.all(
      [1, 2, 3].map(() =>
        fetch(url, {
          method: "POST",
          headers: { "Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": secretToken },
          body: JSON.stringify(update),
        }).then(async (r) => [r.status, await r.json()]),
      ),
    );
    expect(again).toEqual([
      [200, { ok: true, duplicate: true }],
      [200, { ok: true, duplicate: true }],
      [200, { ok: true, duplicate: true }],
    ]);
    const job = await waitForUpdateJob(setup.botId, update.update_id);
    expect(await sentTexts(setup.token, user.id)).toEqual([`Echo from local/primary: ${text}`]);
    expect(await llmRequestsWith(text)).toHaveLength(1);

    // A late duplicate delivery of the finished job does nothing.
    const deliver = async () => {
      const body = JSON.stringify({ jobId: job.id });
      const signature = await signQStash(body, publicJobUrl("/jobs/assistant-reply"));
      return api("/jobs/assistant-reply", {
        method: "POST",
        body,
        headers: { "Content-Type": "application/json", "Upstash-Signature": signature },
      });
    };
    expect(await (await deliver()).json()).toMatchObject({ outcome: "ignored", status: "succeeded" });

    // A delivery that died after recording the reply but before sending it (the job left `failed`):
    // the redelivery sends the recorded reply, asks no model and stores nothing more.
    await db().update(jobs).set({ status: "failed" }).where(eq(jobs.id, job.id));
    const redelivered = await deliver();
    expect(await redelivered.json()).toMatchObject({
      outcome: "succeeded",
      result: { action: "replied", reply: "resent", model: "local/primary", delivery: "sent", parts: 1 },
    });
    expect(await llmRequestsWith(text)).toHaveLength(1);
    expect((await storedConversation(setup.botId, user.id)).messages).toHaveLength(2);
    expect(await sentTexts(setup.token, user.id)).toEqual([`Echo from local/primary: ${text}`, `Echo from local/primary: ${text}`]);
  });

  it("/reset forgets the history: the next request carries only the system prompt and the new question", async () => {
    const setup = await setupAssistant();
    const user = telegramUser();
    const old = `remember me ${marker()}`;
    await converse(setup, user, old);
    const { user: stored } = await storedConversation(setup.botId, user.id);
    const [firstDialog] = await db()
      .select()
      .from(assistantDialogs)
      .where(eq(assistantDialogs.userId, stored?.id ?? ""));

    await converse(setup, user, "/reset");
    expect((await sentTexts(setup.token, user.id)).at(-1)).toBe(
      "Done: I have forgotten our conversation. Your next message starts a new one.",
    );
    const afterReset = await storedConversation(setup.botId, user.id);
    expect(afterReset.messages.map((m) => m.deletedAt !== null)).toEqual([true, true]);
    const [reset] = await db()
      .select()
      .from(assistantDialogs)
      .where(eq(assistantDialogs.id, firstDialog?.id ?? ""));
    expect(reset?.resetAt).not.toBeNull();

    const fresh = `new topic ${marker()}`;
    await converse(setup, user, fresh);
    const [request] = await llmRequestsWith(fresh);
    expect(request?.messages).toEqual([
      { role: "system", content: expect.any(String) },
      { role: "user", content: fresh },
    ]);
    expect(JSON.stringify(request?.messages)).not.toContain(old);
    const dialogs = await db()
      .select()
      .from(assistantDialogs)
      .where(eq(assistantDialogs.userId, stored?.id ?? ""));
    expect(dialogs).toHaveLength(2);
    expect(dialogs.find((d) => d.resetAt === null)).toMatchObject({ messageCount: 2 });
  });

  it("answers /start and /help with fixed texts and a non-text message politely, without the model", async () => {
    const setup = await setupAssistant();
    const user = telegramUser();
    await converse(setup, user, "/start");
    await converse(setup, user, "/help@some_bot please");
    const photo = await sendUpdate(setup, user, undefined, { photo: [{ file_id: "x", file_unique_id: "y", width: 1, height: 1 }] });
    await waitForUpdateJob(setup.botId, photo.update_id);
    const texts = await sentTexts(setup.token, user.id);
    expect(texts).toHaveLength(3);
    expect(texts[0]).toContain("Hello! I am an assistant");
    expect(texts[1]).toContain("/reset — forget our conversation");
    expect(texts[2]).toBe("Sorry, I can read only text messages.");
    const { user: stored, messages } = await storedConversation(setup.botId, user.id);
    expect(stored).toBeDefined();
    expect(messages).toEqual([]);
  });

  it("answers an 11th message in a minute with 'too many messages' instead of calling the model", async () => {
    const setup = await setupAssistant();
    const user = telegramUser();
    const tag = marker();
    await awaitRoomInMinute(); // the 11 messages in one minute of the sliding window
    const updates = [];
    for (let i = 0; i < 11; i++) updates.push(await sendUpdate(setup, user, `message ${i} ${tag}`));
    for (const u of updates) await waitForUpdateJob(setup.botId, u.update_id);
    const texts = await sentTexts(setup.token, user.id);
    expect(texts).toHaveLength(11);
    expect(texts.filter((t) => t.startsWith("Echo from local/primary"))).toHaveLength(10);
    expect(texts.filter((t) => t === "You are sending messages too quickly. Please wait a minute, then write again.")).toHaveLength(1);
    expect(await llmRequestsWith(tag)).toHaveLength(10);
    expect((await storedConversation(setup.botId, user.id)).messages).toHaveLength(20);
    // Another user of the same bot is not limited by the first one.
    const other = telegramUser();
    await converse(setup, other, `hello ${tag}`);
    expect(await sentTexts(setup.token, other.id)).toEqual([`Echo from local/primary: hello ${tag}`]);
  });

  it("splits a reply over 4,096 characters into several Telegram messages", async () => {
    const setup = await setupAssistant();
    const user = telegramUser();
    const text = `long ${marker()} ${"word ".repeat(1000)}`;
    await converse(setup, user, text);
    const texts = await sentTexts(setup.token, user.id);
    expect(texts.length).toBe(2);
    expect(texts.every((t) => t.length <= 4096)).toBe(true);
    expect(texts.join("")).toBe(`Echo from local/primary: ${text}`);
  });
});

describe("the assistant's webhook", () => {
  it("refuses a wrong secret token (401) and an unknown bot (404); stores nothing", async () => {
    const setup = await setupAssistant();
    const update = { update_id: 42, message: { message_id: 1, date: 1, chat: { id: 1, type: "private" }, text: "hi" } };
    const wrong = await api(`/webhooks/telegram/assistant/${setup.botId}`, {
      method: "POST",
      json: update,
      headers: { "X-Telegram-Bot-Api-Secret-Token": "not-the-secret" },
    });
    expect(wrong.status).toBe(401);
    const { secretToken } = await webhookOf(setup.token);
    const unknown = await api(`/webhooks/telegram/assistant/${crypto.randomUUID()}`, {
      method: "POST",
      json: update,
      headers: { "X-Telegram-Bot-Api-Secret-Token": secretToken },
    });
    expect(unknown.status).toBe(404);
    const invalid = await api(`/webhooks/telegram/assistant/${setup.botId}`, {
      method: "POST",
      json: { ...update, update_id: 0 },
      headers: { "X-Telegram-Bot-Api-Secret-Token": secretToken },
    });
    expect(invalid.status).toBe(400);
    const query = await api(`/webhooks/telegram/assistant/${setup.botId}?debug=1`, {
      method: "POST",
      json: update,
      headers: { "X-Telegram-Bot-Api-Secret-Token": secretToken },
    });
    expect(query.status).toBe(400);
    expect(await db().select().from(telegramUpdates).where(eq(telegramUpdates.botId, setup.botId))).toEqual([]);
  });

  it("answers 503 when the LLM is not configured (Telegram delivers the update again)", async () => {
    const setup = await setupAssistant();
    const { secretToken } = await webhookOf(setup.token);
    const res = await workerFetch(
      buildRequest(`/webhooks/telegram/assistant/${setup.botId}`, {
        method: "POST",
        json: { update_id: 7, message: { message_id: 1, date: 1, chat: { id: 1, type: "private" }, text: "hi" } },
        headers: { "X-Telegram-Bot-Api-Secret-Token": secretToken },
      }),
      { LLM_MODEL: "" },
    );
    expect(res.status).toBe(503);
    expect((await problem(res)).detail).toContain("LLM_MODEL");
  });
});

describe("POST /api/v1/assistant/bots", () => {
  it("registers the bot with the shared Telegram module and sets its webhook", async () => {
    const tenant = await createTenant();
    const token = await createDoubleBot();
    const res = await api("/api/v1/assistant/bots", { method: "POST", token: tenant.token, json: { token } });
    expect(res.status).toBe(201);
    const bot = (await res.json()) as { id: string; purpose: string; webhookUrl: string };
    expect(bot.purpose).toBe("assistant");
    expect(bot.webhookUrl).toBe(`${testEnv.PUBLIC_JOBS_URL}/webhooks/telegram/assistant/${bot.id}`);
    expect(JSON.stringify(bot)).not.toContain(token);
    expect((await webhookOf(token)).url).toBe(bot.webhookUrl);
    const [row] = await db().select().from(telegramBots).where(eq(telegramBots.id, bot.id));
    expect(row).toMatchObject({ orgId: tenant.orgId, purpose: "assistant", disabledAt: null });
  });

  it("answers 422 for a token Telegram refuses, 502 when Telegram is unreachable, 503 without an LLM, 403 for an analyst", async () => {
    const tenant = await createTenant();
    const refused = await api("/api/v1/assistant/bots", { method: "POST", token: tenant.token, json: { token: "123456:AAEunknowntoken" } });
    expect(refused.status).toBe(422);
    const token = await createDoubleBot();
    const unreachable = await workerFetch(
      buildRequest("/api/v1/assistant/bots", { method: "POST", token: tenant.token, json: { token } }),
      { TELEGRAM_API_ORIGIN: "http://127.0.0.1:9" },
    );
    expect(unreachable.status).toBe(502);
    const unconfigured = await workerFetch(
      buildRequest("/api/v1/assistant/bots", { method: "POST", token: tenant.token, json: { token } }),
      {
        LLM_API_URL: "",
      },
    );
    expect(unconfigured.status).toBe(503);
    const analyst = await addMember(tenant.orgId, "analyst");
    expect((await api("/api/v1/assistant/bots", { method: "POST", token: analyst, json: { token } })).status).toBe(403);
    expect(await db().select().from(telegramBots).where(eq(telegramBots.orgId, tenant.orgId))).toEqual([]);
  });
});

describe("/api/v1/assistant/settings", () => {
  it("has the defaults, saves the prompt and history length, and the next question uses them", async () => {
    const setup = await setupAssistant();
    const get = await api("/api/v1/assistant/settings", { token: setup.tenant.token });
    expect(await get.json()).toEqual({
      systemPrompt: "You are a helpful assistant of a marketplace seller. Answer briefly.",
      maxHistoryMessages: 20,
      timeZone: "Europe/Moscow",
      updatedAt: null,
    });
    const put = await api("/api/v1/assistant/settings", {
      method: "PUT",
      token: setup.tenant.token,
      json: { systemPrompt: "Answer like a pirate.", maxHistoryMessages: 2, timeZone: "Asia/Yekaterinburg" },
    });
    expect(put.status).toBe(200);
    expect(await put.json()).toMatchObject({
      systemPrompt: "Answer like a pirate.",
      maxHistoryMessages: 2,
      timeZone: "Asia/Yekaterinburg",
    });
    const analyst = await addMember(setup.tenant.orgId, "analyst");
    expect(await (await api("/api/v1/assistant/settings", { token: analyst })).json()).toMatchObject({ maxHistoryMessages: 2 });

    const user = telegramUser();
    const tag = marker();
    await converse(setup, user, `one ${tag}`);
    await converse(setup, user, `two ${tag}`);
    await converse(setup, user, `three ${tag}`);
    const [request] = await llmRequestsWith(`three ${tag}`);
    expect(request?.messages?.map((m) => [m.role, m.content])).toEqual([
      ["system", "Answer like a pirate."],
      ["user", `two ${tag}`],
      ["assistant", `Echo from local/primary: two ${tag}`],
      ["user", `three ${tag}`],
    ]);
  });

  it("refuses an unknown time zone (400) and a non-admin (403)", async () => {
    const tenant = await createTenant();
    const bad = await api("/api/v1/assistant/settings", {
      method: "PUT",
      token: tenant.token,
      json: { systemPrompt: "x", maxHistoryMessages: 5, timeZone: "Mars/Olympus" },
    });
    expect(bad.status).toBe(400);
    expect((await problem(bad)).errors?.map((e) => e.path)).toEqual(["timeZone"]);
    const analyst = await addMember(tenant.orgId, "analyst");
    const forbidden = await api("/api/v1/assistant/settings", {
      method: "PUT",
      token: analyst,
      json: { systemPrompt: "x", maxHistoryMessages: 5 },
    });
    expect(forbidden.status).toBe(403);
  });
});
