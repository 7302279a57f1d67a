/**
 * Access control of every route, read from the route declarations (`x-access` of each
 * `createRoute`), whose set equals what the router routes (so a route added without a
 * declaration fails here), every `token` route refuses every kind
 * of missing, malformed or forged credential with 401 + `WWW-Authenticate`, a role or API key
 * scope outside its policy with 403, and another org's resources with 404; lists show only the
 * caller's org. QStash consumers refuse unsigned deliveries, public routes need no credential.
 */
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/core/app";
import { apiKeys, deadLetters, type Role } from "../../src/core/db/schema";
import { routeGroups } from "../../src/routes/registry";
import { app } from "../../src/workers/all";
import { addMember, api, createTenant, db, problem, type Tenant, testEnv } from "./helpers";
import {
  expectProblem,
  expectUnauthorized,
  fillPath,
  invalidCredentials,
  policyOf,
  type RouteEntry,
  rolesOutside,
  routerPairs,
  routeTable,
  seedApiKey,
  seedDeadLetter,
  seedJob,
  seedMarketplace,
  unknownSrid,
} from "./security-support";
import { publicJobUrl, signQStash } from "./sync-support";
import { postUpdate, seedTelegramBot } from "./telegram-support";
import { chatsSignature, deliver, newPathSecret, newWhsec, seedIntegration, standardEvent, standardHeaders } from "./webhooks-support";

const routes = routeTable(app);
const ofKind = (kind: string) => routes.filter((r) => policyOf(r).kind === kind);
const tokenRoutes = ofKind("token");
const label = (r: RouteEntry) => `${r.method} ${r.path}`;
/** A request to `route` (path parameters filled) with an `Authorization` value. */
const call = (route: RouteEntry, authorization: string | undefined, path = fillPath(route.path)) =>
  api(path, { method: route.method, headers: authorization === undefined ? {} : { Authorization: authorization } });

describe("route table", () => {
  it("routes exactly the declared operations: the router's (method, path) pairs equal the spec's", () => {
    const byKind = new Map<string, number>();
    for (const r of routes) byKind.set(policyOf(r).kind, (byKind.get(policyOf(r).kind) ?? 0) + 1);
    console.log(`security: ${routes.length} routes — ${[...byKind].map(([kind, n]) => `${kind} ${n}`).join(", ")}`);
    expect(routes.length).toBeGreaterThanOrEqual(24);
    expect(routerPairs(app)).toEqual(routes.map((r) => `${r.method} ${r.path}`).sort());
  });

  it("would catch a route added to the router without a declaration", () => {
    const probe = createApp("probe", routeGroups);
    probe.get("/naked", (c) => c.text("open"));
    const declared = routeTable(probe).map((r) => `${r.method} ${r.path}`);
    expect(routerPairs(probe).filter((pair) => !declared.includes(pair))).toEqual(["GET /naked"]);
  });

  it("knows every kind of policy it meets", () => {
    expect(new Set(routes.map((r) => policyOf(r).kind))).toEqual(
      new Set(["public", "token", "qstash", "admin-token", "metrics-token", "webhook", "telegram"]),
    );
  });
});

