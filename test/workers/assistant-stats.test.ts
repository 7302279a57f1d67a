/**
 * `GET /api/v1/assistant/stats` on a generated data set of one org — 5,200 users (200 who never
 * wrote), 12,000 dialogs, 200,000 messages over 90 days, inserted with `generate_series` — against
 * independent SQL and arithmetic for every period; its access (analysts and up, `assistant:read`),
 * its cache (a hit: one Redis request and no Neon request; a miss: one Neon request; a recorded
 * reply bumps the version) and its rate limit (the 11th request in a minute is 429).
 */
import { sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { assistantDataSet, assistantDataSize } from "../../bench/assistant-data";
import { bumpCacheVersion, roundTrips, settle } from "./dashboard-support";
import { addMember, api, awaitRoomInMinute, createTenant, db, problem, type Tenant } from "./helpers";
import { seedApiKey } from "./security-support";
import { cacheVersion } from "./sync-support";

const { users: USERS, silentUsers: SILENT_USERS, messages: MESSAGES, days: DAYS } = assistantDataSize;
const TIME_ZONE = "Asia/Novosibirsk";

let tenant: Tenant;

/** Rows of a query. */
async function rows<T>(query: ReturnType<typeof sql>): Promise<T[]> {
  return (await db().execute(query)).rows as T[];
}

/** Generates the data set for `orgId` (`bench/assistant-data.ts`), one statement at a time. */
async function generate(orgId: string): Promise<void> {
  for (const statement of assistantDataSet(orgId, TIME_ZONE)) await db().execute(sql.raw(statement));
}

beforeAll(async () => {
  tenant = await createTenant();
  await generate(tenant.orgId);
}, 300_000);

interface Stats {
  period: string;
  timeZone: string;
  range: { from: string; to: string };
  summary: Record<string, number | null>;
  activity: { start: string; label: string; messages: number; activeUsers: number }[];
  recentDialogs: {
    dialogId: string;
    user: { id: string };
    messageCount: number;
    lastMessagePreview: string | null;
    lastActivity: string;
  }[];
  topUsers: { user: { id: string; telegramUserId: number; username: string | null }; messages: number }[];
}

/** The local labels of the period's buckets ending at `to`, with `Intl` (not SQL). */
function expectedLabels(period: "day" | "week" | "month", to: Date): string[] {
  const part = (date: Date) => {
    const parts = new Intl.DateTimeFormat("en-CA", {
      timeZone: TIME_ZONE,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      hourCycle: "h23",
    }).formatToParts(date);
    const get = (type: string) => parts.find((p) => p.type === type)?.value;
    return { day: `${get("year")}-${get("month")}-${get("day")}`, hour: get("hour") };
  };
  if (period === "day") {
    return Array.from({ length: 24 }, (_, k) => {
      const p = part(new Date(to.getTime() - (23 - k) * 3_600_000));
      return `${p.day} ${p.hour}:00`;
    });
  }
  const days = period === "week" ? 7 : 30;
  // Noon of the local day, stepped back by whole days (Novosibirsk has no DST).
  return Array.from({ length: days }, (_, k) => part(new Date(to.getTime() - (days - 1 - k) * 86_400_000)).day);
}

/** Asserts `stats` against independent SQL over the raw rows. */
async function expectMatchesIndependentSql(stats: Stats, period: "day" | "week" | "month") {
  const orgId = tenant.orgId;
  const { from, to } = stats.range;
  expect(stats.timeZone).toBe(TIME_ZONE);
  expect(stats.activity.map((b) => b.label)).toEqual(expectedLabels(period, new Date(to)));
  expect(stats.activity[0]?.start).toBe(from);
  // The first bucket starts at a local midnight (or a whole hour) in the org's zone.
  const startLocal = new Intl.DateTimeFormat("en-GB", { timeZone: TIME_ZONE, hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(
    new Date(from),
  );
  expect(startLocal.endsWith(":00")).toBe(true);
  if (period !== "day") expect(startLocal).toBe("00:00");

  const inRange = sql`org_id = ${orgId} and created_at >= ${from}::timestamptz and created_at <= ${to}::timestamptz`;
  const [counts] = await rows<Record<string, number>>(sql`
    select (select count(*) from assistant_users where org_id = ${orgId})::int as users,
           (select count(*) from assistant_users where ${inRange})::int as new_users,
           (select count(*) from assistant_messages where ${inRange})::int as messages,
           (select count(*) from (select distinct user_id from assistant_messages where ${inRange} and role = 'user') x)::int as active_users,
           (select count(*) from (select distinct dialog_id from assistant_messages where ${inRange}) x)::int as dialogs,
           (select count(*) from assistant_messages where ${inRange} and role = 'assistant')::int as replies,
           (select count(*) from assistant_messages where ${inRange} and role = 'assistant' and fallback_used)::int as fallbacks`);
  const latencies = (
    await rows<{ latency_ms: number }>(
      sql`select latency_ms from assistant_messages where ${inRange} and role = 'assistant' and latency_ms is not null`,
    )
  )
    .map((r) => Number(r.latency_ms))
    .sort((a, b) => a - b);
  const mid = latencies.length / 2;
  const median = latencies.length % 2 ? latencies[Math.floor(mid)] : ((latencies[mid - 1] ?? 0) + (latencies[mid] ?? 0)) / 2;
  const c = counts as Record<string, number>;
  expect(c.messages).toBeGreaterThan(0);
  expect(stats.summary).toEqual({
    users: c.users,
    activeUsers: c.active_users,
    newUsers: c.new_users,
    dialogs: c.dialogs,
    messages: c.messages,
    averageMessagesPerDialog: Math.round(((c.messages as number) / (c.dialogs as number)) * 100) / 100,
    medianReplyLatencyMs: Math.round(median as number),
    fallbackShare: Math.round(((c.fallbacks as number) / (c.replies as number)) * 10_000) / 10_000,
  });

  const pattern = period === "day" ? "YYYY-MM-DD HH24:00" : "YYYY-MM-DD";
  const perBucket = new Map(
    (
      await rows<{ label: string; messages: number; active: number }>(sql`
        select to_char(timezone(${TIME_ZONE}, created_at), ${pattern}) as label, count(*)::int as messages,
               count(distinct case when role = 'user' then user_id end)::int as active
        from assistant_messages where ${inRange} group by 1`)
    ).map((r) => [r.label, r]),
  );
  expect(stats.activity.map((b) => [b.label, b.messages, b.activeUsers])).toEqual(
    stats.activity.map((b) => [b.label, perBucket.get(b.label)?.messages ?? 0, perBucket.get(b.label)?.active ?? 0]),
  );
  expect(stats.activity.reduce((n, b) => n + b.messages, 0)).toBe(c.messages);

  const recent = await rows<{ dialog_id: string; n: number; last: string; preview: string | null }>(sql`
    select g.dialog_id, g.n, to_char(g.last at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as last,
           (select content from assistant_messages p where p.dialog_id = g.dialog_id and p.deleted_at is null order by p.id desc limit 1) as preview
    from (select dialog_id, count(*)::int as n, max(created_at) as last from assistant_messages where org_id = ${orgId} group by dialog_id) g
    order by g.last desc, g.dialog_id desc limit 10`);
  expect(stats.recentDialogs.map((d) => [d.dialogId, d.messageCount, d.lastActivity, d.lastMessagePreview])).toEqual(
    recent.map((r) => [r.dialog_id, r.n, r.last, r.preview === null ? null : [...r.preview].slice(0, 120).join("")]),
  );
  expect(stats.recentDialogs.some((d) => (d.lastMessagePreview?.length ?? 0) === 120)).toBe(true);

  const top = await rows<{ user_id: string; n: number }>(sql`
    select user_id, count(*)::int as n from assistant_messages where ${inRange} and role = 'user'
    group by user_id order by n desc, user_id asc limit 10`);
  expect(stats.topUsers.map((t) => [t.user.id, t.messages])).toEqual(top.map((t) => [t.user_id, t.n]));
}

describe("GET /api/v1/assistant/stats on 200,000 messages", () => {
  it.each(["day", "week", "month"] as const)("period=%s equals independent SQL", async (period) => {
    const token = await addMember(tenant.orgId, "analyst");
    const res = await api(`/api/v1/assistant/stats?period=${period}`, { token });
    expect(res.status, await res.clone().text()).toBe(200);
    const stats = (await res.json()) as Stats;
    expect(stats.period).toBe(period);
    expect(stats.activity).toHaveLength(period === "day" ? 24 : period === "week" ? 7 : 30);
    await expectMatchesIndependentSql(stats, period);
  });

  it("rounds a median that falls between two latencies half up (4,672.5 ms → 4,673), as its docs say", async () => {
    const org = await createTenant();
    const token = await addMember(org.orgId, "analyst");
    const [botId, userId, dialogId] = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
    const telegramId = 7_000_000_000 + Math.floor(Math.random() * 1_000_000_000);
    await db().execute(sql`insert into telegram_bots (id, org_id, purpose, telegram_id, username, token_ciphertext, webhook_secret_hash)
      values (${botId}, ${org.orgId}, 'assistant', ${telegramId}, 'median_bot', 'x', 'x')`);
    await db().execute(sql`insert into assistant_users (id, org_id, bot_id, telegram_user_id, chat_id)
      values (${userId}, ${org.orgId}, ${botId}, ${telegramId}, ${telegramId})`);
    await db().execute(sql`insert into assistant_dialogs (id, org_id, user_id) values (${dialogId}, ${org.orgId}, ${userId})`);
    await db().execute(sql`insert into assistant_messages (org_id, dialog_id, user_id, role, content, content_length, latency_ms)
      values (${org.orgId}, ${dialogId}, ${userId}, 'assistant', 'a', 1, 4672), (${org.orgId}, ${dialogId}, ${userId}, 'assistant', 'b', 1, 4673)`);
    const res = await api("/api/v1/assistant/stats?period=day", { token });
    expect(res.status).toBe(200);
    expect(((await res.json()) as Stats).summary.medianReplyLatencyMs).toBe(4673);
  });

  it("covers the data set: ≥5,000 users and 200,000 messages over 90 days", async () => {
    const [row] = await rows<{ users: number; messages: number; days: number }>(sql`
      select (select count(*) from assistant_users where org_id = ${tenant.orgId})::int as users,
             (select count(*) from assistant_messages where org_id = ${tenant.orgId})::int as messages,
             (select extract(day from max(created_at) - min(created_at)) from assistant_messages where org_id = ${tenant.orgId})::int as days`);
    expect(row).toEqual({ users: USERS + SILENT_USERS, messages: MESSAGES, days: DAYS - 1 });
  });

  it("costs one Neon request uncached and, cached, one Redis request and no Neon request", async () => {
    const token = await addMember(tenant.orgId, "analyst");
    const path = "/api/v1/assistant/stats?period=month";
    await api("/api/v1/assistant/settings", { token }); // warm up the isolate
    await bumpCacheVersion(tenant.orgId);
    const miss = await roundTrips(() => api(path, { token }));
    expect(miss.res.status).toBe(200);
    expect(miss.res.headers.get("X-Cache")).toBe("MISS");
    expect(miss.res.headers.get("Cache-Control")).toBe("private, max-age=60");
    expect(miss.neon).toBe(1);
    await settle();
    const hit = await roundTrips(() => api(path, { token }));
    expect(hit.res.headers.get("X-Cache")).toBe("HIT");
    expect({ neon: hit.neon, redis: hit.redis }).toEqual({ neon: 0, redis: 1 });
  });

  // The reply job's bump itself is proven end to end in assistant.test.ts.
  it("is stale once the org's cache version is bumped, as the reply job does once per recorded exchange", async () => {
    const before = await cacheVersion(tenant.orgId);
    const token = await addMember(tenant.orgId, "analyst");
    const path = "/api/v1/assistant/stats?period=day";
    await api(path, { token });
    await settle();
    expect((await api(path, { token })).headers.get("X-Cache")).toBe("HIT");
    await bumpCacheVersion(tenant.orgId);
    expect(await cacheVersion(tenant.orgId)).toBe(before + 1);
    expect((await api(path, { token })).headers.get("X-Cache")).toBe("MISS");
  });
});

describe("GET /api/v1/assistant/stats: access and rate limit", () => {
  it("lets owners, admins, analysts, managers and `assistant:read` keys read; agents and other scopes get 403", async () => {
    const path = "/api/v1/assistant/stats?period=week";
    for (const role of ["owner", "admin", "analyst", "manager"] as const) {
      expect((await api(path, { token: await addMember(tenant.orgId, role) })).status, role).toBe(200);
    }
    expect((await api(path, { token: await addMember(tenant.orgId, "agent") })).status).toBe(403);
    const reader = await seedApiKey(tenant.orgId, ["assistant:read"]);
    expect((await api(path, { token: reader.key })).status).toBe(200);
    const dashboardOnly = await seedApiKey(tenant.orgId, ["dashboard:read"]);
    expect((await api(path, { token: dashboardOnly.key })).status).toBe(403);
    expect((await api("/api/v1/assistant/stats?period=year", { token: await addMember(tenant.orgId, "analyst") })).status).toBe(400);
  });

  it("shows an org without an assistant empty buckets, not another org's data", async () => {
    const other = await createTenant();
    const res = await api("/api/v1/assistant/stats?period=week", { token: other.token });
    const stats = (await res.json()) as Stats;
    expect(stats.timeZone).toBe("Europe/Moscow");
    expect(stats.summary).toEqual({
      users: 0,
      activeUsers: 0,
      newUsers: 0,
      dialogs: 0,
      messages: 0,
      averageMessagesPerDialog: null,
      medianReplyLatencyMs: null,
      fallbackShare: null,
    });
    expect(stats.activity).toHaveLength(7);
    expect(stats.activity.every((b) => b.messages === 0 && b.activeUsers === 0)).toBe(true);
    expect(stats.recentDialogs).toEqual([]);
    expect(stats.topUsers).toEqual([]);
  });

  it("answers the 11th request in a minute with 429 (cached answers count too)", async () => {
    const token = await addMember(tenant.orgId, "analyst");
    const statuses: number[] = [];
    await awaitRoomInMinute(); // the 11 requests in one minute of the sliding window
    for (let i = 0; i < 11; i++) statuses.push((await api("/api/v1/assistant/stats?period=day", { token })).status);
    expect(statuses).toEqual([...Array(10).fill(200), 429]);
    const limited = await api("/api/v1/assistant/stats?period=day", { token });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("Retry-After"))).toBeGreaterThan(0);
    expect((await problem(limited)).status).toBe(429);
  });
});
