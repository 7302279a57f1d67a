/** Worker "jobs" (wrangler env `jobs`): the `jobs` route group and its crons. */
import { createWorker } from "../../core/worker";
import { jobs } from ".";

export default createWorker("jobs", [jobs]).handler;
