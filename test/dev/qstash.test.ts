/**
 * Conformance tests of the local QStash emulator (`dev/qstash.ts`), using the official
 * `@upstash/qstash` `Client` as the publisher and its `Receiver` to verify every delivery at a real
 * local destination server.
 */
import { createHash } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Client, QstashError, Receiver, SignatureError } from "@upstash/qstash";
import { decodeJwt, SignJWT } from "jose";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type QStashHandle, startQStash } from "../../dev/qstash";
import { defaultBackoffMs, evaluateRetryDelay, parseDuration, parseRetryAfter } from "../../dev/qstash/timing";

const TOKEN = "test-qstash-token";
const CURRENT_KEY = "sig_current_test_key_0123456789";
const NEXT_KEY = "sig_next_test_key_9876543210";

interface Received {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  verified: boolean;
  verifyError?: string;
  at: number;
}

/** How the destination answers the n-th (0-based) request to a path. */
type Behaviour = (attempt: number) => { status: number; headers?: Record<string, string>; body?: string };

const behaviours: Array<[prefix: string, behaviour: Behaviour]> = [
  ["/flaky/", (attempt) => (attempt < 2 ? { status: 500, body: "not yet" } : { status: 200 })],
  ["/fail/", () => ({ status: 500, body: "boom" })],
  ["/retry-after-seconds/", (attempt) => (attempt === 0 ? { status: 429, headers: { "Retry-After": "300" } } : { status: 200 })],
  ["/retry-after-upstash/", (attempt) => (attempt === 0 ? { status: 503, headers: { "Upstash-Retry-After": "5m" } } : { status: 200 })],
];

const receiver = new Receiver({ currentSigningKey: CURRENT_KEY, nextSigningKey: NEXT_KEY });
const received: Received[] = [];
let destination: http.Server;
let destinationUrl: string;
let qstash: QStashHandle;
let client: Client;

function receivedAt(path: string): Received[] {
  return received.filter((entry) => entry.path === path);
}

async function waitFor(predicate: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

beforeAll(async () => {
  destination = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", async () => {
      const path = request.url ?? "/";
      const body = Buffer.concat(chunks).toString("utf8");
      const entry: Received = { method: request.method ?? "", path, headers: request.headers, body, verified: false, at: Date.now() };
      try {
        entry.verified = await receiver.verify({
          signature: String(request.headers["upstash-signature"]),
          body,
          url: `${destinationUrl}${path}`,
        });
      } catch (cause) {
        entry.verifyError = String(cause);
      }
      const attempt = receivedAt(path).length;
      received.push(entry);
      const behaviour = behaviours.find(([prefix]) => path.startsWith(prefix))?.[1];
      const answer = behaviour?.(attempt) ?? { status: 200, body: "ok" };
      response.writeHead(answer.status, answer.headers ?? {}).end(answer.body ?? "");
    });
  });
  await new Promise<void>((resolve) => destination.listen(0, "127.0.0.1", resolve));
  destinationUrl = `http://127.0.0.1:${(destination.address() as AddressInfo).port}`;

  qstash = await startQStash({
    token: TOKEN,
    currentSigningKey: CURRENT_KEY,
    nextSigningKey: NEXT_KEY,
    retryDelayFactor: 0.001,
  });
  client = new Client({ baseUrl: qstash.url, token: TOKEN, enableTelemetry: false });
});

afterAll(async () => {
  await qstash?.close();
  destination?.closeAllConnections();
  await new Promise<void>((resolve) => (destination ? destination.close(() => resolve()) : resolve()));
});

beforeEach(() => {
  qstash.resetStats();
});

