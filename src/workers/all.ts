/** All route groups in one Worker: local development and tests. Production deploys one Worker per group. */
import { createApp } from "../core/app";
import type { Env } from "../core/env";
import { authRoutes } from "../routes/auth";
import { dashboardRoutes } from "../routes/dashboard";
import { jobsRoutes } from "../routes/jobs";
import { scheduled } from "../scheduled";

const app = createApp("all").route("/", authRoutes).route("/", dashboardRoutes).route("/", jobsRoutes);

export default { fetch: app.fetch, scheduled } satisfies ExportedHandler<Env>;
export { app };
