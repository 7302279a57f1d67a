/**
 * CRM webhook ingest (`src/routes/webhooks/`) through the real Worker, database, Redis and QStash:
 * Standard Webhooks verification (known answer, bit flips, secrets and rotation, re-serialized
 * bodies, the 5-minute window), Kommo's path secret, Kommo Chats' `X-Signature`, the inbox's
 * idempotency under concurrent redelivery, Postgres and QStash outages (503; the relay publishes
 * later), 404s, the body cap, and the per-IP failure limit refusing before any database query.
 */
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { eq, sql } from "drizzle-orm";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { buildKommoWebhookBody } from "../../dev/kommo/webhook";
import { crmIntegrations, jobs } from "../../src/core/db/schema";
import type { Env } from "../../src/core/env";
import { createRedis } from "../../src/core/redis";
import { integrationCacheKey } from "../../src/crm/integrations";
import jobsWorker from "../../src/routes/jobs/worker";
import { captureLogs, config, db, neonRequestsDuring, problem, testClientIp, testEnv } from "./helpers";
import { publicJobUrl, qstashEvents } from "./sync-support";
import {
  chatsSignature,
  crmJobsOf,
  deliver,
  deliverStandard,
  eventsOf,
  newPathSecret,
  newWhsec,
  seedIntegration,
  standardEvent,
  standardHeaders,
} from "./webhooks-support";

const dead = "http://127.0.0.1:9";
const forget = (id: string) => createRedis(config()).del(integrationCacheKey(id));

/** Asserts the one generic 401 of a failed verification. */
async function expectInvalid(res: Response, label: string) {
  expect(res.status, label).toBe(401);
  expect((await problem(res)).detail, label).toBe("Invalid webhook signature.");
}

