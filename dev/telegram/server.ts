/**
 * Local double of the Telegram Bot API (api.telegram.org) for one or more bots: webhooks with
 * their secret header, long polling, `sendMessage` with Telegram's limits and errors, files, and
 * injected updates and faults. Point a client at it as its API root (grammY:
 * `new Api(token, { apiRoot: double.url })`).
 *
 * API (`GET` or `POST /bot<token>/<method>`, parameters in the query, a JSON body or a form body;
 * method names case-insensitive; counted in `/__stats`):
 * - `getMe` → the bot's `UserFromGetMe`;
 * - `setWebhook` `{url, secret_token?, allowed_updates?, max_connections?, drop_pending_updates?}` →
 *   `true` ("Webhook was set"); an empty `url` removes it. Unlike Telegram, `http://` and any port
 *   are accepted (local receivers). `deleteWebhook` `{drop_pending_updates?}`, `getWebhookInfo`;
 * - `getUpdates` `{offset?, limit?, timeout?}`: pending updates from `offset`, waiting up to
 *   `timeout` seconds (at most 50) for one; 409 while a webhook is set;
 * - `sendMessage` `{chat_id, text, parse_mode?, reply_parameters?, reply_markup?, …}` → the sent
 *   `Message`, recorded per chat. `text` is at most 4096 characters (UTF-16 code units) after
 *   entity parsing (HTML tags are stripped first; Markdown is counted as sent);
 * - `sendChatAction` `{chat_id, action}` → `true`;
 * - `getFile` `{file_id}` → `File` with `file_path`; the content is at `GET /file/bot<token>/<file_path>`.
 *
 * Answers are Telegram's envelope: `{ok: true, result, description?}` or `{ok: false, error_code,
 * description, parameters?}`:
 * - 401 `Unauthorized` (unknown token), 404 `Not Found` (unknown method; methods the double does not
 *   implement say so);
 * - 400 `Bad Request: chat not found`, `… message text is empty`, `… message is too long`,
 *   `… message to be replied not found`, `… invalid file_id`, `… file is too big`, …;
 * - 403 `Forbidden: bot was blocked by the user` for a chat marked blocked;
 * - 409 `Conflict: can't use getUpdates method while webhook is active; …`;
 * - injected faults, e.g. 429 `Too Many Requests: retry after 5` with `parameters.retry_after: 5`.
 *
 * Order of checks: path → token (401) → parameters' encoding (400) → method (404) → injected fault →
 * the method's own checks.
 *
 * Chats are known to a bot once an injected update came from them (as on Telegram, where a user has
 * to write to the bot first) or when added through control; `sendMessage` to another chat is
 * `chat not found`.
 *
 * Webhook deliveries: each injected update is POSTed as JSON to the webhook URL, with
 * `X-Telegram-Bot-Api-Secret-Token` when a secret was set, filtered by `allowed_updates`. A 2xx
 * answer may carry a method call (`{"method": "sendMessage", …}`), which is executed as Telegram
 * does. A failed delivery is not retried on its own: the update stays pending (`getWebhookInfo`
 * shows `pending_update_count`, `last_error_message`) until `POST /__control/webhook/flush`.
 *
 * Test and control endpoints (JSON, not counted):
 * - `GET /__stats` → `{"requests": N, "byPath": {"/bot{token}/sendMessage": N}}`, `POST /__stats/reset`;
 * - `POST /__control/bots` `{token, username?, first_name?}` → 201 the bot's user;
 * - `POST /__control/chats` `{token, chat}` → 201; `POST /__control/blocked` `{token, chat_id, blocked?}`;
 * - `POST /__control/files` `{token, content?: text, content_base64?, file_path?}` → 201 `File`;
 * - `POST /__control/updates` `{token, update}` → 200 `{update, delivery}`: `update_id`, and a
 *   message's `message_id`/`date`, are filled in; `delivery` is `{status}` or `{error}` for a webhook,
 *   `null` when the update waits for `getUpdates`;
 * - `POST /__control/webhook/flush` `{token}` → `{delivered, pending}`;
 * - `GET /__control/webhook?token=…` → the webhook as set (secret included) or `null`;
 * - `GET /__control/messages?token=…&chat_id=…` → `{messages}` the bot sent to the chat;
 * - `POST /__control/faults` `{error_code, method?: "*", token?, times?: 1, retry_after?: 5,
 *   description?}` → 201; `DELETE /__control/faults`.
 *
 * @see https://core.telegram.org/bots/api
 * @see https://core.telegram.org/bots/api#setwebhook
 * @see https://core.telegram.org/bots/api#sendmessage
 * @see https://core.telegram.org/bots/api#getfile
 * @see https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this (429, retry_after)
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { z } from "zod";
import {
  type ApiError,
  type Chat,
  type File,
  type Message,
  TELEGRAM_MAX_DOWNLOAD_BYTES,
  TELEGRAM_MAX_MESSAGE_LENGTH,
  TELEGRAM_SECRET_TOKEN_HEADER,
  type Update,
  type UserFromGetMe,
  type WebhookInfo,
} from "../../src/integrations/telegram/types";
import { listenOnLoopback, runAsScript } from "../serve";

/** A bot to serve; its id is the number before the colon of the token. */
export interface TelegramBotSeed {
  /** `<bot id>:<secret>`, e.g. `7000000001:AAE…`. */
  token: string;
  /** Default `local_<id>_bot`. */
  username?: string;
  /** Default `Local bot`. */
  firstName?: string;
}

