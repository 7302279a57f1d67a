/**
 * Tenants and people: orgs, users, memberships (role per org), and the org's
 * encrypted Wildberries connection.
 */
import { sql } from "drizzle-orm";
import { index, pgTable, primaryKey, text, timestamp, uuid } from "drizzle-orm/pg-core";

/** Roles of a membership. `owner`/`admin` manage the org; `analyst` reads dashboards. */
export const roles = ["owner", "admin", "analyst", "manager", "agent", "service"] as const;
export type Role = (typeof roles)[number];

export const orgs = pgTable("orgs", {
  id: uuid("id").primaryKey().defaultRandom(),
  name: text("name").notNull(),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
});

export const users = pgTable("users", {
  id: uuid("id").primaryKey().defaultRandom(),
  /** Lower-cased e-mail; unique across the service. */
  email: text("email").notNull().unique(),
  /** Self-describing hash: `pbkdf2-sha256$<iterations>$<salt b64>$<hash b64>`. */
  passwordHash: text("password_hash").notNull(),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
});

export const memberships = pgTable(
  "memberships",
  {
    orgId: uuid("org_id")
      .notNull()
      .references(() => orgs.id, { onDelete: "cascade" }),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    role: text("role", { enum: roles }).notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.userId] }), index("memberships_user_idx").on(t.userId)],
);

/**
 * An org's Wildberries statistics API token, AES-GCM encrypted (`src/core/crypto.ts`). Never returned.
 * `expires_at` and `categories` are read from the token's JWT payload when it is connected
 * (`src/integrations/wildberries/token.ts`); both are null for a token stored without them (the
 * local demo's plain token, rows from before they existed).
 */
export const wbConnections = pgTable("wb_connections", {
  orgId: uuid("org_id")
    .primaryKey()
    .references(() => orgs.id, { onDelete: "cascade" }),
  tokenCiphertext: text("token_ciphertext").notNull(),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().default(sql`now()`),
  /** The token's `exp` (WB tokens live 180 days). */
  expiresAt: timestamp("expires_at", { withTimezone: true, mode: "string" }),
  /** The WB API categories the token grants, by name (`statistics`, `content`…). */
  categories: text("categories").array(),
  /** The user who connected it; null once that user is deleted. */
  connectedBy: uuid("connected_by").references(() => users.id, { onDelete: "set null" }),
});
