/**
 * The jobs route group and the job machinery: QStash signature checks, the failure callback and
 * dead letters, the sync admin API's auth, the lease fence, the cron handler and the reaper.
 */
import { and, eq, inArray, like, notInArray, or, sql } from "drizzle-orm";
import { afterAll, describe, expect, it } from "vitest";
import { jobs } from "../../src/core/db/schema";
import { isLeaseLost, leaseCheck } from "../../src/jobs/ledger";
import { jobs as jobsGroup } from "../../src/routes/jobs";
import { addMember, api, createTenant, db, problem, registerWbToken, testEnv, waitForJob } from "./helpers";
import { failureCallbackUrl, getJob, insertJob, publicJobUrl, runCron, signQStash, unfinishedJobs } from "./sync-support";

const small = { orders: 300, products: 10, days: 14 };
const base64 = (text: string) => btoa(String.fromCharCode(...new TextEncoder().encode(text)));

/** POSTs `body` to a QStash consumer path with the given signature (none when undefined). */
function deliver(path: string, body: string, signature: string | undefined) {
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (signature !== undefined) headers["Upstash-Signature"] = signature;
  return api(path, { method: "POST", body, headers });
}

/** A failure-callback body as QStash sends it for a failed delivery of job `jobId`. */
function failureReport(jobId: string, sourceMessageId = `msg_test_${crypto.randomUUID()}`) {
  return JSON.stringify({
    status: 503,
    header: { "Content-Type": ["application/problem+json"] },
    body: base64('{"title":"Service Unavailable","detail":"Wildberries is unavailable."}'),
    retried: 5,
    maxRetries: 5,
    dlqId: `${Date.now()}-0`,
    sourceMessageId,
    url: publicJobUrl("/jobs/wb-sync"),
    method: "POST",
    sourceHeader: { "Content-Type": ["application/json"] },
    sourceBody: base64(JSON.stringify({ jobId })),
    notBefore: "0",
    createdAt: String(Date.now()),
    callerIP: "127.0.0.1",
  });
}

describe("QStash signature on /jobs/*", () => {
  const url = publicJobUrl("/jobs/wb-sync");

  it("refuses a missing, tampered, misaddressed, expired or foreign signature with a 401 problem", async () => {
    const tenant = await createTenant();
    const jobId = await insertJob(tenant.orgId, { status: "failed" });
    const body = JSON.stringify({ jobId });
    const now = Math.floor(Date.now() / 1000);
    const cases: Record<string, [string, string | undefined]> = {
      missing: [body, undefined],
      tampered: [JSON.stringify({ jobId: crypto.randomUUID() }), await signQStash(body, url)],
      "wrong url (sub)": [body, await signQStash(body, publicJobUrl("/jobs/other"))],
      expired: [body, await signQStash(body, url, { issuedAt: now - 900, expiresIn: 300 })],
      "foreign key": [body, await signQStash(body, url, { key: "sig_not_ours" })],
      garbage: [body, "not-a-jwt"],
    };
    for (const [name, [sent, signature]] of Object.entries(cases)) {
      const res = await deliver("/jobs/wb-sync", sent, signature);
      expect(res.status, name).toBe(401);
      expect((await problem(res)).title, name).toBe("Unauthorized");
    }
    // None of them touched the job.
    expect(await getJob(jobId)).toMatchObject({ status: "failed", attempts: 0 });
    const callback = await deliver("/jobs/failure-callback", failureReport(jobId), await signQStash(failureReport(jobId), url));
    expect(callback.status).toBe(401);
  });

  it("accepts the next signing key; validates the body after the signature (400)", async () => {
    const bad = JSON.stringify({ jobId: "not-a-uuid" });
    const res = await deliver("/jobs/wb-sync", bad, await signQStash(bad, url, { key: testEnv.QSTASH_NEXT_SIGNING_KEY }));
    expect(res.status).toBe(400);
    expect((await problem(res)).errors?.map((e) => e.path)).toEqual(["jobId"]);
  });

  it("acknowledges a delivery of an unknown or finished job with 200 and does no work", async () => {
    const unknown = JSON.stringify({ jobId: crypto.randomUUID() });
    const res = await deliver("/jobs/wb-sync", unknown, await signQStash(unknown, url));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ outcome: "ignored", status: null });

    const wbToken = await registerWbToken({ ...small, seed: 201 });
    const tenant = await createTenant({ wbToken });
    const jobId = await insertJob(tenant.orgId);
    const body = JSON.stringify({ jobId });
    const first = await deliver("/jobs/wb-sync", body, await signQStash(body, url));
    expect(await first.json()).toMatchObject({ outcome: "succeeded", status: "succeeded" });
    const again = await deliver("/jobs/wb-sync", body, await signQStash(body, url));
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ outcome: "ignored", status: "succeeded" });
    expect((await getJob(jobId)).attempts).toBe(1);
  });

  it("leaves a job whose lease is held by another delivery alone", async () => {
    const tenant = await createTenant({ wbToken: await registerWbToken({ ...small, seed: 202 }) });
    const jobId = await insertJob(tenant.orgId, { status: "running", leaseSecondsFromNow: 60 });
    const body = JSON.stringify({ jobId });
    const res = await deliver("/jobs/wb-sync", body, await signQStash(body, url));
    expect(await res.json()).toMatchObject({ outcome: "ignored", status: "running", reason: "another delivery holds the lease" });
    await db().update(jobs).set({ status: "succeeded" }).where(eq(jobs.id, jobId));
  });
});

