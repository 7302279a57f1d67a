/**
 * `GET /api/v1/assistant/stats?period=day|week|month`: the assistant's usage statistics
 * (`src/assistant/stats.ts` defines each figure). Cached per org for 60 s under the org's cache
 * version, which every recorded reply bumps: a hit is one Redis request, a miss one Neon request
 * (one SQL statement). Rate limited by the group's `stats` policy (default 10 a minute per identity).
 */
import { readAssistantStats } from "../../assistant/stats";
import { defineOperation } from "../../core/route";
import { assistantReaders, group, STATS_CACHE_SECONDS } from "./group";
import { assistantStats, statsQuery } from "./schemas";

/** The statistics of a period (analysts and up, `assistant:read`). */
export const getAssistantStats = defineOperation({
  route: group.route({
    method: "get",
    path: "/api/v1/assistant/stats",
    summary: "The assistant's usage statistics",
    description: [
      "`summary` (users, active users, new users, dialogs, messages, average messages per dialog, median reply latency, " +
        "fallback share), `activity` (every hourly bucket of the last 24 hours for `day`, every day of the last 7 or 30 " +
        "for `week` and `month`, in the org's time zone), `recentDialogs` (the last 10) and `topUsers` (the 10 who sent " +
        "the most messages in the period, ties by user id). Definitions: docs/assistant.md.",
      "Cached per org (60 s, invalidated when new messages are recorded); limited to 10 requests a minute per identity " +
        "by default (`RATE_LIMIT_OVERRIDES` name `assistant-stats`).",
    ].join("\n\n"),
    access: assistantReaders,
    rateLimit: { policy: "stats" },
    cache: { name: "assistant-stats", ttlSeconds: STATS_CACHE_SECONDS },
    request: { query: statsQuery },
    responses: {
      200: { description: "The statistics of the period.", content: { "application/json": { schema: assistantStats } } },
    },
  }),
  handler: async (c) => {
    const { period } = c.req.valid("query");
    return c.json(await readAssistantStats(c.var.services.db, c.var.auth.orgId, period), 200);
  },
});