/** Options of {@link startTelegramDouble}. */
export interface TelegramDoubleOptions {
  /** Port to listen on; default 0 (a free port). */
  port?: number;
  /** Interface to listen on; default `127.0.0.1`. */
  host?: string;
  bots?: TelegramBotSeed[];
  /** Timeout of one webhook delivery, ms; default 10,000. */
  deliveryTimeoutMs?: number;
}

/** An injected failure; see `POST /__control/faults`. */
export interface TelegramFault {
  /** HTTP status and `error_code`, e.g. 429. */
  errorCode: number;
  /** Method name (case-insensitive) or `*`; default `*`. */
  method?: string;
  /** Only this bot's requests; default every bot. */
  token?: string;
  /** How many requests fail; default 1. */
  times?: number;
  /** `parameters.retry_after` of a 429, seconds; default 5. */
  retryAfter?: number;
  /** Default `Too Many Requests: retry after N` for 429, the status text otherwise. */
  description?: string;
}

/** A message of an injected update; `message_id` and `date` are filled in when absent. */
export type TelegramMessageInput = Omit<Message & Update.NonChannel, "message_id" | "date"> & { message_id?: number; date?: number };

/** An update to inject; `update_id` is assigned by the double. */
export type TelegramUpdateInput = Omit<Update, "update_id" | "message"> & { message?: TelegramMessageInput };

/** Outcome of a webhook delivery. */
export type TelegramDelivery = { status: number } | { error: string };

/** Request counts since start or the last reset; `byPath` keys are route templates. */
export interface TelegramRequestStats {
  requests: number;
  byPath: Record<string, number>;
}

/** The webhook of a bot as set by `setWebhook`. */
export interface TelegramWebhook {
  url: string;
  secretToken?: string;
  allowedUpdates?: string[];
  maxConnections: number;
  ipAddress?: string;
}

/** A running double. */
export interface TelegramDouble {
  /** API root, e.g. `http://127.0.0.1:40123`: methods at `/bot<token>/<method>`, files at `/file/bot<token>/<path>`. */
  url: string;
  stats(): TelegramRequestStats;
  resetStats(): void;
  addBot(seed: TelegramBotSeed): UserFromGetMe;
  /** Makes a chat known to the bot (as if its user had written first). */
  addChat(token: string, chat: Chat): void;
  /** Marks a chat as having blocked the bot (`sendMessage` → 403), or unblocks it. */
  blockChat(token: string, chatId: number, blocked?: boolean): void;
  /** Stores a file the bot can fetch with `getFile`; returns its `File` (with `file_path`). */
  addFile(token: string, file: { content: Buffer | string; filePath?: string }): File;
  injectFault(fault: TelegramFault): void;
  clearFaults(): void;
  /** Injects an update: delivered to the webhook now (awaited) or queued for `getUpdates`. */
  injectUpdate(token: string, update: TelegramUpdateInput): Promise<{ update: Update; delivery: TelegramDelivery | null }>;
  /** Delivers the pending updates to the webhook, in order, stopping at the first failure. */
  flushWebhook(token: string): Promise<{ delivered: number; pending: number }>;
  webhook(token: string): TelegramWebhook | undefined;
  /** Messages the bot sent to `chatId`, oldest first. */
  messages(token: string, chatId: number): Message[];
  close(): Promise<void>;
}

interface StoredFile {
  token: string;
  file: File & { file_path: string };
  content: Buffer;
}

interface BotState {
  token: string;
  user: UserFromGetMe;
  webhook: TelegramWebhook | undefined;
  /** Updates not yet delivered (webhook) or not yet confirmed by an `offset` (getUpdates). */
  pending: Update[];
  nextUpdateId: number;
  lastErrorDate?: number;
  lastErrorMessage?: string;
  chats: Map<number, Chat>;
  blocked: Set<number>;
  /** Every message of each chat (injected and sent), for replies and the record. */
  history: Map<number, Message[]>;
  nextMessageId: Map<number, number>;
  /** Resolvers of long-polling `getUpdates` calls waiting for an update. */
  waiters: Set<() => void>;
}