describe("publish and signed delivery", () => {
  it("delivers publishJSON with the body, content type, forwarded headers and a valid signature", async () => {
    const result = await client.publishJSON({
      url: `${destinationUrl}/ok/publish`,
      body: { hello: "world" },
      headers: { "X-Org-Id": "org-42" },
    });
    expect(result.messageId).toMatch(/^msg_/);
    expect(result.url).toBe(`${destinationUrl}/ok/publish`);
    await qstash.waitForIdle();

    const [delivery] = receivedAt("/ok/publish");
    expect(receivedAt("/ok/publish")).toHaveLength(1);
    expect(delivery?.verifyError).toBeUndefined();
    expect(delivery?.verified).toBe(true);
    expect(JSON.parse(delivery?.body ?? "null")).toEqual({ hello: "world" });
    expect(delivery?.headers["content-type"]).toBe("application/json");
    expect(delivery?.headers["x-org-id"]).toBe("org-42");
    expect(delivery?.headers["upstash-message-id"]).toBe(result.messageId);
    expect(delivery?.headers["upstash-retried"]).toBe("0");
    expect(delivery?.headers["user-agent"]).toBe("Upstash-QStash");
    expect(delivery?.headers.authorization).toBeUndefined();

    const claims = decodeJwt(String(delivery?.headers["upstash-signature"]));
    expect(claims.iss).toBe("Upstash");
    expect(claims.sub).toBe(`${destinationUrl}/ok/publish`);
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(300);
    expect(claims.nbf).toBe(claims.iat);
    expect(claims.jti).toBeTypeOf("string");
    const hash = createHash("sha256")
      .update(delivery?.body ?? "")
      .digest("base64url");
    expect(claims.body).toBe(`${hash}=`);

    expect(qstash.stats()).toEqual({ requests: 1, byPath: { "/v2/publish": 1 } });
  });

  it("keeps the destination's query string and signs the full URL", async () => {
    await client.publish({ url: `${destinationUrl}/ok/query?page=2&sort=desc`, body: "q", method: "PUT" });
    await qstash.waitForIdle();
    const [delivery] = receivedAt("/ok/query?page=2&sort=desc");
    expect(delivery?.verified).toBe(true);
    expect(delivery?.method).toBe("PUT");
    expect(decodeJwt(String(delivery?.headers["upstash-signature"])).sub).toBe(`${destinationUrl}/ok/query?page=2&sort=desc`);
  });

  it("answers a duplicate deduplication id with the first message id and delivers once", async () => {
    const first = await client.publishJSON({ url: `${destinationUrl}/ok/dedup`, body: { n: 1 }, deduplicationId: "job-1" });
    const second = await client.publishJSON({ url: `${destinationUrl}/ok/dedup`, body: { n: 2 }, deduplicationId: "job-1" });
    expect(first.deduplicated).toBeUndefined();
    expect(second).toMatchObject({ messageId: first.messageId, deduplicated: true });

    const third = await client.publishJSON({ url: `${destinationUrl}/ok/dedup`, body: { n: 3 }, contentBasedDeduplication: true });
    const fourth = await client.publishJSON({ url: `${destinationUrl}/ok/dedup`, body: { n: 3 }, contentBasedDeduplication: true });
    expect(fourth).toMatchObject({ messageId: third.messageId, deduplicated: true });

    await qstash.waitForIdle();
    expect(receivedAt("/ok/dedup").map((entry) => JSON.parse(entry.body))).toEqual([{ n: 1 }, { n: 3 }]);
  });

  it("publishes a batch with batchJSON", async () => {
    const results = await client.batchJSON([
      { url: `${destinationUrl}/ok/batch-1`, body: { n: 1 } },
      { url: `${destinationUrl}/ok/batch-2`, body: { n: 2 }, headers: { "X-Tag": "second" } },
    ]);
    expect(results).toHaveLength(2);
    expect(new Set(results.map((result) => result.messageId)).size).toBe(2);
    await qstash.waitForIdle();

    const [one] = receivedAt("/ok/batch-1");
    const [two] = receivedAt("/ok/batch-2");
    expect(one?.verified && two?.verified).toBe(true);
    expect(JSON.parse(two?.body ?? "null")).toEqual({ n: 2 });
    expect(two?.headers["content-type"]).toBe("application/json");
    expect(two?.headers["x-tag"]).toBe("second");
    expect(two?.headers["upstash-message-id"]).toBe(results[1]?.messageId);
    expect(qstash.stats()).toEqual({ requests: 1, byPath: { "/v2/batch": 1 } });
  });

  it("rejects a publish with a wrong token", async () => {
    const intruder = new Client({ baseUrl: qstash.url, token: "wrong-token", enableTelemetry: false, retry: false });
    const attempt = intruder.publishJSON({ url: `${destinationUrl}/ok/unauthorized`, body: {} });
    await expect(attempt).rejects.toBeInstanceOf(QstashError);
    await expect(attempt).rejects.toMatchObject({ status: 401 });

    const bare = await fetch(`${qstash.url}/v2/publish/${destinationUrl}/ok/unauthorized`, { method: "POST", body: "{}" });
    expect(bare.status).toBe(401);
    expect(await bare.json()).toEqual({ error: "Unauthorized" });
    await qstash.waitForIdle();
    expect(receivedAt("/ok/unauthorized")).toHaveLength(0);
  });
});

