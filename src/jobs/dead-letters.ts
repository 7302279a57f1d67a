/**
 * Dead letters: what QStash's failure callback reports after a job message's last retry, and the
 * admin replay.
 *
 * Landing is idempotent: the row is keyed by QStash's `sourceMessageId` (unique), and one statement
 * inserts it and — only when it was new — marks the job `dead` with the error, so a repeated
 * callback changes nothing (not even a job that was replayed meanwhile). The job's `last_error`
 * then reads `QStash gave up after 5 retries; last answer: 503 <the cause>`: the cause is the
 * `detail` of the problem our delivery answered with (the dead letter keeps the whole answer).
 * @see https://upstash.com/docs/qstash/features/callbacks
 * @see https://upstash.com/docs/qstash/features/dlq
 */
import { and, eq, sql } from "drizzle-orm";
import type { Database } from "../core/db/client";
import { deadLetters, jobs } from "../core/db/schema";
import { isUuid } from "../core/validation";
import { type JobKind, jobPaths, PUBLISH_GRACE_SECONDS, secondsFromNow } from "./ledger";

/** What a failure callback says, decoded. */
export interface FailureReport {
  sourceMessageId: string;
  /** The failed message's destination. */
  url: string;
  /** The failed message's body (base64 in the callback). */
  sourceBody?: string | undefined;
  /** The destination's last status (0: no answer) and body (base64). */
  status: number;
  body?: string | undefined;
  retried?: number | undefined;
  error?: string | undefined;
}

/** Result of landing a failure report: the new dead letter, or `duplicate` when it was already there. */
export interface LandedDeadLetter {
  deadLetterId: string | null;
  jobId: string | null;
  duplicate: boolean;
}

const MAX_RESPONSE_CHARS = 2000;

/** `text` as Postgres `text` can store it: U+0000 (which it refuses) becomes U+FFFD. */
const storableText = (text: string) => text.replaceAll("\u0000", "\uFFFD");
/** JSON text as `jsonb` can store it: `\u0000` escapes (which it refuses) become `\ufffd`. */
const storableJson = (json: string) => json.replace(/(?<!\\)((?:\\\\)*)\\u0000/g, "$1\\ufffd");

/** Decodes base64 to UTF-8 text (invalid bytes replaced); "" for missing or malformed input. */
export function decodeBase64Text(value: string | undefined): string {
  if (!value) return "";
  try {
    return new TextDecoder().decode(Uint8Array.from(atob(value), (ch) => ch.charCodeAt(0)));
  } catch {
    return "";
  }
}

/**
 * The `detail` of a problem document (RFC 9457) — our deliveries answer every failure with one whose
 * detail is the attempt's recorded cause — or undefined when `body` is not one.
 */
export function problemDetail(body: string): string | undefined {
  try {
    const detail = (JSON.parse(body) as { detail?: unknown } | null)?.detail;
    return typeof detail === "string" && detail !== "" ? detail.slice(0, 1000) : undefined;
  } catch {
    return undefined;
  }
}

/** The job kind a destination URL delivers to (`…/jobs/wb-sync` → `wb-sync`), or `unknown`. */
export function kindOfDestination(url: string): string {
  let path = "";
  try {
    path = new URL(url).pathname;
  } catch {
    return "unknown";
  }
  return (Object.entries(jobPaths) as [JobKind, string][]).find(([, p]) => path === p)?.[0] ?? "unknown";
}

/**
 * Inserts the dead letter (if new) and marks its job `dead` with the error, in one statement.
 * The job and org come from the failed message's body (`{ jobId }`) and the `jobs` table.
 */
