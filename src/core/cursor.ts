/**
 * Opaque keyset cursors. A cursor is the base64url of a JSON payload that holds the last row's
 * sort key, so the next page is a range predicate on that key — as fast at any depth as on the
 * first page, and stable while rows arrive (a row that sorts before the cursor never shifts a page).
 *
 * Two shapes, one codec ({@link encodePayload}, {@link decodePayload}):
 * - `[time, id]` ({@link encodeCursor}, {@link cursorParam}) for lists ordered by
 *   `(time desc, id desc)`: the CRM, jobs and helpdesk lists (`where (time, id) < (…)`);
 * - `[list, scope, key]` ({@link listCursor}) for a list with its own sort key (the dashboard's
 *   `/orders/recent` and `/stocks`): the cursor names its list and a fingerprint of the filters it
 *   was made under, so another list's cursor, or one carried over to other filters, is refused.
 *
 * A cursor that does not decode to its list's payload is a client error: the query schema turns it
 * into a 400 problem with the field named, before any query.
 */
import { z } from "@hono/zod-openapi";
import { fromBase64Url, toBase64Url } from "./crypto";
import { isUuid } from "./validation";

/** What every invalid cursor is told. */
const NOT_A_CURSOR = "Not a cursor of this list: pass `nextCursor` from the previous page as is.";

/** A cursor payload as text: base64url (no padding) of its UTF-8 JSON. */
function encodePayload(payload: unknown): string {
  return toBase64Url(new TextEncoder().encode(JSON.stringify(payload)));
}

/** The payload of cursor `text` parsed by `schema`; undefined when `text` is not base64url JSON of that shape. */
function decodePayload<T>(text: string, schema: z.ZodType<T>): T | undefined {
  try {
    const parsed = schema.safeParse(JSON.parse(new TextDecoder().decode(fromBase64Url(text))));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

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
  return encodePayload([cursor.time, cursor.id]);
}

/** Decodes a cursor; undefined when it is not one of ours. */
export function decodeCursor(text: string): KeysetCursor | undefined {
  const decoded = decodePayload(text, payload);
  return decoded ? { time: decoded[0], id: decoded[1] } : undefined;
}

/** The `cursor` query parameter: an opaque string decoded to a {@link KeysetCursor} (400 when it is not one). */
export const cursorParam = z
  .string()
  .max(400)
  .transform((text, ctx) => {
    const cursor = decodeCursor(text);
    if (!cursor) {
      ctx.addIssue({ code: "custom", message: NOT_A_CURSOR });
      return z.NEVER;
    }
    return cursor;
  })
  .openapi({ type: "string", description: "`nextCursor` of the previous page (opaque)." });

/** A {@link cursorParam} of a list keyed by UUID row ids (another list's cursor, or a forged id, is a 400). */
export const uuidCursorParam = cursorParam
  .refine((cursor) => isUuid(cursor.id), NOT_A_CURSOR)
  .openapi({ type: "string", description: "`nextCursor` of the previous page (opaque)." });

// List cursors: `[list, scope, key]`.

/** Longest list cursor accepted, in characters (a payload of about 3 KB; sort keys of real rows are far shorter). */
const MAX_LIST_CURSOR = 4096;

/**
 * Text of a sort key in a cursor: any string Postgres can take as a bound `text` value — no
 * U+0000 and no lone UTF-16 surrogate (either would fail the query with a 500, not a 400).
 */
export const cursorText = z.string().refine((s) => !s.includes("\u0000") && !/\p{Cs}/u.test(s));

/** A sort time in a cursor: a `timestamptz` as Postgres wrote it ({@link isRealTime}). */
export const cursorTime = z.string().refine(isRealTime);

/**
 * The scope of a list cursor: a short fingerprint (FNV-1a, 32 bits, base 36) of the JSON of the
 * filters a page was read under. It catches a cursor carried over to other filters — a client
 * slip, not an attack: a cursor holds nothing secret and a forged one only names a position.
 */
function cursorScope(filters: unknown): string {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(JSON.stringify(filters))) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return hash.toString(36);
}

/** A decoded list cursor: the sort key of the last row of the previous page and its {@link cursorScope}. */
export interface ListCursor<Key> {
  key: Key;
  scope: string;
}

/**
 * The cursor of list `list` (a name unique among the API's lists) whose sort key parses with
 * `key` (a zod tuple of JSON values, e.g. `[date, srid]`). The cursor is base64url of
 * `["<list>", "<scope>", key]`, and only its canonical text is accepted (the exact `encode` output),
 * so each position has one cursor and one cache entry.
 * @returns `param`, the `cursor` query parameter (decoded to a {@link ListCursor}; 400 naming the
 *   field when the text is not this list's cursor), `encode`, which makes the cursor after the row
 *   with sort key `key` read under `filters`, and `fits`, true when a decoded cursor was made under
 *   `filters` (check it in the query schema's refinement: see `src/routes/dashboard/schemas.ts`).
 */
export function listCursor<const List extends string, Key extends z.ZodType<readonly unknown[]>>(list: List, key: Key) {
  const shape = z.tuple([z.literal(list), z.string().regex(/^[0-9a-z]{1,7}$/), key]);
  const encode = (value: z.output<Key>, filters: unknown): string => encodePayload([list, cursorScope(filters), value]);
  const param = z
    .string()
    // Aborting: an over-long text is refused as such, without decoding it.
    .max(MAX_LIST_CURSOR, { abort: true, error: NOT_A_CURSOR })
    .transform((text, ctx): ListCursor<z.output<Key>> => {
      const decoded = decodePayload(text, shape);
      // Canonical text only: re-encoding gives back exactly what was sent.
      if (!decoded || encodePayload(decoded) !== text) {
        ctx.addIssue({ code: "custom", message: NOT_A_CURSOR });
        return z.NEVER;
      }
      return { scope: decoded[1] as string, key: decoded[2] as z.output<Key> };
    })
    .openapi({
      type: "string",
      maxLength: MAX_LIST_CURSOR,
      description: "`nextCursor` of the previous page, as is (opaque; valid only for this list and the same filters).",
    });
  const fits = (cursor: ListCursor<z.output<Key>>, filters: unknown): boolean => cursor.scope === cursorScope(filters);
  return { param, encode, fits };
}
