/**
 * `DELETE /api/v1/auth/api-keys/{id}` (owner, admin) — revokes a key of the token's org at
 * once (every request looks the key up, so nothing caches it). Answers 204; revoking an
 * already revoked key is 204 too and keeps the first `revokedAt`. A key of another org, or
 * none, is 404. One Neon request.
 * Errors: 400 (id not a UUID), 401, 403, 404, 429, 503.
 */
import { and, eq, sql } from "drizzle-orm";
import { Hono } from "hono";
import type { AppEnv } from "../../core/app";
import { apiKeys } from "../../core/db/schema";
import { ApiError } from "../../core/errors";
import { access, rateLimit } from "../../core/middleware";
import { emptyBody, strictQuery, validate } from "../../core/validation";
import { apiKeyIdParam, apiKeyManagers } from "./schemas";

export const revokeApiKey = new Hono<AppEnv>().delete(
  "/api-keys/:id",
  access({ roles: apiKeyManagers }),
  rateLimit("auth"),
  strictQuery(),
  emptyBody(),
  validate("param", apiKeyIdParam),
  async (c) => {
    const { id } = c.req.valid("param");
    const { db } = c.var.services;
    const [row] = await db
      .update(apiKeys)
      .set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, now())` })
      .where(and(eq(apiKeys.id, id), eq(apiKeys.orgId, c.var.auth.orgId)))
      .returning({ id: apiKeys.id });
    if (!row) throw new ApiError("NOT_FOUND", { detail: "No such API key." });
    return c.body(null, 204);
  },
);