describe("retries, failure callback and DLQ", () => {
  it("retries a failing destination until it succeeds, counting Upstash-Retried 0, 1, 2", async () => {
    const { messageId } = await client.publishJSON({ url: `${destinationUrl}/flaky/1`, body: { job: "sync" } });
    await qstash.waitForIdle();

    const attempts = receivedAt("/flaky/1");
    expect(attempts.map((entry) => entry.headers["upstash-retried"])).toEqual(["0", "1", "2"]);
    expect(attempts.every((entry) => entry.verified && entry.headers["upstash-message-id"] === messageId)).toBe(true);
    expect(qstash.messages().find((message) => message.messageId === messageId)?.state).toBe("DELIVERED");

    // Backoff e^(2.5 n) s scaled by 0.001: ~12 ms, then ~148 ms.
    const [a, b, c] = attempts.map((entry) => entry.at);
    expect((b ?? 0) - (a ?? 0)).toBeGreaterThanOrEqual(10);
    expect((c ?? 0) - (b ?? 0)).toBeGreaterThanOrEqual(140);
    expect((c ?? 0) - (b ?? 0)).toBeGreaterThan((b ?? 0) - (a ?? 0));
  });

  it("dead-letters an always failing message and calls the signed failure callback", async () => {
    const failureCallback = `${destinationUrl}/ok/failure-callback`;
    const sourceBody = JSON.stringify({ job: "doomed" });
    const { messageId } = await client.publish({
      url: `${destinationUrl}/fail/1`,
      body: sourceBody,
      headers: { "Content-Type": "application/json", "X-Org-Id": "org-7" },
      retries: 2,
      failureCallback,
    });
    await qstash.waitForIdle();

    expect(receivedAt("/fail/1").map((entry) => entry.headers["upstash-retried"])).toEqual(["0", "1", "2"]);
    const callbacks = receivedAt("/ok/failure-callback");
    expect(callbacks).toHaveLength(1);
    expect(callbacks[0]?.verifyError).toBeUndefined();
    expect(callbacks[0]?.verified).toBe(true);
    const payload = JSON.parse(callbacks[0]?.body ?? "null") as Record<string, unknown>;
    expect(payload).toMatchObject({
      status: 500,
      retried: 2,
      maxRetries: 2,
      sourceMessageId: messageId,
      url: `${destinationUrl}/fail/1`,
      method: "POST",
      sourceBody: Buffer.from(sourceBody).toString("base64"),
    });
    expect(Buffer.from(String(payload.body), "base64").toString("utf8")).toBe("boom");
    expect(payload.sourceHeader).toMatchObject({ "X-Org-Id": ["org-7"] });
    expect(payload.dlqId).toBeTypeOf("string");
    expect(Number(payload.createdAt)).toBeGreaterThan(0);
    expect(payload.callerIP).toBe("127.0.0.1");

    const listed = await client.dlq.listMessages();
    const entry = listed.messages.find((message) => message.messageId === messageId);
    expect(entry).toMatchObject({
      dlqId: payload.dlqId,
      url: `${destinationUrl}/fail/1`,
      method: "POST",
      body: sourceBody,
      maxRetries: 2,
      responseStatus: 500,
      responseBody: "boom",
      failureCallback,
    });
    expect(entry?.header).toMatchObject({ "X-Org-Id": ["org-7"] });
    const filtered = await client.dlq.listMessages({ filter: { url: `${destinationUrl}/fail/1` } });
    expect(filtered.messages.map((message) => message.messageId)).toEqual([messageId]);

    await client.dlq.delete(String(payload.dlqId));
    const after = await client.dlq.listMessages();
    expect(after.messages.find((message) => message.messageId === messageId)).toBeUndefined();
    expect(qstash.dlq()).toHaveLength(0);
  });

  it("honours Retry-After and Upstash-Retry-After from the destination", async () => {
    await client.publishJSON({ url: `${destinationUrl}/retry-after-seconds/1`, body: {} });
    await client.publishJSON({ url: `${destinationUrl}/retry-after-upstash/1`, body: {} });
    await qstash.waitForIdle();

    for (const path of ["/retry-after-seconds/1", "/retry-after-upstash/1"]) {
      const [first, second] = receivedAt(path);
      expect(second?.verified).toBe(true);
      expect(second?.headers["upstash-retried"]).toBe("1");
      // The retry was scheduled 300 s (scaled by 0.001: 300 ms) after the failure, where the default
      // first backoff would be ~12 ms: read from the emulator's own RETRY event, not from a clock.
      const events = await fetch(`${qstash.url}/v2/events?url=${encodeURIComponent(`${destinationUrl}${path}`)}&state=RETRY`, {
        headers: { Authorization: `Bearer ${TOKEN}` },
      });
      const [retry] = ((await events.json()) as { events: Array<{ time: number; nextDeliveryTime?: number }> }).events;
      expect((retry?.nextDeliveryTime ?? 0) - (retry?.time ?? 0)).toBeGreaterThanOrEqual(299);
      expect((retry?.nextDeliveryTime ?? 0) - (retry?.time ?? 0)).toBeLessThanOrEqual(301);
      // The retry came no earlier than scheduled.
      expect(second?.at ?? 0).toBeGreaterThanOrEqual(retry?.nextDeliveryTime ?? Number.POSITIVE_INFINITY);
      expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(290);
    }
  });
});

