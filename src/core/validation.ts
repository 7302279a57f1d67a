/**
 * Request validation: the hook of every router (`createRouter`, `@hono/zod-openapi`'s
 * `defaultHook`) turns a failed zod parse into a 400 problem listing every failing field
 * (`errors: [{ path, message }]`), and refuses a valid input whose strings contain U+0000,
 * which Postgres `text` and `jsonb` cannot store (the query would fail with a 500).
 * @see https://github.com/honojs/middleware/tree/main/packages/zod-openapi#handling-validation-errors
 */
import { z } from "@hono/zod-openapi";
import { ApiError, type FieldError } from "./errors";

/** The path of the first string (value or key) in `value` that contains U+0000; undefined when there is none. */
function nulPath(value: unknown, path: string[] = [], depth = 0): string[] | undefined {
  if (typeof value === "string") return value.includes("\u0000") ? path : undefined;
  if (value === null || typeof value !== "object" || depth > 32) return undefined;
  for (const [key, item] of Object.entries(value)) {
    if (key.includes("\u0000")) return [...path, key];
    const found = nulPath(item, [...path, key], depth + 1);
    if (found) return found;
  }
  return undefined;
}

/** The field errors of a zod error: dotted path (`(root)` for the whole value) and message. */
export function fieldErrors(error: z.ZodError): FieldError[] {
  return error.issues.map((i) => ({ path: i.path.length ? i.path.map(String).join(".") : "(root)", message: i.message }));
}

/**
 * The 400 problem of invalid `target` (`query`, `param`, `json`…) with its failing fields. The
 * detail names every failing field; with one field, its message too (`Invalid query: offset: At
 * most 10000: …`), so a client that shows only `detail` still says what to change.
 */
export function validationError(target: string, errors: FieldError[]): ApiError {
  const [only] = errors;
  const fields = errors.length === 1 && only ? `${only.path}: ${only.message}` : errors.map((e) => e.path).join(", ");
  return new ApiError("VALIDATION_FAILED", { detail: `Invalid ${target}: ${fields}`, errors });
}

/**
 * The validation hook: throws the 400 problem for a failed parse, or for a parsed value that
 * contains U+0000; returns nothing otherwise (the typed value lands in `c.req.valid(target)`).
 */
export function validationHook(
  result: { target: string } & ({ success: true; data: unknown } | { success: false; error: z.ZodError }),
): void {
  if (!result.success) throw validationError(result.target, fieldErrors(result.error));
  const nul = nulPath(result.data);
  if (nul) {
    const path = nul.length ? nul.join(".") : "(root)";
    throw validationError(result.target, [{ path, message: "Must not contain the NUL character (U+0000)" }]);
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True for a UUID in its text form (RFC 9562), as Postgres' `uuid` accepts it: checked before a lookup by id. */
export const isUuid = (text: string | undefined): text is string => text !== undefined && UUID.test(text);

/** A whole-number query parameter in [min, max] (the query carries it as text; the spec says `integer`). */
export const integerQueryParam = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,16}$/, "Expected a whole number")
    .transform(Number)
    .pipe(z.number().int().min(min).max(max))
    .openapi({ type: "integer", minimum: min, maximum: max });