interface ActiveFault extends Required<Pick<TelegramFault, "errorCode" | "method" | "times">> {
  token?: string;
  retryAfter: number;
  description?: string;
}

/** An answer: status and envelope. */
interface Reply {
  status: number;
  body: { ok: true; result: unknown; description?: string } | ApiError;
}

type Params = Record<string, unknown>;

const JSON_TYPE = "application/json";
const TOKEN = /^(\d{1,20}):([A-Za-z0-9_-]{1,100})$/;
const SECRET_TOKEN = /^[A-Za-z0-9_-]{1,256}$/;
const MAX_POLL_SECONDS = 50;
/** Update types that carry a `Message` (filled in and recorded by `injectUpdate`). */
const MESSAGE_UPDATES = ["message", "edited_message", "channel_post", "edited_channel_post", "business_message", "edited_business_message"];
const DEFAULT_ALLOWED = (type: string) => !["chat_member", "message_reaction", "message_reaction_count"].includes(type);

const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  409: "Conflict",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
};

const ok = (result: unknown, description?: string): Reply => ({
  status: 200,
  body: description === undefined ? { ok: true, result } : { ok: true, result, description },
});

const fail = (errorCode: number, description: string, parameters?: ApiError["parameters"]): Reply => ({
  status: errorCode,
  body:
    parameters === undefined
      ? { ok: false, error_code: errorCode, description }
      : { ok: false, error_code: errorCode, description, parameters },
});

const badRequest = (what: string) => fail(400, `Bad Request: ${what}`);

class ReplyError extends Error {
  constructor(readonly reply: Reply) {
    super("description" in reply.body ? reply.body.description : "error");
  }
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** Text as Telegram counts it for the limit: HTML tags and the entities Telegram decodes removed. */
function visibleLength(text: string, parseMode: string | undefined): number {
  if (parseMode !== "HTML") return text.length;
  return text
    .replace(/<[^>]*>/g, "")
    .replace(/&(lt|gt|amp|quot|#\d+|#x[0-9a-f]+);/gi, "_")
    .trim().length;
}

/** A webhook answer's JSON object (a possible method call), or `undefined` when it is not one. */
function parseWebhookReply(text: string): Params | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Params) : undefined;
  } catch {
    return undefined;
  }
}

/** The update's type: its one key besides `update_id`. */
const updateType = (update: Update) => Object.keys(update).find((key) => key !== "update_id") ?? "";

/** The chat an update happened in, if any. */
function chatOf(update: Update): Chat | undefined {
  for (const value of Object.values(update)) {
    if (typeof value !== "object" || value === null) continue;
    const record = value as { chat?: Chat; message?: { chat?: Chat } };
    if (record.chat !== undefined) return record.chat;
    if (record.message?.chat !== undefined) return record.message.chat;
  }
  return undefined;
}

// -- parameters: query strings and forms carry text, JSON bodies carry typed values --------------

function str(params: Params, name: string): string | undefined {
  const value = params[name];
  if (value === undefined || value === null) return undefined;
  return typeof value === "string" ? value : String(value);
}

function int(params: Params, name: string): number | undefined {
  const value = params[name];
  if (value === undefined || value === null || value === "") return undefined;
  const number = typeof value === "number" ? value : Number(value);
  if (!Number.isSafeInteger(number)) throw new ReplyError(badRequest(`invalid ${name} specified`));
  return number;
}

function bool(params: Params, name: string): boolean {
  const value = params[name];
  return value === true || value === "true" || value === "1" || value === 1;
}

