/** Worker "jobs": QStash consumers, the sync admin API and the cron trigger (wrangler env `jobs`). */
import { createApp } from "../core/app";
import type { Env } from "../core/env";
import { jobsRoutes } from "../routes/jobs";
import { scheduled } from "../scheduled";

const app = createApp("jobs").route("/", jobsRoutes);

export default { fetch: app.fetch, scheduled } satisfies ExportedHandler<Env>;
