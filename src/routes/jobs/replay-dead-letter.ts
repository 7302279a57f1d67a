/** `POST /api/v1/admin/dead-letters/{id}/replay`: runs a dead job again. */
import { orgAdmins, tokenAccess } from "../../core/access";
import { ApiError } from "../../core/errors";
import { defineOperation } from "../../core/route";
import { isoTime } from "../../core/time";
import { type ReplayRefusal, replayDeadLetter } from "../../jobs/dead-letters";
import { type JobKind, jobPaths, publishAfterCommit } from "../../jobs/ledger";
import { group } from "./group";
import { deadLetterParams, replayResponse } from "./schemas";

const refusals: Record<Exclude<ReplayRefusal, "not-found">, string> = {
  "already-replayed": "This dead letter was already replayed.",
  discarded: "This dead letter was discarded; it is not replayed.",
  "job-gone": "The job of this dead letter no longer exists.",
  "job-not-dead": "The job is no longer dead (it was replayed or finished).",
  "sync-in-flight": "Another sync of the org is queued or running; replay it when that one has finished.",
};

/** Puts a dead letter's job back to `queued` and publishes it again. */
export const replayDeadLetterRoute = defineOperation({
  route: group.route({
    method: "post",
    path: "/api/v1/admin/dead-letters/{id}/replay",
    summary: "Replay a dead letter",
    description:
      "The dead letter's job goes back to `queued` and `replayed_at` is stamped (one statement); then the job is " +
      "published to QStash (deduplication id `{jobId}:replay:{deadLetterId}`) after answering, and resumes at its " +
      "cursor. A failed publish is left to the reaper. Takes no body.",
    access: tokenAccess(orgAdmins),
    request: { params: deadLetterParams },
    errors: {
      404: "No dead letter with this id in the caller's org (another org's is answered the same way).",
      409: "Already replayed, the job is gone or no longer dead, or another sync of the org is in flight.",
    },
    responses: {
      202: { description: "The job is queued again.", content: { "application/json": { schema: replayResponse } } },
    },
  }),
  handler: async (c) => {
    const { id } = c.req.valid("param");
    const services = c.var.services;
    const result = await replayDeadLetter(services.db, c.var.auth.orgId, id);
    if (!result.ok) {
      if (result.reason === "not-found") throw new ApiError("NOT_FOUND", { detail: "No such dead letter." });
      throw new ApiError("CONFLICT", { detail: refusals[result.reason] });
    }
    const kind = result.kind in jobPaths ? (result.kind as JobKind) : undefined;
    if (kind) {
      c.executionCtx.waitUntil(
        publishAfterCommit(services, { jobId: result.jobId, kind, deduplicationId: `${result.jobId}:replay:${id}` }),
      );
    }
    return c.json({ deadLetterId: id, jobId: result.jobId, status: "queued" as const, replayedAt: isoTime(result.replayedAt) }, 202);
  },
});
