/**
 * `GET /api/v1/auth/me` — the signed-in user (any role, user access token only; an API key
 * gets 403): `{ userId, email, orgId, role, memberships: [{ orgId, orgName, role }] }`, where
 * `orgId`/`role` are those the token acts as and `memberships` lists every org of the user,
 * oldest first. Never the password hash (only named columns are read). One Neon request.
 * Errors: 401 (no or invalid token, or the user no longer exists), 403, 429.
 */
import { asc, eq } from "drizzle-orm";
import { Hono } from "hono";
import type { AppEnv } from "../../core/app";
import { memberships, orgs, users } from "../../core/db/schema";
import { ApiError } from "../../core/errors";
import { access, rateLimit } from "../../core/middleware";
import { strictQuery } from "../../core/validation";
import { type MeResponse, memberRoles } from "./schemas";

export const me = new Hono<AppEnv>().get("/me", access({ roles: memberRoles }), rateLimit("auth"), strictQuery(), async (c) => {
  const auth = c.var.auth;
  if (auth.kind !== "user") throw new ApiError("FORBIDDEN", { detail: "This operation needs a user access token." });
  const { db } = c.var.services;
  const [[user], orgsOfUser] = await db.batch([
    db.select({ email: users.email }).from(users).where(eq(users.id, auth.userId)).limit(1),
    db
      .select({ orgId: memberships.orgId, orgName: orgs.name, role: memberships.role })
      .from(memberships)
      .innerJoin(orgs, eq(orgs.id, memberships.orgId))
      .where(eq(memberships.userId, auth.userId))
      .orderBy(asc(memberships.createdAt)),
  ]);
  if (!user) throw new ApiError("UNAUTHORIZED", { detail: "The user of this token no longer exists." });
  return c.json({
    userId: auth.userId,
    email: user.email,
    orgId: auth.orgId,
    role: auth.role,
    memberships: orgsOfUser,
  } satisfies MeResponse);
});
