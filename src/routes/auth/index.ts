/** Route group `auth`: login (registration, refresh and API keys slot in here). */
import { Hono } from "hono";
import type { AppEnv } from "../../core/app";
import { login } from "./login";

export const authRoutes = new Hono<AppEnv>().route("/api/v1/auth", login);
