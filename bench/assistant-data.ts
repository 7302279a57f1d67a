/**
 * The assistant's statistics data set, as SQL statements for one org (no parameters: ids are
 * generated, the org id is a UUID checked here): 5,200 users (200 who never wrote), 12,000 dialogs
 * (7,000 reset, at most one open per user), 200,000 messages over 90 days with alternating roles,
 * some longer than 120 characters (Cyrillic), every 17th reply from the fallback, every 23rd message
 * forgotten by `/reset`; then the dialogs' counters from their messages. Times are a deterministic
 * pseudo-random spread (`(n · 7919 · 104729) mod 90 days` before now). Used by
 * `test/workers/assistant-stats.test.ts` (against independent SQL) and `bench/assistant-stats.ts`.
 */

/** Sizes of the data set. */
export const assistantDataSize = { users: 5_000, silentUsers: 200, dialogs: 12_000, messages: 200_000, days: 90 } as const;

/** The statements that generate the data set for `orgId` (its assistant bot included), in order. */
export function assistantDataSet(orgId: string, timeZone = "Europe/Moscow"): string[] {
  if (!/^[0-9a-f-]{36}$/.test(orgId)) throw new Error(`not an org id: ${orgId}`);
  if (!/^[A-Za-z_/+-]+$/.test(timeZone)) throw new Error(`not a time zone: ${timeZone}`);
  const { users, silentUsers, dialogs, messages, days } = assistantDataSize;
  const seconds = days * 86_400;
  // A deterministic version-4 UUID from an md5 (version nibble 4, variant 8).
  const uuidOf = (kind: string, n: string) =>
    `(select overlay(overlay(h placing '4' from 13) placing '8' from 17)::uuid from md5('${orgId}:${kind}:' || (${n})) h)`;
  const botId = uuidOf("bot", "0");
  return [
    `insert into telegram_bots (id, org_id, purpose, telegram_id, username, token_ciphertext, webhook_secret_hash, disabled_at)
     values (${botId}, '${orgId}', 'assistant', 7999000001, 'stats_bot', 'x', 'x', now())`,
    `insert into assistant_settings (org_id, time_zone) values ('${orgId}', '${timeZone}')
     on conflict (org_id) do update set time_zone = excluded.time_zone`,
    `insert into assistant_users (id, org_id, bot_id, telegram_user_id, chat_id, username, first_name, created_at)
     select ${uuidOf("u", "g")}, '${orgId}', ${botId}, 1000000 + g, 1000000 + g,
            case when g % 3 = 0 then null else 'user_' || g end, 'User ' || g,
            now() - make_interval(secs => ((g::bigint * 104729) % ${seconds})::float8)
     from generate_series(0, ${users + silentUsers - 1}) g`,
    `insert into assistant_dialogs (id, org_id, user_id, reset_at)
     select ${uuidOf("d", "i")}, '${orgId}', ${uuidOf("u", `i % ${users}`)}, case when i < ${dialogs - users} then now() end
     from generate_series(0, ${dialogs - 1}) i`,
    `insert into assistant_messages (org_id, dialog_id, user_id, role, content, content_length, model, prompt_tokens,
                                     completion_tokens, latency_ms, fallback_used, created_at, deleted_at)
     select '${orgId}', ${uuidOf("d", `j % ${dialogs}`)}, ${uuidOf("u", `(j % ${dialogs}) % ${users}`)},
            r.role, c.content, char_length(c.content),
            case when r.role = 'assistant' then case when j % 17 = 0 then 'local/fallback' else 'local/primary' end end,
            case when r.role = 'assistant' then 50 end, case when r.role = 'assistant' then 20 end,
            case when r.role = 'assistant' then 200 + (j::bigint * 7919) % 9000 end,
            r.role = 'assistant' and j % 17 = 0,
            now() - make_interval(secs => ((j::bigint * 7919 * 104729) % ${seconds})::float8 + (j % 1000) / 1000.0),
            case when j % 23 = 0 then now() end
     from generate_series(0, ${messages - 1}) j,
          lateral (select case when (j / ${dialogs}) % 2 = 0 then 'user' else 'assistant' end as role) r,
          lateral (select 'message ' || j || ' ' || repeat('абв ', j % 50) as content) c`,
    `update assistant_dialogs d set message_count = c.n, last_message_at = c.last, started_at = c.first
     from (select dialog_id, count(*)::int as n, max(created_at) as last, min(created_at) as first
           from assistant_messages where org_id = '${orgId}' group by dialog_id) c
     where c.dialog_id = d.id`,
  ];
}
