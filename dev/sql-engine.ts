/**
 * SQL engines behind the local Neon `/sql` adapter (`dev/neon-http.ts`).
 *
 * An engine runs single statements over the extended protocol (so `$1` parameters and one
 * statement per query, as Neon does) and batches inside one transaction, and answers every value
 * as Postgres text (`null` for SQL NULL): the HTTP layer hands text to the Neon driver, which parses
 * it with its own type parsers. Two engines:
 * - embedded PGlite (WASM Postgres, in memory or under a data directory), the default;
 * - a real Postgres through a `pg` pool, when `DATABASE_URL` is set.
 *
 * Errors raised by Postgres are rethrown as {@link PostgresError}, carrying the SQLSTATE and the
 * other ErrorResponse fields, whichever engine produced them.
 *
 * @see https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-EXT-QUERY
 * @see https://pglite.dev/docs/api
 * @see https://node-postgres.com/apis/pool
 */
import { PGlite, type Transaction as PgliteTransaction } from "@electric-sql/pglite";
import { pg_trgm } from "@electric-sql/pglite/contrib/pg_trgm";
import pg from "pg";

/** A bound parameter, already in Postgres text form; `null` is SQL NULL. */
export type SqlParam = string | null;

/** One row in text form, one cell per result column; `null` is SQL NULL. */
export type SqlTextRow = (string | null)[];

/**
 * Column metadata as Postgres' RowDescription reports it (node-postgres `FieldDef` names).
 * PGlite reports only `name` and `dataTypeID`; there `tableID` and `columnID` are 0 and
 * `dataTypeSize` and `dataTypeModifier` are -1.
 */
export interface SqlField {
  name: string;
  dataTypeID: number;
  tableID: number;
  columnID: number;
  dataTypeSize: number;
  dataTypeModifier: number;
  format: "text";
}

/**
 * The outcome of one statement. `command` is the first word of the command tag (`SELECT`,
 * `INSERT`, `CREATE`); `rowCount` is the count the tag carries (rows returned or changed), or
 * `null` when the tag has none (`CREATE TABLE`).
 */
export interface SqlResult {
  command: string;
  rowCount: number | null;
  fields: SqlField[];
  rows: SqlTextRow[];
}

/** One statement of a transaction batch. */
export interface SqlStatement {
  sql: string;
  params?: readonly SqlParam[];
}

/** Isolation levels as the Neon driver names them (`Neon-Batch-Isolation-Level`). */
export type IsolationLevel = "ReadUncommitted" | "ReadCommitted" | "RepeatableRead" | "Serializable";

/** Transaction characteristics; omitted ones take the server's defaults. */
export interface TransactionOptions {
  isolationLevel?: IsolationLevel;
  readOnly?: boolean;
  deferrable?: boolean;
}

/** Per-statement options. `readOnly` runs the statement in a READ ONLY transaction of its own. */
export interface SqlQueryOptions {
  readOnly?: boolean;
}

/**
 * What the Neon adapter needs from a database.
 * - `query`: one statement (extended protocol: no multi-statement strings), autocommit.
 * - `transaction`: all statements in one transaction, committed only if every one succeeds;
 *   the first failure rolls everything back and is thrown.
 * - `exec`: a multi-statement script over the simple protocol (migrations, seeds).
 * - `close`: releases the database; the engine is unusable afterwards.
 * Every method throws {@link PostgresError} for errors Postgres reports.
 */
export interface SqlEngine {
  readonly kind: "pglite" | "postgres";
  query(sql: string, params?: readonly SqlParam[], opts?: SqlQueryOptions): Promise<SqlResult>;
  transaction(queries: readonly SqlStatement[], opts?: TransactionOptions): Promise<SqlResult[]>;
  exec(multiStatementSql: string): Promise<void>;
  close(): Promise<void>;
}

