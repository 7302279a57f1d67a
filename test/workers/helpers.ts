/**
 * Shared helpers of the Workers tests (run inside workerd). They talk to the real local
 * stack through the production modules: no database or cache is mocked.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { vi } from "vitest";
import { createClient } from "../../src/client";
import { signAccessToken } from "../../src/core/auth/jwt";
import { hashPassword } from "../../src/core/auth/password";
import { encryptSecret } from "../../src/core/crypto";
import { createDatabase } from "../../src/core/db/client";
import { memberships, orgs, type Role, users, wbConnections } from "../../src/core/db/schema";
import { parseEnv } from "../../src/core/env";
import { app } from "../../src/workers/all";
import { checkContract } from "./contract";

/** The Worker under test: the default export of `src/workers/all.ts`, in this isolate. */
const worker = (exports as unknown as { default: Fetcher }).default;

/** The stack env as the Worker sees it (plus WORKER_URL of the HTTP instance). */
export const testEnv = env as unknown as Record<string, string>;
export const config = () => parseEnv(env);
export const db = () => createDatabase(config());

/** A tenant made for one test: org, user with `role`, optional WB connection, and a signed access token. */
export interface Tenant {
  orgId: string;
  userId: string;
  email: string;
  password: string;
  token: string;
}

/** Creates an org with one member. `wbToken` registers a Wildberries connection (encrypted). */
export async function createTenant(opts: { role?: Role; wbToken?: string; password?: string } = {}): Promise<Tenant> {
  const orgId = crypto.randomUUID();
  const userId = crypto.randomUUID();
  const email = `user-${userId.slice(0, 8)}@example.test`;
  const password = opts.password ?? "correct horse battery staple";
  const database = db();
  const queries = [
    database.insert(orgs).values({ id: orgId, name: `Org ${orgId.slice(0, 8)}` }),
    database.insert(users).values({ id: userId, email, passwordHash: await hashPassword(password, 1000) }),
    database.insert(memberships).values({ orgId, userId, role: opts.role ?? "owner" }),
  ] as const;
  if (opts.wbToken) {
    const tokenCiphertext = await encryptSecret(opts.wbToken, config().ENCRYPTION_KEY);
    await database.batch([...queries, database.insert(wbConnections).values({ orgId, tokenCiphertext })]);
  } else {
    await database.batch(queries);
  }
  const { token } = await signAccessToken(config(), { userId, orgId, role: opts.role ?? "owner" });
  return { orgId, userId, email, password, token };
}

/** Adds a member with `role` to an existing org and returns their token. */
export async function addMember(orgId: string, role: Role): Promise<string> {
  const userId = crypto.randomUUID();
  const database = db();
  await database.batch([
    database
      .insert(users)
      .values({ id: userId, email: `m-${userId.slice(0, 8)}@example.test`, passwordHash: await hashPassword("x".repeat(16), 1000) }),
    database.insert(memberships).values({ orgId, userId, role }),
  ]);
  return (await signAccessToken(config(), { userId, orgId, role })).token;
}

/** A fresh client address in the IPv6 documentation prefix (RFC 3849). */
export function testClientIp(): string {
  const group = () => Math.floor(Math.random() * 0x10000).toString(16);
  return `2001:db8::${group()}:${group()}:${group()}`;
}

/** Init of a test request: a bearer `token` and a `json` body on top of `RequestInit`. */
export type TestRequestInit = RequestInit & { token?: string; json?: unknown };

/** A request to the Worker (base `https://edge.test`) with an optional bearer token and JSON body. */
export function buildRequest(path: string, init: TestRequestInit = {}): Request {
  const headers = new Headers(init.headers);
  // Each request comes from its own client address (a documentation-range IPv6, never contacted)
  // unless the test names one: the per-IP limits then count only what a test means them to.
  if (!headers.has("CF-Connecting-IP")) headers.set("CF-Connecting-IP", testClientIp());
  if (init.token) headers.set("Authorization", `Bearer ${init.token}`);
  let body = init.body;
  if (init.json !== undefined) {
    headers.set("Content-Type", "application/json");
    body = JSON.stringify(init.json);
  }
  return new Request(`https://edge.test${path}`, { ...init, headers, body });
}

/**
 * Calls the Worker under test (in-process, through its default export) and checks the answer
 * against the route's declared contract (`checkContract`): an undeclared status or a body that
 * does not match the declared schema fails the test.
 */
export async function api(path: string, init: TestRequestInit = {}): Promise<Response> {
  const request = buildRequest(path, init);
  const res = await worker.fetch(request);
  await checkContract(request.method, request.url, res);
  return res;
}

/**
 * The typed client (`src/client.ts`) acting as `token`, calling the Worker under test in-process;
 * every answer is checked against the declared contract like `api()`'s.
 */
export function client(token?: string) {
  return createClient({
    baseUrl: "https://edge.test",
    accessToken: () => token,
    fetch: async (input, init) => {
      const request = new Request(input, init);
      const res = await worker.fetch(request);
      await checkContract(request.method, request.url, res);
      return res;
    },
  });
}

const envs = new Map<string, Record<string, string>>();
/** The test env with `overrides`, memoized by content (a stable object keeps `parseEnv` memoized). */
export function envWith(overrides: Record<string, string>): Record<string, string> {
  const key = JSON.stringify(Object.entries(overrides).sort());
  let env = envs.get(key);
  if (!env) {
    env = { ...testEnv, ...overrides };
    envs.set(key, env);
  }
  return env;
}

/**
 * Calls the Worker module in this isolate with the test env plus `overrides` (a limit of 3,
 * a dead Redis, `LOG_LEVEL: "info"`, …) and waits for its `waitUntil` work.
 */
