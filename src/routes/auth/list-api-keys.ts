/**
 * `GET /api/v1/auth/api-keys` — the API keys of the caller's org, never the secrets.
 */
import { desc, eq } from "drizzle-orm";
import { apiKeys } from "../../core/db/schema";
import { defineOperation } from "../../core/route";
import { isoTime } from "../../core/time";
import { apiKeyManagers, group } from "./group";
import { apiKeyList } from "./schemas";

/** `GET /api/v1/auth/api-keys` (owner, admin). */
export const listApiKeys = defineOperation({
  route: group.route({
    method: "get",
    path: "/api/v1/auth/api-keys",
    summary: "List the org's API keys",
    description: [
      "The API keys of the token's org, newest first, revoked and expired ones included: `{ items: [{ id, name, prefix, scopes, createdAt, expiresAt, lastUsedAt, revokedAt }] }`. Never the key or its hash.",
      "`lastUsedAt` is refreshed at most once a minute. One Neon request.",
    ].join("\n\n"),
    access: apiKeyManagers,
    responses: {
      200: { description: "The org's API keys, newest first.", content: { "application/json": { schema: apiKeyList } } },
    },
  }),
  handler: async (c) => {
    const { db } = c.var.services;
    const rows = await db
      .select({
        id: apiKeys.id,
        name: apiKeys.name,
        prefix: apiKeys.prefix,
        scopes: apiKeys.scopes,
        createdAt: apiKeys.createdAt,
        expiresAt: apiKeys.expiresAt,
        lastUsedAt: apiKeys.lastUsedAt,
        revokedAt: apiKeys.revokedAt,
      })
      .from(apiKeys)
      .where(eq(apiKeys.orgId, c.var.auth.orgId))
      .orderBy(desc(apiKeys.createdAt));
    const items = rows.map((r) => ({
      ...r,
      createdAt: isoTime(r.createdAt),
      expiresAt: isoTime(r.expiresAt),
      lastUsedAt: isoTime(r.lastUsedAt),
      revokedAt: isoTime(r.revokedAt),
    }));
    return c.json({ items }, 200);
  },
});
