/**
 * Request and response schemas of the `auth` route group. Request bodies are `.strict()`:
 * a field outside the contract (`role` on login, `orgId` on an API key, any id) is a 400,
 * never silently dropped or assigned.
 */
import { z } from "zod";
import { apiKeyScopes, type Role, roles } from "../../core/db/schema";

/** A lower-cased, trimmed e-mail address (≤ 254 characters, RFC 5321). */
const email = z.string().trim().toLowerCase().email().max(254);

/** Roles a person can hold; `service` belongs to API keys only. */
export const memberRoles = roles.filter((r): r is Exclude<Role, "service"> => r !== "service");

/** Roles that manage an org's API keys. */
export const apiKeyManagers = ["owner", "admin"] as const satisfies readonly Role[];

/** Minimum and maximum password length, in Unicode code points. */
export const PASSWORD_MIN_LENGTH = 12;
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

/** `POST /login`. */
export const loginBody = z
  .object({
    email,
    /** Any password registration accepts (1024 code points are at most 2048 UTF-16 units). */
    password: z
      .string()
      .min(1)
      .max(PASSWORD_MAX_LENGTH * 2),
    /** Which org to act in when the user belongs to several; defaults to the oldest membership. */
    orgId: z.string().uuid().optional(),
  })
  .strict();

/**
 * `POST /register`: either `{ email, password, orgName }` (a new org and its owner) or
 * `{ email, password, orgId, role }` (a member of an existing org). Mixing the two shapes,
 * or any other field, is a 400.
 */
export const registerBody = z
  .object({
    email,
    password: z.string(),
    orgName: z.string().trim().min(1).max(200).optional(),
    orgId: z.string().uuid().optional(),
    role: z.enum(memberRoles).optional(),
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
  });
export type RegisterBody = z.infer<typeof registerBody>;

export const registerResponse = z.object({ userId: z.string().uuid(), orgId: z.string().uuid(), role: z.enum(memberRoles) });
export type RegisterResponse = z.infer<typeof registerResponse>;

/** An opaque refresh token as issued (`rt_` + 43 base64url characters); anything up to 512 is looked up. */
const refreshToken = z.string().min(1).max(512);

/** `POST /refresh`. */
export const refreshBody = z.object({ refreshToken }).strict();
/** `POST /logout`. */
export const logoutBody = z.object({ refreshToken }).strict();

/** Answer of login and refresh. Lifetimes in seconds. */
export const tokenResponse = z.object({
  accessToken: z.string(),
  tokenType: z.literal("Bearer"),
  /** Access token lifetime (≤ 900). */
  expiresIn: z.number().int(),
  refreshToken: z.string(),
  /** Seconds until the refresh token family ends (30 days from the login; rotation does not extend it). */
  refreshExpiresIn: z.number().int(),
  orgId: z.string().uuid(),
  role: z.enum(roles),
});
export type TokenResponse = z.infer<typeof tokenResponse>;

/** `GET /me`: who the token is, and every org the user belongs to. Never the password hash. */
export const meResponse = z.object({
  userId: z.string().uuid(),
  email: z.string(),
  orgId: z.string().uuid(),
  role: z.enum(roles),
  memberships: z.array(z.object({ orgId: z.string().uuid(), orgName: z.string(), role: z.enum(roles) })),
});
export type MeResponse = z.infer<typeof meResponse>;

/** `POST /api-keys`: a name to recognise the key and at least one scope (no duplicates). */
export const createApiKeyBody = z
  .object({
    name: z.string().trim().min(1).max(100),
    scopes: z
      .array(z.enum(apiKeyScopes))
      .min(1)
      .max(apiKeyScopes.length)
      .refine((s) => new Set(s).size === s.length, "Scopes must not repeat."),
  })
  .strict();

/** An API key as listed: never the key or its hash. Times are ISO 8601 UTC. */
export const apiKeyView = z.object({
  id: z.string().uuid(),
  name: z.string(),
  /** The key's first characters (`se_live_ab12cd34`), to recognise it. */
  prefix: z.string(),
  scopes: z.array(z.enum(apiKeyScopes)),
  createdAt: z.string(),
  lastUsedAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
});
export type ApiKeyView = z.infer<typeof apiKeyView>;
/** Answer of `GET /api-keys`. */
export const apiKeyList = z.object({ items: z.array(apiKeyView) });
export type ApiKeyList = z.infer<typeof apiKeyList>;

/** Answer of `POST /api-keys`: the only time the full `key` is shown. */
export const createdApiKey = apiKeyView
  .pick({ id: true, name: true, prefix: true, scopes: true, createdAt: true })
  .extend({ key: z.string() });
export type CreatedApiKey = z.infer<typeof createdApiKey>;

/** `DELETE /api-keys/{id}`. */
export const apiKeyIdParam = z.object({ id: z.string().uuid() });

/**
 * A Postgres `timestamptz` text (`2026-11-20 10:00:00.123+00`) as ISO 8601 UTC — the same
 * parse drizzle's `mode: "date"` does.
 */
export function isoTime(value: string): string;
export function isoTime(value: string | null): string | null;
export function isoTime(value: string | null): string | null {
  return value === null ? null : new Date(value).toISOString();
}
