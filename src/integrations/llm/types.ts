/**
 * Wire types of the OpenAI-compatible chat completions API (`POST /v1/chat/completions`), the
 * subset the assistant bot sends and reads. OpenAI, OpenRouter, DeepSeek, vLLM and others speak it.
 *
 * Pure types, no runtime values: the production client imports them, and so does the local double
 * under `dev/llm/` (dev may import `src/`, never the reverse).
 *
 * Conventions: `created` is Unix seconds; token counts are integers; errors are
 * `{error: {message, type, param, code}}` with the HTTP status (401 bad key, 404 unknown model,
 * 400 bad request, 429 rate limit with `Retry-After`, 5xx server errors).
 *
 * @see https://platform.openai.com/docs/api-reference/chat/create
 * @see https://platform.openai.com/docs/api-reference/chat/object
 * @see https://platform.openai.com/docs/api-reference/chat-streaming
 * @see https://platform.openai.com/docs/guides/error-codes
 */

export type ChatRole = "system" | "developer" | "user" | "assistant" | "tool";

/** A part of a multi-part message `content`. */
export type ChatContentPart =
  | { type: "text"; text: string }
  | { type: "image_url"; image_url: { url: string; detail?: "auto" | "low" | "high" } };

export interface ChatMessage {
  role: ChatRole;
  /** Text, parts, or `null` for an assistant message that only calls tools. */
  content: string | ChatContentPart[] | null;
  /** Optional participant name. */
  name?: string;
  /** For `role: "tool"`: the call this answers. */
  tool_call_id?: string;
}

/** Body of `POST /v1/chat/completions` (the fields the bot uses; others pass through). */
export interface ChatCompletionRequest {
  model: string;
  messages: ChatMessage[];
  /** Upper bound of completion tokens (current name). */
  max_completion_tokens?: number;
  /** Upper bound of completion tokens (older name, still accepted). */
  max_tokens?: number;
  temperature?: number;
  /** Number of choices; default 1. */
  n?: number;
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  response_format?: { type: "text" } | { type: "json_object" } | { type: "json_schema"; json_schema: Record<string, unknown> };
  user?: string;
  [field: string]: unknown;
}

export type ChatFinishReason = "stop" | "length" | "tool_calls" | "content_filter";

export interface ChatCompletionUsage {
  prompt_tokens: number;
  completion_tokens: number;
  /** `prompt_tokens + completion_tokens`. */
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens: number; audio_tokens?: number };
  completion_tokens_details?: {
    reasoning_tokens: number;
    audio_tokens?: number;
    accepted_prediction_tokens?: number;
    rejected_prediction_tokens?: number;
  };
}

/** Answer of `POST /v1/chat/completions` without streaming. */
export interface ChatCompletion {
  /** `chatcmpl-…`. */
  id: string;
  object: "chat.completion";
  /** Unix seconds. */
  created: number;
  model: string;
  choices: Array<{
    index: number;
    message: { role: "assistant"; content: string | null; refusal: string | null; annotations?: unknown[] };
    logprobs: null;
    finish_reason: ChatFinishReason;
  }>;
  usage: ChatCompletionUsage;
  service_tier?: string;
  system_fingerprint?: string | null;
}

/** One server-sent event of a streamed completion (`data: {…}`; the stream ends with `data: [DONE]`). */
export interface ChatCompletionChunk {
  id: string;
  object: "chat.completion.chunk";
  created: number;
  model: string;
  choices: Array<{
    index: number;
    delta: { role?: "assistant"; content?: string; refusal?: string | null };
    logprobs: null;
    finish_reason: ChatFinishReason | null;
  }>;
  /** Only on the last chunk when `stream_options.include_usage` (then `choices` is empty); else `null`. */
  usage?: ChatCompletionUsage | null;
  system_fingerprint?: string | null;
}

/** An error answer. */
export interface ChatErrorBody {
  error: {
    message: string;
    /** `invalid_request_error`, `authentication_error`, `requests`, `server_error`, … */
    type: string;
    param: string | null;
    /** `invalid_api_key`, `model_not_found`, `rate_limit_exceeded`, … or `null`. */
    code: string | null;
  };
}
