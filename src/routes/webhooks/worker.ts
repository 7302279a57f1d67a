/** Worker "webhooks" (wrangler env `webhooks`): the `webhooks` route group, CRM webhook ingest. */
import { createWorker } from "../../core/worker";
import { webhooks } from ".";

export default createWorker("webhooks", [webhooks]).handler;
