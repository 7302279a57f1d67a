/**
 * The membership of a user in an org as Postgres holds it now. Access tokens are stateless
 * (≤ 15 minutes); privileged writes ask this instead of trusting the token's role, so a deleted
 * user or org, a removed member or a demoted admin loses the authority at once.
 */
import { and, eq } from "drizzle-orm";
import type { Database } from "../db/client";
import { memberships, type Role } from "../db/schema";

/** The current role of `userId` in `orgId`; null when the user, the org or the membership is gone (one Neon request). */
export async function currentMembership(db: Database, userId: string, orgId: string): Promise<Role | null> {
  const [row] = await db
    .select({ role: memberships.role })
    .from(memberships)
    .where(and(eq(memberships.userId, userId), eq(memberships.orgId, orgId)))
    .limit(1);
  return row?.role ?? null;
}