describe("Standard Webhooks: POST /webhooks/crm/{integrationId}", () => {
  it("signs like the reference vectors (the test's signer is right) and accepts its signature", async () => {
    const kat = { secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1614265330 };
    expect(new Webhook(kat.secret).sign(kat.id, new Date(kat.timestamp * 1000), '{"test": 2432232314}')).toBe(
      "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    );
    const integration = await seedIntegration("standard-webhooks", { secret: kat.secret });
    const body = standardEvent({ id: 1 });
    const res = await deliverStandard(integration, body, { headers: standardHeaders(kat.secret, body, { id: kat.id }) });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ eventId: kat.id, duplicate: false });
  });

  it("stores the event and its crm-event job in one statement, then publishes the job (dedup id = job id)", async () => {
    const integration = await seedIntegration("standard-webhooks");
    const body = standardEvent({ id: 4821, status_id: 142 }, "lead.status_changed");
    const headers = standardHeaders(integration.secret, body);
    const res = await deliverStandard(integration, body, { headers });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ eventId: headers["webhook-id"], duplicate: false });
    const [event, ...more] = await eventsOf(integration.id);
    expect(more).toEqual([]);
    expect(event).toMatchObject({
      orgId: integration.orgId,
      eventId: headers["webhook-id"],
      scheme: "standard-webhooks",
      type: "lead.status_changed",
      payload: JSON.parse(body),
    });
    const [job] = await db()
      .select()
      .from(jobs)
      .where(eq(jobs.id, event?.jobId as string));
    expect(job).toMatchObject({
      orgId: integration.orgId,
      kind: "crm-event",
      dedupId: `crm-event:${event?.id}`,
      payload: { eventId: event?.id },
    });
    expect(job?.qstashMessageId, "published after the answer").toBeTruthy();
    const published = await qstashEvents({ messageId: job?.qstashMessageId as string });
    expect(published.length).toBeGreaterThan(0);
    expect(JSON.parse(published.at(-1)?.body ?? "{}")).toEqual({ jobId: job?.id });

    const again = await deliverStandard(integration, body, { headers });
    expect(again.status).toBe(202);
    expect(await again.json()).toEqual({ eventId: headers["webhook-id"], duplicate: true });
    expect(await eventsOf(integration.id)).toHaveLength(1);
    expect(await crmJobsOf(integration.orgId)).toHaveLength(1);
  });

  it("costs one Neon request on the critical path once the integration is cached (two when it is not)", async () => {
    const integration = await seedIntegration("standard-webhooks");
    // QStash unreachable: no publish (nor its message-id update) after the answer, only the ingest's own requests.
    const cold = await neonRequestsDuring(async (probe) => {
      const env = { ...probe, QSTASH_URL: dead };
      expect((await deliverStandard(integration, standardEvent({ n: 1 }), { env })).status).toBe(202);
    });
    const warm = await neonRequestsDuring(async (probe) => {
      const env = { ...probe, QSTASH_URL: dead };
      expect((await deliverStandard(integration, standardEvent({ n: 2 }), { env })).status).toBe(202);
    });
    expect({ cold, warm }).toEqual({ cold: 2, warm: 1 });
  });

  it("refuses a flipped bit in the body or the signature, a wrong secret and a re-serialized body, with one generic 401", async () => {
    const integration = await seedIntegration("standard-webhooks");
    const body = standardEvent({ id: 7, name: "Flip" });
    const headers = standardHeaders(integration.secret, body);
    const bytes = new TextEncoder().encode(body);
    bytes[10] = (bytes[10] as number) ^ 0x01;
    const mac = Uint8Array.from(atob(headers["webhook-signature"]?.slice(3) ?? ""), (ch) => ch.charCodeAt(0));
    mac[0] = (mac[0] as number) ^ 0x80;
    const flippedSignature = `v1,${btoa(String.fromCharCode(...mac))}`;
    const pretty = JSON.stringify(JSON.parse(body), null, 2);
    const cases: [string, string | Uint8Array, Record<string, string>][] = [
      ["a flipped bit in the body", bytes, headers],
      ["a flipped bit in the signature", body, { ...headers, "webhook-signature": flippedSignature }],
      ["a wrong secret", body, standardHeaders(newWhsec(), body, { id: headers["webhook-id"] })],
      ["a re-serialized body", pretty, headers],
      ["no signature", body, { ...headers, "webhook-signature": "" }],
      ["another event's id", body, { ...headers, "webhook-id": "msg_other" }],
    ];
    for (const [label, sent, h] of cases)
      await expectInvalid(await deliver(`/webhooks/crm/${integration.id}`, sent, { headers: h }), label);
    // Any one matching entry is enough: a bogus entry next to the right one verifies.
    const both = { ...headers, "webhook-signature": `${flippedSignature} ${headers["webhook-signature"]}` };
    expect((await deliver(`/webhooks/crm/${integration.id}`, body, { headers: both })).status).toBe(202);
    expect(await eventsOf(integration.id)).toHaveLength(1);
  });

  it("accepts a timestamp 299 s old, refuses 301 s old or 301 s ahead", async () => {
    const integration = await seedIntegration("standard-webhooks");
    // The timestamp is taken at each send and rounded toward the boundary it must not cross, so the
    // time the request takes (well under a second) cannot move it over the 300 s line.
    const at = (offset: number) => {
      const seconds = Date.now() / 1000;
      const timestampSeconds = (offset < -300 ? Math.floor(seconds) : Math.ceil(seconds)) + offset;
      const body = standardEvent({ offset });
      return deliverStandard(integration, body, { headers: standardHeaders(integration.secret, body, { timestampSeconds }) });
    };
    expect((await at(-299)).status).toBe(202);
    await expectInvalid(await at(-301), "301 s old");
    await expectInvalid(await at(301), "301 s ahead");
    expect(await eventsOf(integration.id)).toHaveLength(1);
  });

  it("accepts the previous secret while previous_secret_expires_at is in the future, and refuses it after", async () => {
    const previous = newWhsec();
    const integration = await seedIntegration("standard-webhooks", {
      previousSecret: previous,
      previousExpiresAt: new Date(Date.now() + 3600_000),
    });
    const viaPrevious = () => deliverStandard({ id: integration.id, secret: previous }, standardEvent({ r: Math.random() }));
    expect((await viaPrevious()).status).toBe(202);
    expect((await deliverStandard(integration, standardEvent({ current: true }))).status).toBe(202);
    await db()
      .update(crmIntegrations)
      .set({ previousSecretExpiresAt: sql`now() - interval '1 second'` })
      .where(eq(crmIntegrations.id, integration.id));
    await forget(integration.id); // what the rotation API does on change
    await expectInvalid(await viaPrevious(), "retired secret");
    expect((await deliverStandard(integration, standardEvent({ current: 2 }))).status).toBe(202);
  });

  it("validates the body only after the signature: not an event → 400, nothing stored; unknown query → 400", async () => {
    const integration = await seedIntegration("standard-webhooks");
    for (const body of ['{"test": 2432232314}', '{"type":"x","data":[1]}', "[]", '{"type":"x","data":{"s":"\\u0000"}}']) {
      const res = await deliverStandard(integration, body);
      expect(res.status, body).toBe(400);
    }
    expect((await deliverStandard(integration, "not json", { contentType: "text/plain" })).status).toBe(415);
    expect((await deliverStandard(integration, standardEvent(), { query: "?debug=1" })).status).toBe(400);
    expect(await eventsOf(integration.id)).toEqual([]);
  });

  it("has one effect for 10 concurrent deliveries of one event: one inbox row, one job, nine duplicates", async () => {
    const integration = await seedIntegration("standard-webhooks");
    const body = standardEvent({ id: 10 });
    const headers = standardHeaders(integration.secret, body);
    const answers = await Promise.all(Array.from({ length: 10 }, () => deliverStandard(integration, body, { headers })));
    expect(answers.map((r) => r.status)).toEqual(Array(10).fill(202));
    const acks = (await Promise.all(answers.map((r) => r.json()))) as { duplicate: boolean }[];
    expect(acks.filter((a) => !a.duplicate)).toHaveLength(1);
    expect(await eventsOf(integration.id)).toHaveLength(1);
    expect(await crmJobsOf(integration.orgId)).toHaveLength(1);
  });

  it("answers 503 + Retry-After and acknowledges nothing when Postgres is unreachable (cached integration or not)", async () => {
    const warm = await seedIntegration("standard-webhooks");
    expect((await deliverStandard(warm, standardEvent({ warm: true }))).status).toBe(202);
    const cold = await seedIntegration("standard-webhooks");
    const env = { NEON_FETCH_ENDPOINT: `${dead}/sql` };
    for (const integration of [warm, cold]) {
      const body = standardEvent({ outage: true });
      const headers = standardHeaders(integration.secret, body);
      const res = await deliverStandard(integration, body, { headers, env });
      expect(res.status).toBe(503);
      expect(res.headers.get("Retry-After")).toBe("5");
      await problem(res);
      expect((await eventsOf(integration.id)).map((e) => e.eventId)).not.toContain(headers["webhook-id"]);
      // The sender's retry, once Postgres is back, is stored.
      expect(
        (await deliverStandard(integration, body, { headers: standardHeaders(integration.secret, body, { id: headers["webhook-id"] }) }))
          .status,
      ).toBe(202);
    }
    expect(await eventsOf(cold.id)).toHaveLength(1);
  });

  it("leaves the job queued when QStash is down; the relay (the every-minute reaper) publishes it later", async () => {
    const integration = await seedIntegration("standard-webhooks");
    const res = await deliverStandard(integration, standardEvent({ relay: true }), { env: { QSTASH_URL: dead } });
    expect(res.status).toBe(202);
    const [job] = await crmJobsOf(integration.orgId);
    expect(job).toMatchObject({ status: "queued", qstashMessageId: null });
    expect(Date.parse(job?.leaseUntil as string)).toBeGreaterThan(Date.now());
    // The publish deadline passes (a minute), then the reaper cron runs.
    await db()
      .update(jobs)
      .set({ leaseUntil: sql`now() - interval '1 second'` })
      .where(eq(jobs.id, job?.id as string));
    const ctx = createExecutionContext();
    await jobsWorker.scheduled?.(
      createScheduledController({ cron: "* * * * *", scheduledTime: Date.now() }),
      testEnv as unknown as Env,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    const [relayed] = await db()
      .select()
      .from(jobs)
      .where(eq(jobs.id, job?.id as string));
    expect(relayed?.qstashMessageId, "published by the relay").toBeTruthy();
    const events = await qstashEvents({ url: publicJobUrl("/jobs/crm-event") });
    expect(events.some((e) => e.messageId === relayed?.qstashMessageId && e.body.includes(job?.id as string))).toBe(true);
  });

  it("caps the body at 256 KiB (413), before any verification", async () => {
    const integration = await seedIntegration("standard-webhooks");
    const body = standardEvent({ pad: "x".repeat(256 * 1024) });
    const res = await deliverStandard(integration, body);
    expect(res.status).toBe(413);
    await problem(res);
  });
});