describe.each(tokenRoutes.map((r) => ({ route: r, name: label(r) })))("$name (token)", ({ route }) => {
  const policy = policyOf(route);
  if (policy.kind !== "token") throw new Error("not a token route");
  let tenant: Tenant & { role: Role };

  beforeAll(async () => {
    const role = policy.roles[0];
    if (!role) throw new Error(`${label(route)} allows no role`);
    tenant = { ...(await createTenant({ role })), role };
  });

  it("lets an allowed role through (the control of the cases below)", async () => {
    const res = await call(route, `Bearer ${tenant.token}`);
    expect([401, 403], `${label(route)} as ${tenant.role}: ${res.status}`).not.toContain(res.status);
  });

  it("refuses missing, malformed and forged credentials with 401 + WWW-Authenticate", async () => {
    const cases = await invalidCredentials(tenant);
    const answers = await Promise.all(cases.map(async (c) => ({ c, res: await call(route, c.authorization) })));
    for (const { c, res } of answers) await expectUnauthorized(res, `${label(route)}: ${c.name}`);
  });

  it("refuses a revoked API key with 401", async () => {
    const scopes = policy.scopes.length > 0 ? [...policy.scopes] : (["dashboard:read"] as const);
    const key = await seedApiKey(tenant.orgId, [...scopes]);
    await db().update(apiKeys).set({ revokedAt: new Date().toISOString() }).where(eq(apiKeys.id, key.id));
    await expectUnauthorized(await call(route, `Bearer ${key.key}`), `${label(route)}: revoked key`);
  });

  const outside = rolesOutside(policy);
  it.runIf(outside.length > 0)(`refuses a role outside ${policy.roles.join("/")} with 403 (${outside.join(", ")})`, async () => {
    for (const role of outside) {
      const token = await addMember(tenant.orgId, role);
      await expectProblem(await call(route, `Bearer ${token}`), 403, `${label(route)} as ${role}`);
    }
  });

  it(`refuses an API key without ${policy.scopes.join(" or ") || "a user token"} with 403 and admits one with it`, async () => {
    const others = (["dashboard:read", "sync:read", "sync:write"] as const).filter((s) => !policy.scopes.includes(s));
    if (others.length > 0) {
      const key = await seedApiKey(tenant.orgId, [...others]);
      await expectProblem(await call(route, `Bearer ${key.key}`), 403, `${label(route)}: key with ${others.join(",")}`);
    }
    for (const scope of policy.scopes) {
      const key = await seedApiKey(tenant.orgId, [scope]);
      const res = await call(route, `Bearer ${key.key}`);
      expect([401, 403], `${label(route)}: key with ${scope}`).not.toContain(res.status);
    }
  });
});

