/**
 * Conformance tests of the Telegram Bot API double (dev/telegram/server.ts), with grammY's `Api`
 * as the client (`new Api(token, { apiRoot: double.url })`) and a local HTTP server as the webhook
 * receiver: webhooks and their secret header, sendMessage with its limits, files, injected 429 and
 * 403 errors as grammY surfaces them, long polling, and the control endpoints.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Api, GrammyError } from "grammy";
import type { Message, Update } from "grammy/types";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startTelegramDouble, type TelegramDouble } from "../../dev/telegram/server";

const TOKEN = "7000000001:AAH-test-token-for-the-local-double-01";
const OTHER_TOKEN = "7000000002:AAH-test-token-for-the-local-double-02";
const SECRET = "s3cret_Token-42";
const USER = { id: 5_550_001, is_bot: false, first_name: "Анна", username: "anna_buyer", language_code: "ru" };
const PRIVATE_CHAT = { id: USER.id, type: "private" as const, first_name: "Анна", username: "anna_buyer" };

interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Update;
}

let telegram: TelegramDouble;
let api: Api;
let receiver: http.Server;
let receiverUrl: string;
const received: Received[] = [];
/** How the receiver answers the next delivery; default 200 with an empty body. */
let answer: () => { status: number; body?: unknown } = () => ({ status: 200 });