describe("Kommo: POST /webhooks/kommo/{integrationId}/{pathSecret}", () => {
  const form = (id: number) =>
    buildKommoWebhookBody({
      leads: { status: [{ id, status_id: 142, old_status_id: 70_000_001, pipeline_id: 7_000_001 }] },
      account: { subdomain: "acme", id: 29_000_001 },
    });
  const post = (id: string, secret: string, body: string) =>
    deliver(`/webhooks/kommo/${id}/${secret}`, body, { contentType: "application/x-www-form-urlencoded" });

  it("stores the parsed form with the right path secret (200), once per body; refuses a wrong secret (401)", async () => {
    const integration = await seedIntegration("kommo");
    const body = form(4821);
    const res = await post(integration.id, integration.secret, body);
    expect(res.status).toBe(200);
    const ack = (await res.json()) as { eventId: string; duplicate: boolean };
    expect(ack).toEqual({ eventId: expect.stringMatching(/^[0-9a-f]{64}$/), duplicate: false });
    const [event] = await eventsOf(integration.id);
    expect(event).toMatchObject({ eventId: ack.eventId, scheme: "kommo", type: "kommo.lead.status" });
    expect(event?.payload).toMatchObject({
      accountSubdomain: "acme",
      events: [{ entity: "lead", action: "status", id: 4821, statusId: 142 }],
    });
    expect(await (await post(integration.id, integration.secret, body)).json()).toEqual({ eventId: ack.eventId, duplicate: true });

    // The path secret never reaches the logs (the request line logs the path with it redacted).
    const { raw } = await captureLogs(() =>
      deliver(`/webhooks/kommo/${integration.id}/${integration.secret}`, form(4822), {
        contentType: "application/x-www-form-urlencoded",
        env: { LOG_LEVEL: "info" },
      }),
    );
    expect(raw).toContain(`/webhooks/kommo/${integration.id}/[redacted]`);
    expect(raw).not.toContain(integration.secret);

    await expectInvalid(await post(integration.id, newPathSecret(), form(1)), "wrong path secret");
    await expectInvalid(await post(integration.id, integration.secret.slice(0, -1), form(2)), "a prefix of the secret");
    expect(await eventsOf(integration.id)).toHaveLength(2);
  });

  it("accepts the previous path secret during the overlap; refuses a form that is not a Kommo webhook (400)", async () => {
    const previous = newPathSecret();
    const integration = await seedIntegration("kommo", { previousSecret: previous, previousExpiresAt: new Date(Date.now() + 3600_000) });
    expect((await post(integration.id, previous, form(5))).status).toBe(200);
    expect((await post(integration.id, integration.secret, "leads[add][0][name]=no-account")).status).toBe(400);
    expect(await eventsOf(integration.id)).toHaveLength(1);
  });
});

