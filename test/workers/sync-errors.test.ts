/**
 * Every failed sync attempt records its real cause — WB's rejection of the token, a WB 5xx, a
 * database error with its SQLSTATE, a lost lease — in `jobs.last_error`, in the data set's
 * `sync_state.last_error`, in the delivery's problem `detail` (hence in the dead letter's last
 * response), and `GET /api/v1/sync/status` shows it. Faults come from the WB double: a revoked
 * token, an injected 500, a row whose value a column cannot hold.
 */
import { DrizzleQueryError, eq, sql } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { jobs } from "../../src/core/db/schema";
import { WbAuthError, WbResponseError, WbUnavailableError } from "../../src/integrations/wildberries/client";
import { describeCause, sqlStateName } from "../../src/jobs/failure-cause";
import { adapterUrl, api, createTenant, db, problem, registerWbToken } from "./helpers";
import {
  clearWbFaults,
  getJob,
  injectWbFault,
  insertJob,
  publicJobUrl,
  publishTestJob,
  signQStash,
  syncStates,
  waitForJobStatus,
} from "./sync-support";

afterEach(clearWbFaults);

const ORDERS_PATH = "/api/v1/supplier/orders";
const small = { orders: 300, products: 10, days: 14 };

/** One signed delivery of job `jobId`, straight to the Worker (no QStash), checked against the contract. */
async function deliverOnce(jobId: string) {
  const body = JSON.stringify({ jobId });
  return api("/jobs/wb-sync", {
    method: "POST",
    body,
    headers: { "Content-Type": "application/json", "Upstash-Signature": await signQStash(body, publicJobUrl("/jobs/wb-sync")) },
  });
}

