/**
 * `POST /api/v1/auth/login` — e-mail and password for a short-lived access token.
 * An unknown e-mail costs the same PBKDF2 work as a wrong password (no user enumeration
 * by timing); both answer the same 401. An outdated password hash is re-hashed.
 * @see https://cheatsheetseries.owasp.org/cheatsheets/Authentication_Cheat_Sheet.html
 */
import { and, asc, eq } from "drizzle-orm";
import { Hono } from "hono";
import type { AppEnv } from "../../core/app";
import { signAccessToken } from "../../core/auth/jwt";
import { DUMMY_PASSWORD_HASH, hashPassword, needsRehash, verifyPassword } from "../../core/auth/password";
import { memberships, users } from "../../core/db/schema";
import { ApiError } from "../../core/errors";
import { rateLimit } from "../../core/middleware";
import { validate } from "../../core/validation";
import { loginBody, type TokenResponse } from "./schemas";

export const login = new Hono<AppEnv>().post(
  "/login",
  rateLimit((config) => ({ name: "login", limit: config.LOGIN_RATE_LIMIT_PER_MINUTE, windowSeconds: 60 })),
  validate("json", loginBody),
  async (c) => {
    const { email, password, orgId } = c.req.valid("json");
    const { db, config } = c.var.services;
    const [user] = await db.select().from(users).where(eq(users.email, email)).limit(1);
    const ok = await verifyPassword(password, user?.passwordHash ?? DUMMY_PASSWORD_HASH);
    if (!user || !ok) throw new ApiError("UNAUTHORIZED", { detail: "E-mail or password is wrong." });

    const [membership] = await db
      .select()
      .from(memberships)
      .where(orgId ? and(eq(memberships.userId, user.id), eq(memberships.orgId, orgId)) : eq(memberships.userId, user.id))
      .orderBy(asc(memberships.createdAt))
      .limit(1);
    if (!membership) throw new ApiError("FORBIDDEN", { detail: "The user has no membership in that org." });

    if (needsRehash(user.passwordHash)) {
      const passwordHash = await hashPassword(password);
      c.executionCtx.waitUntil(
        db
          .update(users)
          .set({ passwordHash })
          .where(eq(users.id, user.id))
          .then(() => undefined),
      );
    }
    const { token, expiresIn } = await signAccessToken(config, { userId: user.id, orgId: membership.orgId, role: membership.role });
    return c.json({
      accessToken: token,
      tokenType: "Bearer",
      expiresIn,
      orgId: membership.orgId,
      role: membership.role,
    } satisfies TokenResponse);
  },
);
