/**
 * Refresh tokens: opaque 256-bit random strings (`rt_…`), stored as SHA-256, rotating on
 * every use. Each login starts a family; exchanging a token marks it rotated and issues
 * its successor in one atomic statement. Presenting an already-rotated token is reuse —
 * a stolen copy is being played — and revokes the whole family, the live successor
 * included. A family lives `REFRESH_TTL_SECONDS` from its login: a successor inherits its
 * predecessor's expiry, so rotation never extends a session (absolute lifetime).
 * @see https://datatracker.ietf.org/doc/html/rfc9700#section-4.14.2 (refresh token rotation)
 */
import { and, eq, isNull, sql } from "drizzle-orm";
import { sha256Hex, toBase64Url } from "../crypto";
import type { Database } from "../db/client";
import { memberships, type Role, refreshTokens, roles } from "../db/schema";

/** Lifetime of a refresh token family in seconds (30 days from the login). */
export const REFRESH_TTL_SECONDS = 30 * 24 * 3600;

/** A fresh opaque refresh token (not a JWT, so it can never pass as an access token). */
export function newRefreshToken(): string {
  return `rt_${toBase64Url(crypto.getRandomValues(new Uint8Array(32)))}`;
}

/** A refresh token as handed to the client, with its remaining lifetime in seconds. */
export interface IssuedRefreshToken {
  token: string;
  expiresIn: number;
}

/** Issues the first token of a new family for `userId` acting in `orgId` (one Neon request). */
export async function issueRefreshToken(db: Database, userId: string, orgId: string): Promise<IssuedRefreshToken> {
  const token = newRefreshToken();
  await db.insert(refreshTokens).values({
    familyId: crypto.randomUUID(),
    userId,
    orgId,
    tokenHash: await sha256Hex(token),
    expiresAt: new Date(Date.now() + REFRESH_TTL_SECONDS * 1000).toISOString(),
  });
  return { token, expiresIn: REFRESH_TTL_SECONDS };
}

/**
 * Outcome of an exchange. On success, `role` is the user's current role in the org, so a
 * role change takes effect at the next refresh. `reuse` means the family was revoked.
 */
export type RotationResult =
  | { ok: true; token: string; expiresIn: number; userId: string; orgId: string; role: Role }
  | { ok: false; reason: "unknown" | "expired" | "revoked" | "reuse" | "no-membership" };

const isRole = (value: unknown): value is Role => roles.includes(value as Role);

/**
 * Exchanges `presented` for its successor. One statement claims the old token (only if it
 * is live, not yet rotated, and no token of its family is revoked), inserts the successor in
 * the same family and reads the membership, so two concurrent exchanges of one token cannot
 * both succeed. The failure paths cost one more read (and a revocation on reuse).
 */
export async function rotateRefreshToken(db: Database, presented: string): Promise<RotationResult> {
  const oldHash = await sha256Hex(presented);
  const next = newRefreshToken();
  const nextHash = await sha256Hex(next);
  const rotated = await db.execute<{
    family_id: string;
    user_id: string;
    org_id: string;
    role: string | null;
    expires_in: number | string;
  }>(sql`
    with claimed as (
      update ${refreshTokens} as t set rotated_at = now()
      where t.token_hash = ${oldHash} and t.rotated_at is null and t.revoked_at is null and t.expires_at > now()
        and not exists (select 1 from ${refreshTokens} as f where f.family_id = t.family_id and f.revoked_at is not null)
      returning t.family_id, t.user_id, t.org_id, t.expires_at
    ), issued as (
      insert into ${refreshTokens} (family_id, user_id, org_id, token_hash, expires_at)
      select family_id, user_id, org_id, ${nextHash}, expires_at from claimed
      returning family_id, user_id, org_id, expires_at
    )
    select i.family_id, i.user_id, i.org_id, m.role,
      greatest(0, floor(extract(epoch from i.expires_at - now())))::int as expires_in
    from issued as i left join ${memberships} as m on m.user_id = i.user_id and m.org_id = i.org_id`);
  const row = rotated.rows[0];
  if (row) {
    if (!isRole(row.role)) {
      // The user left the org (or the org is gone): the session ends with the membership.
      await revokeFamily(db, row.family_id);
      return { ok: false, reason: "no-membership" };
    }
    return { ok: true, token: next, expiresIn: Number(row.expires_in), userId: row.user_id, orgId: row.org_id, role: row.role };
  }

  const [existing] = await db.select().from(refreshTokens).where(eq(refreshTokens.tokenHash, oldHash)).limit(1);
  if (!existing) return { ok: false, reason: "unknown" };
  if (existing.revokedAt) return { ok: false, reason: "revoked" };
  if (existing.rotatedAt) {
    await revokeFamily(db, existing.familyId);
    return { ok: false, reason: "reuse" };
  }
  if (Date.parse(existing.expiresAt) <= Date.now()) return { ok: false, reason: "expired" };
  // Live and unrotated, yet not claimed: another token of its family was revoked while this
  // one was being issued (a reuse or logout racing a rotation). Finish the revocation.
  await revokeFamily(db, existing.familyId);
  return { ok: false, reason: "revoked" };
}

/** Revokes every live token of a family (one Neon request). */
export async function revokeFamily(db: Database, familyId: string): Promise<void> {
  await db
    .update(refreshTokens)
    .set({ revokedAt: sql`now()` })
    .where(and(eq(refreshTokens.familyId, familyId), isNull(refreshTokens.revokedAt)));
}

/**
 * Revokes the family of `presented` (logout) in one statement. An unknown or already
 * revoked token is not an error: logout is idempotent.
 */
export async function revokeRefreshToken(db: Database, presented: string): Promise<void> {
  const tokenHash = await sha256Hex(presented);
  await db
    .update(refreshTokens)
    .set({ revokedAt: sql`now()` })
    .where(
      and(
        isNull(refreshTokens.revokedAt),
        eq(refreshTokens.familyId, sql`(select r.family_id from ${refreshTokens} as r where r.token_hash = ${tokenHash})`),
      ),
    );
}