describe("callbacks", () => {
  it("calls the signed success callback with the destination's response", async () => {
    const { messageId } = await client.publishJSON({
      url: `${destinationUrl}/ok/with-callback`,
      body: { n: 1 },
      callback: `${destinationUrl}/ok/callback`,
    });
    await qstash.waitForIdle();
    const [callback] = receivedAt("/ok/callback");
    expect(callback?.verified).toBe(true);
    expect(callback?.headers["content-type"]).toBe("application/json");
    const payload = JSON.parse(callback?.body ?? "null") as Record<string, unknown>;
    expect(payload).toMatchObject({
      status: 200,
      retried: 0,
      maxRetries: 3,
      sourceMessageId: messageId,
      url: `${destinationUrl}/ok/with-callback`,
    });
    expect(Buffer.from(String(payload.body), "base64").toString("utf8")).toBe("ok");
    expect(payload.dlqId).toBeUndefined();
  });
});

describe("messages", () => {
  it("shows a delayed message and cancels it before delivery", async () => {
    const { messageId } = await client.publishJSON({ url: `${destinationUrl}/ok/delayed`, body: { later: true }, delay: 60 });
    const message = await client.messages.get(messageId);
    expect(message).toMatchObject({ messageId, url: `${destinationUrl}/ok/delayed`, method: "POST", body: '{"later":true}' });
    expect(message.notBefore).toBeGreaterThanOrEqual(message.createdAt + 59_000);

    await expect(client.messages.cancel(messageId)).resolves.toEqual({ cancelled: 1 });
    await expect(client.messages.get(messageId)).rejects.toMatchObject({ status: 404 });
    await qstash.waitForIdle();
    expect(receivedAt("/ok/delayed")).toHaveLength(0);
    expect(qstash.messages().find((stored) => stored.messageId === messageId)?.state).toBe("CANCELED");

    const { logs } = await client.logs({ filter: { messageId } });
    expect(logs.map((log) => log.state)).toEqual(["CANCELED", "CREATED"]);
  });
});

