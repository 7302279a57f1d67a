/** `POST /jobs/kommo-token-refresh`: QStash delivers a `kommo-token-refresh` job here (`src/jobs/kommo-token-refresh.ts`). */
import { z } from "@hono/zod-openapi";
import { qstashAccess } from "../../core/access";
import { jobStatuses } from "../../core/db/schema";
import { defineOperation } from "../../core/route";
import { deliverKommoTokenRefresh } from "../../jobs/kommo-token-refresh";
import { jobPaths } from "../../jobs/ledger";
import { group } from "./group";
import { jobMessageBody } from "./schemas";

/** 200 of a `kommo-token-refresh` delivery. */
const kommoTokenRefreshResult = z.object({
  jobId: z.string().uuid(),
  outcome: z.enum(["succeeded", "ignored"]),
  /** The job's status after this delivery; null for an unknown job. */
  status: z.enum(jobStatuses).nullable(),
  /** What the delivery did: `refreshed` (with the new expiry) or `skipped` (with why). */
  result: z
    .object({
      integrationId: z.string().uuid(),
      action: z.enum(["refreshed", "skipped"]),
      expiresAt: z.string().optional(),
      reason: z.string().optional(),
    })
    .optional(),
  /** Why a delivery was ignored (finished or unknown job, lease held by another delivery). */
  reason: z.string().optional(),
});

/** One delivery of a `kommo-token-refresh` job: refresh the integration's Kommo tokens, or say why not. */
export const kommoTokenRefreshDelivery = defineOperation({
  route: group.route({
    method: "post",
    path: jobPaths["kommo-token-refresh"],
    summary: "Run a delivery of a kommo-token-refresh job (QStash)",
    description:
      "QStash delivers a `kommo-token-refresh` job message (`{ jobId }`; the job's payload names the integration) " +
      "here, signed for `PUBLIC_JOBS_URL` + `/jobs/kommo-token-refresh`. The delivery claims the job and spends the " +
      "integration's refresh token for a new pair (stored at once, encrypted), unless the access token was refreshed " +
      "meanwhile or the integration is disabled or not connected (`skipped`). A failure records its cause in words " +
      "(`Kommo refused the refresh_token grant (401): Token has been revoked; reconnect …`) and answers so that QStash retries.",
    access: qstashAccess,
    request: { body: { required: true, content: { "application/json": { schema: jobMessageBody } } } },
    errors: {
      429: "Kommo rate-limited the refresh; QStash retries after `Retry-After`.",
      500: "Our error (database, configuration), named in `detail`; QStash retries.",
      502: "Kommo refused the refresh token or answered unexpectedly (`detail` says how); QStash retries, then the dead letter keeps it.",
      503: "Kommo or the database is unavailable; QStash retries.",
    },
    responses: {
      200: {
        description: "`succeeded` (refreshed or skipped, see `result`) or `ignored` (with the reason).",
        content: { "application/json": { schema: kommoTokenRefreshResult } },
      },
    },
  }),
  handler: async (c) => {
    const { jobId } = c.req.valid("json");
    return c.json(await deliverKommoTokenRefresh(c.var.services, jobId), 200);
  },
});
