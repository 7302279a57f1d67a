/** `POST /api/v1/sync/wildberries`: queues a Wildberries sync of the caller's org. */
import { orgAdmins, tokenAccess } from "../../core/access";
import { ApiError } from "../../core/errors";
import { defineOperation } from "../../core/route";
import { enqueueWbSync } from "../../jobs/wb-sync-enqueue";
import { group } from "./group";
import { startSyncResponse } from "./schemas";

/** Queues a `wb-sync` job of the caller's org, or answers the one already in flight. */
export const startSync = defineOperation({
  route: group.route({
    method: "post",
    path: "/api/v1/sync/wildberries",
    summary: "Start a Wildberries sync of the org",
    description:
      "Creates a `wb-sync` job (deduplication id = the job id) and publishes it to QStash with retries and the " +
      "failure callback, after answering. If a sync of the org is already queued, running or retrying, that job is " +
      "answered instead (`created: false`): one unfinished sync per org. If the publish fails, the job stays " +
      "`queued` and the reaper cron publishes it after a minute. Takes no body.",
    access: tokenAccess(orgAdmins, ["sync:write"]),
    errors: {
      409: "The org has no Wildberries connection (connect a statistics API token first: `PUT /api/v1/integrations/wildberries`).",
    },
    responses: {
      202: {
        description: "The job that will run: a new one (`created: true`) or the one already in flight.",
        content: { "application/json": { schema: startSyncResponse } },
      },
    },
  }),
  handler: async (c) => {
    const result = await enqueueWbSync(c.var.services, c.var.auth.orgId, (work) => c.executionCtx.waitUntil(work));
    if ("refused" in result) {
      throw new ApiError("CONFLICT", {
        detail:
          result.refused === "not-connected"
            ? "The org has no Wildberries connection; connect a statistics API token with PUT /api/v1/integrations/wildberries first."
            : "A sync could not be queued; try again.",
      });
    }
    return c.json(result, 202);
  },
});
