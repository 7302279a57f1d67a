/**
 * Property-based fuzz of EVERY route of the router (enumerated, grouped by family), in process.
 *
 * Each family gets at least 1,000 generated requests: malformed paths (path parameters with
 * unicode, `%00`, `../`, very long), queries (random and repeated keys, huge, negative, unicode
 * and empty values), headers (random `Authorization` values including valid-looking JWTs with
 * garbage, correctly signed tokens with garbage claims, random `Content-Type`), methods, and bodies
 * (random JSON, non-JSON, deep nesting, huge strings under the 1 MiB cap, arrays for objects,
 * route-shaped bodies with hostile values). Half the requests carry a valid credential of an
 * allowed role (an access token, the registration token, or a QStash signature of the exact
 * body), so validation and handlers are exercised past the access check.
 *
 * Properties: no 5xx; every non-2xx is `application/problem+json` whose `status` is the HTTP
 * status and whose `requestId` is the `X-Request-Id`; no body carries a stack trace, SQL or
 * driver text, a password hash or a server secret. Seeded, so a failure replays (fast-check
 * prints the seed and the path; the failing request is in the error message).
 */
import { eq } from "drizzle-orm";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { issueRefreshToken } from "../../src/core/auth/refresh-tokens";
import { apiKeys, deadLetters, type Role, roles } from "../../src/core/db/schema";
import { routeGroups } from "../../src/routes/registry";
import { app } from "../../src/workers/all";
import { addMember, api, createTenant, db, problem, type Tenant, testEnv } from "./helpers";
import {
  type Family,
  familyOf,
  policyOf,
  type RouteEntry,
  routeTable,
  seedApiKey,
  seedDeadLetter,
  seedMarketplace,
  signingKey,
  workerFetch,
} from "./security-support";
import { insertJob, publicJobUrl, signQStash } from "./sync-support";

/** Requests per family (at least), run in concurrent batches. */
const REQUESTS_PER_FAMILY = 2000;
const BATCH = 25;
/** Base seed of the run; each family adds its index. */
const SEED = 20_261_121;

/** Limits out of the way (Redis is up, so no fail-closed 503 either); only errors are logged. */
const fuzzEnv = {
  RATE_LIMIT_PER_MINUTE: "10000000",
  RATE_LIMIT_WRITE_PER_MINUTE: "10000000",
  LOGIN_RATE_LIMIT_PER_MINUTE: "10000000",
  LOGIN_LOCKOUT_THRESHOLD: "10000000",
  LOG_LEVEL: "error",
};

const routes = routeTable(app);
const families = new Map<Family, RouteEntry[]>();
for (const r of routes) families.set(familyOf(r), [...(families.get(familyOf(r)) ?? []), r]);

/** What the fuzz knows of the world: a tenant with every role, its rows and credentials. */
interface World {
  tenant: Tenant;
  tokens: Map<Role, string>;
  apiKey: string;
  srid: string;
  nmId: number;
  warehouse: string;
  size: string;
  deadLetterId: string;
  /** A key of the world's org that a fuzzed `DELETE /api-keys/{id}` may revoke. */
  spareKeyId: string;
  refreshToken: string;
}
let world: World;

beforeAll(async () => {
  const tenant = await createTenant({ role: "owner" });
  const tokens = new Map<Role, string>([["owner", tenant.token]]);
  for (const role of roles) if (role !== "owner") tokens.set(role, await addMember(tenant.orgId, role));
  const [seeded, letter, key, spare, refresh] = await Promise.all([
    seedMarketplace(tenant.orgId, `F${crypto.randomUUID().slice(0, 6)}`),
    seedDeadLetter(tenant.orgId),
    seedApiKey(tenant.orgId, ["dashboard:read", "sync:read", "sync:write"]),
    seedApiKey(tenant.orgId, ["sync:read"], "spare"),
    issueRefreshToken(db(), tenant.userId, tenant.orgId),
  ]);
  // Already replayed: a fuzzed replay reaches the handler and its query but publishes no job
  // (which would run in the background during later test files).
  await db().update(deadLetters).set({ replayedAt: new Date().toISOString() }).where(eq(deadLetters.id, letter.id));
  world = { tenant, tokens, apiKey: key.key, ...seeded, deadLetterId: letter.id, spareKeyId: spare.id, refreshToken: refresh.token };
});

// ---------------------------------------------------------------------------------------------
// Arbitraries. Everything async (signing) is described here and materialized per request.

