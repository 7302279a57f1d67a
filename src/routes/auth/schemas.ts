/**
 * Request and response schemas of the `auth` route group, and the token answer of login and
 * refresh. Request bodies are `.strict()`: a field outside the contract (`role` on login,
 * `orgId` on an API key, any id) is a 400, never silently dropped or assigned. Times are
 * RFC 3339 UTC (`isoTime`).
 */
import { z } from "@hono/zod-openapi";
import { apiKeyScopes, type Role, roles } from "../../core/db/schema";

/** A lower-cased, trimmed e-mail address (≤ 254 characters, RFC 5321). */
const email = z.string().trim().toLowerCase().email().max(254).openapi({ example: "jane@example.com" });

const uuid = z.string().uuid().openapi({ example: "5f0c6f4e-2d1a-4c1e-9a55-0c3f1b0e7d21" });
const role = z.enum(roles).openapi({ example: "owner" });
const time = (example = "2026-11-20T10:00:00.000Z") => z.string().openapi({ format: "date-time", example });

/** Roles a person can hold; `service` belongs to API keys only. */
export const memberRoles = roles.filter((r): r is Exclude<Role, "service"> => r !== "service");

/** Minimum password length, in Unicode code points. */
export const PASSWORD_MIN_LENGTH = 12;
/** Maximum password length, in Unicode code points. */
export const PASSWORD_MAX_LENGTH = 1024;
/** A local part shorter than this is not checked for containment (every password would contain "a"). */
const LOCAL_PART_MIN_CHECKED = 3;

/**
 * What is wrong with `password` for the account `emailAddress`: too short or too long
 * (code points), equal to the e-mail, or containing the e-mail's local part (both
 * case-insensitive; local parts under 3 characters are not checked). Empty when acceptable.
 * @see https://pages.nist.gov/800-63-4/sp800-63b.html#passwordver (length over composition rules)
 */
export function passwordProblems(password: string, emailAddress: string): string[] {
  const problems: string[] = [];
  const length = [...password].length;
  if (length < PASSWORD_MIN_LENGTH) problems.push(`Password must be at least ${PASSWORD_MIN_LENGTH} characters long.`);
  if (length > PASSWORD_MAX_LENGTH) problems.push(`Password must be at most ${PASSWORD_MAX_LENGTH} characters long.`);
  const lowered = password.toLowerCase();
  const address = emailAddress.trim().toLowerCase();
  const localPart = address.slice(0, Math.max(0, address.lastIndexOf("@")));
  if (lowered === address) problems.push("Password must not be the e-mail address.");
  else if (localPart.length >= LOCAL_PART_MIN_CHECKED && lowered.includes(localPart)) {
    problems.push("Password must not contain the e-mail's local part (before the @).");
  }
  return problems;
}

/** `Cache-Control: no-store`, declared on answers that carry a secret (tokens, a new API key). */
export const noStoreHeader = {
  "Cache-Control": {
    description: "Never stored by caches: the answer carries a secret.",
    schema: { type: "string" as const, example: "no-store" },
  },
};

/** `POST /login`. */
export const loginBody = z
  .object({
    email,
    /** Any password registration accepts (1024 code points are at most 2048 UTF-16 units). */
    password: z
      .string()
      .min(1)
      .max(PASSWORD_MAX_LENGTH * 2)
      .openapi({ example: "violet-Quartz-harbor-42" }),
    /** Which org to act in when the user belongs to several; defaults to the oldest membership. */
    orgId: uuid.optional().openapi({ description: "The org to act in; default: the user's oldest membership." }),
  })
  .strict()
  .openapi("LoginRequest");

/**
 * `POST /register`: either `{ email, password, orgName }` (a new org and its owner) or
 * `{ email, password, orgId, role }` (a member of an existing org). Mixing the two shapes,
 * or any other field, is a 400.
 */
export const registerBody = z
  .object({
    email,
    password: z.string().openapi({ description: "12–1024 characters; not the e-mail nor containing its local part." }),
    orgName: z
      .string()
      .trim()
      .min(1)
      .max(200)
      .optional()
      .openapi({ description: "A new org, whose owner the user becomes.", example: "Acme Sellers" }),
    orgId: uuid.optional().openapi({ description: "An existing org the user joins (with `role`)." }),
    role: z.enum(memberRoles).optional().openapi({ description: "The new member's role (with `orgId`).", example: "analyst" }),
  })
  .strict()
  .superRefine((body, ctx) => {
    for (const message of passwordProblems(body.password, body.email)) ctx.addIssue({ code: "custom", path: ["password"], message });
    const newOrg = body.orgName !== undefined;
    const member = body.orgId !== undefined || body.role !== undefined;
    if (newOrg && member) {
      ctx.addIssue({ code: "custom", path: [], message: "Give either orgName (a new org) or orgId and role (a new member), not both." });
    } else if (!newOrg && !member) {
      ctx.addIssue({ code: "custom", path: ["orgName"], message: "Give orgName for a new org, or orgId and role to join one." });
    } else if (member) {
      if (body.orgId === undefined) ctx.addIssue({ code: "custom", path: ["orgId"], message: "orgId is required with role." });
      if (body.role === undefined) ctx.addIssue({ code: "custom", path: ["role"], message: "role is required with orgId." });
    }
  })
  .openapi("RegisterRequest");