export async function landDeadLetter(db: Database, report: FailureReport): Promise<LandedDeadLetter> {
  const sourceText = decodeBase64Text(report.sourceBody);
  let payload: unknown = { raw: sourceText };
  try {
    payload = JSON.parse(sourceText);
  } catch {
    // Not JSON: kept as raw text.
  }
  const candidate = (payload as { jobId?: unknown } | null)?.jobId;
  const jobId = typeof candidate === "string" && isUuid(candidate) ? candidate : null;
  // The destination's answer may be binary: NUL bytes must not make the callback fail for ever.
  const response = storableText(decodeBase64Text(report.body).slice(0, MAX_RESPONSE_CHARS));
  const error = report.error === undefined ? undefined : storableText(report.error);
  const lastError =
    `QStash gave up after ${report.retried ?? 0} retries; last answer: ` +
    (report.status ? `${report.status} ${problemDetail(response) ?? response.slice(0, 300)}` : (error ?? "no response"));

  const result = await db.execute<{ dead_letter_id: string | null; job_id: string | null }>(sql`
    with inserted as (
      insert into ${deadLetters} (job_id, org_id, kind, qstash_message_id, destination, payload, last_status, last_response, retried)
      select j.id, j.org_id, coalesce(j.kind, ${kindOfDestination(report.url)}), ${storableText(report.sourceMessageId)}, ${storableText(report.url)},
        ${storableJson(JSON.stringify(payload))}::jsonb, ${report.status}, ${response || error || null}, ${report.retried ?? 0}
      from (select 1) as one
      left join ${jobs} j on j.id = ${jobId}::uuid
      on conflict (qstash_message_id) do nothing
      returning id, job_id
    ), buried as (
      update ${jobs} set status = 'dead', last_error = ${lastError.slice(0, MAX_RESPONSE_CHARS)}, finished_at = now(), lease_until = null
      where id in (select job_id from inserted) and status in ('queued', 'running', 'failed')
      returning id
    )
    select (select id from inserted) as dead_letter_id, (select id from buried) as job_id`);
  const row = result.rows[0];
  const deadLetterId = row?.dead_letter_id ?? null;
  return { deadLetterId, jobId, duplicate: deadLetterId === null };
}

/** Why a replay could not happen. */
export type ReplayRefusal = "not-found" | "already-replayed" | "discarded" | "job-gone" | "job-not-dead" | "sync-in-flight";

/**
 * Puts the dead letter's job back to `queued` and stamps `replayed_at`, in one statement, if the
 * dead letter belongs to `orgId`, was not replayed, and its job is `dead` with no other unfinished
 * job of the org. The caller then publishes the job (a failed publish leaves it to the reaper).
 */
export async function replayDeadLetter(
  db: Database,
  orgId: string,
  deadLetterId: string,
): Promise<{ ok: true; jobId: string; kind: string; replayedAt: string } | { ok: false; reason: ReplayRefusal }> {
  const [letter] = await db
    .select()
    .from(deadLetters)
    .where(and(eq(deadLetters.id, deadLetterId), eq(deadLetters.orgId, orgId)));
  if (!letter) return { ok: false, reason: "not-found" };
  if (letter.replayedAt) return { ok: false, reason: "already-replayed" };
  if (letter.discardedAt) return { ok: false, reason: "discarded" };
  if (!letter.jobId) return { ok: false, reason: "job-gone" };
  const result = await db.execute<{ replayed_at: string }>(sql`
    with requeued as (
      update ${jobs} set status = 'queued', lease_until = ${secondsFromNow(PUBLISH_GRACE_SECONDS)}, finished_at = null
      where id = ${letter.jobId} and org_id = ${orgId} and status = 'dead'
        and not exists (
          select 1 from ${jobs} other
          where other.concurrency_key = ${jobs}.concurrency_key and other.status in ('queued', 'running', 'failed')
        )
      returning id
    )
    update ${deadLetters} set replayed_at = now()
    where id = ${deadLetterId} and replayed_at is null and discarded_at is null and exists (select 1 from requeued)
    returning replayed_at`);
  const replayedAt = result.rows[0]?.replayed_at;
  if (replayedAt) return { ok: true, jobId: letter.jobId, kind: letter.kind, replayedAt };
  const [job] = await db.select({ status: jobs.status }).from(jobs).where(eq(jobs.id, letter.jobId));
  if (!job) return { ok: false, reason: "job-gone" };
  return { ok: false, reason: job.status === "dead" ? "sync-in-flight" : "job-not-dead" };
}
