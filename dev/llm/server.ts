/**
 * Local double of an OpenAI-compatible chat completions API: deterministic replies with honest
 * usage counts, streaming, OpenAI's error bodies, and faults injected per model. Point a client at
 * it with `baseURL: double.url + "/v1"` (the `openai` package) or `double.url` (clients that add
 * `/chat/completions` themselves).
 *
 * API (counted in `/__stats`, logged in `/__requests`):
 * - `POST /v1/chat/completions` (also `/chat/completions`), `Authorization: Bearer <key>`, body
 *   `{model, messages, max_completion_tokens? | max_tokens?, n?, stream?, stream_options?,
 *   response_format?, …}` → `{id: "chatcmpl-…", object: "chat.completion", created, model,
 *   choices: [{index, message: {role: "assistant", content, refusal: null, annotations: []},
 *   logprobs: null, finish_reason}], usage: {prompt_tokens, completion_tokens, total_tokens, …},
 *   service_tier: "default", system_fingerprint}`. With `stream: true`: server-sent events of
 *   `chat.completion.chunk` (role, then the content word by word, then `finish_reason`, then usage
 *   when `stream_options.include_usage`), ending with `data: [DONE]`.
 * - `GET /v1/models` (also `/models`) → `{object: "list", data: [{id, object: "model", created, owned_by}]}`.
 *
 * Replies are deterministic: the first reply rule whose `model` and `contains` match (see
 * `/__control/replies`), else {@link defaultReply}: `Echo from <model>: <text of the last user
 * message>` (as JSON `{"model", "echo"}` with `response_format: {type: "json_object"}`). A reply over
 * `max_completion_tokens` (or `max_tokens`) is cut to that many tokens with `finish_reason: "length"`.
 *
 * Usage is an estimate, documented so tests can predict it ({@link estimateTokens},
 * {@link promptTokens}): one token per 4 characters (Unicode code points) of a text, rounded up —
 * OpenAI's rule of thumb for English; every message adds 3 tokens plus its role's and its name's
 * tokens (+1 for a name), each image part 85 tokens, and the reply is primed with 3 (the counting
 * of OpenAI's cookbook). Real tokenizers differ; the shape and the arithmetic
 * (`total = prompt + completion`) are the real ones.
 *
 * Errors are `{error: {message, type, param, code}}`: 401 without a key (`code: null`) or with an
 * unknown one (`invalid_api_key`); 400 for a body that is not JSON, a missing `model`, a missing or
 * empty `messages` or an unknown role; 404 `model_not_found` for a model outside `models` (when that
 * option is set); 404/405 for other paths and methods.
 *
 * Order of checks: path → method → key (401) → body (400) → model (404) → injected fault → reply.
 *
 * Test and control endpoints (JSON, no key, not counted or logged):
 * - `GET /__stats` → `{"requests": N, "byPath": {"/v1/chat/completions": N}}`, `POST /__stats/reset`;
 * - `GET /__requests` → `{requests: [{at, method, path, status, model?, messages?, stream, durationMs}]}`,
 *   `DELETE /__requests` clears it;
 * - `POST /__control/faults` `{model?: "*", times?: 1, status?: 429 | 500 | 502 | 503,
 *   retryAfterSeconds?: 1, delayMs?}` → 201: the next `times` completions of `model` wait `delayMs`
 *   (a slow answer), then fail with `status` if given (429 with `Retry-After` and
 *   `x-ratelimit-*-requests`); `DELETE /__control/faults`;
 * - `POST /__control/replies` `{content, model?, contains?}` → 201: a reply rule (kept until
 *   `DELETE /__control/replies`).
 *
 * @see https://platform.openai.com/docs/api-reference/chat/create
 * @see https://platform.openai.com/docs/api-reference/chat/object
 * @see https://platform.openai.com/docs/api-reference/chat-streaming
 * @see https://platform.openai.com/docs/guides/error-codes
 * @see https://help.openai.com/en/articles/4936856-what-are-tokens-and-how-to-count-them (≈4 characters per token)
 * @see https://cookbook.openai.com/examples/how_to_count_tokens_with_tiktoken (3 tokens per message, 3 to prime the reply)
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { z } from "zod";
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
  ChatCompletionUsage,
  ChatErrorBody,
  ChatFinishReason,
  ChatMessage,
} from "../../src/integrations/llm/types";
import { listenOnLoopback, runAsScript } from "../serve";

/** Options of {@link startLlmDouble}. */
export interface LlmDoubleOptions {
  /** Port to listen on; default 0 (a free port). */
  port?: number;
  /** Interface to listen on; default `127.0.0.1`. */
  host?: string;
  /** Accepted API keys; default `["sk-local-dev"]`. */
  apiKeys?: string[];
  /** Models served; default any name (OpenAI-compatible gateways differ in their lists). */
  models?: string[];
}

