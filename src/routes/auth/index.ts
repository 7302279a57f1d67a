/**
 * Route group `auth` under `/api/v1/auth`: registration (operator token), login, token
 * refresh and logout, the signed-in user, and the org's API keys. See docs/security.md.
 */
import { Hono } from "hono";
import type { AppEnv } from "../../core/app";
import { createApiKey } from "./create-api-key";
import { listApiKeys } from "./list-api-keys";
import { login } from "./login";
import { logout } from "./logout";
import { me } from "./me";
import { refresh } from "./refresh";
import { register } from "./register";
import { revokeApiKey } from "./revoke-api-key";

export const authRoutes = new Hono<AppEnv>()
  .route("/api/v1/auth", register)
  .route("/api/v1/auth", login)
  .route("/api/v1/auth", refresh)
  .route("/api/v1/auth", logout)
  .route("/api/v1/auth", me)
  .route("/api/v1/auth", createApiKey)
  .route("/api/v1/auth", listApiKeys)
  .route("/api/v1/auth", revokeApiKey);