/** A JSON-serialized parameter (object in a JSON body, text in a form). */
function json<T>(params: Params, name: string): T | undefined {
  const value = params[name];
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string") return value as T;
  try {
    return JSON.parse(value) as T;
  } catch {
    throw new ReplyError(badRequest(`can't parse ${name} JSON object`));
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Query parameters overlaid with the body's (JSON object or form). */
async function readParams(req: IncomingMessage, url: URL): Promise<Params> {
  const params: Params = Object.fromEntries(url.searchParams);
  const body = await readBody(req);
  if (body.length === 0) return params;
  const type = req.headers["content-type"] ?? "";
  if (type.includes("application/json")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString("utf8"));
    } catch {
      throw new ReplyError(badRequest("can't parse JSON body"));
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
      throw new ReplyError(badRequest("JSON body must be an object"));
    return { ...params, ...(parsed as Params) };
  }
  if (type.includes("application/x-www-form-urlencoded"))
    return { ...params, ...Object.fromEntries(new URLSearchParams(body.toString("utf8"))) };
  throw new ReplyError(badRequest(`the local double does not read ${type || "this content type"} bodies (send JSON or a form)`));
}

const controlSchemas = {
  bot: z.object({ token: z.string().regex(TOKEN), username: z.string().optional(), first_name: z.string().optional() }),
  chat: z.object({
    token: z.string(),
    chat: z.object({ id: z.number().int(), type: z.enum(["private", "group", "supergroup", "channel"]) }).passthrough(),
  }),
  blocked: z.object({ token: z.string(), chat_id: z.number().int(), blocked: z.boolean().optional() }),
  file: z.object({
    token: z.string(),
    content: z.string().optional(),
    content_base64: z.string().optional(),
    file_path: z
      .string()
      .regex(/^[\w.-]+(?:\/[\w.-]+)*$/)
      .optional(),
  }),
  update: z.object({ token: z.string(), update: z.record(z.string(), z.unknown()) }),
  flush: z.object({ token: z.string() }),
  fault: z.object({
    error_code: z.number().int().min(400).max(599),
    method: z.string().optional(),
    token: z.string().optional(),
    times: z.number().int().min(1).optional(),
    retry_after: z.number().int().min(0).optional(),
    description: z.string().optional(),
  }),
};

/**
 * Starts the double on `host:port` (default `127.0.0.1:0`).
 * @see the module comment for the protocol.
 */
export async function startTelegramDouble(options: TelegramDoubleOptions = {}): Promise<TelegramDouble> {
  const deliveryTimeoutMs = options.deliveryTimeoutMs ?? 10_000;
  const bots = new Map<string, BotState>();
  const files = new Map<string, StoredFile>();
  let faults: ActiveFault[] = [];
  let stats: TelegramRequestStats = { requests: 0, byPath: {} };
  let fileCounter = 0;
  let closed = false;

  const addBot = (seed: TelegramBotSeed): UserFromGetMe => {
    const match = TOKEN.exec(seed.token);
    if (match?.[1] === undefined) throw new RangeError(`not a bot token: ${seed.token}`);
    const id = Number(match[1]);
    const user: UserFromGetMe = {
      id,
      is_bot: true,
      first_name: seed.firstName ?? "Local bot",
      username: seed.username ?? `local_${id}_bot`,
      can_join_groups: true,
      can_read_all_group_messages: false,
      supports_inline_queries: false,
      can_connect_to_business: false,
      has_main_web_app: false,
      has_topics_enabled: false,
      allows_users_to_create_topics: false,
      can_manage_bots: false,
      supports_join_request_queries: false,
    };
    bots.set(seed.token, {
      token: seed.token,
      user,
      webhook: undefined,
      pending: [],
      nextUpdateId: 100_000_001,
      chats: new Map(),
      blocked: new Set(),
      history: new Map(),
      nextMessageId: new Map(),
      waiters: new Set(),
    });
    return user;
  };

  const botOf = (token: string): BotState => {
    const bot = bots.get(token);
    if (bot === undefined) throw new ReplyError(fail(401, "Unauthorized"));
    return bot;
  };

  for (const seed of options.bots ?? []) addBot(seed);

  const takeMessageId = (bot: BotState, chatId: number): number => {
    const id = bot.nextMessageId.get(chatId) ?? 1;
    bot.nextMessageId.set(chatId, id + 1);
    return id;
  };

  const remember = (bot: BotState, message: Message) => {
    const chatMessages = (bot.history.get(message.chat.id) ?? []).filter((m) => m.message_id !== message.message_id);
    chatMessages.push(message);
    bot.history.set(message.chat.id, chatMessages);
    bot.nextMessageId.set(message.chat.id, Math.max(bot.nextMessageId.get(message.chat.id) ?? 1, message.message_id + 1));
  };

  const addChat = (bot: BotState, chat: Chat) => {
    bot.chats.set(chat.id, { ...bot.chats.get(chat.id), ...chat } as Chat);
  };

  const resolveChat = (bot: BotState, params: Params): Chat => {
    const raw = str(params, "chat_id");
    if (raw === undefined || raw === "") throw new ReplyError(badRequest("chat_id is empty"));
    let chat: Chat | undefined;
    if (/^-?\d+$/.test(raw)) chat = bot.chats.get(Number(raw));
    else if (raw.startsWith("@")) chat = [...bot.chats.values()].find((c) => "username" in c && c.username === raw.slice(1));
    if (chat === undefined) throw new ReplyError(badRequest("chat not found"));
    if (bot.blocked.has(chat.id)) {
      throw new ReplyError(
        fail(403, chat.type === "private" ? "Forbidden: bot was blocked by the user" : "Forbidden: bot was kicked from the group chat"),
      );
    }
    return chat;
  };

  const applyFaults = (token: string, method: string): void => {
    for (const fault of faults) {
      if (fault.token !== undefined && fault.token !== token) continue;
      if (fault.method !== "*" && fault.method.toLowerCase() !== method.toLowerCase()) continue;
      fault.times--;
      faults = faults.filter((f) => f.times > 0);
      if (fault.errorCode === 429) {
        throw new ReplyError(
          fail(429, fault.description ?? `Too Many Requests: retry after ${fault.retryAfter}`, { retry_after: fault.retryAfter }),
        );
      }
      throw new ReplyError(fail(fault.errorCode, fault.description ?? STATUS_TEXT[fault.errorCode] ?? "Error"));
    }
  };

  const webhookInfo = (bot: BotState): WebhookInfo => {
    const info: WebhookInfo = { url: bot.webhook?.url ?? "", has_custom_certificate: false, pending_update_count: bot.pending.length };
    if (bot.webhook !== undefined) {
      info.max_connections = bot.webhook.maxConnections;
      if (bot.webhook.ipAddress !== undefined) info.ip_address = bot.webhook.ipAddress;
      if (bot.webhook.allowedUpdates !== undefined) info.allowed_updates = bot.webhook.allowedUpdates as WebhookInfo["allowed_updates"];
    }
    if (bot.lastErrorDate !== undefined) info.last_error_date = bot.lastErrorDate;
    if (bot.lastErrorMessage !== undefined) info.last_error_message = bot.lastErrorMessage;
    return info;
  };

  const wakeWaiters = (bot: BotState) => {
    for (const wake of bot.waiters) wake();
    bot.waiters.clear();
  };

  /** The API methods; each returns a reply or throws a `ReplyError`. */
  const methods: Record<string, (bot: BotState, params: Params) => Reply | Promise<Reply>> = {
    getMe: (bot) => ok(bot.user),

    setWebhook: (bot, params) => {
      const url = str(params, "url") ?? "";
      if (url === "") {
        const had = bot.webhook !== undefined;
        bot.webhook = undefined;
        return ok(true, had ? "Webhook was deleted" : "Webhook is already deleted");
      }
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        return badRequest("bad webhook: Failed to resolve host: Name or service not known");
      }
      if (parsed.protocol !== "https:" && parsed.protocol !== "http:")
        return badRequest("bad webhook: An HTTPS URL must be provided for webhook");
      const secretToken = str(params, "secret_token");
      if (secretToken !== undefined && !SECRET_TOKEN.test(secretToken)) return badRequest("secret token contains unallowed characters");
      const maxConnections = int(params, "max_connections") ?? 40;
      if (maxConnections < 1 || maxConnections > 100) return badRequest("invalid max_connections specified");
      const allowedUpdates = json<string[]>(params, "allowed_updates") ?? bot.webhook?.allowedUpdates;
      if (bool(params, "drop_pending_updates")) bot.pending = [];
      const next: TelegramWebhook = { url, maxConnections };
      if (secretToken !== undefined) next.secretToken = secretToken;
      if (allowedUpdates !== undefined && allowedUpdates.length > 0) next.allowedUpdates = allowedUpdates;
      const ipAddress = str(params, "ip_address");
      if (ipAddress !== undefined) next.ipAddress = ipAddress;
      const same = JSON.stringify(next) === JSON.stringify(bot.webhook);
      bot.webhook = next;
      return ok(true, same ? "Webhook is already set" : "Webhook was set");
    },

    deleteWebhook: (bot, params) => {
      const had = bot.webhook !== undefined;
      bot.webhook = undefined;
      if (bool(params, "drop_pending_updates")) bot.pending = [];
      return ok(true, had ? "Webhook was deleted" : "Webhook is already deleted");
    },

    getWebhookInfo: (bot) => ok(webhookInfo(bot)),

    getUpdates: async (bot, params) => {
      if (bot.webhook !== undefined) {
        return fail(409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first");
      }
      const offset = int(params, "offset");
      if (offset !== undefined) bot.pending = bot.pending.filter((u) => u.update_id >= offset);
      const limit = Math.min(100, Math.max(1, int(params, "limit") ?? 100));
      const timeout = Math.min(MAX_POLL_SECONDS, Math.max(0, int(params, "timeout") ?? 0));
      if (bot.pending.length === 0 && timeout > 0 && !closed) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            bot.waiters.delete(wake);
            resolve();
          }, timeout * 1000);
          const wake = () => {
            clearTimeout(timer);
            resolve();
          };
          bot.waiters.add(wake);
        });
      }
      return ok(bot.pending.slice(0, limit));
    },

    sendMessage: (bot, params) => {
      const chat = resolveChat(bot, params);
      const text = str(params, "text") ?? "";
      if (text.trim() === "") return badRequest("message text is empty");
      const parseMode = str(params, "parse_mode");
      if (parseMode !== undefined && parseMode !== "" && !["HTML", "Markdown", "MarkdownV2"].includes(parseMode)) {
        return badRequest("unsupported parse_mode");
      }
      if (visibleLength(text, parseMode) > TELEGRAM_MAX_MESSAGE_LENGTH) return badRequest("message is too long");
      const replyParameters = json<{ message_id?: number; allow_sending_without_reply?: boolean }>(params, "reply_parameters");
      const replyToId = replyParameters?.message_id ?? int(params, "reply_to_message_id");
      let replyTo: Message | undefined;
      if (replyToId !== undefined) {
        replyTo = bot.history.get(chat.id)?.find((m) => m.message_id === replyToId);
        const allowWithout = replyParameters?.allow_sending_without_reply ?? bool(params, "allow_sending_without_reply");
        if (replyTo === undefined && !allowWithout) return badRequest("message to be replied not found");
      }
      const { id, is_bot, first_name, username } = bot.user;
      const message = {
        message_id: takeMessageId(bot, chat.id),
        from: { id, is_bot, first_name, username },
        chat,
        date: nowSeconds(),
        text,
      } as Message;
      if (replyTo !== undefined) Object.assign(message, { reply_to_message: replyTo });
      const markup = json<Record<string, unknown>>(params, "reply_markup");
      if (markup !== undefined && "inline_keyboard" in markup) Object.assign(message, { reply_markup: markup });
      remember(bot, message);
      return ok(message);
    },

    sendChatAction: (bot, params) => {
      resolveChat(bot, params);
      if (!str(params, "action")) return badRequest("wrong parameter action in request");
      return ok(true);
    },

    getFile: (bot, params) => {
      const fileId = str(params, "file_id");
      if (!fileId) return badRequest("file_id is empty");
      const stored = files.get(fileId);
      if (stored === undefined || stored.token !== bot.token) return badRequest("invalid file_id");
      if (stored.content.length > TELEGRAM_MAX_DOWNLOAD_BYTES) return badRequest("file is too big");
      return ok(stored.file);
    },
  };
  const methodNames = new Map(Object.keys(methods).map((name) => [name.toLowerCase(), name]));

  /** Runs one API call. */
  const call = async (token: string, methodName: string, params: Params): Promise<Reply> => {
    try {
      const bot = botOf(token);
      const name = methodNames.get(methodName.toLowerCase());
      if (name === undefined) return fail(404, `Not Found: method ${methodName} is not implemented by the local double`);
      applyFaults(token, name);
      return await (methods[name] as (bot: BotState, params: Params) => Reply | Promise<Reply>)(bot, params);
    } catch (error) {
      if (error instanceof ReplyError) return error.reply;
      throw error;
    }
  };

  /** POSTs one update to the webhook; executes a method call in a 2xx answer. */
  const deliver = async (bot: BotState, update: Update): Promise<TelegramDelivery> => {
    const webhook = bot.webhook;
    if (webhook === undefined) return { error: "no webhook" };
    const headers: Record<string, string> = { "Content-Type": JSON_TYPE };
    if (webhook.secretToken !== undefined) headers[TELEGRAM_SECRET_TOKEN_HEADER] = webhook.secretToken;
    try {
      const res = await fetch(webhook.url, {
        method: "POST",
        headers,
        body: JSON.stringify(update),
        signal: AbortSignal.timeout(deliveryTimeoutMs),
      });
      const text = await res.text();
      if (!res.ok) {
        bot.lastErrorDate = nowSeconds();
        bot.lastErrorMessage = `Wrong response from the webhook: ${res.status} ${res.statusText}`;
        return { status: res.status };
      }
      const reply = (res.headers.get("content-type") ?? "").includes("json") ? parseWebhookReply(text) : undefined;
      if (typeof reply?.method === "string") await call(bot.token, reply.method, reply);
      return { status: res.status };
    } catch (error) {
      bot.lastErrorDate = nowSeconds();
      bot.lastErrorMessage = error instanceof Error && error.name === "TimeoutError" ? "Read timeout expired" : "Connection refused";
      return { error: error instanceof Error ? error.message : String(error) };
    }
  };

  const delivered = (delivery: TelegramDelivery) => "status" in delivery && delivery.status >= 200 && delivery.status < 300;

  const injectUpdate = async (
    token: string,
    input: TelegramUpdateInput,
  ): Promise<{ update: Update; delivery: TelegramDelivery | null }> => {
    const bot = bots.get(token);
    if (bot === undefined) throw new RangeError(`unknown bot token ${token}`);
    const update = { ...structuredClone(input), update_id: bot.nextUpdateId++ } as Update;
    const chat = chatOf(update);
    if (chat !== undefined) addChat(bot, chat);
    for (const type of MESSAGE_UPDATES) {
      const message = (update as unknown as Record<string, Partial<Message> | undefined>)[type];
      if (message?.chat === undefined) continue;
      message.message_id ??= takeMessageId(bot, message.chat.id);
      message.date ??= nowSeconds();
      remember(bot, message as Message);
    }
    if (bot.webhook === undefined) {
      bot.pending.push(update);
      wakeWaiters(bot);
      return { update, delivery: null };
    }
    const allowed = bot.webhook.allowedUpdates;
    const type = updateType(update);
    if (allowed === undefined ? !DEFAULT_ALLOWED(type) : !allowed.includes(type))
      return { update, delivery: { error: `not in allowed_updates: ${type}` } };
    if (bot.pending.length > 0) {
      bot.pending.push(update);
      return { update, delivery: { error: "earlier updates are pending; flush the webhook" } };
    }
    const delivery = await deliver(bot, update);
    if (!delivered(delivery)) bot.pending.push(update);
    return { update, delivery };
  };

  const flushWebhook = async (token: string): Promise<{ delivered: number; pending: number }> => {
    const bot = bots.get(token);
    if (bot === undefined) throw new RangeError(`unknown bot token ${token}`);
    let count = 0;
    while (bot.webhook !== undefined && bot.pending.length > 0) {
      const next = bot.pending[0] as Update;
      if (!delivered(await deliver(bot, next))) break;
      bot.pending.shift();
      count++;
    }
    return { delivered: count, pending: bot.pending.length };
  };

  const addFile = (token: string, file: { content: Buffer | string; filePath?: string }): File => {
    botOf(token);
    fileCounter++;
    const content = typeof file.content === "string" ? Buffer.from(file.content, "utf8") : file.content;
    const stored: StoredFile = {
      token,
      content,
      file: {
        file_id: `BQACAgIAAxkBAA${randomBytes(24).toString("base64url")}`,
        file_unique_id: `AgAD${randomBytes(8).toString("base64url")}`,
        file_size: content.length,
        file_path: file.filePath ?? `documents/file_${fileCounter}.bin`,
      },
    };
    files.set(stored.file.file_id, stored);
    return stored.file;
  };

  const sendJson = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { "Content-Type": JSON_TYPE });
    res.end(JSON.stringify(body));
  };

  const count = (key: string) => {
    stats.requests++;
    stats.byPath[key] = (stats.byPath[key] ?? 0) + 1;
  };

  const parseControl = <T>(schema: z.ZodType<T>, body: unknown): T => {
    const parsed = schema.safeParse(body);
    if (!parsed.success) {
      throw new ReplyError(badRequest(parsed.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; ")));
    }
    return parsed.data;
  };

  const serveControl = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const route = `${req.method} ${url.pathname}`;
    if (route === "GET /__stats") return sendJson(res, 200, stats);
    if (route === "POST /__stats/reset") {
      stats = { requests: 0, byPath: {} };
      return sendJson(res, 200, stats);
    }
    if (route === "GET /__control/messages") {
      return sendJson(res, 200, { messages: sentMessages(url.searchParams.get("token") ?? "", Number(url.searchParams.get("chat_id"))) });
    }
    if (route === "GET /__control/webhook") return sendJson(res, 200, botOf(url.searchParams.get("token") ?? "").webhook ?? null);
    const body = req.method === "POST" ? await readParams(req, new URL("http://localhost/")) : {};
    switch (route) {
      case "POST /__control/bots": {
        const input = parseControl(controlSchemas.bot, body);
        const seed: TelegramBotSeed = { token: input.token };
        if (input.username !== undefined) seed.username = input.username;
        if (input.first_name !== undefined) seed.firstName = input.first_name;
        return sendJson(res, 201, addBot(seed));
      }
      case "POST /__control/chats": {
        const input = parseControl(controlSchemas.chat, body);
        addChat(botOf(input.token), input.chat as unknown as Chat);
        return sendJson(res, 201, input.chat);
      }
      case "POST /__control/blocked": {
        const input = parseControl(controlSchemas.blocked, body);
        blockChat(input.token, input.chat_id, input.blocked ?? true);
        return sendJson(res, 200, { chat_id: input.chat_id, blocked: input.blocked ?? true });
      }
      case "POST /__control/files": {
        const input = parseControl(controlSchemas.file, body);
        const content =
          input.content_base64 !== undefined ? Buffer.from(input.content_base64, "base64") : Buffer.from(input.content ?? "", "utf8");
        return sendJson(
          res,
          201,
          addFile(input.token, { content, ...(input.file_path === undefined ? {} : { filePath: input.file_path }) }),
        );
      }
      case "POST /__control/updates": {
        const input = parseControl(controlSchemas.update, body);
        botOf(input.token);
        return sendJson(res, 200, await injectUpdate(input.token, input.update as TelegramUpdateInput));
      }
      case "POST /__control/webhook/flush": {
        const input = parseControl(controlSchemas.flush, body);
        botOf(input.token);
        return sendJson(res, 200, await flushWebhook(input.token));
      }
      case "POST /__control/faults": {
        const input = parseControl(controlSchemas.fault, body);
        const fault: TelegramFault = { errorCode: input.error_code };
        if (input.method !== undefined) fault.method = input.method;
        if (input.token !== undefined) fault.token = input.token;
        if (input.times !== undefined) fault.times = input.times;
        if (input.retry_after !== undefined) fault.retryAfter = input.retry_after;
        if (input.description !== undefined) fault.description = input.description;
        injectFault(fault);
        return sendJson(res, 201, { faults: faults.length });
      }
      case "DELETE /__control/faults":
        faults = [];
        return sendJson(res, 200, { faults: 0 });
    }
    throw new ReplyError(fail(404, "Not Found"));
  };

  const serveFile = (res: ServerResponse, token: string, filePath: string): void => {
    count("/file/bot{token}/{file_path}");
    const stored = [...files.values()].find((f) => f.token === token && f.file.file_path === filePath);
    if (!bots.has(token) || stored === undefined) {
      sendJson(res, 404, { ok: false, error_code: 404, description: "Not Found" });
      return;
    }
    res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": String(stored.content.length) });
    res.end(stored.content);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const path = url.pathname;
    if (path === "/__stats" || path.startsWith("/__stats/") || path.startsWith("/__control/")) return serveControl(req, res, url);
    const file = /^\/file\/bot([^/]+)\/(.+)$/.exec(path);
    if (file?.[1] !== undefined && file[2] !== undefined && req.method === "GET")
      return serveFile(res, decodeURIComponent(file[1]), file[2]);
    const method = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec(path);
    if (method?.[1] === undefined || method[2] === undefined) {
      count(path);
      return sendJson(res, 404, { ok: false, error_code: 404, description: "Not Found" });
    }
    count(`/bot{token}/${methodNames.get(method[2].toLowerCase()) ?? method[2]}`);
    const token = decodeURIComponent(method[1]);
    // The token is checked before the parameters are read, as Telegram answers 401 first.
    if (!bots.has(token)) return sendJson(res, 401, { ok: false, error_code: 401, description: "Unauthorized" });
    const params = await readParams(req, url);
    const reply = await call(token, method[2], params);
    sendJson(res, reply.status, reply.body);
  };

  const sentMessages = (token: string, chatId: number): Message[] => {
    const bot = botOf(token);
    return (bot.history.get(chatId) ?? []).filter((m) => m.from?.id === bot.user.id);
  };

  const blockChat = (token: string, chatId: number, blocked = true) => {
    const bot = botOf(token);
    if (blocked) bot.blocked.add(chatId);
    else bot.blocked.delete(chatId);
  };

  const injectFault = (fault: TelegramFault) => {
    const active: ActiveFault = {
      errorCode: fault.errorCode,
      method: fault.method ?? "*",
      times: fault.times ?? 1,
      retryAfter: fault.retryAfter ?? 5,
    };
    if (fault.token !== undefined) active.token = fault.token;
    if (fault.description !== undefined) active.description = fault.description;
    faults.push(active);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      const reply =
        error instanceof ReplyError
          ? error.reply
          : fail(500, `Internal Server Error: ${error instanceof Error ? error.message : String(error)}`);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      sendJson(res, reply.status, reply.body);
    });
  });
  const { url } = await listenOnLoopback(server, options.port, options.host);

  let closing: Promise<void> | undefined;
  return {
    url,
    stats: () => ({ requests: stats.requests, byPath: { ...stats.byPath } }),
    resetStats: () => {
      stats = { requests: 0, byPath: {} };
    },
    addBot,
    addChat: (token, chat) => addChat(botOf(token), chat),
    blockChat,
    addFile,
    injectFault,
    clearFaults: () => {
      faults = [];
    },
    injectUpdate,
    flushWebhook,
    webhook: (token) => bots.get(token)?.webhook,
    messages: sentMessages,
    close() {
      closing ??= new Promise<void>((resolve) => {
        closed = true;
        for (const bot of bots.values()) wakeWaiters(bot);
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/**
 * `npx tsx dev/telegram/server.ts`: runs the double until SIGINT/SIGTERM with one bot.
 * Env: `TELEGRAM_PORT` (default 8085), `TELEGRAM_BOT_TOKEN` (default a fixed development token).
 */
async function main(): Promise<void> {
  const token = process.env.TELEGRAM_BOT_TOKEN || "7000000001:AAH-local-development-token-000000000";
  const double = await startTelegramDouble({ port: Number(process.env.TELEGRAM_PORT ?? 8085), bots: [{ token }] });
  process.stdout.write(`telegram bot api double: ${double.url} (token ${token})\n`);
  const stop = () => void double.close().then(() => process.exit(0));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

runAsScript(import.meta.url, main);
