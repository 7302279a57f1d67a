/** Worker "auth": the `auth` route group (wrangler env `auth`). */
import { createApp } from "../core/app";
import type { Env } from "../core/env";
import { authRoutes } from "../routes/auth";

const app = createApp("auth").route("/", authRoutes);

export default { fetch: app.fetch } satisfies ExportedHandler<Env>;
