/**
 * Request validation: `@hono/zod-validator` with a hook that turns a failure into a
 * 400 problem listing every failing field (`errors: [{ path, message }]`).
 * @see https://github.com/honojs/middleware/tree/main/packages/zod-validator
 */
import { zValidator } from "@hono/zod-validator";
import type { ValidationTargets } from "hono";
import { createMiddleware } from "hono/factory";
import { type ZodType, z } from "zod";
import { ApiError } from "./errors";

/**
 * The path of the first string (value or key) in `value` that contains U+0000, which Postgres
 * `text` and `jsonb` cannot store (the query would fail with a 500); undefined when there is none.
 */
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

/**
 * Validates `target` against `schema`; typed output lands in `c.req.valid(target)`. A valid
 * input whose strings contain U+0000 is refused too (400), before it can reach the database.
 */
export const validate = <T extends ZodType, Target extends keyof ValidationTargets>(target: Target, schema: T) =>
  zValidator(target, schema, (result) => {
    if (!result.success) {
      const issues = result.error.issues.map((i) => ({
        path: i.path.length ? i.path.map(String).join(".") : "(root)",
        message: i.message,
      }));
      throw new ApiError("VALIDATION_FAILED", { detail: `Invalid ${target}: ${issues.map((i) => i.path).join(", ")}`, errors: issues });
    }
    const nul = nulPath(result.data);
    if (nul) {
      const path = nul.length ? nul.join(".") : "(root)";
      throw new ApiError("VALIDATION_FAILED", {
        detail: `Invalid ${target}: ${path}`,
        errors: [{ path, message: "Must not contain the NUL character (U+0000)" }],
      });
    }
  });

/**
 * Write routes take no query parameters (their input is the path and the body): any parameter is
 * a 400 naming it, so a stray `?orgId=` is refused rather than silently ignored.
 */
export const strictQuery = () => validate("query", z.object({}).strict());

/**
 * For write routes that take no body: no body, or an empty JSON object, passes; anything else is
 * a 400 — a field sent to such a route (`orgId`, `role`, `id`…) is refused, never silently ignored.
 */
export const emptyBody = () =>
  createMiddleware(async (c, next) => {
    const text = (await c.req.text()).trim();
    if (text !== "" && !/^\{\s*\}$/.test(text)) {
      throw new ApiError("VALIDATION_FAILED", {
        detail: "Invalid json: this operation takes no request body",
        errors: [{ path: "(root)", message: "Expected no body (or {})" }],
      });
    }
    await next();
  });
