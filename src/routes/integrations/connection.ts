/**
 * The org's Wildberries connection as `GET`/`PUT /api/v1/integrations/wildberries` answer it,
 * built from a `wb_connections` row (never its ciphertext) and the org's last successful sync.
 */
import { eq, sql } from "drizzle-orm";
import type { Database } from "../../core/db/client";
import { syncState, wbConnections } from "../../core/db/schema";
import { isoTime } from "../../core/time";
import { tokenExpiry, type WbTokenCategory, wbTokenCategories } from "../../integrations/wildberries/token";
import type { WildberriesConnection } from "./schemas";

/** The columns of `wb_connections` the view shows. */
export const connectionColumns = { expiresAt: wbConnections.expiresAt, categories: wbConnections.categories };

/** The query of the org's last successful sync (the data sets succeed together: the newest of them). */
export function lastSyncQuery(db: Database, orgId: string) {
  return db
    .select({ lastSyncAt: sql<string | null>`max(${syncState.lastSuccessAt})` })
    .from(syncState)
    .where(eq(syncState.orgId, orgId));
}

/** The view of a connection row (or none) and the last sync time. */
export function toConnectionView(
  row: { expiresAt: string | null; categories: string[] | null } | undefined,
  lastSyncAt: string | null | undefined,
): WildberriesConnection {
  const expiry = tokenExpiry(row?.expiresAt ?? null);
  return {
    connected: row !== undefined,
    expiresAt: expiry.expiresAt,
    daysLeft: expiry.daysLeft,
    expiringSoon: expiry.expiringSoon,
    // Only names this version knows (a row could hold a category added later).
    categories: (row?.categories ?? []).filter((c): c is WbTokenCategory => (wbTokenCategories as readonly string[]).includes(c)),
    lastSyncAt: isoTime(lastSyncAt ?? null),
  };
}

/** Reads the org's connection view: one Neon request. */
export async function readConnectionView(db: Database, orgId: string): Promise<WildberriesConnection> {
  const [rows, [last]] = await db.batch([
    db.select(connectionColumns).from(wbConnections).where(eq(wbConnections.orgId, orgId)),
    lastSyncQuery(db, orgId),
  ]);
  return toConnectionView(rows[0], last?.lastSyncAt);
}
