/**
 * Rate-limit policies of the `auth` group. Both count per client IP (`CF-Connecting-IP`,
 * set by Cloudflare's edge) and fail closed in production: an outage of Redis must not
 * open unlimited password or token guessing.
 */
import type { AppConfig } from "../../core/env";
import type { RateLimitPolicy } from "../../core/rate-limit";

/** `login`: `LOGIN_RATE_LIMIT_PER_MINUTE` attempts per IP per minute. */
export const loginPolicy = (config: AppConfig): RateLimitPolicy => ({
  name: "login",
  limit: config.LOGIN_RATE_LIMIT_PER_MINUTE,
  windowSeconds: 60,
});

/** `auth`: registration, refresh and logout, `RATE_LIMIT_WRITE_PER_MINUTE` per IP per minute. */
export const authPolicy = (config: AppConfig): RateLimitPolicy => ({
  name: "auth",
  limit: config.RATE_LIMIT_WRITE_PER_MINUTE,
  windowSeconds: 60,
});
