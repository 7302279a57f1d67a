/**
 * The org's helpdesk settings: the categories the support bot offers (inline buttons) and the
 * service-level targets in minutes (`sla.firstResponse`: from a ticket's creation to the first
 * manager reply; `sla.resolution`: from its creation to `resolved`). An org without a
 * `helpdesk_settings` row has the defaults below (the table's column defaults).
 */
import { eq, sql } from "drizzle-orm";
import type { Database } from "../core/db/client";
import { helpdeskSettings } from "../core/db/schema";

/** Defaults of an org that never saved settings (the columns' defaults of `helpdesk_settings`). */
export const DEFAULT_SETTINGS: HelpdeskSettings = {
  categories: ["Order", "Delivery", "Return", "Product question", "Other"],
  sla: { firstResponse: 60, resolution: 1440 },
};

/** Most categories a bot offers (one inline button each). */
export const MAX_CATEGORIES = 12;
/** Longest category name, characters (an inline button's text). */
export const MAX_CATEGORY_CHARS = 48;

/** The settings as the API and the bot read them. */
export interface HelpdeskSettings {
  categories: string[];
  /** Targets in minutes. */
  sla: { firstResponse: number; resolution: number };
}

/** The org's settings, or the defaults. */
export async function loadSettings(db: Database, orgId: string): Promise<HelpdeskSettings> {
  const [row] = await db.select().from(helpdeskSettings).where(eq(helpdeskSettings.orgId, orgId));
  if (!row) return DEFAULT_SETTINGS;
  return { categories: row.categories, sla: { firstResponse: row.slaFirstResponseMinutes, resolution: row.slaResolutionMinutes } };
}

/** Stores the org's settings (insert or replace) and returns them. */
export async function saveSettings(db: Database, orgId: string, settings: HelpdeskSettings): Promise<HelpdeskSettings> {
  const values = {
    categories: settings.categories,
    slaFirstResponseMinutes: settings.sla.firstResponse,
    slaResolutionMinutes: settings.sla.resolution,
  };
  await db
    .insert(helpdeskSettings)
    .values({ orgId, ...values })
    .onConflictDoUpdate({ target: helpdeskSettings.orgId, set: { ...values, updatedAt: sql`now()` } });
  return settings;
}