describe("schedules", () => {
  it("fires a seconds cron as signed publishes, lists it, then stops after delete", async () => {
    const { scheduleId } = await client.schedules.create({
      destination: `${destinationUrl}/ok/schedule`,
      cron: "* * * * * *",
      body: JSON.stringify({ tick: true }),
    });
    expect(scheduleId).toMatch(/^scd_/);
    const schedule = await client.schedules.get(scheduleId);
    expect(schedule).toMatchObject({ scheduleId, cron: "* * * * * *", destination: `${destinationUrl}/ok/schedule`, isPaused: false });
    expect((await client.schedules.list()).map((entry) => entry.scheduleId)).toContain(scheduleId);

    await waitFor(() => receivedAt("/ok/schedule").length >= 1, 3_000);
    const [tick] = receivedAt("/ok/schedule");
    expect(tick?.verified).toBe(true);
    expect(tick?.headers["upstash-schedule-id"]).toBe(scheduleId);
    expect(tick?.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(tick?.body ?? "null")).toEqual({ tick: true });

    await client.schedules.delete(scheduleId);
    expect((await client.schedules.list()).map((entry) => entry.scheduleId)).not.toContain(scheduleId);
    await qstash.waitForIdle();
    const count = receivedAt("/ok/schedule").length;
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect(receivedAt("/ok/schedule")).toHaveLength(count);
  });

  it("uses a given schedule id and rejects an invalid cron", async () => {
    const { scheduleId } = await client.schedules.create({
      destination: `${destinationUrl}/ok/named-schedule`,
      cron: "0 3 * * *",
      scheduleId: "nightly-sync",
    });
    expect(scheduleId).toBe("nightly-sync");
    expect((await client.schedules.get("nightly-sync")).nextScheduleTime).toBeGreaterThan(Date.now());
    await client.schedules.delete("nightly-sync");
    await expect(client.schedules.get("nightly-sync")).rejects.toMatchObject({ status: 404 });

    await expect(client.schedules.create({ destination: `${destinationUrl}/ok/bad-cron`, cron: "not a cron" })).rejects.toMatchObject({
      status: 400,
    });
  });
});

