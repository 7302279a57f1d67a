/** Worker "auth" (wrangler env `auth`): the `auth` route group. */
import { createWorker } from "../../core/worker";
import { auth } from ".";

export default createWorker("auth", [auth]).handler;
