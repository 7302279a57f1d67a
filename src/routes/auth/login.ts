/**
 * `POST /api/v1/auth/login` — `{ email, password, orgId? }` for a short-lived access token
 * (≤ 15 min) and an opaque rotating refresh token (a new family).
 *
 * Abuse control: the `login` rate limit per IP (fail closed), then the per-account lockout
 * (`core/auth/lockout.ts`): the attempt is counted before the password is checked, and once
 * `LOGIN_LOCKOUT_THRESHOLD` failures are pending the answer is 429 + `Retry-After`, even for
 * the right password; a success clears the count. An unknown e-mail is counted and verified
 * against `DUMMY_PASSWORD_HASH`, so it costs the same PBKDF2 work and gets the same 401 as a
 * wrong password (no user enumeration by answer or timing). An outdated hash is re-hashed in
 * the background. Round trips: Redis and Neon in parallel, then Neon (refresh token) and
 * Redis (clear) in parallel.
 * Errors: 400, 401 (wrong e-mail or password), 403 (no membership in `orgId`), 429, 503.
 * @see https://cheatsheetseries.owasp.org/cheatsheets/Authentication_Cheat_Sheet.html
 */
import { and, asc, eq } from "drizzle-orm";
import { type Context, Hono } from "hono";
import type { AppEnv } from "../../core/app";
import { signAccessToken } from "../../core/auth/jwt";
import { clearLoginFailures, countLoginAttempt, type LoginAttempt } from "../../core/auth/lockout";
import { DUMMY_PASSWORD_HASH, hashPassword, needsRehash, verifyPassword } from "../../core/auth/password";
import { issueRefreshToken } from "../../core/auth/refresh-tokens";
import { memberships, users } from "../../core/db/schema";
import { ApiError } from "../../core/errors";
import { publicRoute, rateLimit } from "../../core/middleware";
import { strictQuery, validate } from "../../core/validation";
import { loginPolicy } from "./policies";
import { loginBody, type TokenResponse } from "./schemas";

/**
 * Counts the attempt. Redis down: 503 in production (fail closed, like the rate limit),
 * elsewhere a loud warning and no lockout.
 */
async function countAttempt(c: Context<AppEnv>, email: string): Promise<LoginAttempt> {
  const { redis, config, logger } = c.var.services;
  try {
    return await countLoginAttempt(redis, email, { threshold: config.LOGIN_LOCKOUT_THRESHOLD, lockSeconds: config.LOGIN_LOCKOUT_SECONDS });
  } catch (err) {
    if (config.ENVIRONMENT === "production") {
      throw new ApiError("SERVICE_UNAVAILABLE", {
        detail: "Login is unavailable; retry shortly.",
        headers: { "Retry-After": "5" },
        cause: err,
      });
    }
    logger.warn("LOGIN LOCKOUT BYPASSED: Redis did not answer; the attempt was not counted", { error: String(err) });
    return { locked: false };
  }
}

export const login = new Hono<AppEnv>().post(
  "/login",
  publicRoute(),
  rateLimit("auth", { policy: loginPolicy, failClosed: true }),
  strictQuery(),
  validate("json", loginBody),
  async (c) => {
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
      signAccessToken(config, { userId: user.userId, orgId: membership.orgId, role: membership.role }),
      issueRefreshToken(db, user.userId, membership.orgId),
      clearing,
    ]);
    c.header("Cache-Control", "no-store");
    return c.json({
      accessToken: access.token,
      tokenType: "Bearer",
      expiresIn: access.expiresIn,
      refreshToken: refresh.token,
      refreshExpiresIn: refresh.expiresIn,
      orgId: membership.orgId,
      role: membership.role,
    } satisfies TokenResponse);
  },
);