describe("Receiver against emulator signatures", () => {
  let sample: Received;

  beforeAll(async () => {
    await client.publish({ url: `${destinationUrl}/ok/sample`, body: "payload" });
    await qstash.waitForIdle();
    const [first] = receivedAt("/ok/sample");
    if (first === undefined) throw new Error("sample delivery missing");
    sample = first;
  });

  const sign = (key: string, claims: { exp: number; body?: string; sub?: string }): Promise<string> =>
    new SignJWT({ body: claims.body ?? createHash("sha256").update(sample.body).digest("base64url") })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setIssuer("Upstash")
      .setSubject(claims.sub ?? `${destinationUrl}/ok/sample`)
      .setIssuedAt(claims.exp - 300)
      .setNotBefore(claims.exp - 300)
      .setExpirationTime(claims.exp)
      .sign(new TextEncoder().encode(key));

  it("accepts the genuine delivery", async () => {
    expect(sample.verified).toBe(true);
  });

  it("rejects a tampered body", async () => {
    await expect(
      receiver.verify({ signature: String(sample.headers["upstash-signature"]), body: "payload!", url: `${destinationUrl}/ok/sample` }),
    ).rejects.toThrow(/body hash/);
  });

  it("rejects a signature for another URL", async () => {
    await expect(
      receiver.verify({ signature: String(sample.headers["upstash-signature"]), body: sample.body, url: `${destinationUrl}/ok/other` }),
    ).rejects.toThrow(/subject/);
  });

  it("rejects an expired token that would otherwise be valid", async () => {
    const now = Math.floor(Date.now() / 1_000);
    const fresh = await sign(CURRENT_KEY, { exp: now + 300 });
    await expect(receiver.verify({ signature: fresh, body: sample.body, url: `${destinationUrl}/ok/sample` })).resolves.toBe(true);
    const expired = await sign(CURRENT_KEY, { exp: now - 60 });
    await expect(receiver.verify({ signature: expired, body: sample.body, url: `${destinationUrl}/ok/sample` })).rejects.toBeInstanceOf(
      SignatureError,
    );
  });

  it("accepts a token signed with the next key and rejects an unknown key", async () => {
    const exp = Math.floor(Date.now() / 1_000) + 300;
    const rotated = await sign(NEXT_KEY, { exp });
    await expect(receiver.verify({ signature: rotated, body: sample.body, url: `${destinationUrl}/ok/sample` })).resolves.toBe(true);
    const forged = await sign("sig_someone_else", { exp });
    await expect(receiver.verify({ signature: forged, body: sample.body, url: `${destinationUrl}/ok/sample` })).rejects.toThrow();
  });
});

describe("stats endpoints", () => {
  it("counts API requests by route and resets without a token", async () => {
    await client.publishJSON({ url: `${destinationUrl}/ok/stats`, body: {} });
    await client.dlq.listMessages();
    await fetch(`${qstash.url}/v2/dlq`);
    const stats = (await (await fetch(`${qstash.url}/__stats`)).json()) as unknown;
    expect(stats).toEqual({ requests: 3, byPath: { "/v2/publish": 1, "/v2/dlq": 2 } });
    expect(qstash.stats()).toEqual(stats);

    const reset = await fetch(`${qstash.url}/__stats/reset`, { method: "POST" });
    expect(reset.status).toBe(200);
    expect(qstash.stats()).toEqual({ requests: 0, byPath: {} });
    await qstash.waitForIdle();
  });
});

describe("timing rules", () => {
  it("follows the documented backoff min(86400, e ** (2.5 n)) seconds", () => {
    expect(Math.round(defaultBackoffMs(1) / 1_000)).toBe(12);
    expect(Math.round(defaultBackoffMs(2) / 1_000)).toBe(148);
    expect(Math.round(defaultBackoffMs(3) / 1_000)).toBe(1_808);
    expect(defaultBackoffMs(5)).toBe(86_400_000);
  });

  it("parses durations, Retry-After forms and retry delay expressions", () => {
    expect(parseDuration("10s")).toBe(10_000);
    expect(parseDuration("6m5s")).toBe(365_000);
    expect(parseDuration("1.5h")).toBe(5_400_000);
    expect(parseDuration("250ms")).toBe(250);
    expect(parseDuration("2d")).toBe(172_800_000);
    expect(parseDuration("15")).toBe(15_000);
    expect(parseDuration("soon")).toBeUndefined();

    const now = Date.parse("2024-06-27T12:16:00Z");
    expect(parseRetryAfter("0", now)).toBe(0);
    expect(parseRetryAfter("Thu, 27 Jun 2024 12:16:24 GMT", now)).toBe(24_000);
    expect(parseRetryAfter("2d", now)).toBeUndefined();

    expect(evaluateRetryDelay("1000", 3)).toBe(1_000);
    expect(evaluateRetryDelay("1000 * (1 + retried)", 2)).toBe(3_000);
    expect(evaluateRetryDelay("pow(2, retried) * 1000", 3)).toBe(8_000);
    expect(evaluateRetryDelay("max(10, pow(2, retried))", 1)).toBe(10);
    expect(evaluateRetryDelay("process.exit()", 0)).toBeUndefined();
  });
});