describe("Kommo Chats: POST /webhooks/kommo-chats/{integrationId}", () => {
  const message = () =>
    JSON.stringify({
      account_id: crypto.randomUUID(),
      time: Math.floor(Date.now() / 1000),
      message: { message: { type: "text", text: "Hi" } },
    });

  it("accepts a good X-Signature (202), refuses a bad or missing one (401)", async () => {
    const chatsSecret = newPathSecret();
    const integration = await seedIntegration("kommo", { chatsSecret });
    const path = `/webhooks/kommo-chats/${integration.id}`;
    const body = message();
    const ok = await deliver(path, body, { headers: { "X-Signature": await chatsSignature(chatsSecret, body) } });
    expect(ok.status).toBe(202);
    const [event] = await eventsOf(integration.id);
    expect(event).toMatchObject({ scheme: "kommo-chats", type: "chats.message", payload: JSON.parse(body) });
    await expectInvalid(
      await deliver(path, body, { headers: { "X-Signature": await chatsSignature(newPathSecret(), body) } }),
      "other secret",
    );
    await expectInvalid(
      await deliver(path, `${body} `, { headers: { "X-Signature": await chatsSignature(chatsSecret, body) } }),
      "other body",
    );
    await expectInvalid(await deliver(path, body), "no signature");
    // The path secret is no chats signature.
    await expectInvalid(
      await deliver(path, body, { headers: { "X-Signature": await chatsSignature(integration.secret, body) } }),
      "path secret",
    );
  });

  it("answers 404 for a Kommo integration without a channel secret", async () => {
    const integration = await seedIntegration("kommo");
    const body = message();
    const res = await deliver(`/webhooks/kommo-chats/${integration.id}`, body, {
      headers: { "X-Signature": await chatsSignature("x", body) },
    });
    expect(res.status).toBe(404);
  });
});

