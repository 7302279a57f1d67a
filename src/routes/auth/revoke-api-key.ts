/**
 * `DELETE /api/v1/auth/api-keys/{id}` — revokes an API key of the caller's org at once.
 */
import { and, eq, sql } from "drizzle-orm";
import { forgetApiKey } from "../../core/auth/api-keys";
import { apiKeys } from "../../core/db/schema";
import { ApiError } from "../../core/errors";
import { defineOperation } from "../../core/route";
import { apiKeyManagers, group } from "./group";
import { apiKeyIdParam } from "./schemas";

/** `DELETE /api/v1/auth/api-keys/{id}` (owner, admin). */
export const revokeApiKey = defineOperation({
  route: group.route({
    method: "delete",
    path: "/api/v1/auth/api-keys/{id}",
    summary: "Revoke an API key",
    description: [
      "Revokes a key of the token's org and forgets its cached lookup in Redis, so the key gets 401 from the next request on. Answers 204; revoking an already revoked key is 204 too and keeps the first `revokedAt`. A key of another org, or none, is 404.",
      "If Redis does not answer, the revocation is stored but the cached lookup may let the key work up to 60 s more: the answer is then 503 and the call can be repeated. One Neon request and one Redis request.",
    ].join("\n\n"),
    access: apiKeyManagers,
    request: { params: apiKeyIdParam },
    errors: {
      404: "No API key with this id in the caller's org.",
      503: "Rate limiting is unavailable (production), or the key is revoked but Redis did not forget its cached lookup; repeat the call.",
    },
    responses: { 204: { description: "The key is revoked." } },
  }),
  handler: async (c) => {
    const { id } = c.req.valid("param");
    const { db, redis } = c.var.services;
    const [row] = await db
      .update(apiKeys)
      .set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, now())` })
      .where(and(eq(apiKeys.id, id), eq(apiKeys.orgId, c.var.auth.orgId)))
      .returning({ keyHash: apiKeys.keyHash });
    if (!row) throw new ApiError("NOT_FOUND", { detail: "No such API key." });
    try {
      await forgetApiKey(redis, row.keyHash);
    } catch (err) {
      throw new ApiError("SERVICE_UNAVAILABLE", {
        detail: "The key is revoked, but its cached lookup may keep it working for up to 60 s; repeat the call.",
        headers: { "Retry-After": "5" },
        cause: err,
      });
    }
    return c.body(null, 204);
  },
});
