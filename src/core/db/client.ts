/**
 * Neon over HTTP (`@neondatabase/serverless` + `drizzle-orm/neon-http`): one fetch per
 * query or per `db.batch` (which runs as one transaction, sent as `{ queries: [...] }`). There
 * are no interactive transactions on this driver; group writes that must commit together in
 * `db.batch`.
 *
 * Every database request is timed: the driver's `fetchFunction` (global to the isolate) reads the
 * client's options from the fetch init, records `database_query_duration_seconds{query}` in the
 * request's recorder, and warns over `SLOW_QUERY_MS` with the query's name and duration. A name is
 * the first verb and table of the SQL text (`select stocks`, `batch[9] insert products`), never a
 * parameter. In development the warning carries the plan: the statement is run once more, through
 * the same driver with the same parameters, as `EXPLAIN (ANALYZE, BUFFERS)` — only reads: a write is
 * never run twice — and the plan is printed with the parameters' values replaced by `$n`.
 * @see https://orm.drizzle.team/docs/connect-neon
 * @see https://github.com/neondatabase/serverless/blob/main/CONFIG.md#fetchfunction-any
 */
import { neon, neonConfig } from "@neondatabase/serverless";
import { drizzle } from "drizzle-orm/neon-http";
import type { AppConfig } from "../env";
import type { Logger } from "../logger";
import * as schema from "./schema";

export type Database = ReturnType<typeof createDatabase>;

/** Who watches a client's requests: the request's recorder and logger, and the slow-query rules. */
export interface QueryObserver {
  /** The request's recorder (`Metrics` of `src/core/metrics.ts`, which depends on this module, not the reverse). */
  metrics: { observe(name: "database_query_duration_seconds", labels: { query: string }, seconds: number): void };
  logger: Logger;
  config: Pick<AppConfig, "SLOW_QUERY_MS" | "ENVIRONMENT">;
}

/** A client's options, carried to the fetch function inside the driver's fetch init. */
interface ClientOptions {
  /** The local stack's `/sql` adapter (`NEON_FETCH_ENDPOINT`); absent: the URL the driver derived. */
  endpoint?: string | undefined;
  observer?: QueryObserver | undefined;
  /** The client that runs the EXPLAINs of slow reads (not observed itself). */
  explain?: (text: string, params: unknown[]) => Promise<string>;
}

/** Key of {@link ClientOptions} in the fetch init; removed before the request is sent. */
const CLIENT = Symbol("seller-edge.db-client");

/** One statement as the driver sends it. */
interface Statement {
  query: string;
  params: unknown[];
}

/** Statements of an EXPLAIN'd batch at most (development only). */
const MAX_EXPLAINED = 5;

const knownVerbs = new Set(["select", "insert", "update", "delete", "with", "explain", "values", "set", "show", "begin", "commit"]);
const identifier = String.raw`"?([A-Za-z_][A-Za-z0-9_$]*)"?(?:\s*\.\s*"?([A-Za-z_][A-Za-z0-9_$]*)"?)?`;
const tableAfter = {
  select: new RegExp(String.raw`\bfrom\s+${identifier}`, "i"),
  insert: new RegExp(String.raw`\binsert\s+into\s+${identifier}`, "i"),
  update: new RegExp(String.raw`\bupdate\s+${identifier}`, "i"),
  delete: new RegExp(String.raw`\bdelete\s+from\s+${identifier}`, "i"),
} as const;