/** Printable ASCII only: the Fetch Headers API refuses control characters. */
const headerSafe = (s: string) => s.replace(/[^\x20-\x7e]/g, "x");
/** UTF-8 bytes of `s` (lone surrogates become U+FFFD, where `encodeURIComponent` would throw). */
const utf8 = (s: string) => new TextEncoder().encode(s);
/** Percent-encodes every byte but the unreserved ones. */
const pct = (s: string) =>
  Array.from(utf8(s), (b) =>
    /[A-Za-z0-9\-._~]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, "0")}`,
  ).join("");
const base64 = (s: string) => btoa(Array.from(utf8(s), (b) => String.fromCharCode(b)).join(""));
const b64url = (s: string) => base64(s).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");

/** Strings meant to break things: NUL, lone surrogates, traversal, injection, format strings. */
const nasty = fc.constantFrom(
  "\u0000",
  "a\u0000b",
  "\uD800",
  "\uDFFF\uD800",
  "../../etc/passwd",
  "..%2F..%2F",
  "'; drop table users; --",
  "' OR '1'='1",
  "%00",
  "%",
  "%zz",
  "<script>alert(1)</script>",
  "$" + "{jndi:ldap://x}",
  "{{7*7}}",
  "%s%s%s%n",
  "\u202E\u0645\u0631\u062D\u0628\u0627",
  "🦄🦄🦄",
  "Ω≈ç√∫",
  " ",
  "",
  "null",
  "undefined",
  "NaN",
  "-0",
  "1e308",
  "99999999999999999999999999",
  "-1",
  "0x10",
  "\\",
  '"',
);
/** Any text: unicode, binary code points, nasty values, or long runs. */
const text = fc.oneof(
  { arbitrary: fc.string({ unit: "binary", maxLength: 40 }), weight: 3 },
  { arbitrary: fc.string({ unit: "grapheme", maxLength: 40 }), weight: 2 },
  { arbitrary: nasty, weight: 3 },
  { arbitrary: fc.integer({ min: 100, max: 20_000 }).map((n) => "x".repeat(n)), weight: 1 },
);
const numberText = fc.oneof(
  fc.integer().map(String),
  fc.constantFrom(
    "0",
    "-1",
    "1",
    "100",
    "101",
    "100000",
    "100001",
    "1.5",
    "1e3",
    "99999999999999999999",
    "-99999999999999999999",
    " 5",
    "5 ",
  ),
);

/** How to spell a path parameter: the generator can't see `world`, so it picks a kind. */
type ParamValue = string | "__plausible__";
const paramValue: fc.Arbitrary<ParamValue> = fc.oneof(
  { arbitrary: fc.constant<ParamValue>("__plausible__"), weight: 4 },
  { arbitrary: fc.uuid().map(String), weight: 2 },
  { arbitrary: text.map(pct), weight: 3 },
  { arbitrary: fc.constantFrom("%00", "..", "../..", "%2e%2e%2f", "%2F", ".", "%", "%E0%A4%A", "%C0%AE", "~", "@", ";x=1"), weight: 2 },
  { arbitrary: fc.integer({ min: 200, max: 10_000 }).map((n) => "a".repeat(n)), weight: 1 },
  { arbitrary: fc.constant(""), weight: 1 },
);

/** Path suffix mutations: none, trailing slash, an extra segment, doubled slashes, upper case. */
const pathMutation = fc.constantFrom(
  "none",
  "none",
  "none",
  "none",
  "trailing-slash",
  "extra-segment",
  "double-slash",
  "upper",
  "dot-segment",
);

const knownQueryKeys = ["period", "format", "limit", "offset", "q", "warehouses", "sizes", "status", "orgId", "role", "id"];
const queryValue = fc.oneof(
  fc.constantFrom("7d", "30d", "180d", "365d", "svg", "json", "png", "active", "canceled", "all", ""),
  numberText,
  text,
);
/** A query: random and known keys, repeated keys, hostile values; sometimes raw malformed escapes. */
const query = fc.oneof(
  { arbitrary: fc.constant(""), weight: 3 },
  {
    arbitrary: fc.array(fc.tuple(fc.oneof(fc.constantFrom(...knownQueryKeys), text), queryValue), { maxLength: 6 }).map((pairs) => {
      const params = new URLSearchParams();
      for (const [k, v] of pairs) params.append(k, v);
      const s = params.toString();
      return s ? `?${s}` : "?";
    }),
    weight: 6,
  },
  {
    arbitrary: fc.constantFrom(
      "?%",
      "?a=%E0%A4%A",
      "?=",
      "?&&&",
      "?limit",
      "?limit=1&limit=2",
      "?q=%00",
      "?period=%F0%9F%A6%84",
      "?__proto__=x",
      "?constructor[prototype][x]=1",
    ),
    weight: 1,
  },
);

const contentType = fc.constantFrom<string | undefined>(
  "application/json",
  "application/json",
  "application/json; charset=utf-8",
  "application/problem+json",
  "application/json; charset=utf-16",
  "text/plain",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=xyz",
  "multipart/form-data",
  "application/xml",
  "*/*",
  "garbage",
  undefined,
);

/** Claims for a correctly signed token with garbage in it (every field optional and ill-typed). */
const garbageClaims = fc.record(
  {
    sub: fc.oneof(fc.uuid().map(String), text, fc.integer()),
    org: fc.oneof(fc.uuid().map(String), text, fc.constant(null)),
    role: fc.oneof(fc.constantFrom(...roles, "root", "OWNER", ""), fc.integer()),
    typ: fc.oneof(fc.constantFrom("access", "refresh", "id", ""), fc.integer()),
    iss: fc.oneof(fc.constantFrom("seller-edge", "evil"), fc.integer()),
    aud: fc.oneof(fc.constantFrom("seller-edge-api", "x"), fc.array(fc.constantFrom("seller-edge-api", "x"))),
    iat: fc.oneof(fc.integer(), fc.double(), fc.constant("now"), fc.constant(1e308)),
    exp: fc.oneof(fc.integer(), fc.double(), fc.constant("later"), fc.constant(1e308), fc.constant(-1)),
    nbf: fc.oneof(fc.integer(), fc.constant("soon")),
  },
  { requiredKeys: [] },
);

/** How a request authenticates (materialized later: signing is async). */
type AuthSpec =
  | { kind: "none" }
  | { kind: "raw"; value: string }
  | { kind: "garbage-jwt"; header: string; payload: string; signature: string }
  | { kind: "signed-garbage"; claims: Record<string, unknown>; kid: string }
  | { kind: "api-key"; valid: boolean; noise: string };
const authSpec: fc.Arbitrary<AuthSpec> = fc.oneof(
  { arbitrary: fc.constant<AuthSpec>({ kind: "none" }), weight: 3 },
  {
    arbitrary: fc
      .oneof(text, fc.constantFrom("Bearer", "Bearer ", "Basic x", "bearer abc", "Bearer a.b.c", "Bearer ....", "Digest x"))
      .map((value): AuthSpec => ({ kind: "raw", value })),
    weight: 3,
  },
  {
    arbitrary: fc
      .record({
        header: fc.oneof(fc.json(), fc.constant('{"alg":"HS256","kid":"local-1"}'), fc.constant('{"alg":"none"}')),
        payload: fc.json(),
        signature: fc.string({ maxLength: 60 }),
      })
      .map((p): AuthSpec => ({ kind: "garbage-jwt", ...p })),
    weight: 3,
  },
  {
    arbitrary: fc
      .record({ claims: garbageClaims, kid: fc.constantFrom("local-1", "__signing__", "x") })
      .map((p): AuthSpec => ({ kind: "signed-garbage", ...p })),
    weight: 3,
  },
  {
    arbitrary: fc
      .record({ valid: fc.boolean(), noise: fc.string({ minLength: 43, maxLength: 43 }) })
      .map((p): AuthSpec => ({ kind: "api-key", ...p })),
    weight: 1,
  },
);

/** A body as generated: JSON values, route-shaped objects with hostile values, non-JSON, nesting, huge. */
type BodySpec =
  | { kind: "none" }
  | { kind: "json"; value: unknown }
  | { kind: "shaped"; value: Record<string, unknown> }
  | { kind: "text"; value: string }
  | { kind: "deep"; depth: number; array: boolean }
  | { kind: "huge"; length: number; field: string };

const hostileValue = fc.oneof(
  text,
  numberText.map(Number),
  fc.constant(null),
  fc.boolean(),
  fc.array(text, { maxLength: 3 }),
  fc.dictionary(text, text, { maxKeys: 3 }),
  fc.constant(2 ** 53 + 7),
  fc.constant(-(2 ** 31) - 1),
  fc.constant(1e308),
);
const base64Of = (arb: fc.Arbitrary<string>) => arb.map(base64);

/** `plausible` values, sometimes with a hostile character spliced in (NUL, a lone surrogate, RTL, quote…). */
const spiced = (plausible: fc.Arbitrary<string>): fc.Arbitrary<string> =>
  fc.oneof(
    { arbitrary: plausible, weight: 3 },
    {
      arbitrary: plausible.chain((v) =>
        fc
          .tuple(fc.nat(v.length), fc.constantFrom("\u0000", "\u0000", "\u0000", "\uD800", "\u202E", "%00", "'", "\\", "\n", "\uFFFF"))
          .map(([i, c]) => `${v.slice(0, i)}${c}${v.slice(i)}`),
      ),
      weight: 2,
    },
    { arbitrary: text, weight: 1 },
  );
const jobIdText = fc.oneof(
  fc.uuid().map(String),
  text,
  fc.constantFrom(
    "------------------------------------",
    "a".repeat(36),
    "00000000-0000-0000-0000-00000000000g",
    "{00000000-0000-0000-0000-000000000000}",
  ),
);
const httpStatus = fc.oneof(fc.integer({ min: 0, max: 599 }), fc.integer(), fc.constantFrom(2 ** 53 - 1, -(2 ** 40), 2 ** 31, 1.5));
const retries = fc.oneof(fc.nat(10), fc.constantFrom(2 ** 40, 2 ** 31, -1));

/** A new account's e-mail (unique per request) or a hostile one, and a password the policy accepts or not. */
const account = fc.oneof({ arbitrary: fc.constant("__fresh__"), weight: 3 }, { arbitrary: spiced(fc.emailAddress()), weight: 2 });
const password = spiced(fc.constantFrom("violet-Quartz-harbor-42", "correct horse battery staple", "x".repeat(12)));

/**
 * Bodies shaped like each write route's contract (keyed `METHOD path`), with plausible or hostile
 * values, so that many requests get past the first validation error and into the handlers.
 */
const shapes: Record<string, fc.Arbitrary<Record<string, unknown>>> = {
  "POST /api/v1/auth/register": fc.oneof(
    fc.record({ email: account, password, orgName: spiced(fc.string({ minLength: 1, maxLength: 30 })) }),
    fc.record({ email: account, password, orgId: spiced(fc.constant("__org__")), role: fc.oneof(fc.constantFrom(...roles), text) }),
    fc.record(
      { email: account, password, orgName: spiced(fc.string({ maxLength: 30 })), orgId: spiced(fc.uuid().map(String)), role: text },
      { requiredKeys: [] },
    ),
  ),
  "POST /api/v1/auth/login": fc.record(
    {
      email: fc.oneof({ arbitrary: fc.constant("__tenant__"), weight: 3 }, { arbitrary: spiced(fc.emailAddress()), weight: 2 }),
      password: fc.oneof(
        { arbitrary: fc.constant("__password__"), weight: 3 },
        { arbitrary: spiced(fc.string({ minLength: 1, maxLength: 40 })), weight: 2 },
      ),
      orgId: spiced(fc.oneof(fc.uuid().map(String), fc.constant("__org__"))),
    },
    { requiredKeys: ["email", "password"] },
  ),
  "POST /api/v1/auth/refresh": fc.record({
    refreshToken: spiced(
      fc.oneof(
        fc.constant("__refresh__"),
        fc.string({ maxLength: 60 }).map((v) => `rt_${v}`),
      ),
    ),
  }),
  "POST /api/v1/auth/logout": fc.record({
    refreshToken: spiced(
      fc.oneof(
        fc.constant("__refresh__"),
        fc.string({ maxLength: 60 }).map((v) => `rt_${v}`),
      ),
    ),
  }),
  "POST /api/v1/auth/api-keys": fc.record(
    {
      name: spiced(fc.string({ minLength: 1, maxLength: 30 })),
      scopes: fc.oneof(fc.subarray(["dashboard:read", "sync:read", "sync:write"], { minLength: 1 }), fc.array(text, { maxLength: 4 })),
    },
    { requiredKeys: ["name", "scopes"] },
  ),
  "POST /jobs/wb-sync": fc.record({ jobId: jobIdText }),
  "POST /jobs/failure-callback": fc.record(
    {
      status: httpStatus,
      body: fc.oneof(base64Of(spiced(fc.string({ maxLength: 60 }))), text),
      retried: retries,
      maxRetries: retries,
      sourceMessageId: spiced(fc.string({ minLength: 1, maxLength: 40 })),
      url: spiced(fc.oneof(fc.webUrl(), fc.constant(`${testEnv.PUBLIC_JOBS_URL}/jobs/wb-sync`))),
      sourceBody: fc.oneof(
        base64Of(fc.record({ jobId: jobIdText }).map((o) => JSON.stringify(o))),
        base64Of(spiced(fc.json())),
        base64Of(fc.constantFrom('{"jobId":"\\u0000"}', '{"\\u0000":1}', "[".repeat(5000), "\u0000")),
        text,
      ),
      error: spiced(fc.string({ maxLength: 60 })),
      dlqId: text,
    },
    { requiredKeys: ["status", "sourceMessageId", "url"] },
  ),
};

/** Sometimes an extra field (mass assignment, prototype keys) on a shaped body. */
const withExtra = (shape: fc.Arbitrary<Record<string, unknown>>) =>
  fc
    .tuple(
      shape,
      fc.option(fc.tuple(fc.oneof(fc.constantFrom("orgId", "role", "id", "__proto__", "constructor"), text), hostileValue), {
        freq: 4,
        nil: undefined,
      }),
    )
    .map(([v, extra]) => (extra ? { ...v, [extra[0]]: extra[1] } : v));

/** Query parameters each read route knows, with plausible or hostile values (keyed `METHOD path`). */
const multi = (values: fc.Arbitrary<string>) => fc.array(values, { minLength: 1, maxLength: 4 });
const pageParams = { limit: spiced(numberText), offset: spiced(numberText) };
const periodParam = spiced(fc.constantFrom("7d", "30d", "60d", "90d", "180d", "365d", "1d"));
const queryShapes: Record<string, fc.Arbitrary<Record<string, string | string[]>>> = {
  "GET /api/v1/analytics/sales": fc.record({ period: periodParam }, { requiredKeys: [] }),
  "GET /api/v1/analytics/summary": fc.record({ period: periodParam }, { requiredKeys: [] }),
  "GET /api/v1/analytics/daily-trends": fc.record(
    { period: periodParam, format: spiced(fc.constantFrom("json", "svg", "png")) },
    { requiredKeys: [] },
  ),
  "GET /api/v1/stocks": fc.record(
    {
      warehouses: multi(spiced(fc.constantFrom("__warehouse__", "Коледино", "", " "))),
      sizes: multi(spiced(fc.constantFrom("__size__", "XL", "0", "42-44"))),
      q: spiced(fc.oneof(fc.string({ maxLength: 20 }), fc.stringMatching(/^\d{1,12}$/), fc.constantFrom("%", "_", "\\", "__nmId__"))),
      ...pageParams,
    },
    { requiredKeys: [] },
  ),
  "GET /api/v1/orders/recent": fc.record(
    { status: spiced(fc.constantFrom("active", "canceled", "all")), ...pageParams },
    { requiredKeys: [] },
  ),
  "GET /api/v1/admin/dead-letters": fc.record({ limit: spiced(numberText) }, { requiredKeys: [] }),
};

/** A shaped query as a query string (repeated keys for arrays). */
const toQuery = (params: Record<string, string | string[]>) => {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) for (const one of Array.isArray(v) ? v : [v]) search.append(k, one);
  const q = search.toString();
  return q ? `?${q}` : "";
};

/** A body that ignores the route: random JSON, non-JSON, deep nesting, huge. */
const anyBody: fc.Arbitrary<BodySpec> = fc.oneof(
  { arbitrary: fc.constant<BodySpec>({ kind: "none" }), weight: 2 },
  { arbitrary: fc.jsonValue({ maxDepth: 4 }).map((value): BodySpec => ({ kind: "json", value })), weight: 3 },
  {
    arbitrary: fc
      .oneof(text, fc.constantFrom("{", "}", "[1,", '{"a":}', "{'a':1}", "\uFEFF{}", "null", "true", "1", '"x"', "[]"))
      .map((value): BodySpec => ({ kind: "text", value })),
    weight: 3,
  },
  {
    arbitrary: fc
      .record({ depth: fc.integer({ min: 50, max: 50_000 }), array: fc.boolean() })
      .map((p): BodySpec => ({ kind: "deep", ...p })),
    weight: 1,
  },
  {
    arbitrary: fc
      .record({
        length: fc.integer({ min: 100_000, max: 1_000_000 }),
        field: fc.constantFrom("email", "password", "name", "refreshToken", "jobId", "sourceMessageId", "body"),
      })
      .map((p): BodySpec => ({ kind: "huge", ...p })),
    weight: 1,
  },
);

const methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "PROPFIND", "PURGE"];

/** One generated request against `route` of the family. */
interface RequestSpec {
  /** Index into the family's routes (a plain number keeps counterexamples readable). */
  route: number;
  method: string;
  params: ParamValue[];
  /** Picks the allowed role of a valid credential. */
  pick: number;
  mutation: string;
  query: string;
  authorized: boolean;
  auth: AuthSpec;
  contentType: string | undefined;
  body: BodySpec;
  requestId: string | undefined;
}
/**
 * Requests against one route of the family. A fifth are "pristine" (the route's method, path and
 * content type, a valid credential, a route-shaped query or body) so that the hostile values reach
 * the handlers and the database; the rest are wild, 40 % of them with a valid credential — about
 * half of all requests carry one.
 */
const requestSpec = (familyRoutes: RouteEntry[]): fc.Arbitrary<RequestSpec> =>
  fc.nat(familyRoutes.length - 1).chain((index) => {
    const route = familyRoutes[index] as RouteEntry;
    const key = `${route.method} ${route.path}`;
    const shape = shapes[key];
    const queryShape = queryShapes[key];
    const shapedBody = shape ? withExtra(shape).map((value): BodySpec => ({ kind: "shaped", value })) : undefined;
    const common = {
      route: fc.constant(index),
      params: fc.array(paramValue, { minLength: 3, maxLength: 3 }),
      pick: fc.nat(99),
      auth: authSpec,
      requestId: fc.option(fc.oneof(fc.uuid().map(String), text.map(headerSafe)), { nil: undefined }),
    };
    const pristine = fc.record({
      ...common,
      method: fc.constant("__route__"),
      mutation: fc.constant("none"),
      query: queryShape ? queryShape.map(toQuery) : fc.constant(""),
      authorized: fc.constant(true),
      contentType: fc.constant<string | undefined>("application/json"),
      body: shapedBody ?? fc.constant<BodySpec>({ kind: "none" }),
    });
    const wild = fc.record({
      ...common,
      method: fc.oneof({ arbitrary: fc.constant("__route__"), weight: 9 }, { arbitrary: fc.constantFrom(...methods), weight: 1 }),
      mutation: pathMutation,
      query: queryShape
        ? fc.oneof({ arbitrary: queryShape.map(toQuery), weight: 3 }, { arbitrary: query, weight: 2 })
        : fc.oneof({ arbitrary: fc.constant(""), weight: 4 }, { arbitrary: query, weight: 1 }),
      authorized: fc.oneof({ arbitrary: fc.constant(true), weight: 2 }, { arbitrary: fc.constant(false), weight: 3 }),
      contentType: shape
        ? fc.oneof({ arbitrary: fc.constant("application/json"), weight: 4 }, { arbitrary: contentType, weight: 1 })
        : contentType,
      body: shapedBody ? fc.oneof({ arbitrary: shapedBody, weight: 6 }, { arbitrary: anyBody, weight: 4 }) : anyBody,
    });
    return fc.oneof({ arbitrary: pristine, weight: 1 }, { arbitrary: wild, weight: 4 });
  });

// ---------------------------------------------------------------------------------------------
// Materialization.

/** `text` with the placeholders of the generators replaced by the seeded world's values (`encode`d). */
function substitute(text: string, world: World, encode: (value: string) => string): string {
  const values: Record<string, string> = {
    __tenant__: world.tenant.email,
    __password__: world.tenant.password,
    __org__: world.tenant.orgId,
    __refresh__: world.refreshToken,
    __warehouse__: world.warehouse,
    __size__: world.size,
    __nmId__: String(world.nmId),
  };
  return text.replace(/__(tenant|password|org|refresh|warehouse|size|nmId|fresh)__/g, (name) =>
    name === "__fresh__" ? `fuzz-${crypto.randomUUID().slice(0, 13)}@example.test` : encode(values[name] ?? name),
  );
}

/** A plausible value of path parameter `name` of `route` (the seeded rows, so handlers find something). */
function plausible(route: RouteEntry, name: string, world: World): string {
  if (name === "srid") return world.srid;
  if (name === "id") return route.path.includes("api-keys") ? world.spareKeyId : world.deadLetterId;
  return crypto.randomUUID();
}

function buildPath(spec: RequestSpec, route: RouteEntry, world: World): string {
  let i = 0;
  const path = route.path.replace(/:([A-Za-z_]\w*)/g, (_, name: string) => {
    const value = spec.params[i++] ?? "__plausible__";
    return value === "__plausible__" ? encodeURIComponent(plausible(route, name, world)) : value;
  });
  switch (spec.mutation) {
    case "trailing-slash":
      return `${path}/`;
    case "extra-segment":
      return `${path}/${pct(spec.params[1] ?? "x")}`;
    case "double-slash":
      return path.replace(/\//g, "//");
    case "upper":
      return path.toUpperCase();
    case "dot-segment":
      return `${path}/../${path.split("/").pop() ?? ""}`;
    default:
      return path;
  }
}

function bodyText(spec: BodySpec, world: World): string | undefined {
  switch (spec.kind) {
    case "none":
      return undefined;
    case "json":
      return JSON.stringify(spec.value) ?? "null";
    case "shaped":
      return JSON.stringify(spec.value, (_k, v: unknown) => (typeof v === "string" ? substitute(v, world, (x) => x) : v));
    case "text":
      return spec.value;
    case "deep":
      return spec.array ? `${"[".repeat(spec.depth)}${"]".repeat(spec.depth)}` : `${'{"a":'.repeat(spec.depth)}1${"}".repeat(spec.depth)}`;
    case "huge":
      return JSON.stringify({ [spec.field]: "é".repeat(Math.floor(spec.length / 2)) });
  }
}

async function authorization(spec: RequestSpec, route: RouteEntry, body: string, world: World): Promise<Record<string, string>> {
  const policy = policyOf(route);
  if (spec.authorized) {
    switch (policy.kind) {
      case "token": {
        const role = policy.roles[spec.pick % policy.roles.length];
        const token = role ? world.tokens.get(role) : undefined;
        return token ? { Authorization: `Bearer ${token}` } : {};
      }
      case "admin-token":
        return { Authorization: `Bearer ${testEnv.ADMIN_REGISTRATION_TOKEN}` };
      case "metrics-token":
        return { Authorization: `Bearer ${testEnv.METRICS_TOKEN}` };
      case "qstash":
        return { "Upstash-Signature": await signQStash(body, publicJobUrl(route.path)) };
      // Fuzzed integration ids name no integration: a webhook is refused (404/401/429) before its body matters.
      case "webhook":
      // Fuzzed bot ids name no bot, and no secret token is sent: refused (404/401/429) before the body matters.
      case "telegram":
      case "public":
        return {};
    }
  }
  const a = spec.auth;
  switch (a.kind) {
    case "none":
      return {};
    case "raw":
      return { Authorization: headerSafe(a.value) };
    case "garbage-jwt":
      return { Authorization: `Bearer ${b64url(a.header)}.${b64url(a.payload)}.${b64url(a.signature)}` };
    case "signed-garbage": {
      // Signed by hand: jose refuses to sign ill-typed registered claims, the point of this case.
      const key = signingKey();
      const signingInput = `${b64url(JSON.stringify({ alg: "HS256", kid: a.kid === "__signing__" ? key.kid : a.kid, typ: "JWT" }))}.${b64url(JSON.stringify(a.claims))}`;
      const hmac = await crypto.subtle.importKey("raw", utf8(key.secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
      const signature = new Uint8Array(await crypto.subtle.sign("HMAC", hmac, utf8(signingInput)));
      const encoded = btoa(String.fromCharCode(...signature))
        .replaceAll("+", "-")
        .replaceAll("/", "_")
        .replace(/=+$/, "");
      return { Authorization: `Bearer ${signingInput}.${encoded}` };
    }
    case "api-key":
      return { Authorization: `Bearer ${a.valid ? world.apiKey : `se_live_${headerSafe(a.noise)}`}` };
  }
}

async function materialize(spec: RequestSpec, route: RouteEntry, world: World): Promise<{ request: Request; description: string }> {
  const method = spec.method === "__route__" ? route.method : spec.method;
  const path = buildPath(spec, route, world);
  const canHaveBody = method !== "GET" && method !== "HEAD";
  const body = canHaveBody ? bodyText(spec.body, world) : undefined;
  const headers: Record<string, string> = {
    "CF-Connecting-IP": "10.200.0.1",
    ...(await authorization(spec, route, body ?? "", world)),
  };
  if (spec.contentType !== undefined && body !== undefined) headers["Content-Type"] = spec.contentType;
  if (spec.requestId !== undefined) headers["X-Request-Id"] = spec.requestId;
  const url = `https://edge.test${path}${substitute(spec.query, world, encodeURIComponent)}`;
  const description = `${method} ${url.slice(0, 300)} headers=${JSON.stringify(headers).slice(0, 400)} body=${JSON.stringify(body?.slice(0, 300))}${(body?.length ?? 0) > 300 ? `…(${body?.length})` : ""}`;
  return { request: new Request(url, { method, headers, body }), description };
}

