/**
 * The Postgres error behind a failed database request: drizzle wraps a driver error in
 * `DrizzleQueryError` (its `cause`), so the SQLSTATE sits somewhere down the cause chain.
 * @see https://www.postgresql.org/docs/current/errcodes-appendix.html
 */

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
