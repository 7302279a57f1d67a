/**
 * The assistant's statistics for one org and period, computed by ONE SQL statement (CTEs), so an
 * uncached `GET /api/v1/assistant/stats` costs one Neon request. Definitions (docs/assistant.md):
 *
 * - **period**: `day` = the current hour of the org's time zone and the 23 before it (24 hourly
 *   buckets); `week` / `month` = today in the org's time zone and the 6 / 29 days before it (7 / 30
 *   daily buckets). It runs from the first bucket's start to now. The time zone is
 *   `assistant_settings.time_zone` (default `Europe/Moscow`).
 * - **users**: every user of the org's assistant (ever); **new users**: users created in the period;
 *   **active users**: users who sent at least one message in the period.
 * - **messages**: messages of both roles created in the period; **dialogs**: dialogs with at least
 *   one of them; **average messages per dialog**: messages / dialogs (null without dialogs).
 * - **median reply latency**: the median `latency_ms` of the assistant's messages in the period
 *   (ms, rounded; null without replies); **fallback share**: the fallback model's replies / all
 *   replies in the period (0…1; null without replies).
 * - Messages forgotten by `/reset` (soft-deleted) still count: they were sent.
 * - **activity**: every bucket of the period (generated with `generate_series`, so an empty one is
 *   there with zeros): its start (UTC), its local label, messages and active users in it.
 * - **recentDialogs**: the 10 dialogs with the latest activity (any time; empty dialogs left out),
 *   ties by dialog id: the user, the dialog's message count, a preview of its last non-deleted
 *   message (the first 120 characters; null once forgotten by `/reset`), the last activity.
 * - **topUsers**: the 10 users who sent the most messages in the period, ties by user id.
 */
import { sql } from "drizzle-orm";
import type { Database } from "../core/db/client";
import { assistantDialogs, assistantMessages, assistantSettings, assistantUsers } from "../core/db/schema";
import { defaultAssistantSettings } from "./settings";

/** The periods of the statistics. */
export const statsPeriods = ["day", "week", "month"] as const;
export type StatsPeriod = (typeof statsPeriods)[number];

/** Bucket unit, bucket count and step of each period. */
const periodBuckets = {
  day: { unit: "hour", count: 24, step: "1 hour" },
  week: { unit: "day", count: 7, step: "1 day" },
  month: { unit: "day", count: 30, step: "1 day" },
} as const satisfies Record<StatsPeriod, { unit: string; count: number; step: string }>;

/** The longest preview of a dialog's last message, in characters. */
export const PREVIEW_CHARS = 120;

/** A user as the statistics name them. */
export interface StatsUser {
  id: string;
  telegramUserId: number;
  username: string | null;
  firstName: string | null;
}

/** The statistics of one period. */
export interface AssistantStats {
  period: StatsPeriod;
  timeZone: string;
  range: { from: string; to: string };
  summary: {
    users: number;
    activeUsers: number;
    newUsers: number;
    dialogs: number;
    messages: number;
    averageMessagesPerDialog: number | null;
    medianReplyLatencyMs: number | null;
    fallbackShare: number | null;
  };
  activity: { start: string; label: string; messages: number; activeUsers: number }[];
  recentDialogs: { dialogId: string; user: StatsUser; messageCount: number; lastMessagePreview: string | null; lastActivity: string }[];
  topUsers: { user: StatsUser; messages: number }[];
}

/** `to_char` pattern of an ISO 8601 UTC time with milliseconds. */
const ISO = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;