/** An injected fault; see `POST /__control/faults`. */
export interface LlmFault {
  /** Model name or `*` (default). */
  model?: string;
  /** How many completions it affects; default 1. */
  times?: number;
  /** Fail with this status after the delay; absent: answer normally (only slowly). */
  status?: 429 | 500 | 502 | 503;
  /** `Retry-After` of a 429, seconds; default 1. */
  retryAfterSeconds?: number;
  /** Wait this long before answering, ms. */
  delayMs?: number;
}

/** A scripted reply: used for requests to `model` (default any) whose last user message contains `contains` (default any). */
export interface LlmReplyRule {
  content: string;
  model?: string;
  contains?: string;
}

/** One API request, as logged at `/__requests`. */
export interface LlmRequestRecord {
  /** ISO time the request arrived. */
  at: string;
  method: string;
  path: string;
  status: number;
  model?: string;
  messages?: ChatMessage[];
  stream: boolean;
  durationMs: number;
}

/** Request counts since start or the last reset; `byPath` keys are URL paths. */
export interface LlmRequestStats {
  requests: number;
  byPath: Record<string, number>;
}

/** A running double. */
export interface LlmDouble {
  /** Origin, e.g. `http://127.0.0.1:40123`. */
  url: string;
  /** `url + "/v1"`, the `baseURL` of the `openai` client. */
  baseURL: string;
  stats(): LlmRequestStats;
  resetStats(): void;
  requests(): LlmRequestRecord[];
  clearRequests(): void;
  injectFault(fault: LlmFault): void;
  clearFaults(): void;
  addReply(rule: LlmReplyRule): void;
  clearReplies(): void;
  close(): Promise<void>;
}

const JSON_TYPE = "application/json";
const ROLES = ["system", "developer", "user", "assistant", "tool", "function"];
const IMAGE_PART_TOKENS = 85;
const FINGERPRINT = "fp_local_double";

/** Estimated tokens of a text: one per 4 Unicode code points, rounded up; 0 for "". */
export function estimateTokens(text: string): number {
  return Math.ceil([...text].length / 4);
}

/** The text of a message's content (text parts joined by newlines). */
function contentText(content: ChatMessage["content"]): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .filter((part) => part.type === "text")
    .map((part) => (part as { text: string }).text)
    .join("\n");
}

/** Estimated prompt tokens: 3 to prime the reply, and per message 3 + role + content (+ 1 + name). */
export function promptTokens(messages: readonly ChatMessage[]): number {
  let tokens = 3;
  for (const message of messages) {
    tokens += 3 + estimateTokens(message.role) + estimateTokens(contentText(message.content));
    if (Array.isArray(message.content)) tokens += IMAGE_PART_TOKENS * message.content.filter((p) => p.type === "image_url").length;
    if (message.name !== undefined) tokens += 1 + estimateTokens(message.name);
  }
  return tokens;
}

/** The text of the last user message, or `(no user message)`. */
function lastUserText(messages: readonly ChatMessage[]): string {
  const last = [...messages].reverse().find((m) => m.role === "user");
  return last === undefined ? "(no user message)" : contentText(last.content);
}

/** The reply without a matching rule: `Echo from <model>: <last user text>`, or JSON for `json_object`. */
export function defaultReply(request: Pick<ChatCompletionRequest, "model" | "messages" | "response_format">): string {
  const echo = lastUserText(request.messages);
  if (request.response_format?.type === "json_object") return JSON.stringify({ model: request.model, echo });
  return `Echo from ${request.model}: ${echo}`;
}

class LlmHttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: ChatErrorBody,
    readonly headers: Record<string, string> = {},
  ) {
    super(body.error.message);
  }
}

const apiError = (status: number, message: string, type: string, code: string | null = null, param: string | null = null, headers = {}) =>
  new LlmHttpError(status, { error: { message, type, param, code } }, headers);

const faultSchema = z.object({
  model: z.string().min(1).optional(),
  times: z.number().int().min(1).optional(),
  status: z.union([z.literal(429), z.literal(500), z.literal(502), z.literal(503)]).optional(),
  retryAfterSeconds: z.number().int().min(0).optional(),
  delayMs: z.number().int().min(0).max(600_000).optional(),
});

