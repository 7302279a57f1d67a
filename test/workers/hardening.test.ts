/**
 * HTTP hardening of the app as a whole: CORS for the configured origins only, secure headers
 * and a request id on every kind of answer, the 1 MiB body cap, rate-limit answers and their
 * fields, rate limiting failing closed in production when Redis is down (and open elsewhere),
 * strict inputs on write routes (no mass assignment, no unknown query parameters), and
 * hostile request ids being replaced.
 */
import { eq } from "drizzle-orm";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { MAX_BODY_BYTES } from "../../src/core/app";
import { apiKeys } from "../../src/core/db/schema";
import { app } from "../../src/workers/all";
import { api, awaitRoomInMinute, createTenant, db, problem, registerWbToken, type Tenant, testEnv } from "./helpers";
import { expectProblem, fillPath, policyOf, type RouteEntry, request, routeTable, workerFetch } from "./security-support";
import { publicJobUrl, signQStash } from "./sync-support";

const allowedOrigin = "http://localhost:5173";
const freshIp = () => `10.77.${Math.floor(Math.random() * 256)}.${Math.floor(Math.random() * 256)}`;

describe("CORS", () => {
  it("the stack allows the dashboard's dev origin", () => {
    expect((testEnv.CORS_ORIGINS ?? "").split(",")).toContain(allowedOrigin);
  });

  it("echoes an allowed origin with credentials and Vary: Origin, on success and on error", async () => {
    for (const res of [
      await api("/health", { headers: { Origin: allowedOrigin } }),
      await api("/api/v1/sizes", { headers: { Origin: allowedOrigin } }),
    ]) {
      expect(res.headers.get("Access-Control-Allow-Origin")).toBe(allowedOrigin);
      expect(res.headers.get("Access-Control-Allow-Credentials")).toBe("true");
      expect(res.headers.get("Vary") ?? "").toMatch(/\bOrigin\b/);
      expect(res.headers.get("Access-Control-Expose-Headers") ?? "").toContain("X-Request-Id");
    }
  });

  it("gives a disallowed origin no Access-Control-Allow-Origin", async () => {
    for (const origin of [
      "https://evil.example",
      "http://localhost:5174",
      "null",
      `${allowedOrigin}.evil.example`,
      "http://LOCALHOST:5173",
    ]) {
      const res = await api("/health", { headers: { Origin: origin } });
      expect(res.status).toBe(200);
      expect(res.headers.get("Access-Control-Allow-Origin"), origin).toBeNull();
    }
  });

  it("answers a preflight with 204 and Access-Control-Max-Age, and never `*` with credentials", async () => {
    const preflight = await api("/api/v1/sync/wildberries", {
      method: "OPTIONS",
      headers: {
        Origin: allowedOrigin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Authorization, Content-Type",
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("Access-Control-Allow-Origin")).toBe(allowedOrigin);
    expect(preflight.headers.get("Access-Control-Allow-Credentials")).toBe("true");
    expect(Number(preflight.headers.get("Access-Control-Max-Age"))).toBeGreaterThan(0);
    expect(preflight.headers.get("Access-Control-Allow-Methods")).toContain("POST");
    expect((preflight.headers.get("Access-Control-Allow-Headers") ?? "").toLowerCase()).toContain("authorization");

    const foreign = await api("/api/v1/sync/wildberries", {
      method: "OPTIONS",
      headers: { Origin: "https://evil.example", "Access-Control-Request-Method": "POST" },
    });
    expect(foreign.headers.get("Access-Control-Allow-Origin")).toBeNull();
    for (const res of [preflight, foreign]) {
      const credentials = res.headers.get("Access-Control-Allow-Credentials") === "true";
      expect(credentials && res.headers.get("Access-Control-Allow-Origin") === "*").toBe(false);
    }
  });
});

describe("every kind of answer", () => {
  let tenant: Tenant;
  beforeAll(async () => {
    tenant = await createTenant({ role: "analyst" });
  });

  /** One response of each status the app produces, keyed by the status. */
  async function answers(): Promise<Map<number, Response>> {
    const limited = { RATE_LIMIT_PER_MINUTE: "3" };
    const me = await createTenant({ role: "analyst" });
    let tooMany: Response | undefined;
    for (let i = 0; i < 5 && !tooMany; i++) {
      const res = await workerFetch(request("/api/v1/sync/status", { token: me.token }), limited);
      if (res.status === 429) tooMany = res;
    }
    if (!tooMany) throw new Error("no 429 within 5 requests at a limit of 3");
    return new Map([
      [200, await api("/api/v1/sizes", { token: tenant.token })],
      [
        204,
        await api("/api/v1/auth/logout", {
          method: "POST",
          json: { refreshToken: "rt_unknown" },
          headers: { "CF-Connecting-IP": freshIp() },
        }),
      ],
      [400, await api("/api/v1/stocks?limit=0", { token: tenant.token })],
      [401, await api("/api/v1/sizes")],
      [403, await api("/api/v1/admin/dead-letters", { token: tenant.token })],
      [404, await api("/nope")],
      [405, await api("/health", { method: "DELETE" })],
      [413, await api("/api/v1/auth/login", { method: "POST", body: "x".repeat(MAX_BODY_BYTES + 1) })],
      [429, tooMany],
    ]);
  }

  it("carries HSTS, nosniff, X-Frame-Options DENY, Referrer-Policy, CSP and X-Request-Id", async () => {
    for (const [status, res] of await answers()) {
      expect(res.status).toBe(status);
      const h = (name: string) => res.headers.get(name);
      expect(h("Strict-Transport-Security"), `${status}`).toMatch(/max-age=\d{8,}; includeSubDomains/);
      expect(h("X-Content-Type-Options"), `${status}`).toBe("nosniff");
      expect(h("X-Frame-Options"), `${status}`).toBe("DENY");
      expect(h("Referrer-Policy"), `${status}`).toBe("no-referrer");
      expect(h("Content-Security-Policy"), `${status}`).toContain("default-src 'none'");
      expect(h("Content-Security-Policy"), `${status}`).toContain("frame-ancestors 'none'");
      expect(h("X-Powered-By"), `${status}`).toBeNull();
      expect(h("X-Request-Id"), `${status}`).toMatch(/^[0-9a-f-]{36}$/);
      if (status >= 400) expect((await problem(res)).requestId).toBe(h("X-Request-Id"));
    }
  });
});

describe("body limit", () => {
  const loginBody = (bytes: number) => {
    const head = '{"email":"a@example.test","password":"';
    return `${head}${"p".repeat(bytes - head.length - 2)}"}`;
  };

  it("answers a body over 1 MiB with a 413 problem, by Content-Length", async () => {
    const body = loginBody(MAX_BODY_BYTES + 1);
    expect(new TextEncoder().encode(body).length).toBe(MAX_BODY_BYTES + 1);
    const res = await api("/api/v1/auth/login", { method: "POST", body, headers: { "Content-Type": "application/json" } });
    await expectProblem(res, 413, "over the cap");
    expect((await problem(await api("/api/v1/auth/login", { method: "POST", body }))).detail).toContain(String(MAX_BODY_BYTES));
  });

  it("answers a streamed body over 1 MiB (no Content-Length) with 413, before any auth", async () => {
    const chunk = new Uint8Array(64 * 1024).fill(0x61);
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent > MAX_BODY_BYTES + chunk.length) return controller.close();
        sent += chunk.length;
        controller.enqueue(chunk);
      },
    });
    const res = await api("/api/v1/auth/api-keys", { method: "POST", body: stream, headers: { "Content-Type": "application/json" } });
    await expectProblem(res, 413, "streamed");
  });

  it("accepts exactly 1 MiB (then the body is judged on its merits)", async () => {
    const body = loginBody(MAX_BODY_BYTES);
    const res = await api("/api/v1/auth/login", {
      method: "POST",
      body,
      headers: { "Content-Type": "application/json", "CF-Connecting-IP": freshIp() },
    });
    await expectProblem(res, 400, "password over its maximum");
  });
});

