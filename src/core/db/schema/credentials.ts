/**
 * Credentials beyond passwords: rotating refresh tokens (opaque, stored hashed, grouped in
 * families for reuse detection) and org-scoped API keys for machine clients.
 * @see https://datatracker.ietf.org/doc/html/draft-ietf-oauth-security-topics (refresh token rotation)
 */
import { sql } from "drizzle-orm";
import { index, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { orgs, users } from "./identity";

export const refreshTokens = pgTable(
  "refresh_tokens",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    /** All tokens descended from one login; presenting a rotated token revokes the family. */
    familyId: uuid("family_id").notNull(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    orgId: uuid("org_id")
      .notNull()
      .references(() => orgs.id, { onDelete: "cascade" }),
    /** Hex SHA-256 of the opaque token; the token itself is never stored. */
    tokenHash: text("token_hash").notNull().unique(),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "string" }).notNull().defaultNow(),
    expiresAt: timestamp("expires_at", { withTimezone: true, mode: "string" }).notNull(),
    /** Set when exchanged for a successor; a second exchange is reuse. */
    rotatedAt: timestamp("rotated_at", { withTimezone: true, mode: "string" }),
    revokedAt: timestamp("revoked_at", { withTimezone: true, mode: "string" }),
  },
  (t) => [index("refresh_tokens_family_idx").on(t.familyId), index("refresh_tokens_user_idx").on(t.userId)],
);

/** Scopes an API key may hold. */
export const apiKeyScopes = ["dashboard:read", "sync:write", "sync:read", "assistant:read"] as const;
export type ApiKeyScope = (typeof apiKeyScopes)[number];

export const apiKeys = pgTable(
  "api_keys",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    orgId: uuid("org_id")
      .notNull()
      .references(() => orgs.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    /** The key's first characters (`se_live_ab12cd34`), shown in lists to recognise it. */
    prefix: text("prefix").notNull(),
    /** Hex SHA-256 of the whole key (keys are 256-bit random, so no KDF is needed). */
    keyHash: text("key_hash").notNull().unique(),
    scopes: text("scopes", { enum: apiKeyScopes }).array().notNull(),
    createdBy: uuid("created_by").references(() => users.id, { onDelete: "set null" }),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "string" }).notNull().defaultNow(),
    lastUsedAt: timestamp("last_used_at", { withTimezone: true, mode: "string" }),
    revokedAt: timestamp("revoked_at", { withTimezone: true, mode: "string" }),
    /** The key stops working then: 90 days after creation by default, at most a year. */
    expiresAt: timestamp("expires_at", { withTimezone: true, mode: "string" }).notNull().default(sql`now() + interval '90 days'`),
  },
  (t) => [index("api_keys_org_idx").on(t.orgId)],
);
