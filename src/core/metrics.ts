/**
 * Metrics in the Prometheus text exposition format 0.0.4, summed over every isolate and every
 * Worker: each request (or cron run) records into its own recorder (`c.var.services.metrics`),
 * which costs no I/O, and the app hands what it recorded to the isolate's outbox after the answer,
 * in `waitUntil`. The outbox sends to Redis at most once per {@link METRICS_FLUSH_INTERVAL_MS}: one
 * MULTI/EXEC of `HINCRBY`/`HINCRBYFLOAT` on one Redis hash per metric, in the Upstash Redis every
 * Worker shares, carrying the sums of every request the isolate answered since the last send. An
 * isolate serves many requests, so under load a request costs a fraction of a Redis request
 * instead of one; a lone request is sent at once, as before. No count waits without a request
 * waiting for it: the request that finds no send scheduled schedules one and awaits it in its own
 * `waitUntil` (which keeps the isolate alive until it is sent), and the requests that follow before
 * it goes add their counts to the same batch and end at once. They must not await that send: it is
 * another request's I/O, and workerd cancels a `waitUntil` that waits only on another request's
 * promise ("Promise will never complete"). A failed send is logged and loses its batch, as a failed
 * flush always did.
 * `GET /metrics` on any Worker reads those hashes (one pipeline) and a few gauges from Postgres,
 * and renders the sum.
 *
 * Storage: key `metrics:<name>`; a counter's field is its label set as the exposition writes it
 * (`group="dashboard",route="/api/v1/stocks",…`); a histogram stores, per label set, one field per
 * bucket holding the observations that fell into that bucket alone (`<labels>|0.05`, `<labels>|+Inf`)
 * and the sum (`<labels>|sum`). An observation is then two commands, and the transaction keeps a
 * histogram's buckets and sum in step for a concurrent scrape; the cumulative `le` buckets and the
 * `_count` are computed when rendering. Counters are never reset, so Prometheus's `rate()` works
 * across deploys; emptying Redis looks like a counter reset, which Prometheus handles.
 *
 * Labels carry route templates (`/api/v1/orders/:srid`), never raw paths or values, so their number
 * stays bounded by the code. No npm library fits: `prom-client` needs Node and keeps its registry in
 * one process; this renderer is the protocol's small text format.
 * @see https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
 * @see https://prometheus.io/docs/practices/naming/
 */
import { sql } from "drizzle-orm";
import type { Database } from "./db/client";
import { deadLetters, syncState, wbConnections } from "./db/schema";
import type { AppConfig } from "./env";
import type { Logger } from "./logger";
import { createRedis, REDIS_TIMEOUT_MS, type Redis } from "./redis";

/** Buckets of `http_request_duration_seconds` (Prometheus's defaults: 5 ms … 10 s). */
export const HTTP_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

/** Buckets of `llm_request_duration_seconds`: 250 ms … 60 s (a completion takes seconds). */
export const LLM_DURATION_BUCKETS = [0.25, 0.5, 1, 2, 4, 8, 15, 30, 60] as const;

/** Buckets of `database_query_duration_seconds`: 1 ms … 5 s. */
export const QUERY_DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] as const;

interface CounterDefinition {
  type: "counter";
  help: string;
  labels: readonly string[];
}

interface HistogramDefinition {
  type: "histogram";
  help: string;
  labels: readonly string[];
  buckets: readonly number[];
}

