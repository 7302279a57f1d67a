/** Worker "helpdesk" (wrangler env `helpdesk`): the `helpdesk` route group, the support bot's webhook and the panel API. */
import { createWorker } from "../../core/worker";
import { helpdesk } from ".";

export default createWorker("helpdesk", [helpdesk]).handler;
