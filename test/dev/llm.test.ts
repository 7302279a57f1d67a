/**
 * Conformance tests of the OpenAI-compatible chat completions double (dev/llm/server.ts), with the
 * official `openai` client pointed at it (`baseURL`): the completion and chunk shapes, predictable
 * replies and usage, streaming, OpenAI's errors as the client classifies them, faults injected per
 * model (429 with Retry-After and the client's retry, 500, a slow answer against a client timeout),
 * and the request log.
 */
import OpenAI, {
  APIConnectionTimeoutError,
  AuthenticationError,
  BadRequestError,
  InternalServerError,
  NotFoundError,
  RateLimitError,
} from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { defaultReply, estimateTokens, type LlmDouble, promptTokens, startLlmDouble } from "../../dev/llm/server";
import type { ChatMessage } from "../../src/integrations/llm/types";

const KEY = "sk-test-0123456789abcdef";
const MODEL = "gpt-4o-mini";
/** Typed by inference, so it fits both the client's message type and the double's. */
const MESSAGES = [
  { role: "system" as const, content: "You are a helpful seller assistant." },
  { role: "user" as const, content: "Сколько заказов вчера?" },
];

let llm: LlmDouble;
let client: OpenAI;

const control = (path: string, body: unknown) =>
  fetch(`${llm.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

async function caught(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

beforeAll(async () => {
  llm = await startLlmDouble({ apiKeys: [KEY] });
  client = new OpenAI({ apiKey: KEY, baseURL: llm.baseURL, maxRetries: 0 });
});

afterAll(async () => {
  await llm.close();
});

beforeEach(async () => {
  llm.clearFaults();
  llm.clearReplies();
  await fetch(`${llm.url}/__requests`, { method: "DELETE" });
});

describe("chat completions", () => {
  it("answers the real completion shape with a reply derived from the model and the last user message", async () => {
    const completion = await client.chat.completions.create({ model: MODEL, messages: MESSAGES });
    expect(completion).toMatchObject({
      object: "chat.completion",
      model: MODEL,
      choices: [
        {
          index: 0,
          message: { role: "assistant", content: "Echo from gpt-4o-mini: Сколько заказов вчера?", refusal: null },
          logprobs: null,
          finish_reason: "stop",
        },
      ],
    });
    expect(completion.id).toMatch(/^chatcmpl-/);
    expect(Math.abs(completion.created - Date.now() / 1000)).toBeLessThan(5);
    expect(completion.choices[0]?.message.content).toBe(defaultReply({ model: MODEL, messages: MESSAGES }));
  });

  it("counts usage with the documented estimate", async () => {
    const { usage } = await client.chat.completions.create({ model: MODEL, messages: MESSAGES });
    // prompt: 3 + (3 + "system" 2 + 35 chars 9) + (3 + "user" 1 + 22 chars 6) = 27;
    // completion: "Echo from gpt-4o-mini: Сколько заказов вчера?" is 45 characters = 12.
    expect(usage).toMatchObject({ prompt_tokens: 27, completion_tokens: 12, total_tokens: 39 });
    expect(usage?.prompt_tokens).toBe(promptTokens(MESSAGES));
    expect(usage?.completion_tokens).toBe(estimateTokens(defaultReply({ model: MODEL, messages: MESSAGES })));
    expect(estimateTokens("")).toBe(0);
    expect(estimateTokens("😀😀😀😀😀")).toBe(2);
  });

  it("cuts a reply at max_completion_tokens with finish_reason length, and answers n choices", async () => {
    const cut = await client.chat.completions.create({ model: MODEL, messages: MESSAGES, max_completion_tokens: 3 });
    expect(cut.choices[0]).toMatchObject({ finish_reason: "length", message: { content: "Echo from gp" } });
    expect(cut.usage?.completion_tokens).toBe(3);
    const legacy = await client.chat.completions.create({ model: MODEL, messages: MESSAGES, max_tokens: 3 });
    expect(legacy.choices[0]?.finish_reason).toBe("length");

    const several = await client.chat.completions.create({ model: MODEL, messages: MESSAGES, n: 2 });
    expect(several.choices.map((c) => c.index)).toEqual([0, 1]);
    expect(several.usage?.completion_tokens).toBe(24);
  });

  it("answers scripted replies by model and content, JSON for json_object, and reads text parts", async () => {
    expect((await control("/__control/replies", { model: "deepseek-chat", contains: "заказ", content: "Вчера 42 заказа." })).status).toBe(
      201,
    );
    const scripted = await client.chat.completions.create({ model: "deepseek-chat", messages: MESSAGES });
    expect(scripted.choices[0]?.message.content).toBe("Вчера 42 заказа.");
    const otherModel = await client.chat.completions.create({ model: MODEL, messages: MESSAGES });
    expect(otherModel.choices[0]?.message.content).toBe("Echo from gpt-4o-mini: Сколько заказов вчера?");

    const json = await client.chat.completions.create({ model: MODEL, messages: MESSAGES, response_format: { type: "json_object" } });
    expect(JSON.parse(json.choices[0]?.message.content ?? "")).toEqual({ model: MODEL, echo: "Сколько заказов вчера?" });

    const parts = await client.chat.completions.create({
      model: MODEL,
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "Что на фото?" },
            { type: "image_url", image_url: { url: "https://example.test/a.png" } },
          ],
        },
      ],
    });
    expect(parts.choices[0]?.message.content).toBe("Echo from gpt-4o-mini: Что на фото?");
    expect(parts.usage?.prompt_tokens).toBe(3 + 3 + 1 + 3 + 85);
  });

  it("streams chunks that add up to the same reply and usage", async () => {
    const stream = await client.chat.completions.create({
      model: MODEL,
      messages: MESSAGES,
      stream: true,
      stream_options: { include_usage: true },
    });
    let content = "";
    const finishReasons: Array<string | null> = [];
    let usage: OpenAI.CompletionUsage | null | undefined;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      expect(chunk.object).toBe("chat.completion.chunk");
      content += chunk.choices[0]?.delta.content ?? "";
      if (chunk.choices[0]) finishReasons.push(chunk.choices[0].finish_reason);
      if (chunk.usage) usage = chunk.usage;
    }
    expect(chunks).toBeGreaterThan(3);
    expect(content).toBe("Echo from gpt-4o-mini: Сколько заказов вчера?");
    expect(finishReasons.at(-1)).toBe("stop");
    expect(usage).toMatchObject({ prompt_tokens: 27, completion_tokens: 12, total_tokens: 39 });
    expect(llm.requests().at(-1)).toMatchObject({ stream: true, status: 200, model: MODEL });
  });

  it("serves /chat/completions without /v1 and lists the models it has seen", async () => {
    const bare = new OpenAI({ apiKey: KEY, baseURL: llm.url, maxRetries: 0 });
    expect((await bare.chat.completions.create({ model: "qwen-2.5", messages: MESSAGES })).model).toBe("qwen-2.5");
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toContain("qwen-2.5");
  });
});

describe("errors as the openai client classifies them", () => {
  it("401 for a missing or wrong key", async () => {
    const wrong = await caught(
      new OpenAI({ apiKey: "sk-wrong-key-000000", baseURL: llm.baseURL, maxRetries: 0 }).chat.completions.create({
        model: MODEL,
        messages: MESSAGES,
      }),
    );
    expect(wrong).toBeInstanceOf(AuthenticationError);
    expect(wrong).toMatchObject({ status: 401, code: "invalid_api_key", type: "invalid_request_error" });
    const none = await fetch(`${llm.baseURL}/chat/completions`, {
      method: "POST",
      body: JSON.stringify({ model: MODEL, messages: MESSAGES }),
    });
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ error: { type: "invalid_request_error", code: null, param: null } });
  });

  it("400 for empty messages or an unknown role, 404 for an unknown model when models are listed", async () => {
    const empty = await caught(client.chat.completions.create({ model: MODEL, messages: [] }));
    expect(empty).toBeInstanceOf(BadRequestError);
    expect(empty).toMatchObject({ status: 400, code: "empty_array", param: "messages" });
    const role = await caught(
      client.chat.completions.create({ model: MODEL, messages: [{ role: "robot", content: "x" } as unknown as ChatMessage] as never }),
    );
    expect(role).toMatchObject({ status: 400, param: "messages[0].role", code: "invalid_value" });

    const listed = await startLlmDouble({ apiKeys: [KEY], models: [MODEL] });
    try {
      const strict = new OpenAI({ apiKey: KEY, baseURL: listed.baseURL, maxRetries: 0 });
      const unknown = await caught(strict.chat.completions.create({ model: "gpt-9", messages: MESSAGES }));
      expect(unknown).toBeInstanceOf(NotFoundError);
      expect(unknown).toMatchObject({ status: 404, code: "model_not_found" });
      expect((await strict.chat.completions.create({ model: MODEL, messages: MESSAGES })).model).toBe(MODEL);
    } finally {
      await listed.close();
    }
  });
});

describe("injected faults, per model", () => {
  it("answers 429 with Retry-After and OpenAI's rate-limit body, for that model only", async () => {
    expect((await control("/__control/faults", { model: MODEL, status: 429, retryAfterSeconds: 2 })).status).toBe(201);
    expect((await client.chat.completions.create({ model: "other-model", messages: MESSAGES })).model).toBe("other-model");
    const limited = await caught(client.chat.completions.create({ model: MODEL, messages: MESSAGES }));
    expect(limited).toBeInstanceOf(RateLimitError);
    expect(limited).toMatchObject({ status: 429, code: "rate_limit_exceeded", type: "requests" });
    expect((limited as RateLimitError).headers.get("retry-after")).toBe("2");
    expect((limited as RateLimitError).headers.get("x-ratelimit-remaining-requests")).toBe("0");
    expect((await client.chat.completions.create({ model: MODEL, messages: MESSAGES })).model).toBe(MODEL);
  });

  it("is retried by the client after Retry-After, as the request log shows", async () => {
    llm.injectFault({ model: MODEL, status: 429, retryAfterSeconds: 1 });
    const retrying = new OpenAI({ apiKey: KEY, baseURL: llm.baseURL, maxRetries: 1 });
    const started = Date.now();
    const completion = await retrying.chat.completions.create({ model: MODEL, messages: MESSAGES });
    expect(completion.choices[0]?.finish_reason).toBe("stop");
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    const res = await fetch(`${llm.url}/__requests`);
    const { requests } = (await res.json()) as { requests: Array<{ status: number; model: string; path: string }> };
    expect(requests.map((r) => [r.path, r.model, r.status])).toEqual([
      ["/v1/chat/completions", MODEL, 429],
      ["/v1/chat/completions", MODEL, 200],
    ]);
  });

  it("answers 500 as a server error, the given number of times", async () => {
    await control("/__control/faults", { status: 500, times: 2 });
    for (let i = 0; i < 2; i++) {
      const failed = await caught(client.chat.completions.create({ model: MODEL, messages: MESSAGES }));
      expect(failed).toBeInstanceOf(InternalServerError);
      expect(failed).toMatchObject({ status: 500, type: "server_error" });
    }
    expect((await client.chat.completions.create({ model: MODEL, messages: MESSAGES })).model).toBe(MODEL);
  });

  it("answers slowly by delayMs, which a client timeout turns into a timeout error", async () => {
    await control("/__control/faults", { model: MODEL, delayMs: 300 });
    const started = Date.now();
    await client.chat.completions.create({ model: MODEL, messages: MESSAGES });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(llm.requests().at(-1)?.durationMs).toBeGreaterThanOrEqual(290);

    await control("/__control/faults", { model: MODEL, delayMs: 1_000 });
    const impatient = new OpenAI({ apiKey: KEY, baseURL: llm.baseURL, maxRetries: 0, timeout: 100 });
    expect(await caught(impatient.chat.completions.create({ model: MODEL, messages: MESSAGES }))).toBeInstanceOf(APIConnectionTimeoutError);
  });
});

describe("request log and stats", () => {
  it("logs each API request with its model, messages and status, and clears", async () => {
    await client.chat.completions.create({ model: MODEL, messages: MESSAGES });
    await caught(client.chat.completions.create({ model: MODEL, messages: [] }));
    const { requests } = (await (await fetch(`${llm.url}/__requests`)).json()) as { requests: Array<Record<string, unknown>> };
    expect(requests).toEqual([
      {
        at: expect.any(String),
        method: "POST",
        path: "/v1/chat/completions",
        status: 200,
        model: MODEL,
        messages: MESSAGES,
        stream: false,
        durationMs: expect.any(Number),
      },
      {
        at: expect.any(String),
        method: "POST",
        path: "/v1/chat/completions",
        status: 400,
        model: MODEL,
        messages: [],
        stream: false,
        durationMs: expect.any(Number),
      },
    ]);
    await fetch(`${llm.url}/__requests`, { method: "DELETE" });
    expect(llm.requests()).toEqual([]);

    llm.resetStats();
    await client.chat.completions.create({ model: MODEL, messages: MESSAGES });
    await client.models.list();
    expect(await (await fetch(`${llm.url}/__stats`)).json()).toEqual({
      requests: 2,
      byPath: { "/v1/chat/completions": 1, "/v1/models": 1 },
    });
  });
});
