/** Worker "dashboard" (wrangler env `dashboard`): the `dashboard` route group. */
import { createWorker } from "../../core/worker";
import { dashboard } from ".";

export default createWorker("dashboard", [dashboard]).handler;
