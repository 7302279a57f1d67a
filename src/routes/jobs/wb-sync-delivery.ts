/** `POST /jobs/wb-sync`: QStash delivers a `wb-sync` job here; the work is `deliverWbSync` (`src/jobs/wb-sync-delivery.ts`). */
import { qstashAccess } from "../../core/access";
import { defineOperation } from "../../core/route";
import { jobPaths } from "../../jobs/ledger";
import { deliverWbSync } from "../../jobs/wb-sync-delivery";
import { group } from "./group";
import { jobMessageBody, wbSyncDeliveryResult } from "./schemas";

/** One delivery of a `wb-sync` job: claim, sync within the budget, then succeed, continue or fail so QStash retries. */
export const wbSyncDelivery = defineOperation({
  route: group.route({
    method: "post",
    path: jobPaths["wb-sync"],
    summary: "Run a delivery of a wb-sync job (QStash)",
    description: [
      "QStash delivers a `wb-sync` job message (`{ jobId }`) here, signed for `PUBLIC_JOBS_URL` + `/jobs/wb-sync`. " +
        "The delivery claims the job (a lease fenced by the attempt number), syncs orders, sales and stocks from " +
        "their cursors for at most the wall-time budget, and answers so that QStash retries exactly the failures " +
        "(every non-2xx, honouring `Retry-After`).",
      "200 `succeeded`: every data set caught up, the org's cache version bumped, the job `succeeded`. " +
        "200 `continued`: the budget ran out, or Wildberries answered 429 after this delivery fetched pages; the lease " +
        "is released (the job stays `running`) and a continuation message for the same job is published " +
        "(deduplication id `{jobId}:{attempt}`, delayed by WB's `X-Ratelimit-Retry` after a 429). " +
        "200 `ignored`: nothing to do — the job is finished or unknown, or another delivery holds its lease.",
      "A failed attempt records its cause in words — `WB rejected the token (401): …`, `WB server error (502): …`, " +
        "`database error 23505 (unique_violation) on …`, a lost lease — on the job (`failed`, `last_error`) and on the " +
        "data set, and answers a problem whose `detail` is that cause; after QStash's last retry the failure callback " +
        "moves the job to the dead letters, which keep that answer.",
    ].join("\n\n"),
    access: qstashAccess,
    request: { body: { required: true, content: { "application/json": { schema: jobMessageBody } } } },
    errors: {
      429: "Wildberries rate-limited the delivery's first request; QStash retries after `Retry-After` (WB's `X-Ratelimit-Retry`).",
      500: "Our error (a database error with its Postgres error code, no Wildberries connection…), named in `detail`; the attempt is recorded and QStash retries with backoff.",
      502: "Wildberries refused the seller's token or answered unexpectedly (`detail` says how); the attempt is recorded and QStash retries with backoff.",
      503: "Wildberries is unavailable, or the continuation could not be queued (`detail` says which); QStash retries.",
    },
    responses: {
      200: {
        description: "The delivery's outcome: `succeeded`, `continued` or `ignored` (with the reason).",
        content: { "application/json": { schema: wbSyncDeliveryResult } },
      },
    },
  }),
  handler: async (c) => {
    const { jobId } = c.req.valid("json");
    return c.json(await deliverWbSync(c.var.services, jobId), 200);
  },
});