describe("lease fence", () => {
  it("rolls a write batch back when the lease belongs to another attempt", async () => {
    const tenant = await createTenant();
    const jobId = await insertJob(tenant.orgId, { status: "running" });
    const database = db();
    await database.update(jobs).set({ attempts: 2 }).where(eq(jobs.id, jobId));
    const write = () => database.update(jobs).set({ lastError: "written" }).where(eq(jobs.id, jobId));
    const stale = await database
      .batch([leaseCheck(database, { jobId, attempt: 1, leaseSeconds: 60 }), write()])
      .catch((err: unknown) => err);
    expect(isLeaseLost(stale)).toBe(true);
    expect((await getJob(jobId)).lastError).toBeNull();
    await database.batch([leaseCheck(database, { jobId, attempt: 2, leaseSeconds: 60 }), write()]);
    expect((await getJob(jobId)).lastError).toBe("written");
    await database.update(jobs).set({ status: "succeeded" }).where(eq(jobs.id, jobId));
  });
});

describe("failure callback and dead letters", () => {
  it("lands a dead letter once per QStash message and marks the job dead; replay runs it to success", async () => {
    const wbToken = await registerWbToken({ ...small, seed: 203 });
    const tenant = await createTenant({ wbToken });
    const jobId = await insertJob(tenant.orgId, { status: "failed" });
    const report = failureReport(jobId);
    const signed = async () => deliver("/jobs/failure-callback", report, await signQStash(report, failureCallbackUrl()));

    const first = await signed();
    expect(first.status).toBe(200);
    const landed = (await first.json()) as { deadLetterId: string; jobId: string; duplicate: boolean };
    expect(landed).toMatchObject({ jobId, duplicate: false });
    const dead = await getJob(jobId);
    expect(dead.status).toBe("dead");
    expect(dead.lastError).toContain("QStash gave up after 5 retries; last answer: 503");

    const second = await signed();
    expect(await second.json()).toEqual({ deadLetterId: null, jobId, duplicate: true });

    const list = await api("/api/v1/admin/dead-letters?limit=10", { token: tenant.token });
    expect(list.status).toBe(200);
    const { deadLetters } = (await list.json()) as { deadLetters: Array<Record<string, unknown>> };
    expect(deadLetters).toHaveLength(1);
    expect(deadLetters[0]).toMatchObject({
      id: landed.deadLetterId,
      jobId,
      kind: "wb-sync",
      payload: { jobId },
      lastStatus: 503,
      retried: 5,
      replayedAt: null,
    });
    expect(String(deadLetters[0]?.lastResponse)).toContain("Wildberries is unavailable");

    const replay = await api(`/api/v1/admin/dead-letters/${landed.deadLetterId}/replay`, { method: "POST", token: tenant.token });
    expect(replay.status).toBe(202);
    expect(await replay.json()).toMatchObject({ deadLetterId: landed.deadLetterId, jobId, status: "queued" });
    await waitForJob(jobId, 60_000);

    const again = await api(`/api/v1/admin/dead-letters/${landed.deadLetterId}/replay`, { method: "POST", token: tenant.token });
    expect(again.status).toBe(409);
    // A late duplicate callback does not bury the replayed job.
    expect((await (await signed()).json()) as { duplicate: boolean }).toMatchObject({ duplicate: true });
    expect((await getJob(jobId)).status).toBe("succeeded");

    const after = (await (await api("/api/v1/admin/dead-letters", { token: tenant.token })).json()) as {
      deadLetters: Array<{ replayedAt: string | null }>;
    };
    expect(after.deadLetters[0]?.replayedAt).toMatch(/Z$/);
  });

  it("hides another org's dead letters (list) and answers 404 to replaying one; analysts get 403", async () => {
    const owner = await createTenant();
    const jobId = await insertJob(owner.orgId, { status: "failed" });
    const report = failureReport(jobId);
    const landed = (await (await deliver("/jobs/failure-callback", report, await signQStash(report, failureCallbackUrl()))).json()) as {
      deadLetterId: string;
    };
    const stranger = await createTenant({ role: "admin" });
    const list = (await (await api("/api/v1/admin/dead-letters", { token: stranger.token })).json()) as { deadLetters: unknown[] };
    expect(list.deadLetters).toEqual([]);
    const replay = await api(`/api/v1/admin/dead-letters/${landed.deadLetterId}/replay`, { method: "POST", token: stranger.token });
    expect(replay.status).toBe(404);
    expect((await problem(replay)).status).toBe(404);

    const analyst = await addMember(owner.orgId, "analyst");
    expect((await api("/api/v1/admin/dead-letters", { token: analyst })).status).toBe(403);
    expect((await api(`/api/v1/admin/dead-letters/${landed.deadLetterId}/replay`, { method: "POST", token: analyst })).status).toBe(403);
    expect((await api("/api/v1/admin/dead-letters")).status).toBe(401);
    const badId = await api("/api/v1/admin/dead-letters/not-a-uuid/replay", { method: "POST", token: owner.token });
    expect(badId.status).toBe(400);
    expect((await api("/api/v1/admin/dead-letters?limit=0", { token: owner.token })).status).toBe(400);
  });
});