/** Controls the WB double (`POST /__control/…`). */
async function wbControl(path: string, body: unknown) {
  const res = await fetch(`${adapterUrl("wb")}/__control/${path}`, { method: "POST", body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`WB double refused ${path}: ${res.status} ${await res.text()}`);
}

type Status = {
  datasets: Array<{ dataset: string; lastError: string | null }>;
  jobs: Array<{ id: string; status: string; lastError: string | null }>;
};
const syncStatus = async (token: string) => (await (await api("/api/v1/sync/status", { token })).json()) as Status;

describe("failure causes", () => {
  it("a revoked WB token: 'WB rejected the token (401)' in the answer, the job, the data set, the status and the dead letter", async () => {
    const token = await registerWbToken({ ...small, seed: 501 });
    const tenant = await createTenant({ wbToken: token });
    await wbControl("tokens/revoke", { token });
    const jobId = await insertJob(tenant.orgId);

    const res = await deliverOnce(jobId);
    expect(res.status).toBe(502);
    const cause = "orders: WB rejected the token (401): unauthorized: token is not valid: token withdrawn [GET /api/v1/supplier/orders]";
    expect((await problem(res)).detail).toBe(cause);
    expect(await getJob(jobId)).toMatchObject({ status: "failed", attempts: 1, lastError: cause });
    expect((await syncStates(tenant.orgId)).orders?.lastError).toBe(cause);
    const status = await syncStatus(tenant.token);
    expect(status.datasets.find((d) => d.dataset === "orders")?.lastError).toBe(cause);
    expect(status.jobs.find((j) => j.id === jobId)).toMatchObject({ status: "failed", lastError: cause });

    // QStash's retries end in the dead letter, whose last answer is the same problem.
    await publishTestJob(jobId, { retries: 1 });
    const dead = await waitForJobStatus(jobId, "dead");
    expect(dead.lastError).toBe(`QStash gave up after 1 retries; last answer: 502 ${cause}`);
    const letters = (await (await api("/api/v1/admin/dead-letters", { token: tenant.token })).json()) as {
      deadLetters: Array<{ jobId: string; lastStatus: number; lastResponse: string }>;
    };
    const letter = letters.deadLetters.find((l) => l.jobId === jobId);
    expect(letter?.lastStatus).toBe(502);
    expect(JSON.parse(letter?.lastResponse ?? "{}")).toMatchObject({ status: 502, title: "Bad Gateway", detail: cause });
    expect((await syncStatus(tenant.token)).jobs.find((j) => j.id === jobId)?.lastError).toBe(dead.lastError);
  });

  it("a WB 5xx: 'WB server error (500)' with WB's words, answered 503 so QStash retries", async () => {
    const tenant = await createTenant({ wbToken: await registerWbToken({ ...small, seed: 502 }) });
    await injectWbFault({ path: ORDERS_PATH, status: 500, times: 5 });
    const jobId = await insertJob(tenant.orgId);
    const res = await deliverOnce(jobId);
    expect(res.status).toBe(503);
    const cause = "orders: WB server error (500): internal server error: injected fault [GET /api/v1/supplier/orders]";
    expect((await problem(res)).detail).toBe(cause);
    expect((await getJob(jobId)).lastError).toBe(cause);
    expect((await syncStates(tenant.orgId)).orders?.lastError).toBe(cause);
    expect((await syncStatus(tenant.token)).datasets.find((d) => d.dataset === "orders")?.lastError).toBe(cause);
    await db().update(jobs).set({ status: "dead" }).where(eq(jobs.id, jobId));
  });

  it("a database error: its SQLSTATE and condition, the data set and the step — never SQL or row values", async () => {
    const token = await registerWbToken({ ...small, seed: 503 });
    const tenant = await createTenant({ wbToken: token });
    // WB sends a stock quantity that `stocks.quantity` (integer) cannot hold: Postgres refuses the page.
    await wbControl("rows", { token, feed: "stocks", set: { quantity: 3_000_000_000 } });
    const jobId = await insertJob(tenant.orgId);

    const res = await deliverOnce(jobId);
    expect(res.status).toBe(500);
    const cause = "stocks: database error 22003 (numeric_value_out_of_range) while writing a page";
    const answered = await problem(res);
    expect(answered.detail).toBe(cause);
    const job = await getJob(jobId);
    expect(job).toMatchObject({ status: "failed", lastError: cause });
    const states = await syncStates(tenant.orgId);
    expect(states.stocks?.lastError).toBe(cause);
    // Orders and sales were written before: their states carry no error.
    expect([states.orders?.lastError, states.sales?.lastError]).toEqual([null, null]);
    expect((await syncStatus(tenant.token)).datasets.find((d) => d.dataset === "stocks")?.lastError).toBe(cause);
    expect(JSON.stringify(answered)).not.toMatch(/3000000000|insert into|Failed query/i);
    await db().update(jobs).set({ status: "dead" }).where(eq(jobs.id, jobId));
  });

  it("a lost lease: noted on the job, and the overtaken delivery answers 200 ignored with the cause", async () => {
    const tenant = await createTenant({ wbToken: await registerWbToken({ orders: 12_000, products: 40, days: 60, seed: 504 }) });
    const jobId = await insertJob(tenant.orgId);
    const delivery = deliverOnce(jobId);
    // As soon as the delivery holds the job, another delivery claims it (the lease "expired").
    for (let job = await getJob(jobId); job.attempts === 0; job = await getJob(jobId)) await new Promise((r) => setTimeout(r, 20));
    await db()
      .update(jobs)
      .set({ attempts: sql`${jobs.attempts} + 1` })
      .where(eq(jobs.id, jobId));
    const res = await delivery;
    expect(res.status).toBe(200);
    const body = (await res.json()) as { outcome: string; reason: string };
    const cause =
      "lease lost: attempt 1 was overtaken before it could write (its 60 s lease ran out and another delivery claimed the job, or the job was ended meanwhile)";
    expect(body).toMatchObject({ outcome: "ignored", reason: cause });
    expect(await getJob(jobId)).toMatchObject({ status: "running", attempts: 2, lastError: cause });
    await db().update(jobs).set({ status: "dead" }).where(eq(jobs.id, jobId));
  });
});

describe("describeCause", () => {
  it("names a Postgres error by SQLSTATE, condition and schema names, through drizzle's wrapper, never its SQL", async () => {
    const id = crypto.randomUUID();
    const duplicate = await db()
      .execute(sql`insert into orgs (id, name) values (${id}, 'a'), (${id}, 'b')`)
      .catch((err: unknown) => err);
    expect(String((duplicate as Error).message)).toContain("insert into orgs");
    expect(describeCause(duplicate)).toBe('database error 23505 (unique_violation) on table "orgs", constraint "orgs_pkey"');
    const zero = await db()
      .execute(sql`select 1 / ${0}::int`)
      .catch((err: unknown) => err);
    expect(describeCause(zero)).toBe("database error 22012 (division_by_zero)");
    expect([sqlStateName("23503"), sqlStateName("23999"), sqlStateName("ZZ999")]).toEqual([
      "foreign_key_violation",
      "integrity_constraint_violation",
      "unknown condition",
    ]);
    const transport = Object.assign(new Error("Error connecting to database: fetch failed"), { name: "NeonDbError" });
    expect(describeCause(new Error("wrapped", { cause: transport }))).toBe(
      "database unreachable: Error connecting to database: fetch failed",
    );
  });

  it("says what WB did, in WB's words, with the request", () => {
    const request = "GET /api/v1/supplier/sales";
    expect(describeCause(new WbAuthError("x", 403, { request, reason: "forbidden: scope" }))).toBe(
      "WB rejected the token (403): forbidden: scope [GET /api/v1/supplier/sales]",
    );
    expect(describeCause(new WbUnavailableError("x", 0, { request, reason: "timed out after 60000 ms" }))).toBe(
      "WB unreachable: timed out after 60000 ms [GET /api/v1/supplier/sales]",
    );
    expect(describeCause(new WbResponseError("x", 404, { request }))).toBe("WB answered unexpectedly (404) [GET /api/v1/supplier/sales]");
    expect(describeCause(new TypeError("boom"))).toBe("TypeError: boom");
  });

  it("never quotes drizzle's query wrapper: its message is the SQL and the parameters", () => {
    const wrapper = new DrizzleQueryError("select * from wb_tokens where token = $1", ["secret-token"]);
    expect(describeCause(new Error("reading the token", { cause: wrapper }))).toBe("Error: reading the token");
  });
});
