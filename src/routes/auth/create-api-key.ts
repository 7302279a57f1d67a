/**
 * `POST /api/v1/auth/api-keys` — creates an API key of the caller's org for a machine client,
 * shown once.
 * @see https://owasp.org/API-Security/editions/2023/en/0xa2-broken-authentication/
 */
import { sql } from "drizzle-orm";
import { generateApiKey } from "../../core/auth/api-keys";
import { apiKeys } from "../../core/db/schema";
import { ApiError } from "../../core/errors";
import { defineOperation } from "../../core/route";
import { isoTime } from "../../core/time";
import { apiKeyManagers, group } from "./group";
import { createApiKeyBody, createdApiKey, noStoreHeader } from "./schemas";

/** `POST /api/v1/auth/api-keys` (owner, admin; user tokens only). */
export const createApiKey = defineOperation({
  route: group.route({
    method: "post",
    path: "/api/v1/auth/api-keys",
    summary: "Create an API key (shown once)",
    description: [
      "`{ name, scopes, expiresInDays? }` creates an API key of the token's org. The answer is the only time the full `key` is shown: only its SHA-256 is stored. The key authenticates (`Authorization: Bearer se_live_…`) as role `service` with `scopes` on routes that list one of them.",
      "A key stops working when it expires (`expiresInDays`, 1–365, default 90), when it is revoked, or when its creator is no longer an owner or admin of the org (checked at every lookup; lookups are cached for up to 60 s).",
      "The caller's membership is re-read from Postgres (a deleted user or org is 401, a demoted admin 403). Two Neon requests.",
    ].join("\n\n"),
    access: apiKeyManagers,
    request: { body: { required: true, content: { "application/json": { schema: createApiKeyBody } } } },
    responses: {
      201: {
        description: "The new key, with its secret.",
        headers: noStoreHeader,
        content: { "application/json": { schema: createdApiKey } },
      },
    },
  }),
  handler: async (c) => {
    const { name, scopes, expiresInDays } = c.req.valid("json");
    const auth = c.var.auth;
    // The policy admits no API key; narrowed here for the types (a key is always made by a person).
    if (auth.kind !== "user") throw new ApiError("FORBIDDEN", { detail: "This operation needs a user access token." });
    const { db } = c.var.services;
    const { key, prefix, keyHash } = await generateApiKey();
    const [row] = await db
      .insert(apiKeys)
      .values({
        orgId: auth.orgId,
        name,
        prefix,
        keyHash,
        scopes,
        createdBy: auth.userId,
        expiresAt: sql`now() + make_interval(days => ${expiresInDays})`,
      })
      .returning({ id: apiKeys.id, createdAt: apiKeys.createdAt, expiresAt: apiKeys.expiresAt });
    if (!row) throw new ApiError("INTERNAL", { detail: "The key was not stored." });
    c.header("Cache-Control", "no-store");
    return c.json({ id: row.id, name, prefix, scopes, key, createdAt: isoTime(row.createdAt), expiresAt: isoTime(row.expiresAt) }, 201);
  },
});