describe("POST /api/v1/sync/wildberries and GET /api/v1/sync/status", () => {
  it("needs an owner or admin token: 401 without, 403 for an analyst", async () => {
    const tenant = await createTenant({ role: "analyst" });
    const forbidden = await api("/api/v1/sync/wildberries", { method: "POST", token: tenant.token });
    expect(forbidden.status).toBe(403);
    expect((await problem(forbidden)).title).toBe("Forbidden");
    const anonymous = await api("/api/v1/sync/wildberries", { method: "POST" });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("WWW-Authenticate")).toContain("Bearer");
    expect((await api("/api/v1/sync/wildberries", { method: "POST", token: "x.y.z" })).status).toBe(401);
    expect((await api("/api/v1/sync/status")).status).toBe(401);
  });

  it("answers 409 for an org without a Wildberries connection", async () => {
    const tenant = await createTenant();
    const res = await api("/api/v1/sync/wildberries", { method: "POST", token: tenant.token });
    expect(res.status).toBe(409);
    expect((await problem(res)).detail).toContain("no Wildberries connection");
  });

  it("returns the unfinished job instead of queuing a second sync of the org", async () => {
    const tenant = await createTenant({ wbToken: await registerWbToken({ ...small, seed: 204 }) });
    const pending = await insertJob(tenant.orgId, { status: "running", leaseSecondsFromNow: 600 });
    const res = await api("/api/v1/sync/wildberries", { method: "POST", token: tenant.token });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ jobId: pending, status: "running", created: false });
    await db().update(jobs).set({ status: "succeeded" }).where(eq(jobs.id, pending));
  });

  it("refuses unknown query parameters on the status and a body on the start (400 problem)", async () => {
    const tenant = await createTenant();
    const status = await api("/api/v1/sync/status?cb=1", { token: tenant.token });
    expect(status.status).toBe(400);
    expect(status.headers.get("Content-Type")).toContain("application/problem+json");
    const refused = await problem(status);
    expect(refused.errors?.map((e) => e.path)).toEqual(["(root)"]);
    expect(refused.errors?.[0]?.message).toContain("cb");
    const start = await api("/api/v1/sync/wildberries", { method: "POST", token: tenant.token, json: { orgId: crypto.randomUUID() } });
    expect(start.status).toBe(400);
    expect((await problem(start)).status).toBe(400);
  });

  it("shows an analyst the status of an org that never synced", async () => {
    const owner = await createTenant();
    const analyst = await addMember(owner.orgId, "analyst");
    const res = await api("/api/v1/sync/status", { token: analyst });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { connected: boolean; datasets: Array<Record<string, unknown>>; jobs: unknown[] };
    expect(body.connected).toBe(false);
    expect(body.jobs).toEqual([]);
    expect(body.datasets).toEqual(
      ["orders", "sales", "stocks"].map((dataset) => ({
        dataset,
        cursor: null,
        lastRunAt: null,
        lastSuccessAt: null,
        lastRunRows: 0,
        totalRows: 0,
        lastError: null,
      })),
    );
    const manager = await addMember(owner.orgId, "manager");
    expect((await api("/api/v1/sync/status", { token: manager })).status).toBe(403);
  });
});

