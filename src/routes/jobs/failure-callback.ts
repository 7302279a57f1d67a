/**
 * `POST /jobs/failure-callback`: QStash's `Upstash-Failure-Callback` target.
 * @see https://upstash.com/docs/qstash/features/callbacks
 */
import { qstashAccess } from "../../core/access";
import { defineOperation } from "../../core/route";
import { landDeadLetter } from "../../jobs/dead-letters";
import { FAILURE_CALLBACK_PATH } from "../../jobs/ledger";
import { group } from "./group";
import { failureCallbackBody, landedDeadLetter } from "./schemas";

/** Lands a dead letter for a job message that failed its last retry, and marks the job `dead`. */
export const failureCallback = defineOperation({
  route: group.route({
    method: "post",
    path: FAILURE_CALLBACK_PATH,
    summary: "Land a dead letter (QStash failure callback)",
    description: [
      "QStash posts here, signed for `PUBLIC_JOBS_URL` + `/jobs/failure-callback`, when a job message failed its " +
        "last retry: the failed message (base64 `sourceBody`) and the destination's last answer (`status`, base64 `body`).",
      "One statement inserts the dead letter, keyed by QStash's `sourceMessageId`, and — only when it is new — marks " +
        "the job `dead` with the last answer. A repeated callback changes nothing (not even a job replayed meanwhile) " +
        "and is answered 200 with `duplicate: true`, so QStash stops.",
      "Once the dead letter is stored (new or duplicate), QStash's own DLQ entry (`dlqId`) is deleted: our table is " +
        "the one dead-letter queue to watch. A failed delete is logged and leaves the entry in QStash's DLQ (harmless).",
    ].join("\n\n"),
    access: qstashAccess,
    request: { body: { required: true, content: { "application/json": { schema: failureCallbackBody } } } },
    responses: {
      200: {
        description: "The dead letter landed, or was already there (`duplicate: true`).",
        content: { "application/json": { schema: landedDeadLetter } },
      },
    },
  }),
  handler: async (c) => {
    const report = c.req.valid("json");
    const { db, queue, logger } = c.var.services;
    const landed = await landDeadLetter(db, report);
    logger.warn("job dead-lettered", { ...landed, sourceMessageId: report.sourceMessageId, status: report.status });
    if (report.dlqId) {
      // Only after the commit above: the entry in QStash's DLQ is the copy of last resort until then.
      await queue.dlq.delete(report.dlqId).catch((err: unknown) => {
        logger.warn("QStash DLQ entry not deleted; it stays in QStash's DLQ", { dlqId: report.dlqId, error: err });
      });
    }
    return c.json(landed, 200);
  },
});
