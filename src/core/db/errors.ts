/**
 * The Postgres error behind a failed database request: drizzle wraps a driver error in
 * `DrizzleQueryError` (its `cause`), so the SQLSTATE sits somewhere down the cause chain.
 * Also what an unreachable database means for a caller who must retry (a webhook sender,
 * Telegram): {@link databaseFailure}.
 * @see https://www.postgresql.org/docs/current/errcodes-appendix.html
 */
import { ApiError } from "../errors";

/** Fields of a Postgres error as the Neon driver reports them (all optional). */
export interface PostgresErrorFields {
  code?: unknown;
  table?: unknown;
  column?: unknown;
  constraint?: unknown;
  dataType?: unknown;
}

const SQLSTATE = /^[0-9A-Z]{5}$/;

/** `err` and its causes, outermost first (at most 6 deep). */
export function causeChain(err: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let e: unknown = err; e !== undefined && e !== null && chain.length < 6; e = (e as { cause?: unknown }).cause) {
    chain.push(e);
    if (typeof e !== "object") break;
  }
  return chain;
}

/** The Postgres error (one with a five-character SQLSTATE `code`) in `err`'s cause chain, if any. */
export function postgresError(err: unknown): (Error & PostgresErrorFields & { code: string }) | undefined {
  return causeChain(err).find(
    (e): e is Error & PostgresErrorFields & { code: string } =>
      e instanceof Error && typeof (e as PostgresErrorFields).code === "string" && SQLSTATE.test((e as PostgresErrorFields).code as string),
  );
}

/** Seconds a sender is asked to wait when Postgres is unreachable. */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

/** SQLSTATE classes of an unavailable database rather than a bad statement: connection exception, insufficient resources, operator intervention. */
const UNAVAILABLE_SQLSTATE = /^(08|53|57P)/;

/**
 * True when `err` says Postgres could not be reached or could not serve (no SQLSTATE in the cause
 * chain: the HTTP request failed; or a connection-class SQLSTATE), false for a statement's own error.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  const pg = postgresError(err);
  return pg === undefined || UNAVAILABLE_SQLSTATE.test(pg.code);
}

/**
 * `err` as the answer to a sender: a 503 problem with `Retry-After` when the database is
 * unavailable (see {@link isDatabaseUnavailable}), else `err` itself (a 500 with the request id).
 */
export function databaseFailure(err: unknown): unknown {
  if (err instanceof ApiError || !isDatabaseUnavailable(err)) return err;
  return new ApiError("SERVICE_UNAVAILABLE", {
    detail: "The webhook could not be stored; nothing was acknowledged. Retry shortly.",
    headers: { "Retry-After": String(DATABASE_RETRY_AFTER_SECONDS) },
    cause: err,
  });
}
