/**
 * Opaque keyset cursors for lists ordered by `(time desc, id desc)`: the cursor is the base64url
 * of the last row's `[time, id]`, so the next page is `where (time, id) < (cursor.time, cursor.id)`
 * — as fast at any depth as on the first page, and stable while new rows arrive (they sort before
 * the cursor and never shift a page).
 *
 * A cursor that does not decode to `[a real time, id]` is a client error: the query schema
 * ({@link cursorParam}) turns it into a 400 problem with the field named, before any query.
 */
import { z } from "@hono/zod-openapi";
import { fromBase64Url, toBase64Url } from "./crypto";
import { isUuid } from "./validation";

/**
 * A decoded cursor: the last row's sort time as Postgres wrote it (`2026-12-01 10:00:00.123456+00`,
 * microseconds kept: a time rounded to milliseconds would skip or repeat rows) and its id.
 */
export interface KeysetCursor {
  time: string;
  id: string;
}

const TIME_PARTS = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.\d{1,6})?(?:Z|[+-](\d{2})(?::?(\d{2}))?)$/;

/**
 * True when `text` is a time Postgres accepts as `timestamptz`: the shape above, and a real
 * calendar day and time with an offset within ±15:59 — a forged cursor must be a 400, never a
 * cast error of the query.
 */
export function isRealTime(text: string): boolean {
  const parts = TIME_PARTS.exec(text)
    ?.slice(1)
    .map((p) => (p === undefined ? 0 : Number(p)));
  if (!parts) return false;
  const [year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, offsetHours = 0, offsetMinutes = 0] = parts;
  const date = new Date(Date.UTC(year, month - 1, day));
  return (
    year >= 1 &&
    date.getUTCFullYear() === year &&
    date.getUTCMonth() === month - 1 &&
    date.getUTCDate() === day &&
    hour < 24 &&
    minute < 60 &&
    second < 60 &&
    offsetHours < 16 &&
    offsetMinutes < 60
  );
}

const payload = z.tuple([z.string().refine(isRealTime), z.string().min(1).max(100)]);

/** Encodes the last row of a page as the next page's cursor. */
export function encodeCursor(cursor: KeysetCursor): string {
  return toBase64Url(new TextEncoder().encode(JSON.stringify([cursor.time, cursor.id])));
}

/** Decodes a cursor; undefined when it is not one of ours. */
export function decodeCursor(text: string): KeysetCursor | undefined {
  try {
    const parsed = payload.safeParse(JSON.parse(new TextDecoder().decode(fromBase64Url(text))));
    return parsed.success ? { time: parsed.data[0], id: parsed.data[1] } : undefined;
  } catch {
    return undefined;
  }
}

/** The `cursor` query parameter: an opaque string decoded to a {@link KeysetCursor} (400 when it is not one). */
export const cursorParam = z
  .string()
  .max(400)
  .transform((text, ctx) => {
    const cursor = decodeCursor(text);
    if (!cursor) {
      ctx.addIssue({ code: "custom", message: "Not a cursor of this list: pass `nextCursor` from the previous page as is." });
      return z.NEVER;
    }
    return cursor;
  })
  .openapi({ type: "string", description: "`nextCursor` of the previous page (opaque)." });

/** A {@link cursorParam} of a list keyed by UUID row ids (another list's cursor, or a forged id, is a 400). */
export const uuidCursorParam = cursorParam
  .refine((cursor) => isUuid(cursor.id), "Not a cursor of this list: pass `nextCursor` from the previous page as is.")
  .openapi({ type: "string", description: "`nextCursor` of the previous page (opaque)." });