/** The metrics requests and jobs record (their names, help texts and label names). */
export const recordedMetrics = {
  http_requests_total: {
    type: "counter",
    help: "Requests answered, by route group, route template, method and status.",
    labels: ["group", "route", "method", "status"],
  },
  http_request_duration_seconds: {
    type: "histogram",
    help: "Time from the request's arrival to its answer, in seconds, by route group, route template and method.",
    labels: ["group", "route", "method"],
    buckets: HTTP_DURATION_BUCKETS,
  },
  cache_requests_total: {
    type: "counter",
    help: "Read-cache lookups of cached routes, by cache name and result (hit, miss, bypass: Redis did not answer).",
    labels: ["cache", "result"],
  },
  rate_limit_rejections_total: {
    type: "counter",
    help: "Requests refused with 429, by policy (`<group>-<policy>`, or `auth-failures` for the per-IP failed-authentication limit).",
    labels: ["policy"],
  },
  database_query_duration_seconds: {
    type: "histogram",
    help: "Duration of each database request (a query or a db.batch), in seconds, by query name (first verb and table).",
    labels: ["query"],
    buckets: QUERY_DURATION_BUCKETS,
  },
  jobs_total: {
    type: "counter",
    help: "Job deliveries, by job kind and outcome (succeeded, continued, ignored, failed).",
    labels: ["kind", "outcome"],
  },
  webhook_deliveries_total: {
    type: "counter",
    help: "CRM webhook deliveries, by scheme (standard-webhooks, kommo, kommo-chats) and outcome (stored, duplicate, rejected: not verified or unknown integration).",
    labels: ["scheme", "outcome"],
  },
  telegram_messages_received_total: {
    type: "counter",
    help: "Telegram updates to the org's bots, by bot purpose (helpdesk, assistant) and outcome (stored, duplicate, rejected: unknown bot or wrong secret token).",
    labels: ["purpose", "outcome"],
  },
  telegram_messages_sent_total: {
    type: "counter",
    help: "Messages the bots sent with sendMessage, by bot purpose and outcome (sent, blocked: the user blocked the bot, failed).",
    labels: ["purpose", "outcome"],
  },
  llm_requests_total: {
    type: "counter",
    help: "Chat completion requests to the LLM API, by model.",
    labels: ["model"],
  },
  llm_request_duration_seconds: {
    type: "histogram",
    help: "Duration of a chat completion request, in seconds, by model and status (ok, or the error type).",
    labels: ["model", "status"],
    buckets: LLM_DURATION_BUCKETS,
  },
  llm_errors_total: {
    type: "counter",
    help: "Failed chat completion requests, by model and error type (rate_limit, server_error, timeout, network, bad_response, client_error).",
    labels: ["model", "error_type"],
  },
  llm_fallback_used_total: {
    type: "counter",
    help: "Replies produced by the fallback model after the primary model failed.",
    labels: [],
  },
  wb_sync_rows_total: {
    type: "counter",
    help: "Wildberries rows received past the cursor and committed by syncs, by data set.",
    labels: ["dataset"],
  },
} as const satisfies Record<string, CounterDefinition | HistogramDefinition>;

type Recorded = typeof recordedMetrics;
/** Names of the recorded counters. */
export type CounterName = { [K in keyof Recorded]: Recorded[K]["type"] extends "counter" ? K : never }[keyof Recorded];
/** Names of the recorded histograms. */
export type HistogramName = { [K in keyof Recorded]: Recorded[K]["type"] extends "histogram" ? K : never }[keyof Recorded];
/** The label values of metric `N`: every declared label, as a string. */
export type LabelsOf<N extends keyof Recorded> = Record<Recorded[N]["labels"][number], string>;

/** The gauges read from Postgres when `/metrics` is scraped (never on a request path). */
export const scrapedGauges = {
  dead_letters: "Dead letters neither replayed nor discarded.",
  wb_sync_last_success_age_seconds:
    "Seconds since the last successful Wildberries sync of the org that waited longest (since its connection when it never succeeded); absent without connected orgs.",
  wb_token_expiry_days:
    "Days until the Wildberries token that expires first runs out (negative once expired); absent when no token has a known expiry.",
} as const;

/** Redis key of a recorded metric. */
export const metricKey = (name: string) => `metrics:${name}`;

/**
 * Least time between two sends of one isolate's metrics to one Redis, in ms. Short enough that a
 * scrape sees a request a moment after its answer (the tests' `settle` waits for 150 ms without a
 * Redis request); long enough that an isolate under load sends one transaction for many requests
 * (at 500 requests/s, one for 25).
 */
export const METRICS_FLUSH_INTERVAL_MS = 50;