describe("tenant isolation", () => {
  let a: Tenant;
  let b: Tenant;
  let seededA: Awaited<ReturnType<typeof seedMarketplace>>;
  let seededB: Awaited<ReturnType<typeof seedMarketplace>>;
  const ids = {
    a: { jobs: [] as string[], letters: [] as string[], keys: [] as string[] },
    b: { jobs: [] as string[], letters: [] as string[], keys: [] as string[] },
  };

  beforeAll(async () => {
    [a, b] = await Promise.all([createTenant({ role: "owner" }), createTenant({ role: "owner" })]);
    const tag = crypto.randomUUID().slice(0, 6);
    [seededA, seededB] = await Promise.all([seedMarketplace(a.orgId, `A${tag}`), seedMarketplace(b.orgId, `B${tag}`)]);
    for (const [tenant, bag] of [
      [a, ids.a],
      [b, ids.b],
    ] as const) {
      bag.jobs.push(await seedJob(tenant.orgId));
      const letter = await seedDeadLetter(tenant.orgId);
      bag.letters.push(letter.id);
      bag.jobs.push(letter.jobId);
      bag.keys.push((await seedApiKey(tenant.orgId, ["dashboard:read"])).id);
    }
  });

  /** GET `path` as `tenant`, expecting 200 JSON. */
  async function read<T>(path: string, tenant: Tenant): Promise<T> {
    const res = await api(path, { token: tenant.token });
    if (res.status !== 200) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  }

  it("answers another org's order with the same 404 as an unknown srid", async () => {
    expect((await api(`/api/v1/orders/${seededB.srid}`, { token: b.token })).status).toBe(200);
    const foreign = await api(`/api/v1/orders/${seededB.srid}`, { token: a.token });
    const unknown = await api(`/api/v1/orders/${unknownSrid}`, { token: a.token });
    expect([foreign.status, unknown.status]).toEqual([404, 404]);
    const [f, u] = [await problem(foreign), await problem(unknown)];
    expect({ title: f.title, detail: f.detail, type: f.type }).toEqual({ title: u.title, detail: u.detail, type: u.type });
  });

  it("answers a replay of another org's dead letter with 404 and leaves it untouched", async () => {
    const [theirs] = ids.b.letters;
    const foreign = await api(`/api/v1/admin/dead-letters/${theirs}/replay`, { method: "POST", token: a.token });
    const unknown = await api(`/api/v1/admin/dead-letters/${crypto.randomUUID()}/replay`, { method: "POST", token: a.token });
    expect([foreign.status, unknown.status]).toEqual([404, 404]);
    expect((await problem(foreign)).detail).toBe((await problem(unknown)).detail);
    const [row] = await db()
      .select()
      .from(deadLetters)
      .where(eq(deadLetters.id, theirs as string));
    expect(row?.replayedAt).toBeNull();
  });

  it("answers a revocation of another org's API key with 404 and leaves it working", async () => {
    const [theirs] = ids.b.keys;
    const foreign = await api(`/api/v1/auth/api-keys/${theirs}`, { method: "DELETE", token: a.token });
    const unknown = await api(`/api/v1/auth/api-keys/${crypto.randomUUID()}`, { method: "DELETE", token: a.token });
    expect([foreign.status, unknown.status]).toEqual([404, 404]);
    expect((await problem(foreign)).detail).toBe((await problem(unknown)).detail);
    const [row] = await db()
      .select()
      .from(apiKeys)
      .where(eq(apiKeys.id, theirs as string));
    expect(row?.revokedAt).toBeNull();
  });

  it("lists only the caller's sync jobs, dead letters and API keys", async () => {
    for (const [me, mine, theirs] of [
      [a, ids.a, ids.b],
      [b, ids.b, ids.a],
    ] as const) {
      const status = await read<{ jobs: { id: string }[] }>("/api/v1/sync/status", me);
      expect(status.jobs.map((j) => j.id).sort()).toEqual([...mine.jobs].sort());
      const letters = await read<{ deadLetters: { id: string }[] }>("/api/v1/admin/dead-letters", me);
      expect(letters.deadLetters.map((l) => l.id)).toEqual(mine.letters);
      const keys = await read<{ items: { id: string }[] }>("/api/v1/auth/api-keys", me);
      expect(keys.items.map((k) => k.id)).toEqual(mine.keys);
      const seen = JSON.stringify([status, letters, keys]);
      for (const id of [...theirs.jobs, ...theirs.letters, ...theirs.keys]) expect(seen).not.toContain(id);
    }
  });

  it("lists only the caller's stocks, warehouses, sizes and orders", async () => {
    for (const [me, mine, theirs] of [
      [a, seededA, seededB],
      [b, seededB, seededA],
    ] as const) {
      const stocks = await read<{ items: { nmId: number }[]; total: number; filters: { warehouses: string[]; sizes: string[] } }>(
        "/api/v1/stocks",
        me,
      );
      expect(stocks.items.map((s) => s.nmId)).toEqual([mine.nmId]);
      expect(stocks.filters).toEqual({ warehouses: [mine.warehouse], sizes: [mine.size] });
      const warehouses = await read<{ items: { name: string }[] }>("/api/v1/warehouses", me);
      expect(warehouses.items.map((w) => w.name)).toEqual([mine.warehouse]);
      const sizes = await read<{ items: string[] }>("/api/v1/sizes", me);
      expect(sizes.items).toEqual([mine.size]);
      const recent = await read<{ items: { srid: string }[]; total: number }>("/api/v1/orders/recent", me);
      expect(recent.items.map((o) => o.srid)).toEqual([mine.srid]);
      // Searching for the other org's product by its nmId finds nothing.
      const search = await read<{ total: number }>(`/api/v1/stocks?q=${theirs.nmId}`, me);
      expect(search.total).toBe(0);
    }
  });

  it("takes the org from the token only, never from a header or the query", async () => {
    const res = await api("/api/v1/sync/status", { token: a.token, headers: { "X-Org-Id": b.orgId, "X-Tenant-Id": b.orgId } });
    const status = (await res.json()) as { jobs: { id: string }[] };
    expect(status.jobs.map((j) => j.id).sort()).toEqual([...ids.a.jobs].sort());
    expect((await api(`/api/v1/stocks?orgId=${b.orgId}`, { token: a.token })).status).toBe(400);
  });
});

