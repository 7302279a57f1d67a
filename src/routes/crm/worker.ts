/** Worker "crm" (wrangler env `crm`): the `crm` route group. */
import { createWorker } from "../../core/worker";
import { crm } from ".";

export default createWorker("crm", [crm]).handler;
