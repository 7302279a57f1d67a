/**
 * `GET /api/v1/auth/api-keys` (owner, admin) — the API keys of the token's org, newest first,
 * revoked ones included: `{ items: [{ id, name, prefix, scopes, createdAt, lastUsedAt, revokedAt }] }`.
 * Never the key or its hash. `lastUsedAt` is refreshed at most once a minute. One Neon request.
 * Errors: 401, 403, 429.
 */
import { desc, eq } from "drizzle-orm";
import { Hono } from "hono";
import type { AppEnv } from "../../core/app";
import { apiKeys } from "../../core/db/schema";
import { access, rateLimit } from "../../core/middleware";
import { strictQuery } from "../../core/validation";
import { type ApiKeyList, apiKeyManagers, isoTime } from "./schemas";

export const listApiKeys = new Hono<AppEnv>().get(
  "/api-keys",
  access({ roles: apiKeyManagers }),
  rateLimit("auth"),
  strictQuery(),
  async (c) => {
    const { db } = c.var.services;
    const rows = await db
      .select({
        id: apiKeys.id,
        name: apiKeys.name,
        prefix: apiKeys.prefix,
        scopes: apiKeys.scopes,
        createdAt: apiKeys.createdAt,
        lastUsedAt: apiKeys.lastUsedAt,
        revokedAt: apiKeys.revokedAt,
      })
      .from(apiKeys)
      .where(eq(apiKeys.orgId, c.var.auth.orgId))
      .orderBy(desc(apiKeys.createdAt));
    const items = rows.map((r) => ({
      ...r,
      createdAt: isoTime(r.createdAt),
      lastUsedAt: isoTime(r.lastUsedAt),
      revokedAt: isoTime(r.revokedAt),
    }));
    return c.json({ items } satisfies ApiKeyList);
  },
);
