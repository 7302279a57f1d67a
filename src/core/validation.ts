/**
 * Request validation: `@hono/zod-validator` with a hook that turns a failure into a
 * 400 problem listing every failing field (`errors: [{ path, message }]`).
 * @see https://github.com/honojs/middleware/tree/main/packages/zod-validator
 */
import { zValidator } from "@hono/zod-validator";
import type { ValidationTargets } from "hono";
import type { ZodType } from "zod";
import { ApiError } from "./errors";

/** Validates `target` against `schema`; typed output lands in `c.req.valid(target)`. */
export const validate = <T extends ZodType, Target extends keyof ValidationTargets>(target: Target, schema: T) =>
  zValidator(target, schema, (result) => {
    if (!result.success) {
      const issues = result.error.issues.map((i) => ({
        path: i.path.length ? i.path.map(String).join(".") : "(root)",
        message: i.message,
      }));
      throw new ApiError("VALIDATION_FAILED", { detail: `Invalid ${target}: ${issues.map((i) => i.path).join(", ")}`, errors: issues });
    }
  });