const control = async (path: string, body: unknown, method = "POST") => {
  const res = await fetch(`${telegram.url}${path}`, {
    method,
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

/** Injects a text message from USER and returns the update with its filled-in ids. */
async function userWrites(text: string, token = TOKEN): Promise<{ update: Update; delivery: unknown }> {
  const res = await control("/__control/updates", { token, update: { message: { from: USER, chat: PRIVATE_CHAT, text } } });
  expect(res.status).toBe(200);
  return res.body as unknown as { update: Update; delivery: unknown };
}

async function expectGrammyError(promise: Promise<unknown>): Promise<GrammyError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GrammyError);
  return error as GrammyError;
}

beforeAll(async () => {
  telegram = await startTelegramDouble({
    bots: [{ token: TOKEN, username: "seller_help_bot", firstName: "Seller Help" }, { token: OTHER_TOKEN }],
  });
  api = new Api(TOKEN, { apiRoot: telegram.url });
  receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      received.push({ path: req.url ?? "", headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString("utf8")) as Update });
      const { status, body } = answer();
      res.writeHead(status, body === undefined ? {} : { "content-type": "application/json" });
      res.end(body === undefined ? "" : JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/telegram/webhook`;
});

afterAll(async () => {
  await telegram.close();
  await new Promise((resolve) => receiver.close(resolve));
});

beforeEach(async () => {
  received.length = 0;
  answer = () => ({ status: 200 });
  telegram.clearFaults();
  await api.setWebhook(receiverUrl, { secret_token: SECRET });
});

describe("getMe and setWebhook", () => {
  it("answers getMe with the bot's user", async () => {
    const me = await api.getMe();
    expect(me).toMatchObject({
      id: 7_000_000_001,
      is_bot: true,
      first_name: "Seller Help",
      username: "seller_help_bot",
      can_join_groups: true,
    });
  });

  it("stores the webhook and its secret, and reports it in getWebhookInfo", async () => {
    expect(await api.setWebhook(receiverUrl, { secret_token: SECRET, allowed_updates: ["message", "callback_query"] })).toBe(true);
    const info = await api.getWebhookInfo();
    expect(info).toMatchObject({
      url: receiverUrl,
      has_custom_certificate: false,
      pending_update_count: 0,
      allowed_updates: ["message", "callback_query"],
    });
    expect(telegram.webhook(TOKEN)).toMatchObject({ url: receiverUrl, secretToken: SECRET });

    const bad = await expectGrammyError(api.setWebhook(receiverUrl, { secret_token: "not allowed!" }));
    expect(bad.error_code).toBe(400);
    expect(await api.deleteWebhook()).toBe(true);
    expect((await api.getWebhookInfo()).url).toBe("");
  });
});

describe("webhook deliveries", () => {
  it("delivers an injected update as JSON with the secret header", async () => {
    const { update, delivery } = await userWrites("Где мой заказ?");
    expect(delivery).toEqual({ status: 200 });
    expect(received).toHaveLength(1);
    const [delivered] = received;
    expect(delivered?.path).toBe("/telegram/webhook");
    expect(delivered?.headers["x-telegram-bot-api-secret-token"]).toBe(SECRET);
    expect(delivered?.headers["content-type"]).toBe("application/json");
    expect(delivered?.body).toEqual(update);
    expect(update.update_id).toBeGreaterThan(0);
    expect(update.message).toMatchObject({
      text: "Где мой заказ?",
      chat: PRIVATE_CHAT,
      from: USER,
      message_id: expect.any(Number),
      date: expect.any(Number),
    });

    const next = await userWrites("Алло?");
    expect(next.update.update_id).toBe(update.update_id + 1);
    expect((next.update.message?.message_id ?? 0) > (update.message?.message_id ?? 0)).toBe(true);
  });

  it("sends no secret header when none was set", async () => {
    await api.setWebhook(receiverUrl);
    await userWrites("no secret");
    expect(received[0]?.headers["x-telegram-bot-api-secret-token"]).toBeUndefined();
  });

  it("keeps a failed delivery pending, reports it, and delivers it on flush", async () => {
    answer = () => ({ status: 500 });
    const { delivery } = await userWrites("first");
    expect(delivery).toEqual({ status: 500 });
    const queued = await userWrites("second");
    expect(queued.delivery).toMatchObject({ error: expect.stringContaining("pending") });
    const info = await api.getWebhookInfo();
    expect(info.pending_update_count).toBe(2);
    expect(info.last_error_message).toBe("Wrong response from the webhook: 500 Internal Server Error");
    expect(info.last_error_date).toBeGreaterThan(0);

    answer = () => ({ status: 200 });
    received.length = 0;
    expect((await control("/__control/webhook/flush", { token: TOKEN })).body).toEqual({ delivered: 2, pending: 0 });
    expect(received.map((r) => r.body.message?.text)).toEqual(["first", "second"]);
  });

  it("executes a method call in the webhook's answer", async () => {
    answer = () => ({ status: 200, body: { method: "sendMessage", chat_id: USER.id, text: "pong" } });
    await userWrites("ping");
    expect(telegram.messages(TOKEN, USER.id).at(-1)?.text).toBe("pong");
  });
});

describe("sendMessage", () => {
  it("sends to a chat the user opened, records it, and replies to a message", async () => {
    const { update } = await userWrites("Здравствуйте");
    const sent = await api.sendMessage(USER.id, "Добрый день! Чем помочь?", {
      reply_parameters: { message_id: update.message?.message_id ?? 0 },
    });
    expect(sent).toMatchObject({
      chat: PRIVATE_CHAT,
      from: { id: 7_000_000_001, is_bot: true, username: "seller_help_bot" },
      text: "Добрый день! Чем помочь?",
      reply_to_message: { message_id: update.message?.message_id, text: "Здравствуйте" },
    });
    expect(Math.abs(sent.date - Date.now() / 1000)).toBeLessThan(5);
    const recorded = await fetch(`${telegram.url}/__control/messages?token=${encodeURIComponent(TOKEN)}&chat_id=${USER.id}`);
    const { messages } = (await recorded.json()) as { messages: Message[] };
    expect(messages.at(-1)).toEqual(sent);
    expect(telegram.messages(TOKEN, USER.id).at(-1)).toEqual(sent);
  });

  it("refuses an unknown chat, an empty text, a text over 4096 characters and a reply to nothing", async () => {
    await userWrites("hi");
    const unknown = await expectGrammyError(api.sendMessage(999, "hello"));
    expect([unknown.error_code, unknown.description]).toEqual([400, "Bad Request: chat not found"]);
    const empty = await expectGrammyError(api.sendMessage(USER.id, "   "));
    expect(empty.description).toBe("Bad Request: message text is empty");
    const long = await expectGrammyError(api.sendMessage(USER.id, "я".repeat(4097)));
    expect([long.error_code, long.description]).toEqual([400, "Bad Request: message is too long"]);
    expect((await api.sendMessage(USER.id, "я".repeat(4096))).text).toHaveLength(4096);
    // HTML tags do not count toward the limit.
    expect((await api.sendMessage(USER.id, `<b>${"я".repeat(4096)}</b>`, { parse_mode: "HTML" })).message_id).toBeGreaterThan(0);
    const noTarget = await expectGrammyError(api.sendMessage(USER.id, "re", { reply_parameters: { message_id: 987_654 } }));
    expect(noTarget.description).toBe("Bad Request: message to be replied not found");
    const allowed = await api.sendMessage(USER.id, "re", { reply_parameters: { message_id: 987_654, allow_sending_without_reply: true } });
    expect(allowed.reply_to_message).toBeUndefined();
  });

  it("answers 403 for a chat that blocked the bot, as a GrammyError", async () => {
    await userWrites("bye");
    await control("/__control/blocked", { token: TOKEN, chat_id: USER.id });
    const blocked = await expectGrammyError(api.sendMessage(USER.id, "are you there?"));
    expect([blocked.error_code, blocked.description, blocked.method]).toEqual([
      403,
      "Forbidden: bot was blocked by the user",
      "sendMessage",
    ]);
    telegram.blockChat(TOKEN, USER.id, false);
    expect((await api.sendMessage(USER.id, "welcome back")).text).toBe("welcome back");
  });

  it("answers an injected 429 with parameters.retry_after, as a GrammyError", async () => {
    await userWrites("flood");
    expect((await control("/__control/faults", { error_code: 429, method: "sendMessage", retry_after: 3, times: 1 })).status).toBe(201);
    const limited = await expectGrammyError(api.sendMessage(USER.id, "one"));
    expect(limited.error_code).toBe(429);
    expect(limited.description).toBe("Too Many Requests: retry after 3");
    expect(limited.parameters).toEqual({ retry_after: 3 });
    expect((await api.sendMessage(USER.id, "two")).text).toBe("two");
    // A fault for one method leaves the others alone.
    telegram.injectFault({ errorCode: 429, method: "getFile", retryAfter: 1 });
    expect((await api.getMe()).is_bot).toBe(true);
  });

  it("accepts parameters in the query string and in a form body, as Telegram does", async () => {
    await userWrites("forms");
    const viaQuery = await fetch(`${telegram.url}/bot${TOKEN}/SENDMESSAGE?chat_id=${USER.id}&text=${encodeURIComponent("из query")}`);
    expect(await viaQuery.json()).toMatchObject({ ok: true, result: { text: "из query" } });
    const viaForm = await fetch(`${telegram.url}/bot${TOKEN}/sendMessage`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        chat_id: String(USER.id),
        text: "из формы",
        reply_markup: JSON.stringify({ inline_keyboard: [[{ text: "OK", callback_data: "ok" }]] }),
      }),
    });
    expect(await viaForm.json()).toMatchObject({
      ok: true,
      result: { text: "из формы", reply_markup: { inline_keyboard: [[{ text: "OK" }]] } },
    });
  });
});

describe("files", () => {
  it("answers getFile with a file_path whose content downloads from /file/bot<token>/", async () => {
    const pdf = Buffer.from("%PDF-1.7 invoice #4821", "latin1");
    const { body: stored } = await control("/__control/files", {
      token: TOKEN,
      content_base64: pdf.toString("base64"),
      file_path: "documents/file_7.pdf",
    });
    const file = await api.getFile(String(stored.file_id));
    expect(file).toEqual({
      file_id: stored.file_id,
      file_unique_id: expect.any(String),
      file_size: pdf.length,
      file_path: "documents/file_7.pdf",
    });
    const download = await fetch(`${telegram.url}/file/bot${TOKEN}/${file.file_path}`);
    expect(download.status).toBe(200);
    expect(Buffer.from(await download.arrayBuffer())).toEqual(pdf);

    expect((await fetch(`${telegram.url}/file/bot${OTHER_TOKEN}/${file.file_path}`)).status).toBe(404);
    const invalid = await expectGrammyError(api.getFile("nope"));
    expect(invalid.description).toBe("Bad Request: invalid file_id");
    const otherBot = new Api(OTHER_TOKEN, { apiRoot: telegram.url });
    expect((await expectGrammyError(otherBot.getFile(String(stored.file_id)))).description).toBe("Bad Request: invalid file_id");
  });
});

describe("long polling", () => {
  it("refuses getUpdates while a webhook is set, then waits for and confirms updates", { timeout: 30_000 }, async () => {
    const conflict = await expectGrammyError(api.getUpdates());
    expect(conflict.error_code).toBe(409);
    await api.deleteWebhook({ drop_pending_updates: true });

    let answered = false;
    // The longest poll Telegram allows (50 s), longer than this test may run (30 s): only a poll the
    // update wakes can answer in time.
    const polling = api.getUpdates({ timeout: 50 }).then((updates) => {
      answered = true;
      return updates;
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(answered, "the poll waits while there is nothing").toBe(false);
    await userWrites("polled");
    const updates = await polling;
    expect(updates.map((u) => u.message?.text)).toEqual(["polled"]);

    const again = await api.getUpdates();
    expect(again).toHaveLength(1);
    const confirmed = await api.getUpdates({ offset: (updates[0]?.update_id ?? 0) + 1 });
    expect(confirmed).toEqual([]);
  });
});

describe("protocol errors and control", () => {
  it("answers 401 for an unknown token and 404 for an unknown method, in Telegram's envelope", async () => {
    const wrong = await expectGrammyError(new Api("1:wrong", { apiRoot: telegram.url }).getMe());
    expect([wrong.error_code, wrong.description]).toEqual([401, "Unauthorized"]);
    const res = await fetch(`${telegram.url}/bot${TOKEN}/sendTelepathy`, { method: "POST" });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ ok: false, error_code: 404, description: expect.stringMatching(/^Not Found/) });
  });

  it("counts API requests per method, not control requests", async () => {
    telegram.resetStats();
    await api.getMe();
    await api.getMe();
    await api.getWebhookInfo();
    await fetch(`${telegram.url}/__control/webhook?token=${encodeURIComponent(TOKEN)}`);
    const stats = await (await fetch(`${telegram.url}/__stats`)).json();
    expect(stats).toEqual({ requests: 3, byPath: { "/bot{token}/getMe": 2, "/bot{token}/getWebhookInfo": 1 } });
  });
});