/** One request's (or cron run's) metrics; see the module comment. */
export interface Metrics {
  /** Adds `by` (default 1, ≥ 0) to counter `name`. */
  count<N extends CounterName>(name: N, labels: LabelsOf<N>, by?: number): void;
  /** Records one observation (seconds) in histogram `name`. */
  observe<N extends HistogramName>(name: N, labels: LabelsOf<N>, value: number): void;
  /**
   * Hands what was recorded since the last flush to the isolate's outbox for the Redis of `config`
   * (nothing when nothing was recorded). When a send is already scheduled, it carries these counts
   * and this resolves at once (its request awaits it). Else schedules one and resolves when it has
   * ended: the outbox as one MULTI/EXEC, at once or {@link METRICS_FLUSH_INTERVAL_MS} after the
   * previous send, within `REDIS_TIMEOUT_MS`. Never rejects: a failure is logged, and the counts of
   * that send are lost.
   */
  flush(services: { config: Pick<AppConfig, "UPSTASH_REDIS_REST_URL" | "UPSTASH_REDIS_REST_TOKEN">; logger: Logger }): Promise<void>;
}

/** Escapes a label value for the exposition format (backslash, double quote, newline). */
const escapeLabel = (value: string) => value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

/** The label set as the exposition writes it, in the declared order. */
function labelText(names: readonly string[], values: Record<string, string>): string {
  return names.map((n) => `${n}="${escapeLabel(values[n] ?? "")}"`).join(",");
}

/** A bucket bound as a field suffix and `le` value. */
const boundText = (bound: number) => (bound === Number.POSITIVE_INFINITY ? "+Inf" : String(bound));

/** Increments by Redis key, then by hash field (integer unless `float`). */
type Increments = Map<string, Map<string, { value: number; float: boolean }>>;

/** Adds `value` to `field` of `key` in `into`. */
function addIncrement(into: Increments, key: string, field: string, value: number, float: boolean): void {
  let fields = into.get(key);
  if (!fields) {
    fields = new Map();
    into.set(key, fields);
  }
  const entry = fields.get(field);
  if (entry) {
    entry.value += value;
    entry.float ||= float;
  } else fields.set(field, { value, float });
}

/** What an isolate has yet to send to one Redis. */
interface Outbox {
  pending: Increments;
  /** A flush is waiting to send `pending`; a flush finding it set leaves its counts to that one. */
  scheduled: boolean;
  /** `Date.now()` when the last send started. */
  lastSentAt: number;
}

/** The isolate's outboxes, by Redis URL and token (tests point single requests at another Redis). */
const outboxes = new Map<string, Outbox>();

type RedisTarget = Pick<AppConfig, "UPSTASH_REDIS_REST_URL" | "UPSTASH_REDIS_REST_TOKEN">;

/** The outbox of the Redis of `config`, created empty on first use. */
function outboxFor(config: RedisTarget): Outbox {
  const id = `${config.UPSTASH_REDIS_REST_URL}\n${config.UPSTASH_REDIS_REST_TOKEN}`;
  let outbox = outboxes.get(id);
  if (!outbox) {
    outbox = { pending: new Map(), scheduled: false, lastSentAt: Number.NEGATIVE_INFINITY };
    outboxes.set(id, outbox);
  }
  return outbox;
}

/** Sends `batch` as one MULTI/EXEC to the Redis of `config`. Never throws: a failure is logged. */
async function send(config: RedisTarget, logger: Logger, batch: Increments): Promise<void> {
  // The timeout is a timer of our own, cleared once Redis answers: the client's default, an
  // `AbortSignal.timeout` per request, was seen to pile up in workerd when started after the
  // answer (in waitUntil), until the isolate's quota of 10,000 timers refused new ones.
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error(`Redis did not answer within ${REDIS_TIMEOUT_MS} ms`)), REDIS_TIMEOUT_MS);
  const tx = createRedis(config, () => controller.signal).multi();
  for (const [key, fields] of batch) {
    for (const [field, { value, float }] of fields) {
      if (float) tx.hincrbyfloat(key, field, value);
      else tx.hincrby(key, field, value);
    }
  }
  try {
    await tx.exec();
  } catch (err) {
    logger.warn("metrics not recorded: Redis did not answer", { error: String(err) });
  } finally {
    clearTimeout(timer);
  }
}

