/**
 * `POST /jobs/failure-callback` — QStash's `Upstash-Failure-Callback` target: a job message failed
 * its last retry. Lands a dead letter (once per `sourceMessageId`) and marks the job `dead`.
 * 401 without a valid signature for `PUBLIC_JOBS_URL/jobs/failure-callback`; 400 for a body that is
 * not a failure callback; 200 `{ deadLetterId, jobId, duplicate }` otherwise (a repeated callback
 * is a 200 with `duplicate: true`, so QStash stops).
 * @see https://upstash.com/docs/qstash/features/callbacks
 */
import { Hono } from "hono";
import type { AppEnv } from "../../core/app";
import { strictQuery } from "../../core/validation";
import { landDeadLetter } from "../../jobs/dead-letters";
import { FAILURE_CALLBACK_PATH } from "../../jobs/ledger";
import { qstashJson, requireQStashSignature } from "./qstash";
import { failureCallbackBody } from "./schemas";

export const failureCallback = new Hono<AppEnv>().post(
  "/failure-callback",
  requireQStashSignature(FAILURE_CALLBACK_PATH),
  strictQuery(),
  qstashJson(failureCallbackBody),
  async (c) => {
    const report = c.req.valid("json");
    const landed = await landDeadLetter(c.var.services.db, report);
    c.var.services.logger.warn("job dead-lettered", { ...landed, sourceMessageId: report.sourceMessageId, status: report.status });
    return c.json(landed);
  },
);
