/**
 * `POST /api/v1/admin/dead-letters/{id}/replay` — runs a dead job again (owner, admin): the job
 * goes back to `queued`, `replayed_at` is stamped, and the job is published to QStash (deduplication
 * id `{jobId}:replay:{deadLetterId}`) via `waitUntil`; a failed publish is left to the reaper.
 * 202 `{ deadLetterId, jobId, status: "queued", replayedAt }`.
 * Errors: 400 (id not a UUID), 401, 403, 404 (no such dead letter in the caller's org),
 * 409 (already replayed, the job is gone or no longer dead, or another sync of the org is in flight).
 */
import { Hono } from "hono";
import type { AppEnv } from "../../core/app";
import { ApiError } from "../../core/errors";
import { rateLimit, requireAuth } from "../../core/middleware";
import { emptyBody, strictQuery, validate } from "../../core/validation";
import { type ReplayRefusal, replayDeadLetter } from "../../jobs/dead-letters";
import { type JobKind, jobPaths, publishJob } from "../../jobs/ledger";
import { deadLetterParams, isoTime, type ReplayResponse } from "./schemas";

const refusals: Record<Exclude<ReplayRefusal, "not-found">, string> = {
  "already-replayed": "This dead letter was already replayed.",
  "job-gone": "The job of this dead letter no longer exists.",
  "job-not-dead": "The job is no longer dead (it was replayed or finished).",
  "sync-in-flight": "Another sync of the org is queued or running; replay it when that one has finished.",
};

export const replayDeadLetterRoute = new Hono<AppEnv>().post(
  "/:id/replay",
  requireAuth("owner", "admin"),
  rateLimit("jobs"),
  validate("param", deadLetterParams),
  strictQuery(),
  emptyBody(),
  async (c) => {
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
        publishJob(services, { jobId: result.jobId, kind, deduplicationId: `${result.jobId}:replay:${id}` }).catch((err: unknown) => {
          services.logger.warn("replay publish failed; the reaper will publish it", { jobId: result.jobId, error: err });
        }),
      );
    }
    return c.json(
      {
        deadLetterId: id,
        jobId: result.jobId,
        status: "queued",
        replayedAt: isoTime(result.replayedAt) ?? result.replayedAt,
      } satisfies ReplayResponse,
      202,
    );
  },
);