/** The ErrorResponse fields Postgres may send, as node-postgres and the Neon driver name them. */
export const POSTGRES_ERROR_FIELDS = [
  "severity",
  "code",
  "detail",
  "hint",
  "position",
  "internalPosition",
  "internalQuery",
  "where",
  "schema",
  "table",
  "column",
  "dataType",
  "constraint",
  "file",
  "line",
  "routine",
] as const;

/** One ErrorResponse field name. */
export type PostgresErrorField = (typeof POSTGRES_ERROR_FIELDS)[number];

/**
 * An error reported by Postgres (an ErrorResponse), engine-independent. `code` is the SQLSTATE
 * (`23505` unique violation, `42P01` undefined table); `position` is a 1-based character offset
 * into the statement, as a string, like the other fields.
 * @see https://www.postgresql.org/docs/current/protocol-error-fields.html
 */
export class PostgresError extends Error {
  override readonly name = "PostgresError";
  readonly fields: Partial<Record<PostgresErrorField, string>>;

  constructor(message: string, fields: Partial<Record<PostgresErrorField, string>>) {
    super(message);
    this.fields = fields;
  }

  /** The SQLSTATE, e.g. `23505`. */
  get code(): string | undefined {
    return this.fields.code;
  }
}

/**
 * Rethrows `err` as a {@link PostgresError} when it is a Postgres ErrorResponse from either
 * engine (both use pg-protocol's `DatabaseError` shape: a string `code` and `severity`); anything
 * else is returned unchanged.
 */
export function toPostgresError(err: unknown): unknown {
  if (err instanceof PostgresError || !(err instanceof Error)) return err;
  const record = err as unknown as Record<string, unknown>;
  if (typeof record.code !== "string" || typeof record.severity !== "string") return err;
  const fields: Partial<Record<PostgresErrorField, string>> = {};
  for (const key of POSTGRES_ERROR_FIELDS) {
    const value = record[key];
    if (typeof value === "string") fields[key] = value;
    else if (typeof value === "number") fields[key] = String(value);
  }
  return new PostgresError(err.message, fields);
}

const ISOLATION_SQL: Record<IsolationLevel, string> = {
  ReadUncommitted: "ISOLATION LEVEL READ UNCOMMITTED",
  ReadCommitted: "ISOLATION LEVEL READ COMMITTED",
  RepeatableRead: "ISOLATION LEVEL REPEATABLE READ",
  Serializable: "ISOLATION LEVEL SERIALIZABLE",
};

/** `transaction_mode` list for BEGIN / SET TRANSACTION, e.g. `ISOLATION LEVEL SERIALIZABLE, READ ONLY`. */
function transactionModes(opts: TransactionOptions): string {
  const modes: string[] = [];
  if (opts.isolationLevel) modes.push(ISOLATION_SQL[opts.isolationLevel]);
  if (opts.readOnly !== undefined) modes.push(opts.readOnly ? "READ ONLY" : "READ WRITE");
  if (opts.deferrable !== undefined) modes.push(opts.deferrable ? "DEFERRABLE" : "NOT DEFERRABLE");
  return modes.join(", ");
}

/** Command tags that leave the session inside a transaction block. */
function opensTransaction(command: string): boolean {
  return command === "BEGIN" || command === "START";
}

const identity = <T>(value: T): T => value;

/** An object whose every property is the identity function: text in, text out, for any type OID. */
function identityTable<T>(): T {
  return new Proxy({}, { get: () => identity }) as T;
}

/** Runs tasks one at a time, in call order; a failed task does not block the next. */
function createQueue(): <T>(task: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(task: () => Promise<T>): Promise<T> => {
    const run = tail.then(task, task);
    tail = run.catch(() => undefined);
    return run;
  };
}

/** Options for {@link createPgliteEngine}. */
export interface PgliteEngineOptions {
  /** Directory for the data files (created if missing); in memory when omitted. */
  dataDir?: string;
}

/**
 * Starts an embedded PGlite engine with the `pg_trgm` extension available
 * (`CREATE EXTENSION pg_trgm` works). PGlite has a single connection, so every call is queued;
 * a batch runs on PGlite's transaction handle (running it on the database handle would wait
 * forever for the transaction's own lock).
 * @throws when PGlite cannot start (e.g. a data directory written by another PGlite version).
 */
