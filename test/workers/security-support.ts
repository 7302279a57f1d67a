/**
 * Support of the security, hardening and fuzz tests: the route table read from the route
 * declarations (each with its access policy), forged credentials for the common auth cases,
 * calls of the Worker with an overridden env, and seeding of tenant rows straight into the
 * local stack's database (never a mock).
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { exportSPKI, generateKeyPair, SignJWT } from "jose";
import { expect } from "vitest";
import type { AccessPolicy } from "../../src/core/access";
import { generateApiKey } from "../../src/core/auth/api-keys";
import { issueRefreshToken } from "../../src/core/auth/refresh-tokens";
import type { AppEnv } from "../../src/core/context";
import {
  type ApiKeyScope,
  apiKeys,
  deadLetters,
  jobs,
  memberships,
  orders,
  products,
  type Role,
  roles,
  stocks,
  users,
} from "../../src/core/db/schema";
import { moscowDay } from "../../src/core/time";
import { recomputeDailyStats, recomputeWarehouseStockStats } from "../../src/jobs/wb-sync-writes";
import { buildRequest, config, db, problem, type Tenant, testEnv } from "./helpers";

export { envWith, workerFetch } from "./helpers";

/** One route as declared: method, path (Hono form, `:param`) and its access policy (`x-access`). */
export interface RouteEntry {
  /** The route group that declares it (its `tags[0]`). */
  group: string;
  method: string;
  /** The Hono path (`/api/v1/orders/:srid`); `specPath` is the OpenAPI form (`/api/v1/orders/{srid}`). */
  path: string;
  specPath: string;
  policy: AccessPolicy;
}

/**
 * The routes of `app` as their declarations state them: every route definition in the app's
 * OpenAPI registry (the one `createRoute` each route is built from), with its `x-access`. The
 * route table test proves this set equals what the router routes.
 */
export function routeTable(app: OpenAPIHono<AppEnv>): RouteEntry[] {
  return app.openAPIRegistry.definitions.flatMap((d) => {
    if (d.type !== "route") return [];
    const route = d.route as typeof d.route & { "x-access"?: AccessPolicy };
    if (!route["x-access"]) throw new Error(`${route.method} ${route.path} declares no x-access`);
    return [
      {
        group: route.tags?.[0] ?? "?",
        method: route.method.toUpperCase(),
        path: route.path.replace(/\{(\w+)\}/g, ":$1"),
        specPath: route.path,
        policy: route["x-access"],
      },
    ];
  });
}

/** The (method, path) pairs the router of `app` routes (middleware registered with `use()` is method ALL, not a route). */
export function routerPairs(app: OpenAPIHono<AppEnv>): string[] {
  return [...new Set(app.routes.filter((r) => r.method !== "ALL").map((r) => `${r.method} ${r.path}`))].sort();
}

/** The policy of a route. */
export function policyOf(route: RouteEntry): AccessPolicy {
  return route.policy;
}

/** A route family of the fuzz report: the route's group and access kind (`dashboard/token`, `jobs/qstash`…). */
export type Family = string;

/** The family of a route: derived from its declaration, so a new group needs no entry here. */
export function familyOf(route: RouteEntry): Family {
  return `${route.group}/${route.policy.kind}`;
}

/** A well-formed srid that no seeded order uses. */
export const unknownSrid = "1.r0000000000000000.0.0";

/**
 * `path` with every `:param` filled: `values[param]` if given, else a plausible value
 * (an unknown srid for `:srid`, a fresh UUID for anything else, e.g. `:id`).
 */
export function fillPath(path: string, values: Record<string, string> = {}): string {
  return path.replace(/:([A-Za-z_]\w*)(\{[^}]*\})?/g, (_, name: string) =>
    encodeURIComponent(values[name] ?? (name === "srid" ? unknownSrid : crypto.randomUUID())),
  );
}

const encoder = new TextEncoder();
const base64url = (text: string) =>
  btoa(String.fromCharCode(...encoder.encode(text)))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replace(/=+$/, "");

