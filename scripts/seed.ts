/**
 * Seeds the demo org: an org, its owner (demo login) and its Wildberries connection
 * (token encrypted with `ENCRYPTION_KEY`). Idempotent: re-running keeps one demo org.
 * Uses the production modules (schema, password hashing, encryption) unchanged.
 */
import { eq } from "drizzle-orm";
import { hashPassword } from "../src/core/auth/password";
import { encryptSecret } from "../src/core/crypto";
import { createDatabase } from "../src/core/db/client";
import { memberships, orgs, users, wbConnections } from "../src/core/db/schema";

/** The demo login printed by `npm run dev`. */
export const DEMO_USER = { email: "demo@seller-edge.dev", password: "amber-kestrel-orchard-2026" } as const;

/**
 * Creates (or finds) the demo org and returns its id. `user` and `orgName` seed another org the
 * same way (the bench's memory probe syncs the demo's WB data again in an org of its own).
 */
export async function seedDemo(
  env: { DATABASE_URL: string; NEON_FETCH_ENDPOINT?: string; ENCRYPTION_KEY: string },
  wbToken: string,
  user: { email: string; password: string } = DEMO_USER,
  orgName = "Demo seller",
): Promise<{ orgId: string; userId: string }> {
  const db = createDatabase(env);
  const [existing] = await db.select().from(users).where(eq(users.email, user.email)).limit(1);
  const tokenCiphertext = await encryptSecret(wbToken, env.ENCRYPTION_KEY);
  if (existing) {
    const [m] = await db.select().from(memberships).where(eq(memberships.userId, existing.id)).limit(1);
    if (m) {
      await db
        .insert(wbConnections)
        .values({ orgId: m.orgId, tokenCiphertext })
        .onConflictDoUpdate({ target: wbConnections.orgId, set: { tokenCiphertext, updatedAt: new Date() } });
      return { orgId: m.orgId, userId: existing.id };
    }
  }
  const orgId = crypto.randomUUID();
  const userId = existing?.id ?? crypto.randomUUID();
  const passwordHash = await hashPassword(user.password);
  await db.batch([
    db.insert(orgs).values({ id: orgId, name: orgName }),
    db.insert(users).values({ id: userId, email: user.email, passwordHash }).onConflictDoNothing(),
    db.insert(memberships).values({ orgId, userId, role: "owner" }),
    db.insert(wbConnections).values({ orgId, tokenCiphertext }),
  ]);
  return { orgId, userId };
}
