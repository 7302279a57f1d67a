/**
 * `POST /api/v1/auth/logout` — `{ refreshToken }`: revokes the token's whole family (this
 * session, across every rotation) and answers 204. Idempotent: an unknown, expired or
 * already revoked token is also 204, so the endpoint is no oracle for which tokens exist and
 * a client can always log out. Access tokens already issued stay valid until they expire
 * (≤ 15 min). Rate limited per IP (`auth` policy, fail closed). One Neon request.
 * Errors: 400, 429, 503.
 */
import { Hono } from "hono";
import type { AppEnv } from "../../core/app";
import { revokeRefreshToken } from "../../core/auth/refresh-tokens";
import { publicRoute, rateLimit } from "../../core/middleware";
import { strictQuery, validate } from "../../core/validation";
import { authPolicy } from "./policies";
import { logoutBody } from "./schemas";

export const logout = new Hono<AppEnv>().post(
  "/logout",
  publicRoute(),
  rateLimit("auth", { policy: authPolicy, failClosed: true }),
  strictQuery(),
  validate("json", logoutBody),
  async (c) => {
    await revokeRefreshToken(c.var.services.db, c.req.valid("json").refreshToken);
    return c.body(null, 204);
  },
);
