/**
 * `POST /api/v1/auth/refresh` — a refresh token for a new access token and the refresh token's
 * successor (rotation, with reuse detection).
 * @see https://datatracker.ietf.org/doc/html/rfc9700#section-4.14.2
 */
import { publicAccess } from "../../core/access";
import { signAccessToken } from "../../core/auth/jwt";
import { rotateRefreshToken } from "../../core/auth/refresh-tokens";
import { ApiError } from "../../core/errors";
import { defineOperation } from "../../core/route";
import { group, tokensLimit } from "./group";
import { noStoreHeader, refreshTokenBody, tokenPair, tokenResponse } from "./schemas";

/** `POST /api/v1/auth/refresh` (public: the refresh token in the body is the credential). */
export const refresh = defineOperation({
  route: group.route({
    method: "post",
    path: "/api/v1/auth/refresh",
    summary: "Exchange a refresh token for new tokens (rotation)",
    description: [
      "`{ refreshToken }` for a new access token and the refresh token's successor: the presented token is spent. Presenting an already-rotated token is treated as theft: 401, and its whole session (family) is revoked, so the successor stops working too. Clients must serialise their refreshes (one in flight per session).",
      "An unknown, expired or revoked token, or one whose user left the org, is 401. The role comes from the current membership, so a role change applies at the next refresh. The session ends 30 days after its login; rotation does not extend it.",
      "Rate limited per IP (`auth-tokens`, fails closed). One Neon request on success.",
    ].join("\n\n"),
    access: publicAccess,
    rateLimit: tokensLimit,
    errors: { 401: "The refresh token is unknown, expired, revoked or reused, or the membership is gone; log in again." },
    request: { body: { required: true, content: { "application/json": { schema: refreshTokenBody } } } },
    responses: {
      200: {
        description: "New tokens and the current membership.",
        headers: noStoreHeader,
        content: { "application/json": { schema: tokenPair } },
      },
    },
  }),
  handler: async (c) => {
    const { db, config, logger } = c.var.services;
    const result = await rotateRefreshToken(db, c.req.valid("json").refreshToken);
    if (!result.ok) {
      if (result.reason === "reuse") logger.warn("refresh token reuse: family revoked", { ip: c.req.header("CF-Connecting-IP") });
      else logger.info("refresh rejected", { reason: result.reason });
      throw new ApiError("UNAUTHORIZED", { detail: "The refresh token is invalid, expired or revoked; log in again." });
    }
    const access = await signAccessToken(config, { userId: result.userId, orgId: result.orgId, role: result.role });
    c.header("Cache-Control", "no-store");
    return c.json(tokenResponse(access, result, result), 200);
  },
});