/** The SQL text without comments, trimmed. */
const stripComments = (text: string) => text.replace(/--[^\n]*|\/\*[\s\S]*?\*\//g, " ").trim();

/**
 * The name of one statement: its verb and first table (`select stocks`, `insert orders`; a CTE is
 * named by the write it does, else `select …`). Only keywords and identifiers are read, so no value
 * can appear, and the set of names is bounded by the code.
 */
export function statementName(text: string): string {
  const sqlText = stripComments(text);
  const first = /^[(\s]*([A-Za-z]+)/.exec(sqlText)?.[1]?.toLowerCase() ?? "";
  if (!knownVerbs.has(first)) return "other";
  let verb = first;
  if (verb === "with") verb = /\b(insert|update|delete)\b/i.exec(sqlText)?.[1]?.toLowerCase() ?? "select";
  if (!(verb in tableAfter)) return verb;
  const match = tableAfter[verb as keyof typeof tableAfter].exec(sqlText);
  const table = match ? (match[2] ?? match[1]) : undefined;
  return table ? `${verb} ${table.toLowerCase()}` : verb;
}

/** True for a statement that only reads (so it may be run again under `EXPLAIN ANALYZE`). */
export function isReadOnly(text: string): boolean {
  const sqlText = stripComments(text);
  return (
    /^[(\s]*(select|with|values)\b/i.test(sqlText) &&
    !/\b(insert|update|delete|merge|for\s+update|for\s+share|nextval|setval)\b/i.test(sqlText)
  );
}

/**
 * The SQL texts of a request body (their first 4,000 characters), found without parsing the body:
 * a sync batch sends megabytes of parameters. Inside a JSON string every `"` is escaped, so
 * `"query":"` only matches the key. The driver sends `{"query":…,"params":…}`, or a batch
 * `{"queries":[…]}`.
 */
export function queryTexts(body: unknown): { texts: string[]; batch: boolean } {
  if (typeof body !== "string") return { texts: [], batch: false };
  const texts = [...body.matchAll(/"query":"((?:[^"\\]|\\.){0,4000})/g)].map((m) =>
    (m[1] ?? "").replace(/\\(["\\/])/g, "$1").replace(/\\[nrt]/g, " "),
  );
  return { texts, batch: body.startsWith('{"queries"') };
}

/**
 * Largest request body (characters) whose slow reads are explained in development. A sync batch
 * carries megabytes of rows as one parameter and is always slow; parsing it again to explain its
 * lease check cost a local sync ~3 % of the Worker's CPU (sampled profile) and says nothing new.
 */
export const EXPLAIN_MAX_BODY_CHARS = 1_000_000;

/** The statements of a request body, parameters included (for EXPLAIN). */
function statementsOf(body: unknown): Statement[] {
  if (typeof body !== "string") return [];
  try {
    const parsed = JSON.parse(body) as { query?: unknown; params?: unknown; queries?: unknown };
    const list: { query?: unknown; params?: unknown }[] = Array.isArray(parsed.queries) ? parsed.queries : [parsed];
    return list.flatMap((s) => (typeof s?.query === "string" ? [{ query: s.query, params: Array.isArray(s.params) ? s.params : [] }] : []));
  } catch {
    return [];
  }
}

/**
 * The name of a database request: its statement's, or for a batch `batch[n] ` and the name of its
 * first write (else of its first statement).
 */
export function requestName(texts: readonly string[], batch: boolean): string {
  if (!batch) return texts[0] !== undefined ? statementName(texts[0]) : "unknown";
  const write = texts.find((t) => !isReadOnly(t)) ?? texts[0];
  return `batch[${texts.length}] ${write !== undefined ? statementName(write) : "unknown"}`;
}

/** `plan` with each string parameter's literal (`'value'`, as Postgres prints constants) replaced by `$n`. */
function withoutParameters(plan: string, params: readonly unknown[]): string {
  let out = plan;
  params.forEach((value, i) => {
    if (typeof value !== "string" || value === "") return;
    out = out.split(`'${value.replaceAll("'", "''")}'`).join(`$${i + 1}`);
  });
  return out;
}

/** The plans of `statements` (reads under EXPLAIN ANALYZE; writes are not run again). */
async function explainAll(statements: readonly Statement[], explain: NonNullable<ClientOptions["explain"]>): Promise<string> {
  const parts: string[] = [];
  for (const [i, s] of statements.slice(0, MAX_EXPLAINED).entries()) {
    const head = statements.length > 1 ? `-- statement ${i + 1}: ${statementName(s.query)}\n` : "";
    if (!isReadOnly(s.query)) {
      parts.push(`${head}(not explained: a write is never run twice)`);
      continue;
    }
    try {
      const plan = await explain(`EXPLAIN (ANALYZE, BUFFERS) ${s.query}`, s.params);
      parts.push(head + withoutParameters(plan, s.params));
    } catch (err) {
      parts.push(`${head}(EXPLAIN failed: ${err instanceof Error ? err.message.split("\n")[0] : String(err)})`);
    }
  }
  if (statements.length > MAX_EXPLAINED) parts.push(`(${statements.length - MAX_EXPLAINED} more statements not explained)`);
  return parts.join("\n");
}

/**
 * The driver's fetch: sends the request to the client's endpoint and, for an observed client,
 * times it, records it and warns when it is slow.
 */
async function timedFetch(input: string | URL, init: RequestInit & { [CLIENT]?: ClientOptions }): Promise<Response> {
  const { [CLIENT]: options, ...rest } = init;
  const url = options?.endpoint ?? input;
  const observer = options?.observer;
  if (!observer) return fetch(url, rest);
  const started = performance.now();
  let response: Response | undefined;
  try {
    response = await fetch(url, rest);
    return response;
  } finally {
    const seconds = (performance.now() - started) / 1000;
    const { texts, batch } = queryTexts(rest.body);
    const query = requestName(texts, batch);
    observer.metrics.observe("database_query_duration_seconds", { query }, seconds);
    const durationMs = Math.round(seconds * 10_000) / 10;
    if (durationMs >= observer.config.SLOW_QUERY_MS) {
      const fields: Record<string, unknown> = { query, durationMs, statements: texts.length, status: response?.status ?? 0 };
      if (observer.config.ENVIRONMENT === "development" && options?.explain && response?.ok) {
        const size = typeof rest.body === "string" ? rest.body.length : 0;
        fields.plan =
          size > EXPLAIN_MAX_BODY_CHARS
            ? `(not explained: a bulk request of ${Math.round(size / 1000).toLocaleString("en-US")} kB)`
            : await explainAll(statementsOf(rest.body), options.explain);
      }
      observer.logger.warn("slow query", fields);
    }
  }
}

// Global to the isolate, like every `neonConfig` setting; each client's options travel in its fetch init.
neonConfig.fetchFunction = timedFetch;

/** Driver options of a client: `fetchOptions` is merged into every fetch init it makes. */
function driverOptions(options: ClientOptions) {
  return { fetchOptions: { [CLIENT]: options } as RequestInit };
}

/**
 * Creates the Drizzle client. On the local stack `NEON_FETCH_ENDPOINT` points the driver at the
 * Neon `/sql` adapter; in production it is unset and the driver derives the endpoint from the
 * connection string's host. With an `observer`, every request is timed and recorded (see the
 * module comment).
 */
export function createDatabase(config: Pick<AppConfig, "DATABASE_URL" | "NEON_FETCH_ENDPOINT">, observer?: QueryObserver) {
  const endpoint = config.NEON_FETCH_ENDPOINT;
  const plain = neon(config.DATABASE_URL, driverOptions({ endpoint }));
  const explain = async (text: string, params: unknown[]) => {
    const result = await plain.query(text, params, { arrayMode: true, fullResults: true });
    return (result.rows as unknown[][]).map((row) => String(row[0])).join("\n");
  };
  const client = observer ? neon(config.DATABASE_URL, driverOptions({ endpoint, observer, explain })) : plain;
  return drizzle({ client, schema });
}

export { schema };