describe("integrations that cannot receive", () => {
  it("answers 404 for an unknown, malformed, disabled or other-provider integration", async () => {
    const disabled = await seedIntegration("standard-webhooks", { disabled: true });
    const kommo = await seedIntegration("kommo");
    const sw = await seedIntegration("standard-webhooks");
    const body = standardEvent();
    const cases: [string, Promise<Response>][] = [
      ["unknown", deliverStandard({ id: crypto.randomUUID(), secret: newWhsec() }, body)],
      ["not a UUID", deliver("/webhooks/crm/not-a-uuid", body, { headers: standardHeaders(newWhsec(), body) })],
      ["disabled", deliverStandard(disabled, body)],
      ["a Kommo integration on the Standard Webhooks route", deliverStandard({ id: kommo.id, secret: newWhsec() }, body)],
      [
        "a Standard Webhooks integration on the Kommo route",
        deliver(`/webhooks/kommo/${sw.id}/${sw.secret}`, "account[subdomain]=acme", { contentType: "application/x-www-form-urlencoded" }),
      ],
    ];
    for (const [label, pending] of cases) {
      const res = await pending;
      expect(res.status, label).toBe(404);
      await problem(res);
    }
    expect(await eventsOf(disabled.id)).toEqual([]);
  });
});

describe("per-IP failure limit", () => {
  it("refuses an IP over AUTH_FAILURES_PER_MINUTE with 429 before any database query, even with a valid signature", async () => {
    const env = { AUTH_FAILURES_PER_MINUTE: "3" };
    const ip = testClientIp();
    const integration = await seedIntegration("standard-webhooks");
    const body = standardEvent();
    for (let i = 0; i < 3; i++) {
      await expectInvalid(
        await deliverStandard(integration, body, { ip, env, headers: standardHeaders(newWhsec(), body) }),
        `failure ${i + 1}`,
      );
    }
    let refused: Response | undefined;
    // An id never seen: only a database lookup could answer it, so a zero count proves the refusal came first.
    const unknown = { id: crypto.randomUUID(), secret: newWhsec() };
    const queries = await neonRequestsDuring(async (probe) => {
      refused = await deliverStandard(unknown, body, { ip, env: { ...env, ...probe } });
    });
    expect(refused?.status).toBe(429);
    expect(Number(refused?.headers.get("Retry-After"))).toBeGreaterThan(0);
    expect(queries).toBe(0);
    expect((await deliverStandard(integration, body, { ip, env })).status, "a valid delivery from the same IP").toBe(429);
    expect((await deliverStandard(integration, body, { env })).status, "another IP").toBe(202);
  });
});