const replySchema = z.object({ content: z.string(), model: z.string().optional(), contains: z.string().optional() });

const messageSchema = z.object({
  role: z.string(),
  content: z.union([z.string(), z.array(z.object({ type: z.string() }).passthrough()), z.null()]).optional(),
  name: z.string().optional(),
});

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Reads and checks a chat completion request; throws OpenAI's 400 answers.
 * @param seen called with the body as soon as it is JSON, before it is checked (for the log).
 */
function parseRequest(text: string, seen: (body: Record<string, unknown>) => void): ChatCompletionRequest {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw apiError(
      400,
      "We could not parse the JSON body of your request. The OpenAI API expects a JSON payload.",
      "invalid_request_error",
    );
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw apiError(
      400,
      "We could not parse the JSON body of your request. The OpenAI API expects a JSON payload.",
      "invalid_request_error",
    );
  }
  const request = body as Record<string, unknown>;
  seen(request);
  if (typeof request.model !== "string" || request.model === "")
    throw apiError(400, "you must provide a model parameter", "invalid_request_error");
  if (request.messages === undefined) {
    throw apiError(400, "Missing required parameter: 'messages'.", "invalid_request_error", "missing_required_parameter", "messages");
  }
  if (!Array.isArray(request.messages)) {
    throw apiError(400, "Invalid type for 'messages': expected an array.", "invalid_request_error", "invalid_type", "messages");
  }
  if (request.messages.length === 0) {
    throw apiError(
      400,
      "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
      "invalid_request_error",
      "empty_array",
      "messages",
    );
  }
  request.messages.forEach((message, index) => {
    const parsed = messageSchema.safeParse(message);
    if (!parsed.success) {
      throw apiError(400, `Invalid value for 'messages[${index}]'.`, "invalid_request_error", "invalid_value", `messages[${index}]`);
    }
    if (!ROLES.includes(parsed.data.role)) {
      throw apiError(
        400,
        `Invalid value: '${parsed.data.role}'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.`,
        "invalid_request_error",
        "invalid_value",
        `messages[${index}].role`,
      );
    }
  });
  return request as ChatCompletionRequest;
}

/** `sk-abc…wxyz` as OpenAI shows a key in an error. */
const maskKey = (key: string) => (key.length <= 8 ? "***" : `${key.slice(0, 3)}***${key.slice(-4)}`);

/**
 * Starts the double on `host:port` (default `127.0.0.1:0`).
 * @see the module comment for the protocol, the reply rule and the token estimate.
 */
