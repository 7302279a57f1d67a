/**
 * `POST /api/v1/auth/register` — operator-only registration: a new org and its owner, or a
 * new member of an existing org. The database's constraints decide the conflicts.
 * @see https://owasp.org/www-community/attacks/Timing_attack (the operator token is compared in constant time)
 */
import { adminTokenAccess } from "../../core/access";
import { hashPassword } from "../../core/auth/password";
import { postgresError } from "../../core/db/errors";
import { memberships, orgs, users } from "../../core/db/schema";
import { ApiError } from "../../core/errors";
import { defineOperation } from "../../core/route";
import { group, tokensLimit } from "./group";
import { type RegisterResponse, registerBody, registerResponse } from "./schemas";

/** `POST /api/v1/auth/register` (operator token). */
export const register = defineOperation({
  route: group.route({
    method: "post",
    path: "/api/v1/auth/register",
    summary: "Register a user: a new org and its owner, or a member of an existing org",
    description: [
      "Operator only: `Authorization: Bearer <ADMIN_REGISTRATION_TOKEN>`, compared in constant time. No bearer is 401; a wrong one is 403, and wrong tokens count as failed authentications of the IP (over `AUTH_FAILURES_PER_MINUTE` a minute: 429).",
      "- `{ email, password, orgName }` creates an org and its owner;",
      "- `{ email, password, orgId, role }` adds a new user to an existing org with `role` (any role but `service`, which belongs to API keys).",
      "The password policy answers 400 with `errors`: 12–1024 characters, not the e-mail, not containing its local part. All writes go in one `db.batch` (one transaction, one Neon request); the database's constraints decide the conflicts, so there is no check-then-insert race and a failed registration writes nothing.",
    ].join("\n\n"),
    access: adminTokenAccess,
    rateLimit: tokensLimit,
    errors: { 404: "No org with this `orgId`.", 409: "A user with this e-mail already exists (e-mails compare case-insensitively)." },
    request: { body: { required: true, content: { "application/json": { schema: registerBody } } } },
    responses: {
      201: { description: "The user, the org and the role they got.", content: { "application/json": { schema: registerResponse } } },
    },
  }),
  handler: async (c) => {
    const body = c.req.valid("json");
    const { db } = c.var.services;
    const userId = crypto.randomUUID();
    const passwordHash = await hashPassword(body.password);
    const user = db.insert(users).values({ id: userId, email: body.email, passwordHash });
    let created: RegisterResponse;
    try {
      if (body.orgName !== undefined) {
        const orgId = crypto.randomUUID();
        created = { userId, orgId, role: "owner" };
        await db.batch([
          db.insert(orgs).values({ id: orgId, name: body.orgName }),
          user,
          db.insert(memberships).values({ orgId, userId, role: "owner" }),
        ]);
      } else if (body.orgId !== undefined && body.role !== undefined) {
        created = { userId, orgId: body.orgId, role: body.role };
        await db.batch([user, db.insert(memberships).values({ orgId: body.orgId, userId, role: body.role })]);
      } else {
        // The schema already refuses this shape; kept so the branches above need no assertions.
        throw new ApiError("VALIDATION_FAILED", { detail: "Give orgName, or orgId and role." });
      }
    } catch (err) {
      const pg = postgresError(err);
      const state = pg && { code: pg.code, constraint: typeof pg.constraint === "string" ? pg.constraint : undefined };
      if (state?.code === "23505" && (state.constraint === undefined || state.constraint === "users_email_unique")) {
        throw new ApiError("CONFLICT", { detail: "A user with this e-mail already exists.", cause: err });
      }
      if (state?.code === "23503") throw new ApiError("NOT_FOUND", { detail: "No such org.", cause: err });
      throw err;
    }
    return c.json(created, 201);
  },
});