describe.each(ofKind("qstash").map((r) => ({ route: r, name: label(r) })))("$name (qstash)", ({ route }) => {
  it("refuses a delivery without a valid Upstash-Signature with 401", async () => {
    const body = JSON.stringify({ jobId: crypto.randomUUID() });
    const owner = await createTenant();
    const url = publicJobUrl(route.path);
    const cases: Record<string, Record<string, string>> = {
      "no signature": {},
      "empty signature": { "Upstash-Signature": "" },
      garbage: { "Upstash-Signature": "not-a-jwt" },
      "signed with a foreign key": { "Upstash-Signature": await signQStash(body, url, { key: "sig_foreign_key_000000" }) },
      "signed for another body": { "Upstash-Signature": await signQStash(`${body} `, url) },
      "signed for another path": { "Upstash-Signature": await signQStash(body, publicJobUrl("/jobs/elsewhere")) },
      "a user's access token instead": { Authorization: `Bearer ${owner.token}` },
    };
    for (const [name, headers] of Object.entries(cases)) {
      const res = await api(route.path, { method: route.method, body, headers: { "Content-Type": "application/json", ...headers } });
      await expectProblem(res, 401, `${label(route)}: ${name}`);
    }
  });

  it("admits a valid signature (the control)", async () => {
    const body = JSON.stringify({ jobId: crypto.randomUUID() });
    const res = await api(route.path, {
      method: route.method,
      body,
      headers: { "Content-Type": "application/json", "Upstash-Signature": await signQStash(body, publicJobUrl(route.path)) },
    });
    expect(res.status, label(route)).not.toBe(401);
  });
});

describe.each(ofKind("webhook").map((r) => ({ route: r, name: label(r) })))("$name (webhook)", ({ route }) => {
  const policy = policyOf(route);
  if (policy.kind !== "webhook") throw new Error("not a webhook route");

  it("refuses an unsigned or forged delivery to a real integration with 401, an unknown integration with 404", async () => {
    const chatsSecret = newPathSecret();
    const integration = await seedIntegration(policy.scheme === "standard-webhooks" ? "standard-webhooks" : "kommo", { chatsSecret });
    const owner = await createTenant();
    const body = policy.scheme === "kommo" ? "account[subdomain]=acme" : standardEvent();
    const contentType = policy.scheme === "kommo" ? "application/x-www-form-urlencoded" : "application/json";
    const path = (id: string, secret: string) => fillPath(route.path, { integrationId: id, pathSecret: secret });
    const cases: Record<string, [string, Record<string, string>]> = {
      "no credential": [path(integration.id, newPathSecret()), {}],
      "a user's access token instead": [path(integration.id, newPathSecret()), { Authorization: `Bearer ${owner.token}` }],
      "a signature made with another secret": [
        path(integration.id, newPathSecret()),
        { ...standardHeaders(newWhsec(), body), "X-Signature": await chatsSignature(newPathSecret(), body) },
      ],
    };
    for (const [name, [url, headers]] of Object.entries(cases)) {
      const res = await deliver(url, body, { contentType, headers });
      expect((await problem(res.clone())).detail, `${label(route)}: ${name}`).toBe("Invalid webhook signature.");
      await expectProblem(res, 401, `${label(route)}: ${name}`);
    }
    await expectProblem(
      await deliver(path(crypto.randomUUID(), integration.secret), body, { contentType }),
      404,
      `${label(route)}: unknown`,
    );
  });
});

describe.each(ofKind("telegram").map((r) => ({ route: r, name: label(r) })))("$name (telegram)", ({ route }) => {
  const policy = policyOf(route);
  if (policy.kind !== "telegram") throw new Error("not a telegram route");

  it("refuses a missing or wrong secret token with 401, an unknown bot or another purpose's bot with 404", async () => {
    const bot = await seedTelegramBot(policy.purpose);
    const owner = await createTenant();
    const update = { update_id: 1, message: { message_id: 1, date: 1, chat: { id: 1, type: "private" }, text: "hi" } };
    const refused: [string, Response][] = [
      ["no secret token", await postUpdate(bot, update, null)],
      ["an empty secret token", await postUpdate(bot, update, "")],
      ["a wrong secret token", await postUpdate(bot, update, `${bot.secret.slice(0, -1)}x`)],
      [
        "a user's access token instead",
        await api(fillPath(route.path, { botId: bot.id }), { method: "POST", json: update, token: owner.token }),
      ],
    ];
    for (const [name, res] of refused) {
      expect((await problem(res.clone())).detail, `${label(route)}: ${name}`).toBe("Invalid secret token.");
      await expectProblem(res, 401, `${label(route)}: ${name}`);
    }
    await expectProblem(await postUpdate({ ...bot, id: crypto.randomUUID() }, update, bot.secret), 404, `${label(route)}: unknown bot`);
    const other = await seedTelegramBot(policy.purpose === "helpdesk" ? "assistant" : "helpdesk");
    await expectProblem(
      await postUpdate({ ...other, purpose: policy.purpose }, update, other.secret),
      404,
      `${label(route)}: another purpose`,
    );
    // The control: the right secret gets past the guard (an invalid body is then a 400, nothing stored).
    await expectProblem(await postUpdate(bot, { update_id: 0 }, bot.secret), 400, `${label(route)}: the right secret`);
  });
});