export async function createPgliteEngine(opts: PgliteEngineOptions = {}): Promise<SqlEngine> {
  const db = await PGlite.create({
    ...(opts.dataDir === undefined ? {} : { dataDir: opts.dataDir }),
    extensions: { pg_trgm },
  });
  // Values stay in Postgres text form both ways: the Neon driver sends text parameters and parses
  // text results itself. PGlite otherwise JSON-encodes jsonb parameters and parses results.
  db.parsers = identityTable<typeof db.parsers>();
  const queryOptions = {
    rowMode: "array" as const,
    serializers: identityTable<Record<number, (value: unknown) => string>>(),
  };
  const enqueue = createQueue();
  let closed = false;

  type Runner = Pick<PgliteTransaction, "query">;
  const run = async (runner: Runner, sql: string, params: readonly SqlParam[]): Promise<SqlResult> => {
    const result = await runner.query<SqlTextRow>(sql, [...params], queryOptions);
    return {
      command: result.command ?? "",
      rowCount: result.rowCount ?? null,
      fields: result.fields.map((field) => ({
        name: field.name,
        dataTypeID: field.dataTypeID,
        tableID: 0,
        columnID: 0,
        dataTypeSize: -1,
        dataTypeModifier: -1,
        format: "text",
      })),
      rows: result.rows,
    };
  };

  const transaction = (queries: readonly SqlStatement[], txOpts: TransactionOptions): Promise<SqlResult[]> =>
    db.transaction(async (tx) => {
      const modes = transactionModes(txOpts);
      if (modes) await tx.exec(`SET TRANSACTION ${modes}`);
      const results: SqlResult[] = [];
      for (const statement of queries) results.push(await run(tx, statement.sql, statement.params ?? []));
      return results;
    });

  const guarded = async <T>(task: () => Promise<T>): Promise<T> => {
    if (closed) throw new Error("SQL engine (pglite) is closed");
    try {
      return await enqueue(task);
    } catch (err) {
      throw toPostgresError(err);
    }
  };

  return {
    kind: "pglite",
    query: (sql, params = [], queryOpts = {}) =>
      guarded(async () => {
        if (queryOpts.readOnly) {
          const [only] = await transaction([{ sql, params }], { readOnly: true });
          if (!only) throw new Error("transaction returned no result");
          return only;
        }
        const result = await run(db, sql, params);
        // Like Neon, a request never leaves its session inside a transaction block.
        if (opensTransaction(result.command)) await db.exec("ROLLBACK");
        return result;
      }),
    transaction: (queries, txOpts = {}) => guarded(() => transaction(queries, txOpts)),
    exec: (multiStatementSql) =>
      guarded(async () => {
        await db.exec(multiStatementSql);
      }),
    close: async () => {
      if (closed) return;
      await enqueue(async () => {
        closed = true;
        await db.close();
      });
    },
  };
}

/** node-postgres `types` override: every type OID, text format, is answered as the raw string. */
const textTypes = {
  getTypeParser: (() => identity) as unknown as typeof pg.types.getTypeParser,
};

/**
 * Connects a `pg` pool to a real Postgres. Every value is returned as text (no type parsing),
 * rows as arrays, and every statement goes over the extended protocol (one statement per query,
 * as on Neon) even without parameters. A batch holds one pooled connection between BEGIN and
 * COMMIT/ROLLBACK.
 * @param connectionString e.g. `postgres://postgres@127.0.0.1:5432/postgres`
 */
