/**
 * The operator credential of `POST /register`: `Authorization: Bearer <ADMIN_REGISTRATION_TOKEN>`,
 * compared in constant time. Declared as access kind `admin-token`.
 */
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../../core/app";
import { timingSafeEqual } from "../../core/crypto";
import { ApiError } from "../../core/errors";
import { declareAccess } from "../../core/middleware";

/**
 * Requires the registration token. No `Authorization` bearer → 401 (with
 * `WWW-Authenticate`); a bearer that is not the token → 403. The comparison leaks the
 * length at most, never the content.
 * @see https://owasp.org/www-community/attacks/Timing_attack
 */
export const requireAdminToken = () =>
  declareAccess(
    { kind: "admin-token" },
    createMiddleware<AppEnv>(async (c, next) => {
      const presented = /^Bearer (\S+)$/.exec(c.req.header("Authorization") ?? "")?.[1];
      if (!presented) {
        throw new ApiError("UNAUTHORIZED", {
          detail: "The registration token is required.",
          headers: { "WWW-Authenticate": 'Bearer realm="seller-edge-admin"' },
        });
      }
      const { config, logger } = c.var.services;
      if (!timingSafeEqual(presented, config.ADMIN_REGISTRATION_TOKEN)) {
        logger.warn("registration token rejected", { ip: c.req.header("CF-Connecting-IP") });
        throw new ApiError("FORBIDDEN", { detail: "The registration token is wrong." });
      }
      await next();
    }),
  );
