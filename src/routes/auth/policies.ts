/**
 * Rate-limit policies of the `auth` group. Both count per client IP (`CF-Connecting-IP`,
 * set by Cloudflare's edge) and fail closed in production: an outage of Redis must not
 * open unlimited password or token guessing.
 */
import type { AppConfig } from "../../core/env";
import { groupPolicy, type RateLimitPolicy } from "../../core/rate-limit";

/** `auth-login`: `LOGIN_RATE_LIMIT_PER_MINUTE` attempts per IP per minute. */
export const loginPolicy = (config: AppConfig): RateLimitPolicy => groupPolicy(config, "auth", "login", config.LOGIN_RATE_LIMIT_PER_MINUTE);

/** `auth-tokens`: registration, refresh and logout, `RATE_LIMIT_WRITE_PER_MINUTE` per IP per minute. */
export const authPolicy = (config: AppConfig): RateLimitPolicy => groupPolicy(config, "auth", "tokens", config.RATE_LIMIT_WRITE_PER_MINUTE);
