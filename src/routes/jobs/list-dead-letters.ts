/** `GET /api/v1/admin/dead-letters?limit=`: the org's dead letters. */
import { desc, eq } from "drizzle-orm";
import { orgAdmins, tokenAccess } from "../../core/access";
import { deadLetters } from "../../core/db/schema";
import { defineOperation } from "../../core/route";
import { isoTime } from "../../core/time";
import { group } from "./group";
import { type DeadLetterView, deadLettersQuery, deadLettersResponse } from "./schemas";

/** A `dead_letters` row as the admin API shows it (times RFC 3339 UTC). */
export function toDeadLetterView(row: typeof deadLetters.$inferSelect): DeadLetterView {
  return {
    id: row.id,
    jobId: row.jobId,
    kind: row.kind,
    qstashMessageId: row.qstashMessageId,
    payload: row.payload,
    lastStatus: row.lastStatus,
    lastResponse: row.lastResponse,
    retried: row.retried,
    failedAt: isoTime(row.failedAt),
    replayedAt: isoTime(row.replayedAt),
    discardedAt: isoTime(row.discardedAt),
  };
}

/** The org's dead letters, newest first. */
export const listDeadLetters = defineOperation({
  route: group.route({
    method: "get",
    path: "/api/v1/admin/dead-letters",
    summary: "The org's dead letters",
    description:
      "Job messages QStash gave up on (after the last retry, via the failure callback), newest first, at most " +
      "`limit` (1–100, default 50): the job, the message id, its payload, the destination's last status and " +
      "answer, the retries, and when it was replayed.",
    access: tokenAccess(orgAdmins),
    request: { query: deadLettersQuery },
    responses: {
      200: { description: "The org's dead letters, newest first.", content: { "application/json": { schema: deadLettersResponse } } },
    },
  }),
  handler: async (c) => {
    const { limit } = c.req.valid("query");
    const { db } = c.var.services;
    const rows = await db
      .select()
      .from(deadLetters)
      .where(eq(deadLetters.orgId, c.var.auth.orgId))
      .orderBy(desc(deadLetters.failedAt))
      .limit(limit);
    return c.json({ deadLetters: rows.map(toDeadLetterView) }, 200);
  },
});
