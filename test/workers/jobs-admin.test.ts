/**
 * The job admin API over the one ledger (`/api/v1/admin/jobs*`), QStash's DLQ entry deleted once
 * our dead letter is stored, and the reaper burying abandoned jobs with a dead letter of their own.
 */
import { eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { deadLetters, type JobStatus, jobs } from "../../src/core/db/schema";
import { adapterUrl, addMember, api, createTenant, db, problem, testEnv } from "./helpers";
import { getJob, insertJob, publishTestJob, runCron, waitForJobStatus } from "./sync-support";

interface JobPage {
  jobs: Array<{ id: string; kind: string; status: string; idempotencyKey: string; lastError: string | null }>;
  nextCursor: string | null;
}

/** Inserts a finished job of `kind` for `orgId` with `status` (no concurrency key: any number at once). */
async function insertFinishedJob(orgId: string, kind: string, status: JobStatus) {
  const id = crypto.randomUUID();
  await db()
    .insert(jobs)
    .values({ id, orgId, kind, dedupId: `test:${id}`, status, finishedAt: sql`now()` });
  return id;
}

/** QStash's own DLQ, as its API lists it. */
async function qstashDlq(): Promise<Array<{ dlqId: string; messageId: string }>> {
  const res = await fetch(`${adapterUrl("qstash")}/v2/dlq`, { headers: { Authorization: `Bearer ${testEnv.QSTASH_TOKEN}` } });
  return ((await res.json()) as { messages: Array<{ dlqId: string; messageId: string }> }).messages;
}

/** A `wb-sync` job of an org without a Wildberries connection: every attempt fails with that cause. */
async function deadWbSyncJob(orgId: string) {
  const jobId = await insertJob(orgId);
  const { messageId } = await publishTestJob(jobId, { retries: 0 });
  await waitForJobStatus(jobId, "dead");
  return { jobId, messageId };
}

describe("GET /api/v1/admin/jobs", () => {
  it("lists the org's jobs of every kind, newest first, filtered, a keyset page at a time covering each once", async () => {
    const tenant = await createTenant();
    const ids: string[] = [];
    for (let i = 0; i < 7; i++)
      ids.push(await insertFinishedJob(tenant.orgId, i % 2 ? "crm-event" : "wb-sync", i % 3 ? "succeeded" : "dead"));
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await api(`/api/v1/admin/jobs?limit=3${cursor ? `&cursor=${cursor}` : ""}`, { token: tenant.token });
      expect(res.status).toBe(200);
      const page = (await res.json()) as JobPage;
      expect(page.jobs.length).toBeLessThanOrEqual(3);
      seen.push(...page.jobs.map((j) => j.id));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual([...ids].reverse());

    const dead = (await (await api("/api/v1/admin/jobs?status=dead", { token: tenant.token })).json()) as JobPage;
    expect(dead.jobs.map((j) => j.id).sort()).toEqual([ids[0], ids[3], ids[6]].sort());
    const crm = (await (await api("/api/v1/admin/jobs?kind=crm-event&status=succeeded", { token: tenant.token })).json()) as JobPage;
    expect(crm.jobs.map((j) => j.id).sort()).toEqual([ids[1], ids[5]].sort());
    expect(crm.jobs[0]).toMatchObject({ kind: "crm-event", status: "succeeded", idempotencyKey: `test:${crm.jobs[0]?.id}` });
  });

  it("answers 400 to a forged cursor, an unknown kind or status; 403 to a member; shows no other org's jobs", async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    const theirs = await insertFinishedJob(other.orgId, "wb-sync", "dead");
    for (const query of ["cursor=bm90LWEtY3Vyc29y", "kind=nope", "status=done", "limit=0"]) {
      const res = await api(`/api/v1/admin/jobs?${query}`, { token: tenant.token });
      expect(res.status, query).toBe(400);
      expect((await problem(res)).errors?.length, query).toBeGreaterThan(0);
    }
    const mine = (await (await api("/api/v1/admin/jobs", { token: tenant.token })).json()) as JobPage;
    expect(mine.jobs).toEqual([]);
    expect((await api(`/api/v1/admin/jobs/${theirs}`, { token: tenant.token })).status).toBe(404);
    expect((await api(`/api/v1/admin/jobs/${theirs}/replay`, { method: "POST", token: tenant.token })).status).toBe(404);
    expect((await api(`/api/v1/admin/jobs/${theirs}/discard`, { method: "POST", token: tenant.token })).status).toBe(404);
    expect((await db().select().from(jobs).where(eq(jobs.id, theirs)))[0]?.status).toBe("dead");

    // An analyst of the org is refused: the job admin API is for owners and admins.
    const analyst = await addMember(tenant.orgId, "analyst");
    expect((await api("/api/v1/admin/jobs", { token: analyst })).status).toBe(403);
    expect((await api(`/api/v1/admin/jobs/${theirs}/replay`, { method: "POST", token: analyst })).status).toBe(403);
  });
});