describe("scheduled handler", () => {
  /** Orgs whose jobs the cron tests own: they must all be finished when the tests end. */
  const ownOrgs: string[] = [];
  const slotOf = (slot: string) => like(jobs.dedupId, `%:${slot}`);

  /**
   * Ends every job of `slot` that belongs to an org of another test file (the cron queues one per
   * connected org in the shared database): it was never published (QStash was down for the cron),
   * so nothing delivers it, and no sync of another test runs because of this one.
   */
  async function cancelOthers(slot: string): Promise<number> {
    const cancelled = await db()
      .update(jobs)
      .set({ status: "dead", finishedAt: sql`now()`, leaseUntil: null, lastError: "cancelled by jobs.test.ts (cron test slot)" })
      .where(and(slotOf(slot), notInArray(jobs.orgId, ownOrgs), inArray(jobs.status, ["queued", "running", "failed"])))
      .returning({ id: jobs.id });
    return cancelled.length;
  }

  it("declares the crons of wrangler's [env.jobs.triggers] and ignores an unknown one", async () => {
    expect(Object.keys(jobsGroup.crons)).toEqual(["*/30 * * * *", "* * * * *", "0 * * * *"]);
    await expect(runCron("0 0 * * *", Date.now())).resolves.toBeUndefined();
  });

  afterAll(async () => {
    // Fail loudly if the cron tests left work behind: it would run into the next test file and
    // change what it counts (Neon, Redis and WB requests).
    const left = await unfinishedJobs(ownOrgs);
    const stray = await db()
      .select({ id: jobs.id, status: jobs.status })
      .from(jobs)
      .where(and(or(slotOf("2026-11-21T14:30Z"), slotOf("2026-11-21T15:00Z")), inArray(jobs.status, ["queued", "running", "failed"])));
    if (left.length > 0 || stray.length > 0)
      throw new Error(`jobs.test.ts left unfinished jobs: ${JSON.stringify({ ownOrgs: left, cronSlots: stray })}`);
  });

  it("enqueues one sync per org with a WB connection per 30-minute slot, however often the cron fires; a failed publish leaves them to the relay", async () => {
    const a = await createTenant({ wbToken: await registerWbToken({ ...small, seed: 205 }) });
    const b = await createTenant({ wbToken: await registerWbToken({ ...small, seed: 206 }) });
    const unconnected = await createTenant();
    // Stands for the connected orgs other test files leave in the shared database.
    const bystander = await createTenant({ wbToken: await registerWbToken({ ...small, seed: 209 }) });
    ownOrgs.push(a.orgId, b.orgId, unconnected.orgId);
    const scheduledTime = Date.UTC(2026, 10, 21, 14, 47, 0);
    // QStash is down for the cron: its batch publish fails, the jobs stay queued and nothing runs yet.
    const run = (time: number) => runCron("*/30 * * * *", time, { QSTASH_URL: "http://127.0.0.1:9" });
    await run(scheduledTime);
    await run(scheduledTime + 5 * 60_000);
    expect(await cancelOthers("2026-11-21T14:30Z")).toBeGreaterThanOrEqual(1);

    const slotJobs = await db().select().from(jobs).where(slotOf("2026-11-21T14:30Z"));
    const byOrg = (orgId: string) => slotJobs.filter((j) => j.orgId === orgId);
    expect(byOrg(a.orgId)).toHaveLength(1);
    expect(byOrg(b.orgId)).toHaveLength(1);
    expect(byOrg(unconnected.orgId)).toHaveLength(0);
    expect(byOrg(a.orgId)[0]?.dedupId).toBe(`wb-sync:${a.orgId}:2026-11-21T14:30Z`);
    for (const job of [...byOrg(a.orgId), ...byOrg(b.orgId)]) expect(job).toMatchObject({ status: "queued", qstashMessageId: null });

    // Their publish deadline passes; the relay (the reaper) publishes them, and they run.
    const own = [byOrg(a.orgId)[0]?.id as string, byOrg(b.orgId)[0]?.id as string];
    await db().update(jobs).set({ leaseUntil: sql`now() - interval '1 second'` }).where(inArray(jobs.id, own));
    await runCron("* * * * *", Date.now());
    for (const id of own) expect((await waitForJob(id, 60_000)).status).toBe("succeeded");
    // The other org's job of the slot never ran.
    expect(byOrg(bystander.orgId)).toHaveLength(1);
    expect(await getJob(byOrg(bystander.orgId)[0]?.id as string)).toMatchObject({ status: "dead", attempts: 0 });

    // Next slot, previous jobs done: one new job each. This test only counts them: it ends them itself.
    await run(scheduledTime + 30 * 60_000);
    await cancelOthers("2026-11-21T15:00Z");
    const next = await db()
      .select()
      .from(jobs)
      .where(and(eq(jobs.orgId, a.orgId), slotOf("2026-11-21T15:00Z")));
    expect(next).toHaveLength(1);
    await db()
      .update(jobs)
      .set({ status: "dead", finishedAt: sql`now()`, leaseUntil: null, lastError: "cancelled by jobs.test.ts (counted only)" })
      .where(and(slotOf("2026-11-21T15:00Z"), inArray(jobs.status, ["queued", "running", "failed"])));
  });

  it("reaper: re-publishes a queued job whose publish was lost and a running job whose lease expired", async () => {
    const lost = await createTenant({ wbToken: await registerWbToken({ ...small, seed: 207 }) });
    const crashed = await createTenant({ wbToken: await registerWbToken({ ...small, seed: 208 }) });
    ownOrgs.push(lost.orgId, crashed.orgId);
    const lostJob = await insertJob(lost.orgId, { status: "queued", leaseSecondsFromNow: -1 });
    const crashedJob = await insertJob(crashed.orgId, { status: "running", leaseSecondsFromNow: -1 });
    await db().update(jobs).set({ attempts: 1, startedAt: sql`now()` }).where(eq(jobs.id, crashedJob));
    await runCron("* * * * *", Date.now());
    expect((await waitForJob(lostJob, 60_000)).status).toBe("succeeded");
    expect((await waitForJob(crashedJob, 60_000)).status).toBe("succeeded");
    expect((await getJob(crashedJob)).attempts).toBe(2);
  });
});