/** Answer of `POST /register`. */
export const registerResponse = z
  .object({ userId: uuid, orgId: uuid, role: z.enum(memberRoles).openapi({ example: "owner" }) })
  .openapi("Registered");
export type RegisterResponse = z.infer<typeof registerResponse>;

/** An opaque refresh token as issued (`rt_` + 43 base64url characters); anything up to 512 is looked up. */
const refreshToken = z.string().min(1).max(512).openapi({ example: "rt_3q2-7wEjUj0r1xv9cZ2GkQ0bXo4f1Hc8m5nTzPaWd0s" });

/** `POST /refresh` and `POST /logout`. */
export const refreshTokenBody = z.object({ refreshToken }).strict().openapi("RefreshTokenRequest");

/** Answer of login and refresh. Lifetimes in seconds. */
export const tokenPair = z
  .object({
    accessToken: z.string().openapi({ description: "HS256 JWT; send as `Authorization: Bearer …`." }),
    tokenType: z.literal("Bearer"),
    expiresIn: z.number().int().openapi({ description: "Access token lifetime in seconds (≤ 900).", example: 900 }),
    refreshToken: z.string().openapi({ description: "Opaque, single use: exchange it at `/refresh` for a successor." }),
    refreshExpiresIn: z.number().int().openapi({
      description: "Seconds until the session ends (30 days from the login; rotation does not extend it).",
      example: 2_592_000,
    }),
    orgId: uuid,
    role,
  })
  .openapi("TokenPair");
export type TokenPair = z.infer<typeof tokenPair>;

/**
 * The token answer of login and refresh, from a signed access token, the refresh token issued
 * with it and the membership both act as.
 */
export function tokenResponse(
  access: { token: string; expiresIn: number },
  refresh: { token: string; expiresIn: number },
  membership: { orgId: string; role: Role },
): TokenPair {
  return {
    accessToken: access.token,
    tokenType: "Bearer",
    expiresIn: access.expiresIn,
    refreshToken: refresh.token,
    refreshExpiresIn: refresh.expiresIn,
    orgId: membership.orgId,
    role: membership.role,
  };
}

/** `GET /me`: who the token is, and every org the user belongs to. Never the password hash. */
export const meResponse = z
  .object({
    userId: uuid,
    email: z.string().openapi({ example: "jane@example.com" }),
    orgId: uuid.openapi({ description: "The org the token acts in." }),
    role,
    memberships: z.array(z.object({ orgId: uuid, orgName: z.string().openapi({ example: "Acme Sellers" }), role })),
  })
  .openapi("Me");

/** Days an API key lives by default. */
export const API_KEY_DEFAULT_DAYS = 90;
/** Days an API key lives at most. */
export const API_KEY_MAX_DAYS = 365;

/** `POST /api-keys`: a name to recognise the key, at least one scope (no duplicates), and its lifetime. */
export const createApiKeyBody = z
  .object({
    name: z.string().trim().min(1).max(100).openapi({ example: "CRM bridge" }),
    scopes: z
      .array(z.enum(apiKeyScopes))
      .min(1)
      .max(apiKeyScopes.length)
      .refine((s) => new Set(s).size === s.length, "Scopes must not repeat.")
      .openapi({ example: ["dashboard:read"] }),
    expiresInDays: z
      .number()
      .int()
      .min(1)
      .max(API_KEY_MAX_DAYS)
      .default(API_KEY_DEFAULT_DAYS)
      .openapi({ description: `Days until the key stops working (default ${API_KEY_DEFAULT_DAYS}).`, example: API_KEY_DEFAULT_DAYS }),
  })
  .strict()
  .openapi("CreateApiKeyRequest");

/** An API key as listed: never the key or its hash. */
export const apiKeyView = z
  .object({
    id: uuid,
    name: z.string().openapi({ example: "CRM bridge" }),
    prefix: z.string().openapi({ description: "The key's first characters, to recognise it.", example: "se_live_ab12cd34" }),
    scopes: z.array(z.enum(apiKeyScopes)).openapi({ example: ["dashboard:read"] }),
    createdAt: time(),
    expiresAt: time("2027-02-18T10:00:00.000Z").openapi({ description: "The key stops working then." }),
    lastUsedAt: time().nullable().openapi({ description: "Refreshed at most once a minute." }),
    revokedAt: time().nullable(),
  })
  .openapi("ApiKey");

/** Answer of `GET /api-keys`. */
export const apiKeyList = z.object({ items: z.array(apiKeyView) }).openapi("ApiKeyList");

/** Answer of `POST /api-keys`: the only time the full `key` is shown. */
export const createdApiKey = apiKeyView
  .pick({ id: true, name: true, prefix: true, scopes: true, createdAt: true, expiresAt: true })
  .extend({ key: z.string().openapi({ description: "The key itself, shown this once.", example: "se_live_ab12cd34…" }) })
  .openapi("CreatedApiKey");

/** `DELETE /api-keys/{id}`. */
export const apiKeyIdParam = z.object({ id: uuid.openapi({ param: { name: "id", in: "path" } }) });
