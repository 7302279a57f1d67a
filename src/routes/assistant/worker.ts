/** Worker "assistant" (wrangler env `assistant`): the `assistant` route group. */
import { createWorker } from "../../core/worker";
import { assistant } from ".";

export default createWorker("assistant", [assistant]).handler;
