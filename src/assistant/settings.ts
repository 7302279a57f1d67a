/**
 * The org's assistant settings (`assistant_settings`, one row per org): the system prompt sent first
 * to the model, the history length (messages of the open dialog sent with each question; a user's
 * own `max_history_messages` wins), and the IANA time zone of the statistics' buckets. An org
 * without a row has the column defaults, read from the schema so they are written once.
 */
import { eq, sql } from "drizzle-orm";
import type { Database } from "../core/db/client";
import { assistantSettings } from "../core/db/schema";

/** The settings as the API shows them. */
export interface AssistantSettings {
  systemPrompt: string;
  maxHistoryMessages: number;
  timeZone: string;
  /** Null until the org saves its settings. */
  updatedAt: string | null;
}

/** The defaults of an org without a settings row (the columns' defaults). */
export const defaultAssistantSettings = {
  systemPrompt: assistantSettings.systemPrompt.default as string,
  maxHistoryMessages: assistantSettings.maxHistoryMessages.default as number,
  timeZone: assistantSettings.timeZone.default as string,
} as const;

/** True when `zone` is an IANA time zone name this runtime knows (`Europe/Moscow`, `UTC`). */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** The org's settings, or the defaults. */
export async function readAssistantSettings(db: Database, orgId: string): Promise<AssistantSettings> {
  const [row] = await db.select().from(assistantSettings).where(eq(assistantSettings.orgId, orgId));
  return row
    ? { systemPrompt: row.systemPrompt, maxHistoryMessages: row.maxHistoryMessages, timeZone: row.timeZone, updatedAt: row.updatedAt }
    : { ...defaultAssistantSettings, updatedAt: null };
}

/** Saves the org's settings (a missing `timeZone` keeps the stored one, or the default); returns them. */
export async function saveAssistantSettings(
  db: Database,
  orgId: string,
  input: { systemPrompt: string; maxHistoryMessages: number; timeZone?: string | undefined },
): Promise<AssistantSettings> {
  const [row] = await db
    .insert(assistantSettings)
    .values({ orgId, systemPrompt: input.systemPrompt, maxHistoryMessages: input.maxHistoryMessages, timeZone: input.timeZone })
    .onConflictDoUpdate({
      target: assistantSettings.orgId,
      set: {
        systemPrompt: input.systemPrompt,
        maxHistoryMessages: input.maxHistoryMessages,
        ...(input.timeZone === undefined ? {} : { timeZone: input.timeZone }),
        updatedAt: sql`now()`,
      },
    })
    .returning();
  if (!row) throw new Error("assistant settings upsert returned no row");
  return { systemPrompt: row.systemPrompt, maxHistoryMessages: row.maxHistoryMessages, timeZone: row.timeZone, updatedAt: row.updatedAt };
}
