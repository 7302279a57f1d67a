/** `GET /api/v1/admin/jobs/{id}`: one job with its payload and latest dead letter. */
import { orgAdmins, tokenAccess } from "../../core/access";
import { ApiError } from "../../core/errors";
import { defineOperation } from "../../core/route";
import { isoTime } from "../../core/time";
import { getJobWithDeadLetter } from "../../jobs/admin";
import { group } from "./group";
import { toAdminJobView } from "./list-jobs";
import { adminJobDetail, jobParams } from "./schemas";

/** One job of the org. */
export const getAdminJob = defineOperation({
  route: group.route({
    method: "get",
    path: "/api/v1/admin/jobs/{id}",
    summary: "A job",
    description:
      "The job, its payload and its latest dead letter (QStash's last answer after its final retry, or the " +
      "reaper's note for a job abandoned after failures), with when it was replayed or discarded.",
    access: tokenAccess(orgAdmins),
    request: { params: jobParams },
    errors: { 404: "No job with this id in the caller's org (another org's is answered the same way)." },
    responses: {
      200: { description: "The job.", content: { "application/json": { schema: adminJobDetail } } },
    },
  }),
  handler: async (c) => {
    const found = await getJobWithDeadLetter(c.var.services.db, c.var.auth.orgId, c.req.valid("param").id);
    if (!found) throw new ApiError("NOT_FOUND", { detail: "No such job." });
    const { job, deadLetter } = found;
    return c.json(
      {
        ...toAdminJobView(job),
        payload: job.payload,
        deadLetter: deadLetter && {
          id: deadLetter.id,
          qstashMessageId: deadLetter.qstashMessageId,
          lastStatus: deadLetter.lastStatus,
          lastResponse: deadLetter.lastResponse,
          retried: deadLetter.retried,
          failedAt: isoTime(deadLetter.failedAt),
          replayedAt: isoTime(deadLetter.replayedAt),
          discardedAt: isoTime(deadLetter.discardedAt),
        },
      },
      200,
    );
  },
});