/** The signing key of the test env (`JWT_KEYS[0]`). */
export function signingKey(): { kid: string; secret: string } {
  const [key] = JSON.parse(testEnv.JWT_KEYS as string) as { kid: string; secret: string }[];
  if (!key) throw new Error("JWT_KEYS is empty");
  return key;
}

/** Options of {@link forgeAccessToken}: claims to set (undefined deletes), header fields, and the key. */
export interface ForgeOptions {
  claims?: Record<string, unknown>;
  header?: Record<string, unknown>;
  /** HMAC secret; default: the test env's signing secret. */
  secret?: string | Uint8Array;
}

/**
 * An HS256 access token for `subject` made with jose from the test env's `JWT_KEYS`, exactly as
 * the login issues one unless `options` change a claim, the header or the key — so each
 * negative case differs from a valid token in one property.
 */
export async function forgeAccessToken(
  subject: { userId: string; orgId: string; role: Role },
  options: ForgeOptions = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const { kid, secret } = signingKey();
  const claims: Record<string, unknown> = {
    sub: subject.userId,
    org: subject.orgId,
    role: subject.role,
    typ: "access",
    iss: config().JWT_ISSUER,
    aud: config().JWT_AUDIENCE,
    iat: now,
    exp: now + 300,
    jti: crypto.randomUUID(),
  };
  for (const [name, value] of Object.entries(options.claims ?? {})) {
    if (value === undefined) delete claims[name];
    else claims[name] = value;
  }
  const key = options.secret ?? secret;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "HS256", kid, typ: "JWT", ...options.header } as { alg: string })
    .sign(typeof key === "string" ? encoder.encode(key) : key);
}

/** An unsigned `alg: none` token with valid claims (header and payload, empty signature). */
export function unsignedToken(subject: { userId: string; orgId: string; role: Role }): string {
  const now = Math.floor(Date.now() / 1000);
  const header = base64url(JSON.stringify({ alg: "none", kid: signingKey().kid, typ: "JWT" }));
  const payload = base64url(
    JSON.stringify({
      sub: subject.userId,
      org: subject.orgId,
      role: subject.role,
      typ: "access",
      iss: config().JWT_ISSUER,
      aud: config().JWT_AUDIENCE,
      iat: now,
      exp: now + 300,
    }),
  );
  return `${header}.${payload}.`;
}

let rsa: Promise<{ privateKey: CryptoKey; publicPem: string }> | undefined;
/** An RSA key pair (made once) and its public key as SPKI PEM. */
function rsaKeyPair() {
  rsa ??= generateKeyPair("RS256", { extractable: true }).then(async ({ privateKey, publicKey }) => ({
    privateKey,
    publicPem: await exportSPKI(publicKey),
  }));
  return rsa;
}

/** A named `Authorization` header value (undefined: no header). */
export interface CredentialCase {
  name: string;
  authorization: string | undefined;
}

/**
 * The credentials every token route must refuse with 401, for `tenant` (a real member whose
 * role the route allows, so only the named defect makes the credential invalid).
 */