/** A new, empty recorder. */
export function createMetrics(): Metrics {
  let recorded: Increments = new Map();
  return {
    count(name, labels, by = 1) {
      if (!(by > 0) || !Number.isFinite(by)) return;
      const definition = recordedMetrics[name] as CounterDefinition;
      addIncrement(recorded, metricKey(name), labelText(definition.labels, labels), by, !Number.isInteger(by));
    },
    observe(name, labels, value) {
      if (!Number.isFinite(value)) return;
      const definition = recordedMetrics[name] as HistogramDefinition;
      const labelsText = labelText(definition.labels, labels);
      const bound = definition.buckets.find((b) => value <= b) ?? Number.POSITIVE_INFINITY;
      addIncrement(recorded, metricKey(name), `${labelsText}|${boundText(bound)}`, 1, false);
      addIncrement(recorded, metricKey(name), `${labelsText}|sum`, Math.max(0, value), true);
    },
    async flush({ config, logger }) {
      if (recorded.size === 0) return;
      const outbox = outboxFor(config);
      for (const [key, fields] of recorded) {
        for (const [field, { value, float }] of fields) addIncrement(outbox.pending, key, field, value, float);
      }
      recorded = new Map();
      if (outbox.scheduled) return;
      outbox.scheduled = true;
      const wait = outbox.lastSentAt + METRICS_FLUSH_INTERVAL_MS - Date.now();
      // Even when due at once, yield first: flushes of the same tick then join this send.
      await new Promise((resolve) => (wait > 0 ? setTimeout(resolve, wait) : resolve(undefined)));
      const batch = outbox.pending;
      outbox.pending = new Map();
      outbox.scheduled = false;
      outbox.lastSentAt = Date.now();
      await send(config, logger, batch);
    },
  };
}

/** `HGETALL`'s answer as entries: `[field, value, …]` (raw) or an object (deserialized). */
function hashEntries(reply: unknown): [string, number][] {
  if (Array.isArray(reply)) {
    const entries: [string, number][] = [];
    for (let i = 0; i + 1 < reply.length; i += 2) entries.push([String(reply[i]), Number(reply[i + 1])]);
    return entries;
  }
  if (reply && typeof reply === "object") return Object.entries(reply).map(([k, v]) => [k, Number(v)]);
  return [];
}

/** A number as the exposition writes it. */
function sampleValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Number.POSITIVE_INFINITY) return "+Inf";
  if (value === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(value);
}

const braces = (labels: string) => (labels ? `{${labels}}` : "");
const headerLines = (name: string, help: string, type: string) => [
  `# HELP ${name} ${help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`,
  `# TYPE ${name} ${type}`,
];

/** The exposition lines of a counter from its hash. */
function renderCounter(name: string, definition: CounterDefinition, entries: [string, number][]): string[] {
  const lines = headerLines(name, definition.help, "counter");
  for (const [labels, value] of entries.sort(([a], [b]) => a.localeCompare(b)))
    lines.push(`${name}${braces(labels)} ${sampleValue(value)}`);
  return lines;
}

