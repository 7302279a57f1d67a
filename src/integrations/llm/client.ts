/**
 * Client of an OpenAI-compatible chat completions API (`POST {LLM_API_URL}/chat/completions`,
 * `Authorization: Bearer {LLM_API_KEY}`), over `fetch`, without streaming: one request, one
 * answer, aborted after `timeoutMs` (an `AbortController` whose timer is cleared as soon as the
 * answer is read, so a finished request leaves no timer behind).
 *
 * Every failure is an {@link LlmError} with a `type` the caller can act on:
 * - `rate_limit` (429, with `Retry-After` seconds when given), `server_error` (5xx), `timeout`,
 *   `network` (the API could not be reached): transient — another model or a later retry may work;
 * - `client_error` (any other 4xx: bad key, unknown model, bad request) and `bad_response` (a 2xx
 *   that is not a completion with text): a retry of the same request will not help.
 * @see https://platform.openai.com/docs/api-reference/chat/create
 * @see https://platform.openai.com/docs/guides/error-codes
 * @see https://openrouter.ai/docs/api-reference/errors
 */
import type { ChatCompletion, ChatCompletionRequest, ChatErrorBody, ChatMessage } from "./types";

/** Why a completion failed; the `error_type` label of `llm_errors_total`. */
export type LlmErrorType = "rate_limit" | "server_error" | "timeout" | "network" | "client_error" | "bad_response";

/** A failed chat completion request. */
export class LlmError extends Error {
  override readonly name = "LlmError";
  constructor(
    message: string,
    readonly type: LlmErrorType,
    /** The HTTP status, when the API answered. */
    readonly status?: number,
    /** `Retry-After` of a 429, seconds. */
    readonly retryAfterSeconds?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }

  /** True for failures another model (or a later attempt) may not have: 429, 5xx, timeout, network. */
  get transient(): boolean {
    return this.type === "rate_limit" || this.type === "server_error" || this.type === "timeout" || this.type === "network";
  }
}

/** Where and how to call the API. */
export interface LlmEndpoint {
  /** Base URL up to the version (`https://openrouter.ai/api/v1`). */
  baseUrl: string;
  apiKey: string;
  /** Milliseconds before the request is aborted. */
  timeoutMs: number;
}

/** A completion as the assistant stores it. */
export interface LlmCompletion {
  /** The model that answered (the API's `model`, else the one asked). */
  model: string;
  content: string;
  promptTokens: number;
  completionTokens: number;
  /** Milliseconds from the request to the parsed answer. */
  durationMs: number;
}

/** Reads `Retry-After` (seconds, or an HTTP date) as seconds; undefined when absent or unreadable. */
function retryAfter(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, (at - Date.now()) / 1000);
}

/** The error message of an error body, or the start of the text. */
function errorMessage(text: string): string {
  try {
    const body = JSON.parse(text) as Partial<ChatErrorBody>;
    if (typeof body.error?.message === "string") return body.error.message;
  } catch {
    // not JSON: the text itself
  }
  return text.slice(0, 200);
}

/**
 * One chat completion of `model` over `messages`.
 * @throws LlmError (see the module comment); never another error.
 */
export async function createChatCompletion(
  endpoint: LlmEndpoint,
  model: string,
  messages: ChatMessage[],
  fetcher: typeof fetch = fetch,
): Promise<LlmCompletion> {
  const body: ChatCompletionRequest = { model, messages };
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), endpoint.timeoutMs);
  const started = performance.now();
  try {
    let res: Response;
    try {
      res = await fetcher(`${endpoint.baseUrl.replace(/\/+$/, "")}/chat/completions`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${endpoint.apiKey}` },
        body: JSON.stringify(body),
        signal: controller.signal,
      });
    } catch (err) {
      if (controller.signal.aborted)
        throw new LlmError(`${model}: no answer within ${endpoint.timeoutMs} ms`, "timeout", undefined, undefined, { cause: err });
      throw new LlmError(
        `${model}: the LLM API could not be reached: ${err instanceof Error ? err.message : String(err)}`,
        "network",
        undefined,
        undefined,
        {
          cause: err,
        },
      );
    }
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      if (controller.signal.aborted)
        throw new LlmError(`${model}: no answer within ${endpoint.timeoutMs} ms`, "timeout", res.status, undefined, { cause: err });
      throw new LlmError(
        `${model}: the answer was cut off: ${err instanceof Error ? err.message : String(err)}`,
        "network",
        res.status,
        undefined,
        {
          cause: err,
        },
      );
    }
    if (res.status === 429) {
      throw new LlmError(
        `${model}: rate limited (429): ${errorMessage(text)}`,
        "rate_limit",
        429,
        retryAfter(res.headers.get("Retry-After")),
      );
    }
    if (res.status >= 500) throw new LlmError(`${model}: server error (${res.status}): ${errorMessage(text)}`, "server_error", res.status);
    if (!res.ok) throw new LlmError(`${model}: refused (${res.status}): ${errorMessage(text)}`, "client_error", res.status);
    let completion: Partial<ChatCompletion>;
    try {
      completion = JSON.parse(text) as Partial<ChatCompletion>;
    } catch {
      throw new LlmError(`${model}: the answer is not JSON: ${text.slice(0, 200)}`, "bad_response", res.status);
    }
    const content = completion.choices?.[0]?.message?.content;
    if (typeof content !== "string" || content.trim() === "") {
      throw new LlmError(
        `${model}: the answer has no text (finish_reason ${completion.choices?.[0]?.finish_reason ?? "none"})`,
        "bad_response",
        res.status,
      );
    }
    return {
      model: typeof completion.model === "string" && completion.model !== "" ? completion.model : model,
      content,
      promptTokens: completion.usage?.prompt_tokens ?? 0,
      completionTokens: completion.usage?.completion_tokens ?? 0,
      durationMs: Math.round(performance.now() - started),
    };
  } finally {
    clearTimeout(timer);
  }
}
