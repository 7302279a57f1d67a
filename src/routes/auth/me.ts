/**
 * `GET /api/v1/auth/me` — the signed-in user and their memberships.
 */
import { asc, eq } from "drizzle-orm";
import { memberships, orgs, users } from "../../core/db/schema";
import { ApiError } from "../../core/errors";
import { defineOperation } from "../../core/route";
import { group, signedInUsers } from "./group";
import { meResponse } from "./schemas";

/** `GET /api/v1/auth/me` (any user; API keys get 403). */
export const me = defineOperation({
  route: group.route({
    method: "get",
    path: "/api/v1/auth/me",
    summary: "The signed-in user and every org they belong to",
    description: [
      "`{ userId, email, orgId, role, memberships }`: `orgId` and `role` are those the access token acts as; `memberships` lists every org of the user, oldest first. Never the password hash (only named columns are read).",
      "A user access token of any role; an API key gets 403, a token whose user no longer exists 401. One Neon request.",
    ].join("\n\n"),
    access: signedInUsers,
    responses: {
      200: { description: "The signed-in user.", content: { "application/json": { schema: meResponse } } },
    },
  }),
  handler: async (c) => {
    const auth = c.var.auth;
    // The policy admits no API key; narrowed here for the types.
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
    return c.json({ userId: auth.userId, email: user.email, orgId: auth.orgId, role: auth.role, memberships: orgsOfUser }, 200);
  },
});
