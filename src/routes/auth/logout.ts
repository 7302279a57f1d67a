/**
 * `POST /api/v1/auth/logout` — revokes a refresh token's session; idempotent.
 */
import { publicAccess } from "../../core/access";
import { revokeRefreshToken } from "../../core/auth/refresh-tokens";
import { defineOperation } from "../../core/route";
import { group, tokensLimit } from "./group";
import { refreshTokenBody } from "./schemas";

/** `POST /api/v1/auth/logout` (public: the refresh token in the body names the session). */
export const logout = defineOperation({
  route: group.route({
    method: "post",
    path: "/api/v1/auth/logout",
    summary: "Log out: revoke the session of a refresh token",
    description: [
      "`{ refreshToken }`: revokes the token's whole family (this session, across every rotation) and answers 204.",
      "Idempotent: an unknown, expired or already revoked token is also 204, so the endpoint is no oracle for which tokens exist and a client can always log out. Access tokens already issued stay valid until they expire (≤ 15 min).",
      "Rate limited per IP (`auth-tokens`, fails closed). One Neon request.",
    ].join("\n\n"),
    access: publicAccess,
    rateLimit: tokensLimit,
    request: { body: { required: true, content: { "application/json": { schema: refreshTokenBody } } } },
    responses: { 204: { description: "The session is revoked (or there was none)." } },
  }),
  handler: async (c) => {
    await revokeRefreshToken(c.var.services.db, c.req.valid("json").refreshToken);
    return c.body(null, 204);
  },
});
