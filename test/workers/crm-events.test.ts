/**
 * The CRM event consumer (`POST /jobs/crm-event`) and the CRM read API (`/api/v1/crm/leads`,
 * `/api/v1/crm/events`), through the real Worker and the local stack: Standard Webhooks lead and
 * contact events become rows keyed by the CRM's ids, ordered by the CRM's `updated_at`; every event
 * has exactly one effect however it is delivered (concurrently, after a crash); a poison event dies
 * in the dead letters and is processed once replayed with fixed data; the lists page every row
 * exactly once, filter, and show only the caller's org.
 */
import { eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { encodeCursor } from "../../src/core/cursor";
import { crmEvents, jobs } from "../../src/core/db/schema";
import { crmEntityWrites, standardWebhookUpdate } from "../../src/crm/entities";
import { claimJob } from "../../src/jobs/ledger";
import {
  createConnectedKommoIntegration,
  createCrmIntegration,
  deliverCrmJob,
  getContact,
  getCrmEvent,
  getLead,
  insertCrmEvent,
  kommoControl,
  leadData,
  publishCrmJob,
  seedLeads,
} from "./crm-support";
import { addMember, api, createTenant, db, problem } from "./helpers";
import { seedApiKey } from "./security-support";
import { getJob, waitForJobStatus } from "./sync-support";

/** Unix seconds of a fixed base time, so orderings are explicit. */
const T0 = 1_764_500_000;
const iso = (seconds: number) => new Date(seconds * 1000).toISOString();

interface DeliveryBody {
  jobId: string;
  outcome: "succeeded" | "ignored";
  status: string | null;
  reason?: string;
  result?: { eventId: string; effect: "applied" | "none"; reason?: string; leads: number; contacts: number };
}

/** Stores the event and delivers its job once; returns the 200 body. */
async function applyEvent(orgId: string, integrationId: string, type: string, data: unknown) {
  const { eventId, jobId } = await insertCrmEvent(orgId, integrationId, { type, data });
  const res = await deliverCrmJob(jobId);
  expect(res.status, await res.clone().text()).toBe(200);
  return { eventId, jobId, body: (await res.json()) as DeliveryBody };
}

async function setup() {
  const tenant = await createTenant();
  const integrationId = await createCrmIntegration(tenant.orgId);
  return { tenant, integrationId };
}

describe("POST /jobs/crm-event: Standard Webhooks leads and contacts", () => {
  it("lead.created stores the lead keyed by the CRM's id and marks the event processed", async () => {
    const { tenant, integrationId } = await setup();
    const { eventId, jobId, body } = await applyEvent(
      tenant.orgId,
      integrationId,
      "lead.created",
      leadData(9001, T0, { contact_id: 77, closed_at: "2026-12-01T09:00:00+03:00" }),
    );
    expect(body).toMatchObject({
      jobId,
      outcome: "succeeded",
      status: "succeeded",
      result: { eventId, effect: "applied", leads: 1, contacts: 0 },
    });
    expect(await getLead(integrationId, 9001)).toMatchObject({
      orgId: tenant.orgId,
      name: "Deal #9001",
      price: 1500,
      statusId: 142,
      pipelineId: 7000001,
      responsibleUserId: 501,
      contactId: 77,
      deletedAt: null,
    });
    const lead = await getLead(integrationId, 9001);
    expect(Date.parse(lead?.crmUpdatedAt ?? "")).toBe(T0 * 1000);
    expect(Date.parse(lead?.crmCreatedAt ?? "")).toBe(1_764_000_000 * 1000);
    expect(Date.parse(lead?.closedAt ?? "")).toBe(Date.parse("2026-12-01T06:00:00Z"));
    expect((await getCrmEvent(eventId)).processedAt).not.toBeNull();
    expect(await getJob(jobId)).toMatchObject({ status: "succeeded", attempts: 1 });
  });

  it("applies a newer update and ignores an older one delivered after it (out of order)", async () => {
    const { tenant, integrationId } = await setup();
    await applyEvent(tenant.orgId, integrationId, "lead.created", leadData(9002, T0, { status_id: 1 }));
    await applyEvent(tenant.orgId, integrationId, "lead.updated", leadData(9002, T0 + 60, { status_id: 2, price: 2000 }));
    expect(await getLead(integrationId, 9002)).toMatchObject({ statusId: 2, price: 2000 });

    // An update made in the CRM before the stored one, delivered late: processed, and no change.
    const late = await applyEvent(tenant.orgId, integrationId, "lead.updated", leadData(9002, T0 + 30, { status_id: 3, price: 1 }));
    expect(late.body).toMatchObject({ outcome: "succeeded", result: { effect: "applied", leads: 1 } });
    const lead = await getLead(integrationId, 9002);
    expect(lead).toMatchObject({ statusId: 2, price: 2000 });
    expect(Date.parse(lead?.crmUpdatedAt ?? "")).toBe((T0 + 60) * 1000);
    expect((await getCrmEvent(late.eventId)).processedAt).not.toBeNull();

    // ISO 8601 times are read too; a newer one wins.
    await applyEvent(tenant.orgId, integrationId, "lead.updated", leadData(9002, iso(T0 + 120), { status_id: 4, created_at: null }));
    expect(await getLead(integrationId, 9002)).toMatchObject({ statusId: 4 });
    // A missing created_at keeps the one known.
    expect(Date.parse((await getLead(integrationId, 9002))?.crmCreatedAt ?? "")).toBe(1_764_000_000 * 1000);
  });

  it("contact.created, contact.updated (first and last name, ISO times) and contact.deleted", async () => {
    const { tenant, integrationId } = await setup();
    const created = await applyEvent(tenant.orgId, integrationId, "contact.created", {
      id: 501,
      name: "Ivan Petrov",
      responsible_user_id: 9,
      created_at: T0,
      updated_at: T0,
    });
    expect(created.body.result).toMatchObject({ effect: "applied", leads: 0, contacts: 1 });
    expect(await getContact(integrationId, 501)).toMatchObject({ name: "Ivan Petrov", responsibleUserId: 9, deletedAt: null });

    await applyEvent(tenant.orgId, integrationId, "contact.updated", {
      id: 501,
      first_name: "Ivan",
      last_name: "Sidorov",
      updated_at: "2026-11-30T12:00:00Z",
    });
    const updated = await getContact(integrationId, 501);
    expect(updated).toMatchObject({ name: "Ivan Sidorov", responsibleUserId: null });
    expect(Date.parse(updated?.crmCreatedAt ?? "")).toBe(T0 * 1000);

    // An older deletion changes nothing; a newer one stamps deleted_at and keeps the fields.
    await applyEvent(tenant.orgId, integrationId, "contact.deleted", { id: 501, updated_at: T0 });
    expect((await getContact(integrationId, 501))?.deletedAt).toBeNull();
    await applyEvent(tenant.orgId, integrationId, "contact.deleted", { id: 501, updated_at: "2026-11-30T13:00:00Z" });
    const deleted = await getContact(integrationId, 501);
    expect(deleted).toMatchObject({ name: "Ivan Sidorov" });
    expect(Date.parse(deleted?.deletedAt ?? "")).toBe(Date.parse("2026-11-30T13:00:00Z"));
  });

  it("lead.deleted: stamps deleted_at (the lead leaves the list), ignores an older update, and is undone by a newer one", async () => {
    const { tenant, integrationId } = await setup();
    await applyEvent(tenant.orgId, integrationId, "lead.created", leadData(9003, T0));
    await applyEvent(tenant.orgId, integrationId, "lead.deleted", { id: 9003, updated_at: T0 + 10 });
    expect(await getLead(integrationId, 9003)).toMatchObject({ name: "Deal #9003", statusId: 142 });
    expect(Date.parse((await getLead(integrationId, 9003))?.deletedAt ?? "")).toBe((T0 + 10) * 1000);
    const list = (await (await api("/api/v1/crm/leads", { token: tenant.token })).json()) as { items: unknown[] };
    expect(list.items).toEqual([]);

    await applyEvent(tenant.orgId, integrationId, "lead.updated", leadData(9003, T0 + 5, { status_id: 5 }));
    expect(await getLead(integrationId, 9003)).toMatchObject({ statusId: 142 });
    expect((await getLead(integrationId, 9003))?.deletedAt).not.toBeNull();

    // A deletion of a lead never seen leaves a tombstone: its older creation, arriving late, changes nothing.
    await applyEvent(tenant.orgId, integrationId, "lead.deleted", { id: 9004, updated_at: T0 + 10 });
    await applyEvent(tenant.orgId, integrationId, "lead.created", leadData(9004, T0));
    expect((await getLead(integrationId, 9004))?.deletedAt).not.toBeNull();

    // Restored in the CRM (a newer update): deleted_at is cleared.
    await applyEvent(tenant.orgId, integrationId, "lead.updated", leadData(9003, T0 + 20, { status_id: 6 }));
    expect(await getLead(integrationId, 9003)).toMatchObject({ statusId: 6, deletedAt: null });
  });

  it("processes unknown types and Kommo Chats events with no effect, saying why", async () => {
    const { tenant, integrationId } = await setup();
    const unknown = await applyEvent(tenant.orgId, integrationId, "task.created", { id: 1 });
    expect(unknown.body).toMatchObject({
      outcome: "succeeded",
      result: { effect: "none", reason: "type task.created has no effect on leads or contacts", leads: 0, contacts: 0 },
    });
    expect((await getCrmEvent(unknown.eventId)).processedAt).not.toBeNull();

    const chats = await insertCrmEvent(tenant.orgId, integrationId, {
      scheme: "kommo-chats",
      type: "message.received",
      payload: { message: { text: "hi" } },
    });
    const res = await deliverCrmJob(chats.jobId);
    expect(await res.json()).toMatchObject({ outcome: "succeeded", result: { effect: "none", scheme: "kommo-chats" } });
    expect((await getCrmEvent(chats.eventId)).processedAt).not.toBeNull();
    const count = await db().execute<{ n: number }>(sql`select count(*)::int as n from crm_leads where integration_id = ${integrationId}`);
    expect(count.rows[0]?.n).toBe(0);
  });
});

describe("POST /jobs/crm-event: Kommo form webhooks", () => {
  it("re-reads each lead and contact through the Kommo API and stores Kommo's answer; a lead Kommo no longer has is a deletion", async () => {
    const tenant = await createTenant();
    const { integrationId, subdomain } = await createConnectedKommoIntegration(tenant.orgId);
    await kommoControl(`/__control/accounts/${subdomain}/contacts`, {
      contacts: [{ id: 991, first_name: "Ivan", last_name: "Petrov", responsible_user_id: 7, created_at: T0, updated_at: T0 + 5 }],
    });
    await kommoControl(`/__control/accounts/${subdomain}/leads`, {
      leads: [
        {
          id: 4821,
          name: "Kitchen set",
          price: 120000,
          status_id: 142,
          pipeline_id: 7000001,
          updated_at: T0 + 10,
          contacts: [{ id: 991, is_main: true }],
        },
      ],
    });
    const hint = { accountSubdomain: subdomain };
    const payload = {
      accountSubdomain: subdomain,
      events: [
        // The webhook's fields are hints: the stored lead is what the API answers (status 142, not 70000001).
        { ...hint, entity: "lead", action: "status", id: 4821, statusId: 70000001, oldStatusId: 1 },
        { ...hint, entity: "lead", action: "update", id: 4821, name: "stale name" },
        { ...hint, entity: "contact", action: "update", id: 991 },
        { ...hint, entity: "company", action: "update", id: 5 },
        { ...hint, entity: "lead", action: "delete", id: 4822, updatedAt: T0 + 20 },
      ],
      ignored: ["task[add]"],
    };
    const { eventId, jobId } = await insertCrmEvent(tenant.orgId, integrationId, { scheme: "kommo", type: "lead.status", payload });
    const res = await deliverCrmJob(jobId);
    expect(res.status, await res.clone().text()).toBe(200);
    expect(await res.json()).toMatchObject({
      outcome: "succeeded",
      result: { eventId, scheme: "kommo", effect: "applied", leads: 2, contacts: 1 },
    });
    expect(await getLead(integrationId, 4821)).toMatchObject({
      name: "Kitchen set",
      price: 120000,
      statusId: 142,
      contactId: 991,
      deletedAt: null,
    });
    expect(Date.parse((await getLead(integrationId, 4821))?.crmUpdatedAt ?? "")).toBe((T0 + 10) * 1000);
    expect(await getContact(integrationId, 991)).toMatchObject({ responsibleUserId: 7, deletedAt: null });
    expect((await getContact(integrationId, 991))?.name).toContain("Ivan");
    expect(Date.parse((await getLead(integrationId, 4822))?.deletedAt ?? "")).toBe((T0 + 20) * 1000);
    expect((await getCrmEvent(eventId)).processedAt).not.toBeNull();
  });

  it("fails the attempt with the cause when the Kommo integration is not connected (no OAuth tokens)", async () => {
    const tenant = await createTenant();
    const integrationId = await createCrmIntegration(tenant.orgId, "kommo");
    const payload = {
      accountSubdomain: "acme",
      events: [{ entity: "lead", action: "update", id: 1, accountSubdomain: "acme" }],
      ignored: [],
    };
    const { jobId } = await insertCrmEvent(tenant.orgId, integrationId, { scheme: "kommo", type: "lead.update", payload });
    const res = await deliverCrmJob(jobId);
    expect(res.status).toBe(500);
    const detail = (await problem(res)).detail ?? "";
    expect(detail).toContain("not connected");
    expect(await getJob(jobId)).toMatchObject({ status: "failed", lastError: detail });
    await db().update(jobs).set({ status: "dead" }).where(eq(jobs.id, jobId));
  });
});

describe("exactly one effect", () => {
  it("10 concurrent deliveries of one job: one succeeds, the others are ignored, one row", async () => {
    const { tenant, integrationId } = await setup();
    const { eventId, jobId } = await insertCrmEvent(tenant.orgId, integrationId, { type: "lead.created", data: leadData(9100, T0) });
    const answers = await Promise.all(Array.from({ length: 10 }, () => deliverCrmJob(jobId)));
    expect(answers.map((r) => r.status)).toEqual(Array(10).fill(200));
    const bodies = (await Promise.all(answers.map((r) => r.json()))) as DeliveryBody[];
    expect(bodies.filter((b) => b.outcome === "succeeded")).toHaveLength(1);
    const ignored = bodies.filter((b) => b.outcome === "ignored");
    expect(ignored).toHaveLength(9);
    for (const b of ignored) expect(["another delivery holds the lease", "job is succeeded"]).toContain(b.reason);
    expect(await getJob(jobId)).toMatchObject({ status: "succeeded", attempts: 1 });
    const event = await getCrmEvent(eventId);
    const stamped = event.processedAt;
    expect(stamped).not.toBeNull();
    const rows = await db().execute<{ n: number }>(sql`select count(*)::int as n from crm_leads where integration_id = ${integrationId}`);
    expect(rows.rows[0]?.n).toBe(1);

    // A late redelivery does nothing: processed_at stays the first one.
    expect(await (await deliverCrmJob(jobId)).json()).toMatchObject({ outcome: "ignored", reason: "job is succeeded" });
    expect((await getCrmEvent(eventId)).processedAt).toBe(stamped);
  });

  it("a delivery that claims the job and dies writes nothing; the redelivery after its lease expires writes once", async () => {
    const { tenant, integrationId } = await setup();
    const { eventId, jobId } = await insertCrmEvent(tenant.orgId, integrationId, { type: "lead.created", data: leadData(9200, T0) });
    const crashed = await claimJob(db(), jobId, "crm-event");
    expect(crashed.claimed).toBe(true);

    // While its lease holds, a redelivery leaves the job alone.
    expect(await (await deliverCrmJob(jobId)).json()).toMatchObject({ outcome: "ignored", reason: "another delivery holds the lease" });
    expect(await getLead(integrationId, 9200)).toBeUndefined();
    expect((await getCrmEvent(eventId)).processedAt).toBeNull();

    await db().update(jobs).set({ leaseUntil: sql`now() - interval '1 second'` }).where(eq(jobs.id, jobId));
    const redelivered = (await (await deliverCrmJob(jobId)).json()) as DeliveryBody;
    expect(redelivered).toMatchObject({ outcome: "succeeded", result: { effect: "applied", leads: 1 } });
    expect(await getJob(jobId)).toMatchObject({ status: "succeeded", attempts: 2 });
    const lead = await getLead(integrationId, 9200);
    expect(lead).toMatchObject({ name: "Deal #9200" });
    const event = await getCrmEvent(eventId);
    expect(event.processedAt).not.toBeNull();

    // The crashed delivery's lease is void: a write fenced by it is refused, and nothing changes on redelivery.
    expect(await (await deliverCrmJob(jobId)).json()).toMatchObject({ outcome: "ignored" });
    expect((await getLead(integrationId, 9200))?.updatedAt).toBe(lead?.updatedAt);
    expect((await getCrmEvent(eventId)).processedAt).toBe(event.processedAt);
  });

  it("keeps the newest of several updates of one entity applied together (crmEntityWrites)", async () => {
    const { tenant, integrationId } = await setup();
    const lead = (updatedAt: number, statusId: number, deleted = false) =>
      standardWebhookUpdate(deleted ? "lead.deleted" : "lead.updated", leadData(9300, updatedAt, { status_id: statusId }));
    const database = db();
    const target = { orgId: tenant.orgId, integrationId };
    const [first, ...rest] = crmEntityWrites(database, target, [lead(T0 + 10, 2), lead(T0, 1), lead(T0 + 5, 3, true)]);
    expect(rest).toHaveLength(0);
    if (!first) throw new Error("no statement");
    await database.batch([first]);
    expect(await getLead(integrationId, 9300)).toMatchObject({ statusId: 2, deletedAt: null });
    // Nothing to write: no statement.
    expect(crmEntityWrites(database, target, [])).toEqual([]);
  });
});

describe("poison events", () => {
  it("invalid data fails with the validation error, dies after QStash's retries, and is processed once replayed after a fix", async () => {
    const { tenant, integrationId } = await setup();
    const bad = { id: 9400, name: "Broken", updated_at: "yesterday", price: "a lot" };
    const { eventId, jobId } = await insertCrmEvent(tenant.orgId, integrationId, { type: "lead.updated", data: bad });

    const first = await deliverCrmJob(jobId);
    expect(first.status).toBe(500);
    const detail = (await problem(first)).detail ?? "";
    expect(detail).toMatch(/^invalid lead\.updated data: /);
    expect(detail).toContain("updated_at");
    expect(detail).toContain("price");
    expect(await getJob(jobId)).toMatchObject({ status: "failed", lastError: detail });
    const failed = (await (await api("/api/v1/crm/events?state=failed", { token: tenant.token })).json()) as {
      items: Array<{ id: string; state: string; lastError: string | null }>;
    };
    expect(failed.items).toEqual([expect.objectContaining({ id: eventId, state: "failed", lastError: detail })]);

    await publishCrmJob(jobId, { retries: 1 });
    const dead = await waitForJobStatus(jobId, "dead");
    expect(dead.lastError).toBe(`QStash gave up after 1 retries; last answer: 500 ${detail}`);
    const deadList = (await (await api("/api/v1/crm/events?state=dead", { token: tenant.token })).json()) as {
      items: Array<{ id: string; state: string; jobId: string; lastError: string; processedAt: string | null }>;
    };
    expect(deadList.items).toEqual([
      expect.objectContaining({ id: eventId, state: "dead", jobId, lastError: dead.lastError, processedAt: null }),
    ]);
    expect(await getLead(integrationId, 9400)).toBeUndefined();

    // The data is fixed, then the dead letter is replayed: processed.
    await db()
      .update(crmEvents)
      .set({ payload: { type: "lead.updated", data: { ...bad, updated_at: T0, price: 100 } } })
      .where(eq(crmEvents.id, eventId));
    const letters = (await (await api("/api/v1/admin/dead-letters", { token: tenant.token })).json()) as {
      deadLetters: Array<{ id: string; jobId: string; kind: string }>;
    };
    const letter = letters.deadLetters.find((l) => l.jobId === jobId);
    expect(letter?.kind).toBe("crm-event");
    const replay = await api(`/api/v1/admin/dead-letters/${letter?.id}/replay`, { method: "POST", token: tenant.token });
    expect(replay.status).toBe(202);
    await waitForJobStatus(jobId, "succeeded");
    expect(await getLead(integrationId, 9400)).toMatchObject({ name: "Broken", price: 100 });
    const processed = (await (await api("/api/v1/crm/events?state=processed", { token: tenant.token })).json()) as {
      items: Array<{ id: string; state: string; processedAt: string | null }>;
    };
    expect(processed.items).toEqual([expect.objectContaining({ id: eventId, state: "processed" })]);
    expect(processed.items[0]?.processedAt).toMatch(/Z$/);
  });

  it("a payload that is not a Standard Webhooks event is poison too", async () => {
    const { tenant, integrationId } = await setup();
    const { jobId } = await insertCrmEvent(tenant.orgId, integrationId, { type: "lead.updated", payload: ["not", "an", "event"] });
    const res = await deliverCrmJob(jobId);
    expect(res.status).toBe(500);
    expect((await problem(res)).detail).toContain("invalid Standard Webhooks payload");
    await db().update(jobs).set({ status: "dead" }).where(eq(jobs.id, jobId));
  });
});

describe("GET /api/v1/crm/leads", () => {
  type LeadsPage = {
    items: Array<{ leadId: number; integrationId: string; updatedAt: string; statusId: number | null }>;
    nextCursor: string | null;
  };

  /** Every page of `query`, following `nextCursor`. */
  async function allPages(token: string, query: string): Promise<LeadsPage["items"][]> {
    const pages: LeadsPage["items"][] = [];
    let cursor: string | null = null;
    do {
      const res = await api(`/api/v1/crm/leads?${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, { token });
      expect(res.status).toBe(200);
      const page = (await res.json()) as LeadsPage;
      pages.push(page.items);
      cursor = page.nextCursor;
    } while (cursor && pages.length < 50);
    return pages;
  }

  it("pages every lead exactly once, newest CRM update first (ties by lead id, then integration), and filters", async () => {
    const { tenant, integrationId } = await setup();
    const second = await createCrmIntegration(tenant.orgId, "kommo");
    const leads = Array.from({ length: 11 }, (_, i) => ({
      leadId: 100 + i,
      // Pairs share a time: the keyset must not skip or repeat across equal times.
      updatedAt: iso(T0 + Math.floor(i / 2) * 60),
      statusId: i % 3 === 0 ? 10 : 20,
      pipelineId: i % 2 === 0 ? 1 : 2,
    }));
    await seedLeads(tenant.orgId, integrationId, leads);
    // The same CRM ids in a second integration, at the same times: ties broken by the integration id.
    await seedLeads(tenant.orgId, second, leads.slice(0, 3));
    await seedLeads(tenant.orgId, integrationId, [{ leadId: 999, updatedAt: iso(T0 + 9999), deleted: true }]);

    const pages = await allPages(tenant.token, "limit=4");
    expect(pages.map((p) => p.length)).toEqual([4, 4, 4, 2]);
    const seen = pages.flat().map((l) => `${l.leadId}:${l.integrationId}`);
    expect(new Set(seen).size).toBe(14);
    expect(seen).not.toContain(`999:${integrationId}`);
    const times = pages.flat().map((l) => Date.parse(l.updatedAt));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect(pages[0]?.[0]).toMatchObject({ leadId: 111 - 1, integrationId, updatedAt: iso(T0 + 300) });

    const filtered = (await allPages(tenant.token, "status=10&pipeline=1&limit=1")).flat();
    const expected = [...leads, ...leads.slice(0, 3)].filter((l) => l.statusId === 10 && l.pipelineId === 1);
    expect(filtered.map((l) => l.leadId).sort()).toEqual(expected.map((l) => l.leadId).sort());
    expect(filtered.every((l) => l.statusId === 10)).toBe(true);
    const exact = (await (await api("/api/v1/crm/leads?limit=14", { token: tenant.token })).json()) as LeadsPage;
    expect(exact.items).toHaveLength(14);
    expect(exact.nextCursor).toBeNull();
  });

  it("shows only the caller's org; managers, analysts and dashboard:read keys read it, agents do not", async () => {
    const { tenant, integrationId } = await setup();
    await seedLeads(tenant.orgId, integrationId, [{ leadId: 1, updatedAt: iso(T0) }]);
    const stranger = await createTenant();
    const theirs = (await (await api("/api/v1/crm/leads", { token: stranger.token })).json()) as LeadsPage;
    expect(theirs.items).toEqual([]);
    const strangerEvents = (await (await api("/api/v1/crm/events", { token: stranger.token })).json()) as { items: unknown[] };
    expect(strangerEvents.items).toEqual([]);

    for (const role of ["manager", "analyst"] as const) {
      const res = await api("/api/v1/crm/leads", { token: await addMember(tenant.orgId, role) });
      expect(((await res.json()) as LeadsPage).items.map((l) => l.leadId)).toEqual([1]);
    }
    expect((await api("/api/v1/crm/leads", { token: await addMember(tenant.orgId, "agent") })).status).toBe(403);
    const { key } = await seedApiKey(tenant.orgId, ["dashboard:read"]);
    const withKey = await api("/api/v1/crm/events", { headers: { Authorization: `Bearer ${key}` } });
    expect(withKey.status).toBe(200);
    expect((await api("/api/v1/crm/leads")).status).toBe(401);
  });

  it("answers 400 to a bad cursor, another list's cursor, an impossible time, bad filters and limits", async () => {
    const { tenant } = await setup();
    const bad = [
      "cursor=not-a-cursor",
      `cursor=${encodeCursor({ time: "2026-12-01 10:00:00+00", id: crypto.randomUUID() })}`,
      `cursor=${encodeCursor({ time: "2026-02-30 10:00:00+00", id: `5:${crypto.randomUUID()}` })}`,
      `cursor=${encodeCursor({ time: "2026-12-01 10:00:00+00", id: "5:not-a-uuid" })}`,
      "status=abc",
      "pipeline=-1",
      "limit=0",
      "limit=101",
      "state=processed",
    ];
    for (const query of bad) {
      const res = await api(`/api/v1/crm/leads?${query}`, { token: tenant.token });
      expect(res.status, query).toBe(400);
      expect((await problem(res)).status).toBe(400);
    }
    const good = await api(
      `/api/v1/crm/leads?cursor=${encodeCursor({ time: "2026-12-01 10:00:00.123456+00", id: `5:${crypto.randomUUID()}` })}`,
      { token: tenant.token },
    );
    expect(good.status).toBe(200);
  });
});

describe("GET /api/v1/crm/events", () => {
  type EventsPage = {
    items: Array<
      { id: string; state: string; lastError: string | null; jobId: string | null; scheme: string; type: string } & Record<string, unknown>
    >;
    nextCursor: string | null;
  };

  it("derives each event's state from its job, filters by it, pages every event once, and never returns payloads", async () => {
    const { tenant, integrationId } = await setup();
    const received = new Date(Date.now() - 60_000).toISOString();
    const states = [
      { jobStatus: "queued", state: "received" },
      { jobStatus: "running", state: "received" },
      { jobStatus: "succeeded", state: "processed" },
      { jobStatus: "failed", state: "failed", lastError: "invalid lead.updated data: id: Invalid input" },
      { jobStatus: "dead", state: "dead", lastError: "QStash gave up after 5 retries" },
    ] as const;
    const ids = new Map<string, string>();
    for (const [i, s] of states.entries()) {
      const { eventId } = await insertCrmEvent(tenant.orgId, integrationId, {
        type: "lead.updated",
        data: { id: i + 1, name: "Secret Person +7 999 123-45-67", updated_at: T0 },
        jobStatus: s.jobStatus,
        ...("lastError" in s ? { lastError: s.lastError } : {}),
        // Two events share a received_at: the keyset must not skip or repeat them.
        receivedAt: i < 2 ? received : undefined,
      });
      ids.set(eventId, s.state);
    }

    const all: EventsPage["items"] = [];
    let cursor: string | null = null;
    do {
      const res = await api(`/api/v1/crm/events?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, { token: tenant.token });
      expect(res.status).toBe(200);
      const text = await res.clone().text();
      expect(text).not.toContain("Secret Person");
      const page = (await res.json()) as EventsPage;
      all.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    expect(all.map((e) => e.id).sort()).toEqual([...ids.keys()].sort());
    for (const e of all) {
      expect(e.state).toBe(ids.get(e.id));
      expect(e).not.toHaveProperty("payload");
      expect(e).toMatchObject({ integrationId, scheme: "standard-webhooks", type: "lead.updated" });
    }
    const times = all.map((e) => Date.parse(String(e.receivedAt)));
    expect(times).toEqual([...times].sort((a, b) => b - a));

    for (const state of ["received", "processed", "failed", "dead"] as const) {
      const page = (await (await api(`/api/v1/crm/events?state=${state}`, { token: tenant.token })).json()) as EventsPage;
      const expected = [...ids].filter(([, s]) => s === state).map(([id]) => id);
      expect(page.items.map((e) => e.id).sort(), state).toEqual(expected.sort());
    }
    const dead = (await (await api("/api/v1/crm/events?state=dead", { token: tenant.token })).json()) as EventsPage;
    expect(dead.items[0]?.lastError).toBe("QStash gave up after 5 retries");
    expect((await api("/api/v1/crm/events?state=lost", { token: tenant.token })).status).toBe(400);
    const leadsCursor = encodeCursor({ time: "2026-12-01 10:00:00+00", id: `5:${crypto.randomUUID()}` });
    expect((await api(`/api/v1/crm/events?cursor=${leadsCursor}`, { token: tenant.token })).status).toBe(400);
  });
});