/** The exposition lines of a histogram from its hash (cumulative buckets, `_sum`, `_count`). */
function renderHistogram(name: string, definition: HistogramDefinition, entries: [string, number][]): string[] {
  const series = new Map<string, { buckets: [number, number][]; sum: number }>();
  for (const [field, value] of entries) {
    const cut = field.lastIndexOf("|");
    if (cut < 0) continue;
    const labels = field.slice(0, cut);
    const suffix = field.slice(cut + 1);
    const one = series.get(labels) ?? { buckets: [], sum: 0 };
    series.set(labels, one);
    if (suffix === "sum") one.sum += value;
    else one.buckets.push([suffix === "+Inf" ? Number.POSITIVE_INFINITY : Number(suffix), value]);
  }
  const lines = headerLines(name, definition.help, "histogram");
  const bounds = [...definition.buckets, Number.POSITIVE_INFINITY];
  for (const [labels, { buckets, sum }] of [...series].sort(([a], [b]) => a.localeCompare(b))) {
    const prefix = labels ? `${labels},` : "";
    // A bound no longer declared (the buckets changed) counts from the next declared bound on.
    for (const bound of bounds) {
      const cumulative = buckets.reduce((n, [b, count]) => (b <= bound ? n + count : n), 0);
      lines.push(`${name}_bucket{${prefix}le="${boundText(bound)}"} ${sampleValue(cumulative)}`);
    }
    lines.push(`${name}_sum${braces(labels)} ${sampleValue(sum)}`);
    lines.push(`${name}_count${braces(labels)} ${sampleValue(buckets.reduce((n, [, count]) => n + count, 0))}`);
  }
  return lines;
}

/** Values of the scraped gauges; a missing one renders without a sample. */
export type GaugeValues = Partial<Record<keyof typeof scrapedGauges, number>>;

/** The recorded metrics as read from Redis: each metric's hash as entries. */
export type RecordedValues = Record<keyof Recorded, [string, number][]>;

/**
 * Reads every recorded metric from Redis: one pipeline of `HGETALL`s.
 * @throws when Redis does not answer.
 */
export async function readRecorded(redis: Redis): Promise<RecordedValues> {
  const names = Object.keys(recordedMetrics) as (keyof Recorded)[];
  const pipeline = redis.pipeline();
  for (const name of names) pipeline.hgetall(metricKey(name));
  const replies = (await pipeline.exec()) as unknown[];
  return Object.fromEntries(names.map((name, i) => [name, hashEntries(replies[i])])) as RecordedValues;
}

/** The text exposition of `recorded` and `gauges`: a `# HELP` and a `# TYPE` line per metric, then its samples. */
export function renderMetrics(recorded: RecordedValues, gauges: GaugeValues): string {
  const lines: string[] = [];
  for (const name of Object.keys(recordedMetrics) as (keyof Recorded)[]) {
    const definition = recordedMetrics[name];
    const entries = recorded[name] ?? [];
    lines.push(...(definition.type === "counter" ? renderCounter(name, definition, entries) : renderHistogram(name, definition, entries)));
  }
  for (const [name, help] of Object.entries(scrapedGauges)) {
    lines.push(...headerLines(name, help, "gauge"));
    const value = gauges[name as keyof typeof scrapedGauges];
    if (value !== undefined) lines.push(`${name} ${sampleValue(value)}`);
  }
  return `${lines.join("\n")}\n`;
}

/**
 * The scraped gauges, in one database request: dead letters not replayed, the longest time since
 * an org's last successful sync, and the fewest days until a WB token expires.
 */
export async function readGauges(db: Database): Promise<GaugeValues> {
  const result = await db.execute<{ dead_letters: number; sync_age: number | null; token_days: number | null }>(sql`
    select
      (select count(*)::int from ${deadLetters} where ${deadLetters.replayedAt} is null and ${deadLetters.discardedAt} is null) as dead_letters,
      (select extract(epoch from now() - min(last_success))::float8 from (
        select coalesce(max(s.last_success_at), c.created_at) as last_success
        from ${wbConnections} c left join ${syncState} s on s.org_id = c.org_id
        group by c.org_id, c.created_at
      ) per_org) as sync_age,
      (select (extract(epoch from min(${wbConnections.expiresAt}) - now()) / 86400)::float8
        from ${wbConnections} where ${wbConnections.expiresAt} is not null) as token_days`);
  const row = result.rows[0];
  const gauges: GaugeValues = { dead_letters: Number(row?.dead_letters ?? 0) };
  if (row?.sync_age !== null && row?.sync_age !== undefined) gauges.wb_sync_last_success_age_seconds = Number(row.sync_age);
  if (row?.token_days !== null && row?.token_days !== undefined) gauges.wb_token_expiry_days = Number(row.token_days);
  return gauges;
}
