/**
 * `GET /api/v1/admin/dead-letters?limit=` — the org's dead letters, newest first (owner, admin):
 * job messages QStash gave up on, with the last answer. Errors: 400, 401, 403, 429.
 */
import { desc, eq } from "drizzle-orm";
import { Hono } from "hono";
import type { AppEnv } from "../../core/app";
import { deadLetters } from "../../core/db/schema";
import { rateLimit, requireAuth } from "../../core/middleware";
import { validate } from "../../core/validation";
import { type DeadLettersResponse, type DeadLetterView, deadLettersQuery, isoTime } from "./schemas";

/** A `dead_letters` row as the admin API shows it. */
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
    failedAt: isoTime(row.failedAt) ?? row.failedAt,
    replayedAt: isoTime(row.replayedAt),
  };
}

export const listDeadLetters = new Hono<AppEnv>().get(
  "/",
  requireAuth("owner", "admin"),
  rateLimit("jobs"),
  validate("query", deadLettersQuery),
  async (c) => {
    const { limit } = c.req.valid("query");
    const { db } = c.var.services;
    const rows = await db
      .select()
      .from(deadLetters)
      .where(eq(deadLetters.orgId, c.var.auth.orgId))
      .orderBy(desc(deadLetters.failedAt))
      .limit(limit);
    return c.json({ deadLetters: rows.map(toDeadLetterView) } satisfies DeadLettersResponse);
  },
);
