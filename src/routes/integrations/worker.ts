/** Worker "integrations" (wrangler env `integrations`): the `integrations` route group. */
import { createWorker } from "../../core/worker";
import { integrations } from ".";

export default createWorker("integrations", [integrations]).handler;