export async function workerFetch(request: Request, overrides: Record<string, string> = {}): Promise<Response> {
  const ctx = createExecutionContext();
  const { method, url } = request;
  const res = await app.fetch(request, envWith(overrides), ctx);
  await waitOnExecutionContext(ctx);
  await checkContract(method, url, res);
  return res;
}

/** Captures the JSON log lines the Worker writes (`console.log`) in this isolate during `run`. */
export async function captureLogs(run: () => Promise<unknown>): Promise<{ raw: string; lines: Record<string, unknown>[] }> {
  const spy = vi.spyOn(console, "log");
  let raw: string;
  try {
    await run();
  } finally {
    // Read before restoring: `mockRestore` also clears the recorded calls.
    raw = spy.mock.calls.map((args) => args.map(String).join(" ")).join("\n");
    spy.mockRestore();
  }
  const lines = raw
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { raw, lines };
}

/** Request counters of a local-stack adapter (`/__stats`), for round-trip budgets (`byUser`: Neon only). */
export async function adapterStats(
  which: "neon" | "redis" | "wb" | "qstash",
): Promise<{ requests: number; byPath: Record<string, number>; byUser?: Record<string, number> }> {
  const res = await fetch(`${adapterUrl(which)}/__stats`);
  return res.json();
}

/**
 * Neon requests made by the Worker calls in `run`, which must pass on the env overrides it is given:
 * a connection string with a user name of its own, which the Neon adapter counts apart (`byUser`),
 * so job deliveries, retries and other background work of earlier tests never fall into the count.
 */
export async function neonRequestsDuring(run: (env: Record<string, string>) => Promise<unknown>): Promise<number> {
  const url = new URL(config().DATABASE_URL);
  url.username = `probe_${crypto.randomUUID().replaceAll("-", "")}`;
  await run({ DATABASE_URL: url.toString() });
  return (await adapterStats("neon")).byUser?.[url.username] ?? 0;
}

/**
 * Waits until at least `seconds` remain in the current wall-clock minute, so a burst of
 * requests counted per minute stays in one window: the failed authentications per IP, and the
 * per-minute limits of `@upstash/ratelimit`, whose sliding window weighs the previous minute's
 * count down (rounded down) and so lets a burst across a minute boundary pass one over the limit.
 */
export async function awaitRoomInMinute(seconds = 15): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < seconds * 1000) await new Promise((r) => setTimeout(r, left + 50));
}

/** Resets an adapter's request counters. */
export async function resetAdapterStats(which: "neon" | "redis" | "wb" | "qstash"): Promise<void> {
  await fetch(`${adapterUrl(which)}/__stats/reset`, { method: "POST" });
}

/** Base URL of a local-stack adapter. */
export function adapterUrl(which: "neon" | "redis" | "wb" | "qstash"): string {
  const byName = {
    neon: new URL(testEnv.NEON_FETCH_ENDPOINT as string).origin,
    redis: testEnv.UPSTASH_REDIS_REST_URL,
    wb: testEnv.WB_STATISTICS_API_URL,
    qstash: testEnv.QSTASH_URL,
  };
  return byName[which] as string;
}

/** Asserts the RFC 9457 shape and returns the body. */
export async function problem(res: Response): Promise<{
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance: string;
  requestId: string;
  errors?: { path: string; message: string }[];
}> {
  if (res.headers.get("Content-Type") !== "application/problem+json") {
    throw new Error(`expected problem+json, got ${res.headers.get("Content-Type")} (${res.status}): ${await res.text()}`);
  }
  return res.json();
}

/**
 * Has the WB double issue a token (JWT-shaped like WB's: `exp` 180 days on unless `expiresAt`, the
 * Statistics category unless `categories`) with its own generated data set; returns the token.
 */
export async function registerWbToken(
  options: {
    seed?: number;
    orders?: number;
    products?: number;
    days?: number;
    warehouses?: number;
    categories?: string[];
    expiresAt?: string;
  } = {},
): Promise<string> {
  const res = await fetch(`${adapterUrl("wb")}/__control/tokens`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(options),
  });
  if (!res.ok) throw new Error(`WB double refused the token: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
}

/**
 * Runs a full Wildberries sync of `tenant` end to end: `POST /api/v1/sync/wildberries`
 * enqueues a QStash job; the QStash emulator delivers it (signed) to the HTTP instance of
 * the Worker (`WORKER_URL`), which syncs. Resolves with the job row once it is finished.
 * @throws when the job ends `dead`/`failed` or does not finish within `timeoutMs`.
 */
export async function syncTenant(tenant: Tenant, timeoutMs = 240_000): Promise<{ id: string; status: string; lastError: string | null }> {
  const res = await api("/api/v1/sync/wildberries", { method: "POST", token: tenant.token });
  if (res.status !== 202) throw new Error(`sync enqueue failed: ${res.status} ${await res.text()}`);
  const { jobId } = (await res.json()) as { jobId: string };
  return waitForJob(jobId, timeoutMs);
}

/** Polls the jobs table until job `jobId` is `succeeded` (resolves) or `dead` (throws). */
export async function waitForJob(jobId: string, timeoutMs = 240_000): Promise<{ id: string; status: string; lastError: string | null }> {
  const { jobs } = await import("../../src/core/db/schema");
  const { eq } = await import("drizzle-orm");
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [job] = await db().select().from(jobs).where(eq(jobs.id, jobId));
    if (job?.status === "succeeded") return job;
    if (job?.status === "dead") throw new Error(`job ${jobId} is dead: ${job.lastError}`);
    if (Date.now() > deadline)
      throw new Error(`job ${jobId} did not finish in ${timeoutMs} ms (status ${job?.status}, error ${job?.lastError})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
