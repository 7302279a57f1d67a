/** `POST /api/v1/admin/jobs/{id}/discard`: gives up on a dead job for good. */
import { orgAdmins, tokenAccess } from "../../core/access";
import { ApiError } from "../../core/errors";
import { defineOperation } from "../../core/route";
import { isoTime } from "../../core/time";
import { discardDeadJob, type JobActionRefusal } from "../../jobs/admin";
import { group } from "./group";
import { jobDiscardResponse, jobParams } from "./schemas";

const refusals: Record<Exclude<JobActionRefusal, "not-found" | "in-flight">, string> = {
  "not-dead": "Only a dead job is discarded; this one is not dead.",
  discarded: "This job was already discarded.",
};

/** Stamps a dead job's open dead letters `discarded_at`. */
export const discardAdminJob = defineOperation({
  route: group.route({
    method: "post",
    path: "/api/v1/admin/jobs/{id}/discard",
    summary: "Discard a dead job",
    description:
      "The dead job's open dead letters are stamped `discarded_at`: the job stays `dead` with its cause, leaves the " +
      "`dead_letters` gauge (and its alert), and is no longer replayed. For a poison message that no fix will make " +
      "valid. Takes no body.",
    access: tokenAccess(orgAdmins),
    request: { params: jobParams },
    errors: { 404: "No job with this id in the caller's org.", 409: "The job is not dead, or was already discarded." },
    responses: {
      200: { description: "The job is discarded.", content: { "application/json": { schema: jobDiscardResponse } } },
    },
  }),
  handler: async (c) => {
    const { id } = c.req.valid("param");
    const result = await discardDeadJob(c.var.services.db, c.var.auth.orgId, id);
    if (!result.ok) {
      if (result.reason === "not-found") throw new ApiError("NOT_FOUND", { detail: "No such job." });
      throw new ApiError("CONFLICT", { detail: refusals[result.reason === "in-flight" ? "not-dead" : result.reason] });
    }
    c.var.services.logger.info("job discarded", { jobId: id });
    return c.json({ jobId: id, status: "dead" as const, discardedAt: isoTime(result.discardedAt) }, 200);
  },
});
