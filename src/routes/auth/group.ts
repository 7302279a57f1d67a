/**
 * Route group `auth` under `/api/v1/auth`: registration (operator token), login, token refresh
 * and logout, the signed-in user, and the org's API keys. See docs/security.md.
 *
 * Rate-limit buckets: `auth-login` and `auth-tokens` count per client IP (`CF-Connecting-IP`,
 * set by Cloudflare's edge) and fail closed in production, so a Redis outage never opens
 * unlimited password or token guessing; `auth-read` and `auth-write` count per user.
 */
import { orgAdmins, tokenAccess } from "../../core/access";
import { defineGroup } from "../../core/route";
import { memberRoles } from "./schemas";

/** The `auth` group: its name, `/docs` section and rate-limit policies (`login`, `tokens`, and `read`/`write`). */
export const group = defineGroup({
  name: "auth",
  description: "Registration, login, token refresh and logout, the signed-in user, and the org's API keys.",
  rateLimits: {
    /** `auth-login`: `LOGIN_RATE_LIMIT_PER_MINUTE` attempts per IP per minute. */
    login: (config) => config.LOGIN_RATE_LIMIT_PER_MINUTE,
    /** `auth-tokens`: registration, refresh and logout, `RATE_LIMIT_WRITE_PER_MINUTE` per IP per minute. */
    tokens: (config) => config.RATE_LIMIT_WRITE_PER_MINUTE,
  },
});

/** Any signed-in person (a user access token, any role); API keys get 403. */
export const signedInUsers = tokenAccess(memberRoles);

/** Who manages an org's API keys: its owners and admins, with a user access token (a key cannot mint keys). */
export const apiKeyManagers = tokenAccess(orgAdmins);

/** Rate limit of login: per IP, fail closed. */
export const loginLimit = { policy: "login", failClosed: true } as const;
/** Rate limit of registration, refresh and logout: per IP, fail closed. */
export const tokensLimit = { policy: "tokens", failClosed: true } as const;
