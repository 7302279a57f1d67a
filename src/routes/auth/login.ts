/**
 * `POST /api/v1/auth/login` — e-mail and password for a short-lived access token and an
 * opaque rotating refresh token, behind a per-IP limit and a per-account lockout.
 * @see https://cheatsheetseries.owasp.org/cheatsheets/Authentication_Cheat_Sheet.html
 */
import { and, asc, eq } from "drizzle-orm";
import type { Context } from "hono";
import { publicAccess } from "../../core/access";
import { signAccessToken } from "../../core/auth/jwt";
import { clearLoginFailures, countLoginAttempt, type LoginAttempt } from "../../core/auth/lockout";
import { DUMMY_PASSWORD_HASH, hashPassword, needsRehash, verifyPassword } from "../../core/auth/password";
import { issueRefreshToken } from "../../core/auth/refresh-tokens";
import type { AppEnv } from "../../core/context";
import { memberships, users } from "../../core/db/schema";
import { ApiError } from "../../core/errors";
import { onRedisOutage } from "../../core/guard";
import { defineOperation } from "../../core/route";
import { group, loginLimit } from "./group";
import { loginBody, noStoreHeader, tokenPair, tokenResponse } from "./schemas";

/**
 * Counts the attempt. Redis down: 503 in production (fail closed, like the rate limit),
 * elsewhere a loud warning and no lockout.
 */
async function countAttempt(c: Context<AppEnv>, email: string): Promise<LoginAttempt> {
  const { redis, config } = c.var.services;
  try {
    return await countLoginAttempt(redis, email, { threshold: config.LOGIN_LOCKOUT_THRESHOLD, lockSeconds: config.LOGIN_LOCKOUT_SECONDS });
  } catch (err) {
    onRedisOutage(c.var.services, true, "Login lockout", err);
    return { locked: false };
  }
}

/** `POST /api/v1/auth/login` (public). */
export const login = defineOperation({
  route: group.route({
    method: "post",
    path: "/api/v1/auth/login",
    summary: "Log in: an access token and a refresh token",
    description: [
      "`{ email, password, orgId? }` for a short-lived access token (≤ 15 min) and an opaque rotating refresh token (a new session). `orgId` picks the org of a user in several; default: the oldest membership.",
      "Abuse control: the `auth-login` rate limit per IP (fails closed), then the per-account lockout: the attempt is counted before the password is checked, and once `LOGIN_LOCKOUT_THRESHOLD` failures are pending the answer is 429 + `Retry-After`, even for the right password; a success clears the count. An unknown e-mail is counted and verified against a dummy hash, so it costs the same work and gets the same 401 as a wrong password (no user enumeration by answer or timing). An outdated password hash is re-hashed in the background.",
      "Round trips: Redis and Neon in parallel, then Neon (refresh token) and Redis (clear) in parallel.",
    ].join("\n\n"),
    access: publicAccess,
    rateLimit: loginLimit,
    errors: {
      401: "The e-mail or the password is wrong (the same answer for both).",
      403: "The user has no membership in `orgId`.",
      429: "Too many logins from this address, or the account is locked after repeated failures; retry after `Retry-After` seconds.",
    },
    request: { body: { required: true, content: { "application/json": { schema: loginBody } } } },
    responses: {
      200: {
        description: "The tokens and the membership they act as.",
        headers: noStoreHeader,
        content: { "application/json": { schema: tokenPair } },
      },
    },
  }),
  handler: async (c) => {
    const { email, password, orgId } = c.req.valid("json");
    const { db, redis, config, logger } = c.var.services;
    const [attempt, rows] = await Promise.all([
      countAttempt(c, email),
      db
        .select({ userId: users.id, passwordHash: users.passwordHash, orgId: memberships.orgId, role: memberships.role })
        .from(users)
        .leftJoin(memberships, eq(memberships.userId, users.id))
        .where(eq(users.email, email))
        .orderBy(asc(memberships.createdAt)),
    ]);
    if (attempt.locked) {
      logger.warn("login locked", { retryAfterSeconds: attempt.retryAfterSeconds });
      throw new ApiError("TOO_MANY_REQUESTS", {
        detail: "Too many failed logins for this account; retry after the given delay.",
        headers: { "Retry-After": String(attempt.retryAfterSeconds) },
      });
    }

    const user = rows[0];
    const ok = await verifyPassword(password, user?.passwordHash ?? DUMMY_PASSWORD_HASH);
    if (!user || !ok) throw new ApiError("UNAUTHORIZED", { detail: "E-mail or password is wrong." });

    const clearing = clearLoginFailures(redis, email).catch((err: unknown) =>
      logger.warn("login failures not cleared", { error: String(err) }),
    );
    const membership = rows.find((r) => r.orgId !== null && (orgId === undefined || r.orgId === orgId));
    if (!membership?.orgId || !membership.role) {
      await clearing;
      throw new ApiError("FORBIDDEN", { detail: "The user has no membership in that org." });
    }
    const acting = { orgId: membership.orgId, role: membership.role };

    if (needsRehash(user.passwordHash)) {
      const outdated = user.passwordHash;
      c.executionCtx.waitUntil(
        hashPassword(password).then((passwordHash) =>
          db
            .update(users)
            // Only if unchanged meanwhile: never overwrite a concurrent password change.
            .set({ passwordHash })
            .where(and(eq(users.id, user.userId), eq(users.passwordHash, outdated)))
            .then(() => logger.info("password re-hashed", { userId: user.userId })),
        ),
      );
    }
    const [access, refresh] = await Promise.all([
      signAccessToken(config, { userId: user.userId, ...acting }),
      issueRefreshToken(db, user.userId, acting.orgId),
      clearing,
    ]);
    c.header("Cache-Control", "no-store");
    return c.json(tokenResponse(access, refresh, acting), 200);
  },
});