export function createPostgresEngine(connectionString: string): SqlEngine {
  const pool = new pg.Pool({ connectionString, types: textTypes, max: 10 });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on("error", (err) => console.error(`[sql-engine] idle postgres client error: ${err.message}`));

  const run = async (client: pg.PoolClient, sql: string, params: readonly SqlParam[]): Promise<SqlResult> => {
    const config: pg.QueryArrayConfig<SqlParam[]> & { queryMode: "extended" } = {
      text: sql,
      values: [...params],
      rowMode: "array",
      queryMode: "extended",
    };
    const result = await client.query<SqlTextRow>(config);
    return {
      command: result.command ?? "",
      rowCount: result.rowCount ?? null,
      fields: (result.fields ?? []).map((field) => ({
        name: field.name,
        dataTypeID: field.dataTypeID,
        tableID: field.tableID,
        columnID: field.columnID,
        dataTypeSize: field.dataTypeSize,
        dataTypeModifier: field.dataTypeModifier,
        format: "text",
      })),
      rows: result.rows,
    };
  };

  const transaction = async (queries: readonly SqlStatement[], opts: TransactionOptions): Promise<SqlResult[]> => {
    const client = await pool.connect();
    let broken = false;
    try {
      const modes = transactionModes(opts);
      await client.query(modes ? `BEGIN ${modes}` : "BEGIN");
      try {
        const results: SqlResult[] = [];
        for (const statement of queries) results.push(await run(client, statement.sql, statement.params ?? []));
        await client.query("COMMIT");
        return results;
      } catch (err) {
        await client.query("ROLLBACK").catch(() => {
          broken = true;
        });
        throw err;
      }
    } finally {
      client.release(broken);
    }
  };

  const guarded = async <T>(task: () => Promise<T>): Promise<T> => {
    try {
      return await task();
    } catch (err) {
      throw toPostgresError(err);
    }
  };

  return {
    kind: "postgres",
    query: (sql, params = [], queryOpts = {}) =>
      guarded(async () => {
        if (queryOpts.readOnly) {
          const [only] = await transaction([{ sql, params }], { readOnly: true });
          if (!only) throw new Error("transaction returned no result");
          return only;
        }
        const client = await pool.connect();
        let discard = false;
        try {
          const result = await run(client, sql, params);
          // A session left inside a transaction block is dropped (the server rolls it back),
          // as Neon does, instead of going back to the pool.
          discard = opensTransaction(result.command);
          return result;
        } finally {
          client.release(discard);
        }
      }),
    transaction: (queries, opts = {}) => guarded(() => transaction(queries, opts)),
    exec: (multiStatementSql) =>
      guarded(async () => {
        await pool.query(multiStatementSql);
      }),
    close: () => pool.end(),
  };
}

/** Options for {@link createEngineFromEnv}. */
export interface EngineFromEnvOptions {
  /** Postgres connection string; defaults to `process.env.DATABASE_URL`. */
  databaseUrl?: string;
  /** PGlite data directory when no database URL is given; in memory when omitted. */
  dataDir?: string;
  /** Where the one-line "which engine" notice goes; `console.info` by default. */
  log?: (line: string) => void;
}

/** The connection string with its password replaced by `***`, for logs. */
function redactPassword(connectionString: string): string {
  try {
    const url = new URL(connectionString);
    if (url.password) url.password = "***";
    return url.toString();
  } catch {
    return "<unparseable connection string>";
  }
}

/**
 * Picks the engine the way `npm run dev` does: a real Postgres when a database URL is given
 * (option or `DATABASE_URL`), else embedded PGlite (under `dataDir`, or in memory), and says which.
 */
export async function createEngineFromEnv(opts: EngineFromEnvOptions = {}): Promise<SqlEngine> {
  const log = opts.log ?? ((line: string) => console.info(line));
  const databaseUrl = opts.databaseUrl ?? process.env.DATABASE_URL;
  if (databaseUrl) {
    const source = opts.databaseUrl ? "databaseUrl option" : "DATABASE_URL";
    log(`[sql-engine] using Postgres at ${redactPassword(databaseUrl)} (${source})`);
    return createPostgresEngine(databaseUrl);
  }
  log(`[sql-engine] using embedded PGlite ${opts.dataDir ? `with data in ${opts.dataDir}` : "in memory"}`);
  return createPgliteEngine(opts.dataDir === undefined ? {} : { dataDir: opts.dataDir });
}
