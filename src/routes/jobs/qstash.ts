/**
 * Middleware of the QStash consumers: signature first (401), then the body (400).
 *
 * The signature covers the raw bytes, so the body is read as text once, verified against the
 * public URL (`PUBLIC_JOBS_URL` + path; the `sub` claim must match it exactly), and only then
 * parsed. The body is validated from that verified text whatever its `Content-Type`.
 * @see https://upstash.com/docs/qstash/howto/signature
 */

import { createMiddleware } from "hono/factory";
import { validator } from "hono/validator";
import type { z } from "zod";
import type { AppEnv } from "../../core/app";
import { ApiError } from "../../core/errors";
import { declareAccess } from "../../core/middleware";
import { verifyQStashDelivery } from "../../core/queue";

/** Answers 401 unless `Upstash-Signature` verifies for the raw body and the public URL of `path`. */
export const requireQStashSignature = (path: string) =>
  declareAccess(
    { kind: "qstash" },
    createMiddleware<AppEnv>(async (c, next) => {
      const raw = await c.req.text();
      const valid = await verifyQStashDelivery(c.var.services.config, c.req.header("Upstash-Signature"), raw, path);
      if (!valid) {
        c.var.services.logger.warn("qstash signature rejected", { path, present: c.req.header("Upstash-Signature") !== undefined });
        throw new ApiError("UNAUTHORIZED", { detail: "Missing or invalid Upstash-Signature." });
      }
      await next();
    }),
  );

/** Validates the (already verified) raw body as JSON against `schema`; typed output in `c.req.valid("json")`. */
export const qstashJson = <T extends z.ZodType>(schema: T) =>
  validator("json", async (_value, c): Promise<z.output<T>> => {
    let body: unknown;
    try {
      body = JSON.parse(await c.req.text());
    } catch {
      throw new ApiError("VALIDATION_FAILED", {
        detail: "Invalid json: the body is not JSON",
        errors: [{ path: "(root)", message: "not JSON" }],
      });
    }
    const result = schema.safeParse(body);
    if (!result.success) {
      const errors = result.error.issues.map((i) => ({
        path: i.path.length ? i.path.map(String).join(".") : "(root)",
        message: i.message,
      }));
      throw new ApiError("VALIDATION_FAILED", { detail: `Invalid json: ${errors.map((e) => e.path).join(", ")}`, errors });
    }
    return result.data;
  });