describe.each(ofKind("admin-token").map((r) => ({ route: r, name: label(r) })))("$name (admin-token)", ({ route }) => {
  it("refuses no token with 401 and any other bearer (a user's, a near miss) with 403", async () => {
    const none = await call(route, undefined);
    await expectProblem(none, 401, "no token");
    expect(none.headers.get("WWW-Authenticate")).toContain("Bearer");
    const owner = await createTenant();
    const admin = testEnv.ADMIN_REGISTRATION_TOKEN as string;
    for (const [name, authorization] of [
      ["an owner's access token", `Bearer ${owner.token}`],
      ["the token with one character changed", `Bearer ${admin.slice(0, -1)}${admin.endsWith("x") ? "y" : "x"}`],
      ["a prefix of the token", `Bearer ${admin.slice(0, 16)}`],
    ] as const) {
      await expectProblem(await call(route, authorization), 403, `${label(route)}: ${name}`);
    }
    expect((await call(route, `Basic ${btoa(`admin:${admin}`)}`)).status).toBe(401);
  });
});

describe.each(ofKind("metrics-token").map((r) => ({ route: r, name: label(r) })))("$name (metrics-token)", ({ route }) => {
  it("refuses no token with 401, any other bearer (a user's, the operator's, a near miss) with 403, and admits METRICS_TOKEN", async () => {
    const none = await call(route, undefined);
    await expectProblem(none, 401, "no token");
    expect(none.headers.get("WWW-Authenticate")).toContain("Bearer");
    const owner = await createTenant();
    const token = testEnv.METRICS_TOKEN as string;
    for (const [name, authorization] of [
      ["an owner's access token", `Bearer ${owner.token}`],
      ["the registration token", `Bearer ${testEnv.ADMIN_REGISTRATION_TOKEN}`],
      ["the token with one character changed", `Bearer ${token.slice(0, -1)}${token.endsWith("x") ? "y" : "x"}`],
      ["a prefix of the token", `Bearer ${token.slice(0, 16)}`],
    ] as const) {
      await expectProblem(await call(route, authorization), 403, `${label(route)}: ${name}`);
    }
    expect((await call(route, `Basic ${btoa(`metrics:${token}`)}`)).status).toBe(401);
    const ok = await call(route, `Bearer ${token}`);
    expect(ok.status).toBe(200);
    expect(ok.headers.get("Content-Type")).toBe("text/plain; version=0.0.4; charset=utf-8");
  });
});

describe.each(ofKind("public").map((r) => ({ route: r, name: label(r) })))("$name (public)", ({ route }) => {
  it("is reachable without a credential", async () => {
    const init = route.method === "GET" ? {} : { json: {}, headers: { "CF-Connecting-IP": `10.99.${Math.floor(Math.random() * 255)}.1` } };
    const res = await api(fillPath(route.path), { method: route.method, ...init });
    expect([401, 403], `${label(route)}: ${res.status}`).not.toContain(res.status);
    expect(res.headers.get("WWW-Authenticate")).toBeNull();
    // The Kommo OAuth callback's credential is its single-use `state`: without one it is a 400, past any auth.
    if (route.method === "GET") expect(res.status).toBe(route.path.endsWith("/kommo/oauth/callback") ? 400 : 200);
    else expect(res.status, "an empty body is a validation error, past any auth").toBe(400);
  });
});