export async function invalidCredentials(tenant: Tenant & { role: Role }): Promise<CredentialCase[]> {
  const subject = { userId: tenant.userId, orgId: tenant.orgId, role: tenant.role };
  const now = Math.floor(Date.now() / 1000);
  const { privateKey, publicPem } = await rsaKeyPair();
  const { kid } = signingKey();
  const claimsRs = {
    sub: subject.userId,
    org: subject.orgId,
    role: subject.role,
    typ: "access",
    iss: config().JWT_ISSUER,
    aud: config().JWT_AUDIENCE,
  };
  const rs256 = await new SignJWT(claimsRs)
    .setProtectedHeader({ alg: "RS256", kid, typ: "JWT" })
    .setIssuedAt()
    .setExpirationTime("5m")
    .sign(privateKey);
  const refresh = await issueRefreshToken(db(), tenant.userId, tenant.orgId);
  const bearer = (token: string) => `Bearer ${token}`;
  const forged = async (options: ForgeOptions) => bearer(await forgeAccessToken(subject, options));
  return [
    { name: "no Authorization header", authorization: undefined },
    { name: "empty Authorization header", authorization: "" },
    { name: "Bearer without a token", authorization: "Bearer " },
    { name: "Bearer abc", authorization: "Bearer abc" },
    { name: "Basic credentials", authorization: `Basic ${btoa("owner:password")}` },
    { name: "Basic x", authorization: "Basic x" },
    { name: "token without the Bearer scheme", authorization: await forgeAccessToken(subject) },
    { name: "alg none", authorization: bearer(unsignedToken(subject)) },
    { name: "HS256 signed with the RSA public key PEM (HS/RS confusion)", authorization: await forged({ secret: publicPem }) },
    { name: "genuine RS256 token", authorization: bearer(rs256) },
    { name: "HS512 with the right secret (alg not pinned)", authorization: await forged({ header: { alg: "HS512" } }) },
    { name: "wrong iss", authorization: await forged({ claims: { iss: "someone-else" } }) },
    { name: "wrong aud", authorization: await forged({ claims: { aud: "another-api" } }) },
    { name: "typ refresh", authorization: await forged({ claims: { typ: "refresh" } }) },
    { name: "typ missing", authorization: await forged({ claims: { typ: undefined } }) },
    { name: "expired", authorization: await forged({ claims: { iat: now - 3600, exp: now - 1800 } }) },
    { name: "not yet valid (nbf in the future)", authorization: await forged({ claims: { nbf: now + 3600 } }) },
    { name: "unknown kid", authorization: await forged({ header: { kid: "retired-kid" } }) },
    { name: "kid missing", authorization: await forged({ header: { kid: undefined } }) },
    { name: "right kid, wrong secret", authorization: await forged({ secret: "x".repeat(48) }) },
    { name: "tampered payload (role raised, old signature)", authorization: bearer(await tamperedToken(subject)) },
    { name: "refresh token used as access token", authorization: bearer(refresh.token) },
    { name: "unknown API key", authorization: bearer(`se_live_${"A".repeat(43)}`) },
  ];
}

/** A valid token whose payload is swapped for one with role `owner` in another org, signature kept. */
async function tamperedToken(subject: { userId: string; orgId: string; role: Role }): Promise<string> {
  const [header, payload, signature] = (await forgeAccessToken(subject)).split(".");
  const claims = JSON.parse(atob((payload ?? "").replaceAll("-", "+").replaceAll("_", "/"))) as Record<string, unknown>;
  claims.org = crypto.randomUUID();
  claims.role = "owner";
  return `${header}.${base64url(JSON.stringify(claims))}.${signature}`;
}

/** Asserts a 401 problem with a Bearer challenge. */
export async function expectUnauthorized(res: Response, label: string): Promise<void> {
  expect(res.status, label).toBe(401);
  expect(res.headers.get("WWW-Authenticate"), label).toMatch(/^Bearer realm=/);
  const body = await problem(res);
  expect(body.status, label).toBe(401);
  expect(body.requestId, label).toBe(res.headers.get("X-Request-Id"));
}

/** Asserts a problem answer with `status`. */
export async function expectProblem(res: Response, status: number, label: string): Promise<void> {
  expect(res.status, label).toBe(status);
  const body = await problem(res);
  expect(body.status, label).toBe(status);
}

/** A request to the Worker; see `buildRequest` in helpers.ts. */
export const request = buildRequest;

/**
 * Creates an API key of `orgId` with `scopes` straight in the database, made by a new admin of the
 * org (a key lives only as long as its creator's authority); returns the key, its id and the creator.
 */
