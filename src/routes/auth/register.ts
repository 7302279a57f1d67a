/**
 * `POST /api/v1/auth/register` — operator-only (`Authorization: Bearer <ADMIN_REGISTRATION_TOKEN>`):
 * - `{ email, password, orgName }` creates an org and its owner;
 * - `{ email, password, orgId, role }` adds a new user to an existing org with `role`
 *   (any role but `service`, which belongs to API keys).
 * The password policy (`passwordProblems`) answers 400 with `errors`. All writes go in one
 * `db.batch` (one transaction, one Neon request); the database's constraints decide the
 * conflicts, so there is no check-then-insert race.
 * Answers 201 `{ userId, orgId, role }`.
 * Errors: 400, 401 (no token), 403 (wrong token), 404 (unknown org), 409 (e-mail taken), 429, 503.
 */
import { Hono } from "hono";
import type { AppEnv } from "../../core/app";
import { hashPassword } from "../../core/auth/password";
import { memberships, orgs, users } from "../../core/db/schema";
import { ApiError } from "../../core/errors";
import { rateLimit } from "../../core/middleware";
import { strictQuery, validate } from "../../core/validation";
import { requireAdminToken } from "./admin-token";
import { authPolicy } from "./policies";
import { type RegisterResponse, registerBody } from "./schemas";

/** The SQLSTATE of a Postgres error anywhere in `err`'s cause chain (drizzle wraps driver errors). */
function sqlState(err: unknown): { code: string; constraint: string | undefined } | undefined {
  for (let e: unknown = err, depth = 0; e && typeof e === "object" && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, constraint } = e as { code?: unknown; constraint?: unknown };
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code))
      return { code, constraint: typeof constraint === "string" ? constraint : undefined };
  }
  return undefined;
}

export const register = new Hono<AppEnv>().post(
  "/register",
  requireAdminToken(),
  rateLimit("auth", { policy: authPolicy, failClosed: true }),
  strictQuery(),
  validate("json", registerBody),
  async (c) => {
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
      const state = sqlState(err);
      if (state?.code === "23505" && (state.constraint === undefined || state.constraint === "users_email_unique")) {
        throw new ApiError("CONFLICT", { detail: "A user with this e-mail already exists.", cause: err });
      }
      if (state?.code === "23503") throw new ApiError("NOT_FOUND", { detail: "No such org.", cause: err });
      throw err;
    }
    return c.json(created, 201);
  },
);
