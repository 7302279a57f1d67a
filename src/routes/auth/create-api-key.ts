/**
 * `POST /api/v1/auth/api-keys` (owner, admin) — `{ name, scopes }` creates an API key of the
 * token's org for a machine client. Answers 201 `{ id, name, prefix, scopes, key, createdAt }`:
 * the only time the full `key` is shown (only its SHA-256 is stored). The key authenticates
 * as role `service` with `scopes` on routes that list one of them. One Neon request.
 * Errors: 400, 401, 403, 429, 503 (rate limiting unavailable).
 * @see https://owasp.org/API-Security/editions/2023/en/0xa2-broken-authentication/
 */
import { Hono } from "hono";
import type { AppEnv } from "../../core/app";
import { generateApiKey } from "../../core/auth/api-keys";
import { apiKeys } from "../../core/db/schema";
import { ApiError } from "../../core/errors";
import { access, rateLimit } from "../../core/middleware";
import { strictQuery, validate } from "../../core/validation";
import { apiKeyManagers, type CreatedApiKey, createApiKeyBody, isoTime } from "./schemas";

export const createApiKey = new Hono<AppEnv>().post(
  "/api-keys",
  access({ roles: apiKeyManagers }),
  rateLimit("auth"),
  strictQuery(),
  validate("json", createApiKeyBody),
  async (c) => {
    const { name, scopes } = c.req.valid("json");
    const auth = c.var.auth;
    const { db } = c.var.services;
    const { key, prefix, keyHash } = await generateApiKey();
    const [row] = await db
      .insert(apiKeys)
      .values({ orgId: auth.orgId, name, prefix, keyHash, scopes, createdBy: auth.kind === "user" ? auth.userId : null })
      .returning({ id: apiKeys.id, createdAt: apiKeys.createdAt });
    if (!row) throw new ApiError("INTERNAL", { detail: "The key was not stored." });
    c.header("Cache-Control", "no-store");
    return c.json({ id: row.id, name, prefix, scopes, key, createdAt: isoTime(row.createdAt) } satisfies CreatedApiKey, 201);
  },
);