describe("rate limit", () => {
  it("keeps one bucket per route group and applies RATE_LIMIT_OVERRIDES per group", async () => {
    const tenant = await createTenant({ role: "analyst" });
    const overrides = { RATE_LIMIT_OVERRIDES: JSON.stringify({ "jobs-read": 2 }) };
    const jobs: number[] = [];
    await awaitRoomInMinute(); // the requests in one minute of the sliding window
    for (let i = 0; i < 3; i++) jobs.push((await workerFetch(request("/api/v1/sync/status", { token: tenant.token }), overrides)).status);
    expect(jobs).toEqual([200, 200, 429]);
    // The same user's dashboard reads draw on the dashboard bucket, at the default limit.
    const dashboard = await workerFetch(request("/api/v1/warehouses", { token: tenant.token }), overrides);
    expect(dashboard.status).toBe(200);
    expect(dashboard.headers.get("RateLimit-Policy")).toBe('"dashboard-read";q=120;w=60');
  });

  it("refuses a malformed RATE_LIMIT_OVERRIDES loudly", async () => {
    const res = await workerFetch(request("/health"), { RATE_LIMIT_OVERRIDES: '{"everything": 5}' });
    expect(res.status).toBe(500);
  });

  it("answers 429 problem+json with Retry-After, RateLimit and RateLimit-Policy once the limit is used up", async () => {
    const tenant = await createTenant({ role: "analyst" });
    const statuses: number[] = [];
    let last: Response | undefined;
    await awaitRoomInMinute(); // the requests in one minute of the sliding window
    for (let i = 0; i < 4; i++) {
      last = await workerFetch(request("/api/v1/sync/status", { token: tenant.token }), { RATE_LIMIT_PER_MINUTE: "3" });
      statuses.push(last.status);
      if (i < 3) {
        expect(last.headers.get("RateLimit-Policy")).toBe('"jobs-read";q=3;w=60');
        expect(last.headers.get("RateLimit")).toMatch(new RegExp(`^"jobs-read";r=${2 - i};t=\\d+$`));
      }
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
    if (!last) throw new Error("no answer");
    await expectProblem(last, 429, "over the limit");
    expect(Number(last.headers.get("Retry-After"))).toBeGreaterThanOrEqual(1);
    expect(Number(last.headers.get("Retry-After"))).toBeLessThanOrEqual(60);
    expect(last.headers.get("RateLimit")).toMatch(/^"jobs-read";r=0;t=\d+$/);
    expect(last.headers.get("RateLimit-Policy")).toBe('"jobs-read";q=3;w=60');
  });

  it("limits cached dashboard reads too (the limit is checked before the cache answers)", async () => {
    const tenant = await createTenant({ role: "analyst" });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await workerFetch(request("/api/v1/sizes", { token: tenant.token }), { RATE_LIMIT_PER_MINUTE: "3" });
      statuses.push(res.status);
      if (res.status === 429) expect(res.headers.get("Retry-After")).toMatch(/^\d+$/);
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
  });
});

describe("Redis down", () => {
  const down = { UPSTASH_REDIS_REST_URL: "http://127.0.0.1:9" };
  let logs: string[];
  beforeAll(() => {
    logs = [];
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });
  const captureLogs = () => {
    logs = [];
    vi.spyOn(console, "log").mockImplementation((line: unknown) => {
      logs.push(String(line));
    });
  };

  it("in production, fails closed on login and writes (503 + Retry-After) and still answers cached reads from Postgres", async () => {
    const production = { ...down, ENVIRONMENT: "production" };
    const tenant = await createTenant({ role: "owner" });
    const login = await workerFetch(
      request("/api/v1/auth/login", {
        method: "POST",
        json: { email: tenant.email, password: tenant.password },
        headers: { "CF-Connecting-IP": freshIp() },
      }),
      production,
    );
    await expectProblem(login, 503, "login");
    expect(Number(login.headers.get("Retry-After"))).toBeGreaterThan(0);

    const write = await workerFetch(request("/api/v1/sync/wildberries", { method: "POST", token: tenant.token }), production);
    await expectProblem(write, 503, "write");
    expect(Number(write.headers.get("Retry-After"))).toBeGreaterThan(0);

    const read = await workerFetch(request("/api/v1/sizes", { token: tenant.token }), production);
    expect(read.status).toBe(200);
    expect(read.headers.get("X-Cache")).toBe("MISS");
    expect(await read.json()).toEqual({ items: [] });
  });

  it("in development, fails open on a write with a loud warning", async () => {
    captureLogs();
    const wbToken = await registerWbToken({ orders: 20, products: 3, days: 3 });
    const tenant = await createTenant({ role: "owner", wbToken });
    const write = await workerFetch(request("/api/v1/sync/wildberries", { method: "POST", token: tenant.token }), {
      ...down,
      ENVIRONMENT: "development",
    });
    expect(write.status).toBe(202);
    expect(logs.some((l) => l.includes('"level":"warn"') && l.includes("RATE LIMIT BYPASSED"))).toBe(true);
  });
});

const routes = routeTable(app);
const writeRoutes = routes.filter((r) => r.method !== "GET" && r.method !== "HEAD");

describe("strict inputs on write routes", () => {
  let owner: Tenant;
  let other: Tenant;
  beforeAll(async () => {
    [owner, other] = await Promise.all([createTenant({ role: "owner" }), createTenant({ role: "owner" })]);
  });

  /** Headers that get `route` past its access check: an owner's token, the admin token, a QStash signature (for `body`). */
  async function credentialFor(route: RouteEntry, body: string, token = owner.token): Promise<Record<string, string>> {
    const policy = policyOf(route);
    const ip = { "CF-Connecting-IP": freshIp() };
    if (policy.kind === "token") return { ...ip, Authorization: `Bearer ${token}` };
    if (policy.kind === "admin-token") return { ...ip, Authorization: `Bearer ${testEnv.ADMIN_REGISTRATION_TOKEN}` };
    if (policy.kind === "qstash") return { ...ip, "Upstash-Signature": await signQStash(body, publicJobUrl(route.path)) };
    return ip;
  }

  /** A body each write route accepts (or the empty body for routes that take none). */
  const validBody: Record<string, Record<string, unknown> | undefined> = {
    "POST /api/v1/auth/register": {
      email: `new-${crypto.randomUUID().slice(0, 8)}@example.test`,
      password: "violet-Quartz-harbor-42",
      orgName: "New org",
    },
    "POST /api/v1/auth/login": { email: "someone@example.test", password: "violet-Quartz-harbor-42" },
    "POST /api/v1/auth/refresh": { refreshToken: "rt_unknown" },
    "POST /api/v1/auth/logout": { refreshToken: "rt_unknown" },
    "POST /api/v1/auth/api-keys": { name: "bot", scopes: ["dashboard:read"] },
    "POST /jobs/wb-sync": { jobId: crypto.randomUUID() },
    "POST /jobs/failure-callback": { status: 500, sourceMessageId: "msg_x", url: "https://example.test/jobs/wb-sync" },
    "PUT /api/v1/integrations/wildberries": { token: "eyJhbGciOiJFUzI1NiJ9.eyJzIjozMn0.c2ln" },
    "DELETE /api/v1/integrations/wildberries": undefined,
    "POST /api/v1/integrations/crm": { provider: "standard-webhooks", name: "CRM" },
    "POST /api/v1/integrations/crm/:id/rotate-secret": undefined,
    "DELETE /api/v1/integrations/crm/:id": undefined,
    "POST /jobs/kommo-token-refresh": { jobId: crypto.randomUUID() },
    "POST /jobs/crm-event": { jobId: crypto.randomUUID() },
    "POST /api/v1/admin/jobs/:id/replay": undefined,
    "POST /api/v1/admin/jobs/:id/discard": undefined,
    "POST /jobs/helpdesk-update": { jobId: crypto.randomUUID() },
    "POST /jobs/helpdesk-notify": { jobId: crypto.randomUUID() },
    "POST /api/v1/helpdesk/bots": { token: "7000000001:AAEhBOweik6ad9r_QXMENQjcrGbqCr4K-sY" },
    "PATCH /api/v1/helpdesk/tickets/:id": { priority: "high" },
    "POST /api/v1/helpdesk/tickets/:id/messages": { text: "Hello" },
    "POST /api/v1/helpdesk/tickets/:id/read": {},
    "PUT /api/v1/helpdesk/settings": { categories: ["Order"], sla: { firstResponse: 60, resolution: 1440 } },
    "POST /jobs/assistant-reply": { jobId: crypto.randomUUID() },
    "POST /api/v1/assistant/bots": { token: "7000000002:AAEhardening-assistant-token" },
    "PUT /api/v1/assistant/settings": { systemPrompt: "Be brief.", maxHistoryMessages: 10 },
  };

  it("knows a body for every write route that takes one", () => {
    // A new write route must be added to `validBody` (with undefined when it takes no body).
    const known = new Set([
      ...Object.keys(validBody),
      "POST /api/v1/sync/wildberries",
      "DELETE /api/v1/auth/api-keys/:id",
      "POST /api/v1/admin/dead-letters/:id/replay",
      // Webhooks: the sender's bodies; their strict inputs are tested signed in webhooks.test.ts.
      "POST /webhooks/crm/:integrationId",
      "POST /webhooks/kommo/:integrationId/:pathSecret",
      "POST /webhooks/kommo-chats/:integrationId",
      // Telegram updates: the guard refuses them before the body without the bot's secret token (security.test.ts).
      ...writeRoutes.filter((r) => policyOf(r).kind === "telegram").map((r) => `${r.method} ${r.path}`),
    ]);
    expect(writeRoutes.map((r) => `${r.method} ${r.path}`).filter((k) => !known.has(k))).toEqual([]);
  });

  // A webhook's (or Telegram update's) body is the sender's event, stored as sent (its org is the integration's or bot's): no mass assignment.
  it.each(
    writeRoutes
      .filter((r) => policyOf(r).kind !== "qstash" && policyOf(r).kind !== "webhook" && policyOf(r).kind !== "telegram")
      .map((r) => ({ route: r, name: `${r.method} ${r.path}` })),
  )("$name refuses extra orgId, role or id in the body with 400 (mass assignment)", async ({ route }) => {
    const base = validBody[`${route.method} ${route.path}`] ?? {};
    for (const extra of [{ orgId: other.orgId }, { role: "owner" }, { id: crypto.randomUUID() }, { orgId: other.orgId, role: "owner" }]) {
      // `orgId` is part of the login contract (which membership to act in), checked against the user's memberships.
      if (route.path === "/api/v1/auth/login" && Object.keys(extra).join() === "orgId") continue;
      const body = JSON.stringify({ ...base, ...extra });
      const res = await api(fillPath(route.path), {
        method: route.method,
        body,
        headers: { "Content-Type": "application/json", ...(await credentialFor(route, body)) },
      });
      await expectProblem(res, 400, `${route.method} ${route.path} with ${JSON.stringify(extra)}`);
    }
    expect(await db().select().from(apiKeys).where(eq(apiKeys.orgId, other.orgId))).toEqual([]);
  });

  it("lets login's orgId select only the user's own memberships (403 for another org)", async () => {
    const res = await api("/api/v1/auth/login", {
      method: "POST",
      json: { email: owner.email, password: owner.password, orgId: other.orgId },
      headers: { "CF-Connecting-IP": freshIp() },
    });
    await expectProblem(res, 403, "login into another org");
  });

  // Webhook and Telegram routes verify a signature or secret of a seeded integration or bot first: webhooks.test.ts and
  // helpdesk.test.ts send them an unknown query.
  it.each(
    writeRoutes
      .filter((r) => policyOf(r).kind !== "webhook" && policyOf(r).kind !== "telegram")
      .map((r) => ({ route: r, name: `${r.method} ${r.path}` })),
  )("$name refuses unknown query parameters with 400", async ({ route }) => {
    const base = validBody[`${route.method} ${route.path}`];
    const body = base === undefined ? undefined : JSON.stringify(base);
    // A fresh owner per route: the owner shared by the other cases has spent much of its group's write allowance.
    const { token } = await createTenant({ role: "owner" });
    for (const query of ["?orgId=x", "?debug=1", "?role=owner&role=admin"]) {
      const res = await api(`${fillPath(route.path)}${query}`, {
        method: route.method,
        body,
        headers: { ...(body ? { "Content-Type": "application/json" } : {}), ...(await credentialFor(route, body ?? "", token)) },
      });
      expect(res.status, `${route.method} ${route.path}${query}`).toBe(400);
      expect((await problem(res)).detail ?? "").toMatch(/query/i);
    }
  });
});

describe("request id", () => {
  it("keeps a well-formed incoming X-Request-Id and echoes it in problems", async () => {
    const id = `trace-${crypto.randomUUID()}`;
    const res = await api("/api/v1/sizes", { headers: { "X-Request-Id": id } });
    expect(res.headers.get("X-Request-Id")).toBe(id);
    expect((await problem(res)).requestId).toBe(id);
  });

  it("replaces a hostile X-Request-Id", async () => {
    const hostile = [
      "x".repeat(500),
      'abc" injected="1',
      '{"level":"error","msg":"forged"}',
      "abc def\tghi",
      "ünïcödé-lätin1-id",
      "short",
      "<script>alert(1)</script>",
    ];
    for (const value of hostile) {
      const res = await api("/nope", { headers: { "X-Request-Id": value } });
      const id = res.headers.get("X-Request-Id");
      expect(id, value).toMatch(/^[0-9a-f-]{36}$/);
      expect((await problem(res)).requestId, value).toBe(id);
    }
    // Newlines cannot even be put on a request: the Fetch Headers API (and HTTP parsing) refuse them.
    expect(() => new Headers({ "X-Request-Id": "abc\r\nSet-Cookie: x=1" })).toThrow();
  });
});
