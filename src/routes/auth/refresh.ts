/**
 * `POST /api/v1/auth/refresh` — `{ refreshToken }` for a new access token and the refresh
 * token's successor (rotation: the presented token is spent). Presenting an already-rotated
 * token is treated as theft: 401, and its whole family is revoked, so the successor stops
 * working too. An unknown, expired or revoked token, or one whose user left the org, is 401.
 * The role comes from the current membership, so a role change applies at the next refresh.
 * Rate limited per IP (`auth` policy, fail closed). One Neon request on success.
 * Errors: 400, 401, 429, 503.
 * @see https://datatracker.ietf.org/doc/html/rfc9700#section-4.14.2
 */
import { Hono } from "hono";
import type { AppEnv } from "../../core/app";
import { signAccessToken } from "../../core/auth/jwt";
import { rotateRefreshToken } from "../../core/auth/refresh-tokens";
import { ApiError } from "../../core/errors";
import { publicRoute, rateLimit } from "../../core/middleware";
import { strictQuery, validate } from "../../core/validation";
import { authPolicy } from "./policies";
import { refreshBody, type TokenResponse } from "./schemas";

export const refresh = new Hono<AppEnv>().post(
  "/refresh",
  publicRoute(),
  rateLimit("auth", { policy: authPolicy, failClosed: true }),
  strictQuery(),
  validate("json", refreshBody),
  async (c) => {
    const { db, config, logger } = c.var.services;
    const result = await rotateRefreshToken(db, c.req.valid("json").refreshToken);
    if (!result.ok) {
      if (result.reason === "reuse") logger.warn("refresh token reuse: family revoked", { ip: c.req.header("CF-Connecting-IP") });
      else logger.info("refresh rejected", { reason: result.reason });
      throw new ApiError("UNAUTHORIZED", { detail: "The refresh token is invalid, expired or revoked; log in again." });
    }
    const access = await signAccessToken(config, { userId: result.userId, orgId: result.orgId, role: result.role });
    c.header("Cache-Control", "no-store");
    return c.json({
      accessToken: access.token,
      tokenType: "Bearer",
      expiresIn: access.expiresIn,
      refreshToken: result.token,
      refreshExpiresIn: result.expiresIn,
      orgId: result.orgId,
      role: result.role,
    } satisfies TokenResponse);
  },
);