/** Reads the statistics of `orgId` for `period` (one statement, one Neon request). */
export async function readAssistantStats(db: Database, orgId: string, period: StatsPeriod): Promise<AssistantStats> {
  const { unit, count, step } = periodBuckets[period];
  const iso = (column: ReturnType<typeof sql>) => sql`to_char(${column} at time zone 'UTC', ${sql.raw(ISO)})`;
  const user = sql`json_build_object('id', u.id, 'telegramUserId', u.telegram_user_id, 'username', u.username, 'firstName', u.first_name)`;
  const result = await db.execute<{ stats: Omit<AssistantStats, "period"> }>(sql`
    with tz as (
      select coalesce((select time_zone from ${assistantSettings} where org_id = ${orgId}), ${defaultAssistantSettings.timeZone}) as name
    ), buckets as (
      select b as local_start, b at time zone tz.name as start_at
      from tz, generate_series(
        date_trunc(${unit}, now() at time zone tz.name) - (${count - 1}::int * ${step}::interval),
        date_trunc(${unit}, now() at time zone tz.name),
        ${step}::interval
      ) b
    ), period as (
      select min(start_at) as start_at, now() as end_at from buckets
    ), m as materialized (
      select m.dialog_id, m.user_id, m.role, m.latency_ms, m.fallback_used,
             date_trunc(${unit}, m.created_at at time zone tz.name) as local_bucket
      from ${assistantMessages} m, period, tz
      where m.org_id = ${orgId} and m.created_at >= period.start_at and m.created_at <= period.end_at
    ), summary as (
      select
        (select count(*) from ${assistantUsers} where org_id = ${orgId})::int as users,
        (select count(*) from ${assistantUsers} u, period
          where u.org_id = ${orgId} and u.created_at >= period.start_at and u.created_at <= period.end_at)::int as new_users,
        a.*
      from (
        select
          (count(distinct user_id) filter (where role = 'user'))::int as active_users,
          count(distinct dialog_id)::int as dialogs,
          count(*)::int as messages,
          -- numeric: round() of a float8 rounds halves to even (4672.5 → 4672); of a numeric, up.
          round((percentile_cont(0.5) within group (order by latency_ms) filter (where role = 'assistant'))::numeric)::int as median_latency,
          (count(*) filter (where role = 'assistant' and fallback_used))::float8
            / nullif(count(*) filter (where role = 'assistant'), 0) as fallback_share
        from m
      ) a
    ), per_bucket as (
      select local_bucket, count(*)::int as messages, (count(distinct user_id) filter (where role = 'user'))::int as active_users
      from m group by local_bucket
    ), recent as (
      select d.id, d.message_count, d.last_message_at, ${user} as user,
        (select left(x.content, ${PREVIEW_CHARS}) from ${assistantMessages} x
          where x.dialog_id = d.id and x.deleted_at is null order by x.id desc limit 1) as preview
      from ${assistantDialogs} d join ${assistantUsers} u on u.id = d.user_id
      where d.org_id = ${orgId} and d.message_count > 0
      order by d.last_message_at desc, d.id desc
      limit 10
    ), top as (
      select c.user_id, c.messages, ${user} as user
      from (
        select user_id, count(*)::int as messages from m where role = 'user'
        group by user_id order by messages desc, user_id limit 10
      ) c join ${assistantUsers} u on u.id = c.user_id
    )
    select json_build_object(
      'timeZone', (select name from tz),
      'range', (select json_build_object('from', ${iso(sql`start_at`)}, 'to', ${iso(sql`end_at`)}) from period),
      'summary', (select json_build_object(
        'users', users, 'activeUsers', active_users, 'newUsers', new_users, 'dialogs', dialogs, 'messages', messages,
        'averageMessagesPerDialog', case when dialogs > 0 then round(messages::numeric / dialogs, 2)::float8 end,
        'medianReplyLatencyMs', median_latency,
        'fallbackShare', case when fallback_share is not null then round(fallback_share::numeric, 4)::float8 end
      ) from summary),
      'activity', (select json_agg(json_build_object(
          'start', ${iso(sql`b.start_at`)},
          'label', to_char(b.local_start, ${unit === "hour" ? "YYYY-MM-DD HH24:00" : "YYYY-MM-DD"}),
          'messages', coalesce(p.messages, 0),
          'activeUsers', coalesce(p.active_users, 0)
        ) order by b.local_start)
        from buckets b left join per_bucket p on p.local_bucket = b.local_start),
      'recentDialogs', coalesce((select json_agg(json_build_object(
          'dialogId', r.id, 'user', r.user, 'messageCount', r.message_count,
          'lastMessagePreview', r.preview, 'lastActivity', ${iso(sql`r.last_message_at`)}
        ) order by r.last_message_at desc, r.id desc) from recent r), '[]'::json),
      'topUsers', coalesce((select json_agg(json_build_object('user', t.user, 'messages', t.messages)
        order by t.messages desc, t.user_id) from top t), '[]'::json)
    ) as stats`);
  const stats = result.rows[0]?.stats;
  if (!stats) throw new Error("the statistics query returned no row");
  return { period, ...stats };
}