// ---------------------------------------------------------------------------------------------
// Properties.

/** Values that must never appear in a response body. */
function secrets(): string[] {
  const env = testEnv;
  const values = [
    ...(JSON.parse(env.JWT_KEYS as string) as { secret: string }[]).map((k) => k.secret),
    env.ADMIN_REGISTRATION_TOKEN,
    env.ENCRYPTION_KEY,
    env.QSTASH_CURRENT_SIGNING_KEY,
    env.QSTASH_NEXT_SIGNING_KEY,
    env.QSTASH_TOKEN,
    env.UPSTASH_REDIS_REST_TOKEN,
    new URL(env.DATABASE_URL as string).password || undefined,
  ];
  return values.filter((v): v is string => typeof v === "string" && v.length >= 12);
}

/** Patterns of internals: stack frames, source paths, SQL and driver errors, password hashes. */
const leaks: [string, RegExp][] = [
  ["stack frame", /\bat [\w$.<>]+ \(.*:\d+:\d+\)|\n\s+at /],
  ["source path", /node_modules|\/work\/main|\.ts:\d+|src\/core\//],
  [
    "SQL text",
    /Failed query|\bselect\b.{0,200}?\bfrom\s+"\w+"|\binsert into\s+"|SQLSTATE|syntax error at or near|violates .* constraint|duplicate key value|invalid input syntax|invalid byte sequence|relation "|NeonDbError|PGlite|drizzle/i,
  ],
  ["password hash", /pbkdf2-sha256\$|passwordHash|password_hash|key_hash|keyHash|tokenCiphertext/],
];

interface Tally {
  requests: number;
  serverErrors: number;
  byClass: Record<string, number>;
}

/** Checks one answer; returns a problem description, or undefined when the properties hold. */
async function violations(method: string, res: Response, secretValues: string[]): Promise<string | undefined> {
  const body = await res.text();
  if (res.status >= 500) return `status ${res.status}: ${body.slice(0, 500)}`;
  const requestId = res.headers.get("X-Request-Id");
  if (!requestId) return "no X-Request-Id";
  if (res.status >= 300) {
    const type = res.headers.get("Content-Type");
    if (type !== "application/problem+json") return `status ${res.status} with Content-Type ${type}: ${body.slice(0, 300)}`;
    if (method !== "HEAD") {
      let problem: { status?: unknown; requestId?: unknown };
      try {
        problem = JSON.parse(body) as typeof problem;
      } catch {
        return `status ${res.status}: problem body is not JSON: ${body.slice(0, 300)}`;
      }
      if (problem.status !== res.status) return `problem status ${String(problem.status)} != HTTP ${res.status}`;
      if (problem.requestId !== requestId) return `problem requestId ${String(problem.requestId)} != X-Request-Id ${requestId}`;
    }
  }
  for (const [name, pattern] of leaks) if (pattern.test(body)) return `${name} in the body: ${body.slice(0, 500)}`;
  for (const secret of secretValues) if (body.includes(secret)) return "a server secret in the body";
  return undefined;
}

async function fuzzFamily(family: Family, familyRoutes: RouteEntry[], seed: number): Promise<Tally> {
  const tally: Tally = { requests: 0, serverErrors: 0, byClass: {} };
  const secretValues = secrets();
  await fc.assert(
    fc.asyncProperty(fc.array(requestSpec(familyRoutes), { minLength: BATCH, maxLength: BATCH }), async (specs) => {
      const outcomes = await Promise.all(
        specs.map(async (spec) => {
          const route = familyRoutes[spec.route];
          if (!route) throw new Error(`no route ${spec.route}`);
          const { request, description } = await materialize(spec, route, world);
          const res = await workerFetch(request, fuzzEnv);
          tally.requests += 1;
          tally.byClass[`${Math.floor(res.status / 100)}xx`] = (tally.byClass[`${Math.floor(res.status / 100)}xx`] ?? 0) + 1;
          if (res.status >= 500) tally.serverErrors += 1;
          const problem = await violations(request.method, res, secretValues);
          return problem ? `${problem}\n  request: ${description}` : undefined;
        }),
      );
      const failed = outcomes.filter((o): o is string => o !== undefined);
      if (failed.length > 0)
        throw new Error(`${family}: ${failed.length} of ${specs.length} answers broke a property:\n${failed.slice(0, 5).join("\n")}`);
    }),
    { seed, numRuns: Math.ceil(REQUESTS_PER_FAMILY / BATCH), endOnFailure: true },
  );
  return tally;
}

describe("fuzz", () => {
  it("covers every route in one of the families, and every registered group", () => {
    expect([...families.values()].flat().length).toBe(routes.length);
    expect(new Set(routes.map((r) => r.group))).toEqual(new Set(["platform", ...routeGroups.map((g) => g.name)]));
    expect(families.size).toBeGreaterThanOrEqual(7);
  });

  for (const [index, [family, familyRoutes]] of [...families].entries()) {
    it(`${family}: ${REQUESTS_PER_FAMILY} generated requests over ${familyRoutes.length} routes, no 5xx, problem+json, no leaks`, async () => {
      const started = Date.now();
      const tally = await fuzzFamily(family, familyRoutes, SEED + index);
      console.log(
        `fuzz: ${family} ${tally.requests} requests, ${tally.serverErrors} 5xx (${Object.entries(tally.byClass)
          .sort()
          .map(([k, n]) => `${k} ${n}`)
          .join(", ")}; ${familyRoutes.length} routes; seed ${SEED + index}; ${Date.now() - started} ms)`,
      );
      expect(tally.requests).toBeGreaterThanOrEqual(REQUESTS_PER_FAMILY);
      expect(tally.serverErrors).toBe(0);
    });
  }
});

/** A QStash-signed delivery of `json` to the consumer at `path`. */
async function deliver(path: string, json: unknown): Promise<Response> {
  const body = JSON.stringify(json);
  return api(path, {
    method: "POST",
    body,
    headers: { "Content-Type": "application/json", "Upstash-Signature": await signQStash(body, publicJobUrl(path)) },
  });
}
/** Base64 of raw bytes. */
const bytesBase64 = (bytes: number[]) => btoa(String.fromCharCode(...bytes));

describe("regressions found by the fuzz", () => {
  it("refuses NUL characters in validated input with 400 (Postgres refuses them: was a 500)", async () => {
    const owner = await createTenant({ role: "owner" });
    for (const query of ["q=%00", "q=a%00b", "warehouses=a%00b", "sizes=%00", "warehouses=A&warehouses=%00"]) {
      const res = await api(`/api/v1/stocks?${query}`, { token: owner.token });
      expect(res.status, query).toBe(400);
      expect((await problem(res)).errors?.[0]?.message).toContain("NUL");
    }
    const key = await api("/api/v1/auth/api-keys", {
      method: "POST",
      token: owner.token,
      json: { name: "a\u0000b", scopes: ["sync:read"] },
    });
    expect(key.status).toBe(400);
    expect((await problem(key)).errors).toEqual([{ path: "name", message: "Must not contain the NUL character (U+0000)" }]);
    expect(await db().select().from(apiKeys).where(eq(apiKeys.orgId, owner.orgId))).toEqual([]);
    const registered = await api("/api/v1/auth/register", {
      method: "POST",
      headers: { Authorization: `Bearer ${testEnv.ADMIN_REGISTRATION_TOKEN}`, "CF-Connecting-IP": "10.201.0.1" },
      json: { email: `nul-${crypto.randomUUID().slice(0, 8)}@example.test`, password: "violet-Quartz-harbor-42", orgName: "a\u0000b" },
    });
    expect(registered.status).toBe(400);
    expect((await problem(registered)).errors?.[0]?.path).toBe("orgName");
  });

  it("lands a failure callback whose texts carry NUL (a binary answer) instead of failing on every retry", async () => {
    const owner = await createTenant({ role: "owner" });
    const jobId = await insertJob(owner.orgId, { status: "failed" });
    const res = await deliver("/jobs/failure-callback", {
      status: 502,
      body: bytesBase64([0x89, 0x50, 0x4e, 0x47, 0x00, 0x00, 0x41]),
      retried: 3,
      sourceMessageId: `msg_nul_${crypto.randomUUID()}\u0000`,
      url: `${publicJobUrl("/jobs/wb-sync")}\u0000`,
      sourceBody: btoa(JSON.stringify({ jobId, note: "\u0000", "\u0000": 1 })),
      error: "reset\u0000",
    });
    expect(res.status).toBe(200);
    const landed = (await res.json()) as { deadLetterId: string; jobId: string; duplicate: boolean };
    expect(landed).toMatchObject({ jobId, duplicate: false });
    const [letter] = await db().select().from(deadLetters).where(eq(deadLetters.id, landed.deadLetterId));
    expect(letter?.orgId).toBe(owner.orgId);
    expect(letter?.lastResponse).toContain("\uFFFD");
    expect(letter?.payload).toEqual({ jobId, note: "\uFFFD", "\uFFFD": 1 });
    expect(JSON.stringify(letter)).not.toContain("\\u0000");
  });

  it("treats a jobId that only looks like a UUID as none (the ::uuid cast was a 500)", async () => {
    for (const jobId of ["------------------------------------", "a".repeat(36), "0123456789abcdef0123456789abcdef0123"]) {
      const res = await deliver("/jobs/failure-callback", {
        status: 500,
        sourceMessageId: `msg_fake_${crypto.randomUUID()}`,
        url: publicJobUrl("/jobs/wb-sync"),
        sourceBody: btoa(JSON.stringify({ jobId })),
      });
      expect(res.status, jobId).toBe(200);
      expect(await res.json()).toMatchObject({ jobId: null, duplicate: false });
    }
  });

  it("refuses out-of-range numbers in a failure callback with 400 (an integer column overflowed: was a 500)", async () => {
    for (const numbers of [{ status: -(2 ** 40) }, { status: 2 ** 31 }, { status: 500, retried: 2 ** 40 }]) {
      const res = await deliver("/jobs/failure-callback", {
        sourceMessageId: `msg_range_${crypto.randomUUID()}`,
        url: publicJobUrl("/jobs/wb-sync"),
        ...numbers,
      });
      expect(res.status, JSON.stringify(numbers)).toBe(400);
      await problem(res);
    }
  });
});