describe("a dead job: read, replay, discard", () => {
  it("lands the dead letter with the real cause, deletes QStash's DLQ entry, and replays the job", async () => {
    const tenant = await createTenant();
    const { jobId, messageId } = await deadWbSyncJob(tenant.orgId);

    const detail = await api(`/api/v1/admin/jobs/${jobId}`, { token: tenant.token });
    expect(detail.status).toBe(200);
    const job = (await detail.json()) as {
      status: string;
      lastError: string;
      deadLetter: { qstashMessageId: string; lastStatus: number; lastResponse: string; replayedAt: string | null } | null;
    };
    expect(job.status).toBe("dead");
    expect(job.lastError).toContain("QStash gave up after 0 retries");
    expect(job.lastError).toMatch(/no Wildberries connection/i);
    expect(job.deadLetter).toMatchObject({ qstashMessageId: messageId, replayedAt: null });
    // Stored here first, then deleted from QStash's DLQ: ours is the one queue to watch.
    await expect.poll(async () => (await qstashDlq()).some((m) => m.messageId === messageId), { timeout: 10_000 }).toBe(false);

    const replay = await api(`/api/v1/admin/jobs/${jobId}/replay`, { method: "POST", token: tenant.token });
    expect(replay.status).toBe(202);
    expect(await replay.json()).toMatchObject({ jobId, status: "queued" });
    const [letter] = await db().select().from(deadLetters).where(eq(deadLetters.jobId, jobId));
    expect(letter?.replayedAt).not.toBeNull();
    // While it is queued again it is not dead: a second replay is refused.
    const twice = await api(`/api/v1/admin/jobs/${jobId}/replay`, { method: "POST", token: tenant.token });
    expect(twice.status).toBe(409);
    // The replayed job runs again (and fails again for the same cause: no connection).
    await expect.poll(async () => (await getJob(jobId)).attempts, { timeout: 30_000 }).toBeGreaterThan(1);
    expect((await getJob(jobId)).lastError).toMatch(/no Wildberries connection/i);
  });

  it("discards a dead job: it stays dead, leaves the gauge's count, and is not replayed", async () => {
    const tenant = await createTenant();
    const { jobId } = await deadWbSyncJob(tenant.orgId);
    const openLetters = async () =>
      (await db().select().from(deadLetters).where(eq(deadLetters.orgId, tenant.orgId))).filter((d) => !d.replayedAt && !d.discardedAt)
        .length;
    expect(await openLetters()).toBe(1);

    const discard = await api(`/api/v1/admin/jobs/${jobId}/discard`, { method: "POST", token: tenant.token });
    expect(discard.status).toBe(200);
    expect(await discard.json()).toMatchObject({ jobId, status: "dead" });
    expect(await openLetters()).toBe(0);
    expect((await getJob(jobId)).status).toBe("dead");

    const replay = await api(`/api/v1/admin/jobs/${jobId}/replay`, { method: "POST", token: tenant.token });
    expect(replay.status).toBe(409);
    expect((await problem(replay)).detail).toContain("discarded");
    const again = await api(`/api/v1/admin/jobs/${jobId}/discard`, { method: "POST", token: tenant.token });
    expect(again.status).toBe(409);
    expect((await getJob(jobId)).status).toBe("dead");
  });

  it("refuses to replay or discard a job that is not dead (409), changing nothing", async () => {
    const tenant = await createTenant();
    const jobId = await insertFinishedJob(tenant.orgId, "crm-event", "succeeded");
    for (const action of ["replay", "discard"]) {
      const res = await api(`/api/v1/admin/jobs/${jobId}/${action}`, { method: "POST", token: tenant.token });
      expect(res.status, action).toBe(409);
      expect((await problem(res)).detail, action).toContain("not dead");
    }
    expect((await getJob(jobId)).status).toBe("succeeded");
  });
});

describe("the reaper", () => {
  it("buries a job abandoned after its failures with a dead letter of its own, which the admin API replays", async () => {
    const tenant = await createTenant();
    const jobId = crypto.randomUUID();
    await db()
      .insert(jobs)
      .values({
        id: jobId,
        orgId: tenant.orgId,
        kind: "crm-event",
        dedupId: `test:${jobId}`,
        status: "failed",
        attempts: 3,
        lastError: "Kommo unreachable",
        leaseUntil: sql`now() - interval '49 hours'`,
      });
    await runCron("* * * * *", Date.now());
    const job = await getJob(jobId);
    expect(job.status).toBe("dead");
    expect(job.lastError).toContain("Kommo unreachable (abandoned");
    const [letter] = await db().select().from(deadLetters).where(eq(deadLetters.jobId, jobId));
    expect(letter).toMatchObject({ qstashMessageId: `reaper:${jobId}:3`, kind: "crm-event", orgId: tenant.orgId, retried: 3 });
    // A second run finds nothing more to bury.
    await runCron("* * * * *", Date.now() + 60_000);
    expect(await db().select().from(deadLetters).where(eq(deadLetters.jobId, jobId))).toHaveLength(1);

    const detail = (await (await api(`/api/v1/admin/jobs/${jobId}`, { token: tenant.token })).json()) as { deadLetter: unknown };
    expect(detail.deadLetter).toMatchObject({ qstashMessageId: `reaper:${jobId}:3` });
    const replay = await api(`/api/v1/admin/jobs/${jobId}/replay`, { method: "POST", token: tenant.token });
    expect(replay.status).toBe(202);
    expect((await getJob(jobId)).status).not.toBe("dead");
  });
});
