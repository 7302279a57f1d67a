/**
 * The assistant's model call: the primary model (`LLM_MODEL`), and on a transient failure (429, 5xx,
 * a network failure or no answer within `LLM_TIMEOUT_MS`) the fallback model (`LLM_FALLBACK_MODEL`),
 * each request recorded in the request's metrics:
 * `llm_requests_total{model}`, `llm_request_duration_seconds{model,status}` (status `ok` or the
 * error type), `llm_errors_total{model,error_type}`, and `llm_fallback_used_total` when the fallback
 * produced the reply. A refusal (bad key, unknown model, bad request) is not retried with the
 * fallback: the same request would be refused again.
 */
import type { Services } from "../core/context";
import type { AppConfig } from "../core/env";
import { ApiError } from "../core/errors";
import { createChatCompletion, type LlmCompletion, type LlmEndpoint, LlmError } from "../integrations/llm/client";
import type { ChatMessage } from "../integrations/llm/types";

/** The configured LLM: where to call it, and which models. */
export interface LlmSettings {
  endpoint: LlmEndpoint;
  model: string;
  fallbackModel: string | undefined;
}

/** The LLM settings of `config`, or null when `LLM_API_URL`, `LLM_API_KEY` or `LLM_MODEL` is unset. */
export function llmSettings(config: AppConfig): LlmSettings | null {
  if (!config.LLM_API_URL || !config.LLM_API_KEY || !config.LLM_MODEL) return null;
  return {
    endpoint: { baseUrl: config.LLM_API_URL, apiKey: config.LLM_API_KEY, timeoutMs: config.LLM_TIMEOUT_MS },
    model: config.LLM_MODEL,
    fallbackModel: config.LLM_FALLBACK_MODEL,
  };
}

/**
 * The LLM settings, for the routes that need the model.
 * @throws ApiError 503 when the LLM is not configured on this Worker.
 */
export function requireLlm(config: AppConfig): LlmSettings {
  const settings = llmSettings(config);
  if (!settings) {
    throw new ApiError("SERVICE_UNAVAILABLE", {
      detail: "The assistant is not configured on this Worker (LLM_API_URL, LLM_API_KEY and LLM_MODEL are required).",
      headers: { "Retry-After": "60" },
    });
  }
  return settings;
}

/** A reply and whether the fallback model wrote it. */
export interface ModelReply extends LlmCompletion {
  fallbackUsed: boolean;
}

/** One request to `model`, recorded in the metrics. @throws LlmError. */
async function timedCompletion(services: Pick<Services, "metrics">, llm: LlmSettings, model: string, messages: ChatMessage[]) {
  const started = performance.now();
  services.metrics.count("llm_requests_total", { model });
  try {
    const completion = await createChatCompletion(llm.endpoint, model, messages);
    services.metrics.observe("llm_request_duration_seconds", { model, status: "ok" }, (performance.now() - started) / 1000);
    return completion;
  } catch (err) {
    const type = err instanceof LlmError ? err.type : "network";
    services.metrics.observe("llm_request_duration_seconds", { model, status: type }, (performance.now() - started) / 1000);
    services.metrics.count("llm_errors_total", { model, error_type: type });
    throw err;
  }
}

/**
 * The reply of the primary model, or of the fallback when the primary failed transiently.
 * @throws LlmError of the last model tried.
 */
export async function completeWithFallback(
  services: Pick<Services, "metrics" | "logger">,
  llm: LlmSettings,
  messages: ChatMessage[],
): Promise<ModelReply> {
  try {
    return { ...(await timedCompletion(services, llm, llm.model, messages)), fallbackUsed: false };
  } catch (err) {
    if (!(err instanceof LlmError) || !err.transient || !llm.fallbackModel || llm.fallbackModel === llm.model) throw err;
    services.logger.warn("primary model failed; asking the fallback", {
      model: llm.model,
      fallback: llm.fallbackModel,
      cause: err.message,
    });
    const reply = await timedCompletion(services, llm, llm.fallbackModel, messages);
    services.metrics.count("llm_fallback_used_total", {});
    return { ...reply, fallbackUsed: true };
  }
}
