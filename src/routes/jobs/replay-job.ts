/** `POST /api/v1/admin/jobs/{id}/replay`: runs a dead job of any kind again. */
import { orgAdmins, tokenAccess } from "../../core/access";
import { ApiError } from "../../core/errors";
import { defineOperation } from "../../core/route";
import { isoTime } from "../../core/time";
import { type JobActionRefusal, replayDeadJob } from "../../jobs/admin";
import { isJobKind, publishAfterCommit } from "../../jobs/ledger";
import { group } from "./group";
import { jobParams, jobReplayResponse } from "./schemas";

const refusals: Record<Exclude<JobActionRefusal, "not-found">, string> = {
  "not-dead": "Only a dead job is replayed; this one is not dead.",
  discarded: "This job was discarded; it is not replayed.",
  "in-flight": "Another job of the same concurrency key (another sync of the org) is in flight; replay this one when it has finished.",
};

/** Puts a dead job back to `queued` and publishes it. */
export const replayAdminJob = defineOperation({
  route: group.route({
    method: "post",
    path: "/api/v1/admin/jobs/{id}/replay",
    summary: "Replay a dead job",
    description:
      "The dead job goes back to `queued` and its open dead letters are stamped `replayed_at` (one statement); then " +
      "it is published to QStash (deduplication id `{jobId}:replay:{time}`) after answering. A failed publish is " +
      "left to the every-minute relay. The job keeps its attempts count and resumes where it stopped. Takes no body.",
    access: tokenAccess(orgAdmins),
    request: { params: jobParams },
    errors: {
      404: "No job with this id in the caller's org.",
      409: "The job is not dead, was discarded, or another job of its concurrency key is in flight.",
    },
    responses: {
      202: { description: "The job is queued again.", content: { "application/json": { schema: jobReplayResponse } } },
    },
  }),
  handler: async (c) => {
    const { id } = c.req.valid("param");
    const services = c.var.services;
    const result = await replayDeadJob(services.db, c.var.auth.orgId, id);
    if (!result.ok) {
      if (result.reason === "not-found") throw new ApiError("NOT_FOUND", { detail: "No such job." });
      throw new ApiError("CONFLICT", { detail: refusals[result.reason] });
    }
    if (isJobKind(result.kind)) {
      const deduplicationId = `${id}:replay:${result.replayedAt.replace(/\D/g, "")}`;
      c.executionCtx.waitUntil(publishAfterCommit(services, { jobId: id, kind: result.kind, deduplicationId }));
    }
    services.logger.info("job replayed", { jobId: id, kind: result.kind });
    return c.json({ jobId: id, status: "queued" as const, replayedAt: isoTime(result.replayedAt) }, 202);
  },
});
