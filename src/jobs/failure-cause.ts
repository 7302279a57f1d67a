/**
 * The cause of a failed job attempt, in one line a seller's admin (and an operator reading a dead
 * letter) can act on. It is what the attempt records in `jobs.last_error` and the data set's
 * `sync_state.last_error`, and the `detail` of the problem the delivery answers QStash with (so the
 * dead letter's last response says it too). Never a bare status, never SQL text, query parameters
 * or the token:
 * - WB: `WB rejected the token (401): unauthorized: token withdrawn [GET /api/v1/supplier/orders]`,
 *   `WB server error (502): … [GET …]`, `WB unreachable: timed out after 60000 ms [GET …]`,
 *   `WB rate limit (429): retry after 60 s [GET …]`, `WB answered unexpectedly (400): … [GET …]`;
 * - Postgres: `database error 23505 (unique_violation) on table "orders", constraint "orders_pkey"
 *   while writing a page` — the SQLSTATE, its condition name and the schema names Postgres reports
 *   (never its message, which may quote row values), or `database unreachable: …`;
 * - a lost lease, a removed connection, an undecryptable token: said in words.
 * @see https://www.postgresql.org/docs/current/errcodes-appendix.html
 */

import { DrizzleQueryError } from "drizzle-orm";
import { causeChain, postgresError } from "../core/db/errors";
import { WbApiError, WbAuthError, WbRateLimitError, WbUnavailableError } from "../integrations/wildberries/client";

/** Longest recorded cause, characters (`jobs.last_error` and `sync_state.last_error` keep 2,000). */
export const MAX_CAUSE_CHARS = 1000;

/** A failure whose message is already its cause in words (a lost lease, a removed connection…). */
export class JobFailure extends Error {
  override readonly name: string = "JobFailure";
}

/** SQLSTATE → condition name, for the codes a sync can meet; other codes fall back to their class. */
const conditionNames: Record<string, string> = {
  "08000": "connection_exception",
  "08001": "sqlclient_unable_to_establish_sqlconnection",
  "08003": "connection_does_not_exist",
  "08006": "connection_failure",
  "21000": "cardinality_violation",
  "22001": "string_data_right_truncation",
  "22003": "numeric_value_out_of_range",
  "22004": "null_value_not_allowed",
  "22007": "invalid_datetime_format",
  "22008": "datetime_field_overflow",
  "22012": "division_by_zero",
  "22021": "character_not_in_repertoire",
  "22023": "invalid_parameter_value",
  "22P02": "invalid_text_representation",
  "22P05": "untranslatable_character",
  "23000": "integrity_constraint_violation",
  "23001": "restrict_violation",
  "23502": "not_null_violation",
  "23503": "foreign_key_violation",
  "23505": "unique_violation",
  "23514": "check_violation",
  "23P01": "exclusion_violation",
  "25006": "read_only_sql_transaction",
  "25P02": "in_failed_sql_transaction",
  "28000": "invalid_authorization_specification",
  "28P01": "invalid_password",
  "40001": "serialization_failure",
  "40P01": "deadlock_detected",
  "42501": "insufficient_privilege",
  "42601": "syntax_error",
  "42703": "undefined_column",
  "42804": "datatype_mismatch",
  "42883": "undefined_function",
  "42P01": "undefined_table",
  "53000": "insufficient_resources",
  "53100": "disk_full",
  "53200": "out_of_memory",
  "53300": "too_many_connections",
  "54000": "program_limit_exceeded",
  "55P03": "lock_not_available",
  "57014": "query_canceled",
  "57P01": "admin_shutdown",
  "57P03": "cannot_connect_now",
  "58000": "system_error",
  XX000: "internal_error",
};

/** SQLSTATE class (first two characters) → class name. */
const classNames: Record<string, string> = {
  "08": "connection_exception",
  "21": "cardinality_violation",
  "22": "data_exception",
  "23": "integrity_constraint_violation",
  "25": "invalid_transaction_state",
  "28": "invalid_authorization_specification",
  "40": "transaction_rollback",
  "42": "syntax_error_or_access_rule_violation",
  "53": "insufficient_resources",
  "54": "program_limit_exceeded",
  "55": "object_not_in_prerequisite_state",
  "57": "operator_intervention",
  "58": "system_error",
  XX: "internal_error",
};

/** The condition name of a SQLSTATE (`23505` → `unique_violation`), or its class's. */
export function sqlStateName(code: string): string {
  return conditionNames[code] ?? classNames[code.slice(0, 2)] ?? "unknown condition";
}

/** A Neon driver error without a SQLSTATE: the request to the database itself failed. */
function databaseRequestError(err: unknown): Error | undefined {
  return causeChain(err).find((e): e is Error => e instanceof Error && e.name === "NeonDbError");
}

const quoted = (label: string, value: unknown) => (typeof value === "string" && value !== "" ? [`${label} "${value}"`] : []);

/** `database error 23505 (unique_violation) on table "orders", constraint "orders_pkey"`, or undefined when `err` is no database error. */
export function describeDatabaseError(err: unknown): string | undefined {
  const pg = postgresError(err);
  if (pg) {
    const code = pg.code;
    const where = [
      ...quoted("table", pg.table),
      ...quoted("column", pg.column),
      ...quoted("constraint", pg.constraint),
      ...quoted("type", pg.dataType),
    ];
    return `database error ${code} (${sqlStateName(code)})${where.length ? ` on ${where.join(", ")}` : ""}`;
  }
  const request = databaseRequestError(err);
  // The driver's own message names the transport failure (`fetch failed`, `HTTP status 503`), not the query.
  if (request) return `database unreachable: ${request.message.slice(0, 200)}`;
  return undefined;
}

/** A WB client error in words: what WB did, WB's reason, and the request. */
export function describeWbError(err: WbApiError): string {
  const reason = err.reason ? `: ${err.reason}` : "";
  const request = err.request ? ` [${err.request}]` : "";
  if (err instanceof WbRateLimitError) return `WB rate limit (429): retry after ${err.retryAfterSeconds} s${request}`;
  if (err instanceof WbAuthError) return `WB rejected the token (${err.status})${reason}${request}`;
  if (err instanceof WbUnavailableError) {
    return err.status === 0 ? `WB unreachable${reason}${request}` : `WB server error (${err.status})${reason}${request}`;
  }
  return `WB answered unexpectedly (${err.status})${reason}${request}`;
}

/**
 * The cause of `err` in one line (see the module comment), at most {@link MAX_CAUSE_CHARS}. The
 * first {@link JobFailure}, WB error or database error in the cause chain decides; otherwise the
 * innermost error's name and message (skipping drizzle's query wrapper, whose message is the SQL and
 * its parameters; it sets no `name` of its own, hence `instanceof`).
 */
export function describeCause(err: unknown): string {
  const chain = causeChain(err);
  const own = chain.find((e): e is JobFailure => e instanceof JobFailure);
  const wb = chain.find((e): e is WbApiError => e instanceof WbApiError);
  const text =
    own?.message ??
    (wb ? describeWbError(wb) : undefined) ??
    describeDatabaseError(err) ??
    (() => {
      const last = [...chain].reverse().find((e) => !(e instanceof DrizzleQueryError)) ?? err;
      return last instanceof Error ? `${last.name}: ${last.message}` : `error: ${String(last)}`;
    })();
  return text.slice(0, MAX_CAUSE_CHARS);
}
