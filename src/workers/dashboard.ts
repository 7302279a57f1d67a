/** Worker "dashboard": the `dashboard` route group (wrangler env `dashboard`). */
import { createApp } from "../core/app";
import type { Env } from "../core/env";
import { dashboardRoutes } from "../routes/dashboard";

const app = createApp("dashboard").route("/", dashboardRoutes);

export default { fetch: app.fetch } satisfies ExportedHandler<Env>;