export async function seedApiKey(
  orgId: string,
  scopes: ApiKeyScope[],
  name = "seeded",
): Promise<{ id: string; key: string; creatorId: string }> {
  const { key, prefix, keyHash } = await generateApiKey();
  const creatorId = crypto.randomUUID();
  const database = db();
  const id = crypto.randomUUID();
  await database.batch([
    database.insert(users).values({ id: creatorId, email: `key-admin-${creatorId.slice(0, 8)}@example.test`, passwordHash: "x" }),
    database.insert(memberships).values({ orgId, userId: creatorId, role: "admin" }),
    database.insert(apiKeys).values({ id, orgId, name, prefix, keyHash, scopes, createdBy: creatorId }),
  ]);
  return { id, key, creatorId };
}

/** A finished `wb-sync` job of `orgId` (status `succeeded`, or `dead` for a dead letter). */
export async function seedJob(orgId: string, status: "succeeded" | "dead" = "succeeded"): Promise<string> {
  const id = crypto.randomUUID();
  await db().insert(jobs).values({ id, orgId, kind: "wb-sync", dedupId: id, status, finishedAt: new Date().toISOString() });
  return id;
}

/** A dead job of `orgId` and its dead letter; returns the dead letter's id. */
export async function seedDeadLetter(orgId: string): Promise<{ id: string; jobId: string }> {
  const jobId = await seedJob(orgId, "dead");
  const [row] = await db()
    .insert(deadLetters)
    .values({
      jobId,
      orgId,
      kind: "wb-sync",
      qstashMessageId: `msg_seed_${crypto.randomUUID()}`,
      destination: `${testEnv.PUBLIC_JOBS_URL}/jobs/wb-sync`,
      payload: { jobId },
      lastStatus: 503,
      lastResponse: "seeded",
      retried: 3,
    })
    .returning({ id: deadLetters.id });
  if (!row) throw new Error("dead letter not stored");
  return { id: row.id, jobId };
}

/** Marketplace rows of one org whose names carry `label`: a product, stock rows and one order. */
export async function seedMarketplace(
  orgId: string,
  label: string,
): Promise<{ srid: string; nmId: number; warehouse: string; size: string }> {
  const nmId = 100_000_000 + Math.floor(Math.random() * 800_000_000);
  const srid = `${label}.r${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}.0.0`;
  const warehouse = `WH-${label}`;
  const size = `S-${label}`;
  const now = new Date().toISOString();
  const database = db();
  await database.batch([
    database
      .insert(products)
      .values({ orgId, nmId, supplierArticle: `ART-${label}`, name: `Product ${label}`, brand: "B", subject: "S", category: "C" }),
    database.insert(stocks).values({
      orgId,
      nmId,
      barcode: `BC-${label}`,
      warehouseName: warehouse,
      supplierArticle: `ART-${label}`,
      techSize: size,
      quantity: 7,
      inWayToClient: 0,
      inWayFromClient: 0,
      quantityFull: 7,
      price: 1000,
      discount: 10,
      lastChangeDate: now,
    }),
    database.insert(orders).values({
      orgId,
      srid,
      gNumber: `G-${label}`,
      date: now,
      lastChangeDate: now,
      nmId,
      barcode: `BC-${label}`,
      supplierArticle: `ART-${label}`,
      techSize: size,
      warehouseName: warehouse,
      regionName: "Moscow",
      totalPrice: 1000,
      discountPercent: 10,
      spp: 0,
      finishedPrice: 900,
      priceWithDisc: 900,
      isCancel: false,
      cancelDate: null,
    }),
    // The rollups a sync batch keeps with these rows.
    ...recomputeDailyStats(database, orgId, [moscowDay()]),
    ...recomputeWarehouseStockStats(database, orgId, [warehouse]),
  ]);
  return { srid, nmId, warehouse, size };
}

/** Roles of the schema that `policy` does not allow (the candidates of a 403 case). */
export function rolesOutside(policy: AccessPolicy): Role[] {
  if (policy.kind !== "token") return [];
  return roles.filter((r) => !policy.roles.includes(r));
}