export async function startLlmDouble(options: LlmDoubleOptions = {}): Promise<LlmDouble> {
  const apiKeys = new Set(options.apiKeys ?? ["sk-local-dev"]);
  const models = options.models === undefined ? undefined : new Set(options.models);
  let faults: Array<Required<Pick<LlmFault, "model" | "times">> & LlmFault> = [];
  let replies: LlmReplyRule[] = [];
  let log: LlmRequestRecord[] = [];
  let stats: LlmRequestStats = { requests: 0, byPath: {} };
  const seenModels = new Set<string>(options.models ?? []);

  const injectFault = (fault: LlmFault) => {
    faults.push({ ...fault, model: fault.model ?? "*", times: fault.times ?? 1 });
  };

  const authenticate = (req: IncomingMessage) => {
    const header = req.headers.authorization?.trim() ?? "";
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (match?.[1] === undefined) {
      throw apiError(
        401,
        "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        "invalid_request_error",
      );
    }
    if (!apiKeys.has(match[1])) {
      throw apiError(401, `Incorrect API key provided: ${maskKey(match[1])}.`, "invalid_request_error", "invalid_api_key");
    }
  };

  /** Waits and fails as the first fault due for `model` says. */
  const applyFaults = async (model: string): Promise<void> => {
    const fault = faults.find((f) => f.model === "*" || f.model === model);
    if (fault === undefined) return;
    fault.times--;
    faults = faults.filter((f) => f.times > 0);
    if (fault.delayMs) await sleep(fault.delayMs);
    if (fault.status === 429) {
      const retry = fault.retryAfterSeconds ?? 1;
      throw apiError(
        429,
        `Rate limit reached for ${model} on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in ${retry}s.`,
        "requests",
        "rate_limit_exceeded",
        null,
        {
          "Retry-After": String(retry),
          "x-ratelimit-limit-requests": "3",
          "x-ratelimit-remaining-requests": "0",
          "x-ratelimit-reset-requests": `${retry}s`,
        },
      );
    }
    if (fault.status !== undefined) {
      throw apiError(fault.status, "The server had an error while processing your request. Sorry about that!", "server_error");
    }
  };

  const replyFor = (request: ChatCompletionRequest): string => {
    const text = lastUserText(request.messages);
    const rule = replies.find(
      (r) => (r.model === undefined || r.model === request.model) && (r.contains === undefined || text.includes(r.contains)),
    );
    return rule?.content ?? defaultReply(request);
  };

  const complete = (request: ChatCompletionRequest) => {
    let content = replyFor(request);
    let finishReason: ChatFinishReason = "stop";
    const limit = request.max_completion_tokens ?? request.max_tokens;
    if (typeof limit === "number" && limit >= 0 && estimateTokens(content) > limit) {
      content = [...content].slice(0, limit * 4).join("");
      finishReason = "length";
    }
    const n = typeof request.n === "number" && request.n >= 1 ? Math.min(request.n, 128) : 1;
    const prompt = promptTokens(request.messages);
    const completion = estimateTokens(content) * n;
    const usage: ChatCompletionUsage = {
      prompt_tokens: prompt,
      completion_tokens: completion,
      total_tokens: prompt + completion,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    };
    return {
      content,
      finishReason,
      n,
      usage,
      id: `chatcmpl-${randomBytes(15).toString("base64url")}`,
      created: Math.floor(Date.now() / 1000),
    };
  };

  const sendJson = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { "Content-Type": JSON_TYPE, ...headers });
    res.end(JSON.stringify(body));
  };

  const successHeaders = (startedAt: number) => ({
    "x-request-id": `req_${randomBytes(16).toString("hex")}`,
    "openai-processing-ms": String(Math.round(performance.now() - startedAt)),
  });

  const stream = (res: ServerResponse, request: ChatCompletionRequest, result: ReturnType<typeof complete>, startedAt: number) => {
    const includeUsage = request.stream_options?.include_usage === true;
    res.writeHead(200, { "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache", ...successHeaders(startedAt) });
    const base = {
      id: result.id,
      object: "chat.completion.chunk" as const,
      created: result.created,
      model: request.model,
      system_fingerprint: FINGERPRINT,
    };
    const write = (chunk: ChatCompletionChunk) => res.write(`data: ${JSON.stringify(chunk)}\n\n`);
    const choice = (index: number, delta: ChatCompletionChunk["choices"][number]["delta"], finish: ChatFinishReason | null) => ({
      index,
      delta,
      logprobs: null,
      finish_reason: finish,
    });
    const usageField = includeUsage ? { usage: null } : {};
    const words = result.content.match(/\s*\S+\s*/g);
    const pieces = words ?? (result.content === "" ? [] : [result.content]);
    for (let index = 0; index < result.n; index++) {
      write({ ...base, choices: [choice(index, { role: "assistant", content: "", refusal: null }, null)], ...usageField });
      for (const piece of pieces) write({ ...base, choices: [choice(index, { content: piece }, null)], ...usageField });
      write({ ...base, choices: [choice(index, {}, result.finishReason)], ...usageField });
    }
    if (includeUsage) write({ ...base, choices: [], usage: result.usage });
    res.end("data: [DONE]\n\n");
  };

  const serveApi = async (req: IncomingMessage, res: ServerResponse, path: string, record: LlmRequestRecord): Promise<void> => {
    const startedAt = performance.now();
    const isCompletions = path === "/v1/chat/completions" || path === "/chat/completions";
    const isModels = path === "/v1/models" || path === "/models";
    if (!isCompletions && !isModels) throw apiError(404, `Invalid URL (${req.method} ${path})`, "invalid_request_error");
    const allowed = isCompletions ? "POST" : "GET";
    if (req.method !== allowed)
      throw apiError(405, `Invalid method for URL (${req.method} ${path})`, "invalid_request_error", null, null, { Allow: allowed });
    authenticate(req);

    if (isModels) {
      const data = [...seenModels].map((id) => ({ id, object: "model", created: 1_700_000_000, owned_by: "local-double" }));
      return sendJson(res, 200, { object: "list", data }, successHeaders(startedAt));
    }

    const request = parseRequest(await readBody(req), (body) => {
      if (typeof body.model === "string") record.model = body.model;
      if (Array.isArray(body.messages)) record.messages = body.messages as ChatMessage[];
      record.stream = body.stream === true;
    });
    if (models !== undefined && !models.has(request.model)) {
      throw apiError(
        404,
        `The model \`${request.model}\` does not exist or you do not have access to it.`,
        "invalid_request_error",
        "model_not_found",
      );
    }
    seenModels.add(request.model);
    await applyFaults(request.model);
    const result = complete(request);
    if (request.stream === true) return stream(res, request, result, startedAt);
    const body: ChatCompletion = {
      id: result.id,
      object: "chat.completion",
      created: result.created,
      model: request.model,
      choices: Array.from({ length: result.n }, (_, index) => ({
        index,
        message: { role: "assistant" as const, content: result.content, refusal: null, annotations: [] },
        logprobs: null,
        finish_reason: result.finishReason,
      })),
      usage: result.usage,
      service_tier: "default",
      system_fingerprint: FINGERPRINT,
    };
    sendJson(res, 200, body, successHeaders(startedAt));
  };

  const serveControl = async (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> => {
    const route = `${req.method} ${path}`;
    const body = req.method === "POST" ? await readBody(req) : "";
    const input = (schema: z.ZodType) => {
      let parsed: unknown;
      try {
        parsed = body === "" ? {} : JSON.parse(body);
      } catch {
        throw apiError(400, "control body is not JSON", "invalid_request_error");
      }
      const result = schema.safeParse(parsed);
      if (!result.success) {
        throw apiError(
          400,
          result.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; "),
          "invalid_request_error",
        );
      }
      return result.data;
    };
    switch (route) {
      case "GET /__stats":
        return sendJson(res, 200, stats);
      case "POST /__stats/reset":
        stats = { requests: 0, byPath: {} };
        return sendJson(res, 200, stats);
      case "GET /__requests":
        return sendJson(res, 200, { requests: log });
      case "DELETE /__requests":
        log = [];
        return sendJson(res, 200, { requests: [] });
      case "POST /__control/faults":
        injectFault(input(faultSchema) as LlmFault);
        return sendJson(res, 201, { faults: faults.length });
      case "DELETE /__control/faults":
        faults = [];
        return sendJson(res, 200, { faults: 0 });
      case "POST /__control/replies":
        replies.push(input(replySchema) as LlmReplyRule);
        return sendJson(res, 201, { replies: replies.length });
      case "DELETE /__control/replies":
        replies = [];
        return sendJson(res, 200, { replies: 0 });
    }
    throw apiError(404, `no control route ${route}`, "invalid_request_error");
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const path = url.pathname;
    const isControl = path === "/__stats" || path.startsWith("/__stats/") || path === "/__requests" || path.startsWith("/__control/");
    const startedAt = performance.now();
    const record: LlmRequestRecord = {
      at: new Date().toISOString(),
      method: req.method ?? "",
      path,
      status: 0,
      stream: false,
      durationMs: 0,
    };
    if (!isControl) {
      stats.requests++;
      stats.byPath[path] = (stats.byPath[path] ?? 0) + 1;
      log.push(record);
      res.once("finish", () => {
        record.status = res.statusCode;
        record.durationMs = Math.round(performance.now() - startedAt);
      });
    }
    (isControl ? serveControl(req, res, path) : serveApi(req, res, path, record)).catch((error: unknown) => {
      const httpError =
        error instanceof LlmHttpError ? error : apiError(500, error instanceof Error ? error.message : String(error), "server_error");
      if (res.headersSent) {
        res.destroy();
        return;
      }
      sendJson(res, httpError.status, httpError.body, httpError.headers);
    });
  });
  const { url } = await listenOnLoopback(server, options.port, options.host);

  let closing: Promise<void> | undefined;
  return {
    url,
    baseURL: `${url}/v1`,
    stats: () => ({ requests: stats.requests, byPath: { ...stats.byPath } }),
    resetStats: () => {
      stats = { requests: 0, byPath: {} };
    },
    requests: () => log.map((record) => ({ ...record })),
    clearRequests: () => {
      log = [];
    },
    injectFault,
    clearFaults: () => {
      faults = [];
    },
    addReply: (rule) => {
      replies.push(rule);
    },
    clearReplies: () => {
      replies = [];
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/**
 * `npx tsx dev/llm/server.ts`: runs the double until SIGINT/SIGTERM.
 * Env: `LLM_PORT` (default 8086), `LLM_API_KEY` (default `sk-local-dev`).
 */
async function main(): Promise<void> {
  const apiKey = process.env.LLM_API_KEY || "sk-local-dev";
  const double = await startLlmDouble({ port: Number(process.env.LLM_PORT ?? 8086), apiKeys: [apiKey] });
  process.stdout.write(`llm (openai-compatible) double: ${double.baseURL} (key ${apiKey})\n`);
  const stop = () => void double.close().then(() => process.exit(0));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

runAsScript(import.meta.url, main);
