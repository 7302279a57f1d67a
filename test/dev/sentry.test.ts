/**
 * The Sentry envelope endpoint double (`dev/sentry.ts`), with the SDK the Workers use (toucan-js,
 * on @sentry/core) as the conformance client, and hand-built envelopes for what the SDK does not
 * send here: length-prefixed binary items, several items, compression, each way to authenticate,
 * and malformed input.
 * @see https://develop.sentry.dev/sdk/data-model/envelopes/
 */
import { gzipSync } from "node:zlib";
import { Toucan } from "toucan-js";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { parseEnvelope, type SentryHandle, type StoredSentryEvent, startSentry } from "../../dev/sentry";

let sentry: SentryHandle;

beforeAll(async () => {
  sentry = await startSentry({ publicKey: "0123456789abcdef0123456789abcdef", projectId: "42" });
});
afterAll(() => sentry.close());
beforeEach(async () => {
  await fetch(`${sentry.url}/__events`, { method: "DELETE" });
  await fetch(`${sentry.url}/__stats/reset`, { method: "POST" });
});

const listEvents = async () => ((await (await fetch(`${sentry.url}/__events`)).json()) as { events: StoredSentryEvent[] }).events;
const envelopeUrl = (query = `?sentry_key=${sentry.publicKey}&sentry_version=7`) => `${sentry.url}/api/42/envelope/${query}`;
const eventId = () => crypto.randomUUID().replaceAll("-", "");

/** A Toucan client reporting to the double, and the sends it started. */
function toucan() {
  const sends: Promise<unknown>[] = [];
  const client = new Toucan({
    dsn: sentry.dsn,
    release: "test-release",
    environment: "test",
    context: { waitUntil: (p: Promise<unknown>) => void sends.push(p) },
    request: new Request("https://edge.test/api/v1/stocks?q=secret", { headers: { Authorization: "Bearer abc", "User-Agent": "vitest" } }),
  });
  return { client, sent: () => Promise.all(sends) };
}

describe("Sentry envelope endpoint", () => {
  it("stores what toucan-js sends: exceptions and messages, with tags, release and the (allowlisted) request", async () => {
    const { client, sent } = toucan();
    client.setTag("requestId", "req-1");
    const exceptionId = client.captureException(new TypeError("boom"));
    const messageId = client.captureMessage("hello", "warning");
    await sent();

    const events = await listEvents();
    expect(events.map((e) => e.eventId).sort()).toEqual([exceptionId, messageId].sort());
    const exception = events.find((e) => e.eventId === exceptionId);
    expect(exception?.type).toBe("event");
    expect(exception?.event).toMatchObject({
      release: "test-release",
      environment: "test",
      tags: { requestId: "req-1" },
      exception: { values: [{ type: "TypeError", value: "boom" }] },
      request: { method: "GET", url: "https://edge.test/api/v1/stocks" },
    });
    expect(events.find((e) => e.eventId === messageId)?.event).toMatchObject({ message: "hello", level: "warning" });
    expect((await (await fetch(`${sentry.url}/__stats`)).json()) as unknown).toMatchObject({
      requests: 2,
      byPath: { "/api/:projectId/envelope/": 2, "item:event": 2 },
    });
  });

  it("reads items by their length (binary payloads with newlines), several per envelope, and items without one", async () => {
    const id = eventId();
    const attachment = Buffer.from("line one\nline two\n\u0000\u00ff", "latin1");
    const event = JSON.stringify({ event_id: id, message: "with attachment", level: "error" });
    const body = Buffer.concat([
      Buffer.from(`${JSON.stringify({ event_id: id, sent_at: new Date().toISOString() })}\n`),
      Buffer.from(`${JSON.stringify({ type: "attachment", length: attachment.length, filename: "a.txt" })}\n`),
      attachment,
      Buffer.from("\n"),
      Buffer.from(`${JSON.stringify({ type: "event" })}\n${event}\n`),
      Buffer.from(`${JSON.stringify({ type: "client_report" })}\n{"discarded_events":[]}`),
    ]);
    const parsed = parseEnvelope(body);
    expect(parsed.items.map((i) => i.header.type)).toEqual(["attachment", "event", "client_report"]);
    expect(parsed.items[0]?.payload.equals(attachment)).toBe(true);

    const res = await fetch(envelopeUrl(), { method: "POST", body });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id });
    expect((await listEvents()).map((e) => e.event.message)).toEqual(["with attachment"]);
    const stats = (await (await fetch(`${sentry.url}/__stats`)).json()) as { byPath: Record<string, number> };
    expect(stats.byPath).toMatchObject({ "item:attachment": 1, "item:event": 1, "item:client_report": 1 });
  });

  it("authenticates by query, X-Sentry-Auth or the envelope header's DSN, and reads gzip", async () => {
    const envelope = (dsn?: string) => {
      const id = eventId();
      return `${JSON.stringify({ event_id: id, ...(dsn ? { dsn } : {}) })}\n${JSON.stringify({ type: "event" })}\n${JSON.stringify({ event_id: id, message: "m" })}\n`;
    };
    const byHeader = await fetch(envelopeUrl(""), {
      method: "POST",
      headers: { "X-Sentry-Auth": `Sentry sentry_version=7, sentry_client=test/1.0, sentry_key=${sentry.publicKey}` },
      body: envelope(),
    });
    expect(byHeader.status).toBe(200);
    expect((await fetch(envelopeUrl(""), { method: "POST", body: envelope(sentry.dsn) })).status).toBe(200);
    const gzipped = await fetch(envelopeUrl(), { method: "POST", headers: { "Content-Encoding": "gzip" }, body: gzipSync(envelope()) });
    expect(gzipped.status).toBe(200);
    expect(await listEvents()).toHaveLength(3);
  });

  it("refuses a missing key (401), another key (403), another project (404), a malformed envelope (400) and other methods (405)", async () => {
    const good = `${JSON.stringify({})}\n${JSON.stringify({ type: "event" })}\n${JSON.stringify({ message: "m" })}\n`;
    const cases: [string, string, RequestInit, number][] = [
      ["no key", envelopeUrl(""), { method: "POST", body: good }, 401],
      ["another key", envelopeUrl("?sentry_key=ffffffffffffffffffffffffffffffff&sentry_version=7"), { method: "POST", body: good }, 403],
      ["another project", `${sentry.url}/api/7/envelope/?sentry_key=${sentry.publicKey}`, { method: "POST", body: good }, 404],
      ["a header that is not JSON", envelopeUrl(), { method: "POST", body: "nope\n" }, 400],
      ["an item without a type", envelopeUrl(), { method: "POST", body: `{}\n{"length":2}\nab` }, 400],
      ["a payload shorter than its length", envelopeUrl(), { method: "POST", body: `{}\n{"type":"event","length":99}\n{}` }, 400],
      ["an event that is not JSON", envelopeUrl(), { method: "POST", body: `{}\n{"type":"event"}\nnot json\n` }, 400],
      ["a body that is not gzip", envelopeUrl(), { method: "POST", headers: { "Content-Encoding": "gzip" }, body: good }, 400],
      ["GET", envelopeUrl(), { method: "GET" }, 405],
    ];
    for (const [name, url, init, status] of cases) {
      const res = await fetch(url, init);
      expect(res.status, name).toBe(status);
      expect(typeof ((await res.json()) as { detail?: unknown }).detail, name).toBe("string");
    }
    expect(await listEvents()).toEqual([]);
  });
});
