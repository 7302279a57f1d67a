/**
 * Conformance tests for the local Neon `/sql` adapter (`dev/neon-http.ts`), with the official
 * `@neondatabase/serverless` driver and `drizzle-orm/neon-http` as clients, against both engines:
 * embedded PGlite (in memory) and a real Postgres at 127.0.0.1:5432 (a fresh database per run,
 * dropped afterwards; skipped, saying why, only when that server is unreachable).
 */
import { NeonDbError, neon, neonConfig } from "@neondatabase/serverless";
import { sql as drizzleSql, eq, inArray } from "drizzle-orm";
import { drizzle } from "drizzle-orm/neon-http";
import { integer, pgTable, text } from "drizzle-orm/pg-core";
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { type NeonHttpHandle, startNeonHttp } from "../../dev/neon-http";
import { createPgliteEngine, createPostgresEngine, type SqlEngine } from "../../dev/sql-engine";

const ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres";

/** `null` when Postgres answers at 127.0.0.1:5432, else why not. */
async function probePostgres(): Promise<string | null> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 2_000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function adminQuery(statement: string, values: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    return await client.query(statement, values);
  } finally {
    await client.end();
  }
}

/**
 * Drops a test database once the engine's pool is closed. `pg.Pool#end()` resolves when it has
 * *asked* its clients to end, not when their backends have gone: a `DROP … WITH (FORCE)` right
 * after it may terminate a backend still closing, and its client then reports "terminating
 * connection due to administrator command" through the pool's error listener. So wait until no
 * backend is connected to the database (FORCE stays as the backstop for one that never leaves).
 */
async function dropDatabase(database: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { rows } = await adminQuery("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1", [database]);
    if (rows[0]?.n === 0 || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  await adminQuery(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
}

interface Variant {
  name: string;
  skipReason: string | null;
  /** Starts the engine; returns it and what undoes the setup once the engine is closed. */
  start(): Promise<{ engine: SqlEngine; cleanup: () => Promise<void> }>;
}

const postgresUnreachable = await probePostgres();
if (postgresUnreachable) {
  console.warn(`[neon-http.test] skipping the Postgres variant: 127.0.0.1:5432 unreachable (${postgresUnreachable})`);
}

const variants: Variant[] = [
  {
    name: "PGlite (in memory)",
    skipReason: null,
    start: async () => ({ engine: await createPgliteEngine(), cleanup: async () => undefined }),
  },
  {
    name: "Postgres (127.0.0.1:5432)",
    skipReason: postgresUnreachable && `127.0.0.1:5432 unreachable: ${postgresUnreachable}`,
    start: async () => {
      const database = `neon_http_test_${Math.random().toString(36).slice(2, 10)}`;
      await adminQuery(`CREATE DATABASE ${database}`);
      return {
        engine: createPostgresEngine(`postgres://postgres@127.0.0.1:5432/${database}`),
        cleanup: () => dropDatabase(database),
      };
    },
  },
];

const SCHEMA = `
  CREATE TABLE items (id integer PRIMARY KEY, name text NOT NULL UNIQUE);
  CREATE TABLE type_probe (
    i integer, b bigint, n numeric(12,2), flag boolean, at timestamptz, day date,
    doc jsonb, tags text[], nothing text
  );
  CREATE TABLE products (
    id integer PRIMARY KEY, name text NOT NULL, tags text[] NOT NULL DEFAULT '{}'
  );
`;

const products = pgTable("products", {
  id: integer("id").primaryKey(),
  name: text("name").notNull(),
  tags: text("tags").array().notNull().default(drizzleSql`'{}'::text[]`),
});

/** What a rejected driver call threw, as a NeonDbError. */
async function neonError(promise: Promise<unknown>): Promise<NeonDbError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(NeonDbError);
    return err as NeonDbError;
  }
  throw new Error("expected the query to fail");
}

for (const variant of variants) {
  const title = variant.skipReason ? `${variant.name} (skipped: ${variant.skipReason})` : variant.name;

  describe.skipIf(variant.skipReason !== null)(`neon /sql adapter over ${title}`, () => {
    let engine: SqlEngine;
    let cleanup: () => Promise<void>;
    let handle: NeonHttpHandle;
    let sql: ReturnType<typeof neon>;

    /** A raw POST /sql, for what the driver does not expose (wire shapes, other header values). */
    const post = (body: unknown, headers: Record<string, string> = {}) =>
      fetch(handle.fetchEndpoint, {
        method: "POST",
        headers: { "Neon-Connection-String": handle.connectionString, ...headers },
        body: JSON.stringify(body),
      });

    beforeAll(async () => {
      ({ engine, cleanup } = await variant.start());
      await engine.exec(SCHEMA);
      handle = await startNeonHttp({ engine });
    });

    afterAll(async () => {
      // The engine's pool reports an idle client's error on console.error: the teardown must print none.
      const errors = vi.spyOn(console, "error");
      try {
        await handle?.close();
        await engine?.close();
        await cleanup?.();
        expect(errors.mock.calls.map((call) => call.join(" "))).toEqual([]);
      } finally {
        errors.mockRestore();
      }
    });

    beforeEach(() => {
      // neonConfig is global; each variant points it at its own adapter.
      neonConfig.fetchEndpoint = handle.fetchEndpoint;
      sql = neon(handle.connectionString);
    });

    it("runs a single query with parameters", async () => {
      const rows = await sql`SELECT ${2}::int + ${3}::int AS sum, ${"héllo, мир"}::text AS greeting`;
      expect(rows).toEqual([{ sum: 5, greeting: "héllo, мир" }]);
      expect(await sql.query("SELECT $1::text AS echo, $2::text AS nothing", ["x", null])).toEqual([{ echo: "x", nothing: null }]);
    });

    it("round-trips int, bigint, numeric, bool, timestamptz, date, jsonb, text[] and null", async () => {
      const at = new Date("2024-03-01T12:34:56.789Z");
      const doc = { a: 1, nested: { b: [1, "x", null] }, text: 'quote " and \\ backslash' };
      const tags = ["plain", "b,c", 'with "quote"', "NULL", "", "пробел и {скобки}"];
      await sql`
        INSERT INTO type_probe (i, b, n, flag, at, day, doc, tags, nothing)
        VALUES (${42}, ${"9007199254740993"}, ${"1234.50"}, ${true}, ${at}, ${"2024-02-29"},
                ${JSON.stringify(doc)}, ${tags}, ${null})`;

      const [row] = (await sql`SELECT * FROM type_probe`) as Record<string, unknown>[];
      expect(row).toEqual({
        i: 42,
        b: "9007199254740993",
        n: "1234.50",
        flag: true,
        at: expect.anything(),
        day: expect.anything(),
        doc,
        tags,
        nothing: null,
      });
      // drizzle-orm/neon-http globally swaps the driver's date/time parsers for identity once a
      // drizzle instance exists, so these two arrive as Date or as Postgres text depending on
      // which test ran first; either way they must denote the same instant and day.
      expect(new Date(row?.at as Date | string).toISOString()).toBe(at.toISOString());
      expect(await sql`SELECT day::text AS day FROM type_probe`).toEqual([{ day: "2024-02-29" }]);
      expect(await sql`SELECT ARRAY['a', NULL, 'b']::text[] AS with_null`).toEqual([{ with_null: ["a", null, "b"] }]);

      // On the wire: Postgres text, arrays as `{...}` literals, NULL as null, full field metadata.
      const response = await post(
        { query: "SELECT i, b, flag, tags, nothing FROM type_probe", params: [] },
        { "Neon-Raw-Text-Output": "true", "Neon-Array-Mode": "true" },
      );
      expect(response.status).toBe(200);
      const wire = (await response.json()) as Record<string, unknown>;
      expect(wire).toMatchObject({
        command: "SELECT",
        rowCount: 1,
        rowAsArray: true,
        rows: [["42", "9007199254740993", "t", '{plain,"b,c","with \\"quote\\"","NULL","","пробел и {скобки}"}', null]],
      });
      const fields = wire.fields as Record<string, unknown>[];
      expect(fields.map((f) => [f.name, f.dataTypeID])).toEqual([
        ["i", 23],
        ["b", 20],
        ["flag", 16],
        ["tags", 1009],
        ["nothing", 25],
      ]);
      for (const field of fields) {
        expect(Object.keys(field).sort()).toEqual(
          ["columnID", "dataTypeID", "dataTypeModifier", "dataTypeSize", "format", "name", "tableID"].sort(),
        );
        expect(field.format).toBe("text");
      }
    });

    it("answers typed JSON and object rows without the raw-text and array-mode headers", async () => {
      const response = await post({
        query:
          "SELECT 7::int AS n, 8::bigint AS big, true AS yes, 1.5::float8 AS f, '{\"k\":[1]}'::jsonb AS j, ARRAY[1,NULL,3] AS arr, $1::int[] AS param_arr",
        params: [[4, 5]],
      });
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({
        rowAsArray: false,
        rows: [{ n: 7, big: "8", yes: true, f: 1.5, j: { k: [1] }, arr: [1, null, 3], param_arr: [4, 5] }],
      });
    });

    it("runs sql.transaction with isolation level, read only and deferrable", async () => {
      const [count, settings] = await sql.transaction(
        [
          sql`SELECT count(*)::int AS n FROM items`,
          sql`SELECT current_setting('transaction_isolation') AS iso,
                     current_setting('transaction_read_only') AS ro,
                     current_setting('transaction_deferrable') AS deferrable`,
        ],
        { isolationLevel: "Serializable", readOnly: true, deferrable: true },
      );
      expect(count).toEqual([{ n: 0 }]);
      expect(settings).toEqual([{ iso: "serializable", ro: "on", deferrable: "on" }]);

      const readOnlyWrite = await neonError(sql.transaction([sql`INSERT INTO items (id, name) VALUES (900, 'nope')`], { readOnly: true }));
      expect(readOnlyWrite.code).toBe("25006");
      expect(await sql`SELECT count(*)::int AS n FROM items WHERE id = 900`).toEqual([{ n: 0 }]);
    });

    it("rolls back the whole transaction when one statement fails", async () => {
      const failure = await neonError(
        sql.transaction((tx) => [
          tx`INSERT INTO items (id, name) VALUES (100, 'first')`,
          tx`INSERT INTO items (id, name) VALUES (101, 'second')`,
          tx`INSERT INTO items (id, name) VALUES (102, 'first')`,
        ]),
      );
      expect(failure.code).toBe("23505");
      expect(await sql`SELECT count(*)::int AS n FROM items WHERE id IN (100, 101, 102)`).toEqual([{ n: 0 }]);

      const [inserted, selected] = await sql.transaction([
        sql`INSERT INTO items (id, name) VALUES (100, 'first') RETURNING id`,
        sql`SELECT name FROM items WHERE id = 100`,
      ]);
      expect(inserted).toEqual([{ id: 100 }]);
      expect(selected).toEqual([{ name: "first" }]);
    });

    it("carries SQLSTATE and the other error fields into NeonDbError", async () => {
      await sql`INSERT INTO items (id, name) VALUES (1, 'one')`;
      const duplicate = await neonError(sql`INSERT INTO items (id, name) VALUES (1, 'uno')`);
      expect(duplicate).toMatchObject({
        message: 'duplicate key value violates unique constraint "items_pkey"',
        code: "23505",
        severity: "ERROR",
        detail: "Key (id)=(1) already exists.",
        schema: "public",
        table: "items",
        constraint: "items_pkey",
      });

      const missing = await neonError(sql`SELECT * FROM no_such_table`);
      expect(missing).toMatchObject({ code: "42P01", position: "15", message: 'relation "no_such_table" does not exist' });
      expect(missing.hint).toBeUndefined();

      expect((await neonError(sql`SELEC 1`)).code).toBe("42601");
      // Like Neon: one statement per query (extended protocol).
      expect((await neonError(sql.query("SELECT 1; SELECT 2"))).code).toBe("42601");
    });

    it("honours fullResults and arrayMode", async () => {
      const full = await sql.query("SELECT 1::int AS a, $1::text AS b", ["x"], { fullResults: true, arrayMode: true });
      expect(full.rows).toEqual([[1, "x"]]);
      expect(full.command).toBe("SELECT");
      expect(full.rowCount).toBe(1);
      expect(full.rowAsArray).toBe(true);
      expect(full.fields.map((f) => [f.name, f.dataTypeID])).toEqual([
        ["a", 23],
        ["b", 25],
      ]);

      const fullSql = neon(handle.connectionString, { fullResults: true });
      const insert = await fullSql`INSERT INTO items (id, name) VALUES (10, 'ten'), (11, 'eleven')`;
      expect(insert).toMatchObject({ command: "INSERT", rowCount: 2, rows: [] });
      const ddl = await fullSql`CREATE TEMP TABLE IF NOT EXISTS scratch (x int)`;
      expect(ddl).toMatchObject({ command: "CREATE", rowCount: null });

      const arraySql = neon(handle.connectionString, { arrayMode: true });
      expect(await arraySql`SELECT name, id FROM items WHERE id IN (10, 11) ORDER BY id`).toEqual([
        ["ten", 10],
        ["eleven", 11],
      ]);
    });

    it("does not leave a session inside a transaction after a lone BEGIN", async () => {
      await sql`BEGIN`;
      // Two autocommit statements get two transaction ids; inside a dangling block they share one.
      const [first] = (await sql`SELECT txid_current()::text AS id`) as Record<string, unknown>[];
      const [second] = (await sql`SELECT txid_current()::text AS id`) as Record<string, unknown>[];
      expect(BigInt(String(second?.id))).toBeGreaterThan(BigInt(String(first?.id)));
    });

    it("loads pg_trgm", async () => {
      await sql`CREATE EXTENSION IF NOT EXISTS pg_trgm`;
      expect(await sql`SELECT similarity('word', 'words') > 0.5 AS close`).toEqual([{ close: true }]);
    });

    it("accepts large bodies", async () => {
      const big = "x".repeat(8 * 1024 * 1024);
      expect(await sql`SELECT length(${big}::text) AS len`).toEqual([{ len: big.length }]);
    });

    it("answers protocol errors with HTTP 400 and Neon's error body", async () => {
      const noConnection = await fetch(handle.fetchEndpoint, { method: "POST", body: '{"query":"SELECT 1"}' });
      expect(noConnection.status).toBe(400);
      expect(await noConnection.json()).toMatchObject({ message: expect.stringContaining("Neon-Connection-String") });

      const badLevel = await post({ queries: [] }, { "Neon-Batch-Isolation-Level": "Chaotic" });
      expect(badLevel.status).toBe(400);
      expect(await badLevel.json()).toMatchObject({ message: "invalid isolation level" });

      const badJson = await fetch(handle.fetchEndpoint, {
        method: "POST",
        headers: { "Neon-Connection-String": handle.connectionString },
        body: "{",
      });
      expect(badJson.status).toBe(400);

      const emptyBatch = await post({ queries: [] });
      expect(await emptyBatch.json()).toEqual({ results: [] });
    });

    it("serves drizzle-orm/neon-http: text[] columns, upsert and atomic db.batch", async () => {
      const db = drizzle({ client: sql });

      await db.insert(products).values([
        { id: 1, name: "Shirt", tags: ["cotton", "summer"] },
        { id: 2, name: "Socks", tags: [] },
      ]);
      expect(await db.select().from(products).orderBy(products.id)).toEqual([
        { id: 1, name: "Shirt", tags: ["cotton", "summer"] },
        { id: 2, name: "Socks", tags: [] },
      ]);

      await db
        .insert(products)
        .values({ id: 1, name: "Shirt v2", tags: ["a, b", 'q"uote', "NULL"] })
        .onConflictDoUpdate({
          target: products.id,
          set: { name: drizzleSql`excluded.name`, tags: drizzleSql`excluded.tags` },
        });
      expect(await db.select().from(products).where(eq(products.id, 1))).toEqual([
        { id: 1, name: "Shirt v2", tags: ["a, b", 'q"uote', "NULL"] },
      ]);

      const [inserted, listed] = await db.batch([
        db
          .insert(products)
          .values({ id: 3, name: "Hat", tags: ["wool"] })
          .returning({ id: products.id }),
        db
          .select({ name: products.name })
          .from(products)
          .where(inArray(products.id, [1, 3]))
          .orderBy(products.id),
      ]);
      expect(inserted).toEqual([{ id: 3 }]);
      expect(listed).toEqual([{ name: "Shirt v2" }, { name: "Hat" }]);

      const failed = await neonError(
        db.batch([
          db.insert(products).values({ id: 4, name: "Scarf", tags: [] }),
          db.insert(products).values({ id: 1, name: "Duplicate", tags: [] }),
        ]),
      );
      expect(failed.code).toBe("23505");
      expect(await db.select().from(products).where(eq(products.id, 4))).toEqual([]);
    });

    it("serves concurrent requests, transactions included", async () => {
      const ids = Array.from({ length: 12 }, (_, i) => 300 + i);
      await Promise.all(
        ids.map((id) =>
          id % 2 === 0
            ? sql.transaction([
                sql`INSERT INTO items (id, name) VALUES (${id}, ${`concurrent ${id}`})`,
                sql`SELECT count(*) FROM items WHERE id = ${id}`,
              ])
            : sql`INSERT INTO items (id, name) VALUES (${id}, ${`concurrent ${id}`})`,
        ),
      );
      expect(await sql`SELECT count(*)::int AS n FROM items WHERE id BETWEEN 300 AND 311`).toEqual([{ n: 12 }]);
    });

    it("counts one request per query and per batch, and apart per connection-string user", async () => {
      const db = drizzle({ client: sql });
      handle.resetStats();

      await sql`SELECT 1`;
      expect(handle.stats()).toEqual({ requests: 1, byPath: { "/sql": 1 }, byUser: { seller: 1 } });
      await sql.transaction([sql`SELECT 1`, sql`SELECT 2`, sql`SELECT 3`]);
      await db.batch([db.select().from(products), db.select().from(products).where(eq(products.id, 1))]);
      await neon(handle.connectionString.replace("seller:", "probe_1:"))`SELECT 1`;
      const counted = { requests: 4, byPath: { "/sql": 4 }, byUser: { seller: 3, probe_1: 1 } };
      expect(handle.stats()).toEqual(counted);

      const overHttp = await fetch(`${handle.url}/__stats`);
      expect(await overHttp.json()).toEqual(counted);
      await fetch(`${handle.url}/__stats/reset`, { method: "POST" });
      expect(handle.stats()).toEqual({ requests: 0, byPath: {}, byUser: {} });
    });

    it("injects faults: every n-th request whose SQL matches fails with 503 before Postgres sees it", async () => {
      const control = `${handle.url}/__control/faults`;
      const bad = await fetch(control, { method: "POST", body: JSON.stringify({ match: "", everyNth: 0 }) });
      expect(bad.status).toBe(400);
      const added = await fetch(control, { method: "POST", body: JSON.stringify({ match: "fault_probe", everyNth: 2 }) });
      expect(added.status).toBe(201);
      const outcomes: string[] = [];
      for (let id = 500; id < 504; id++) {
        const res = await post({ queries: [{ query: `INSERT INTO items (id, name) VALUES (${id}, 'fault_probe ${id}')` }] });
        outcomes.push(String(res.status));
      }
      expect(outcomes).toEqual(["200", "503", "200", "503"]);
      // A failed batch committed nothing; unmatched statements are never failed.
      expect(await sql`SELECT id FROM items WHERE id BETWEEN 500 AND 503 ORDER BY id`).toEqual([{ id: 500 }, { id: 502 }]);
      expect((await post({ query: "SELECT 1" })).status).toBe(200);
      expect(await (await fetch(control)).json()).toEqual({ faults: [{ match: "fault_probe", everyNth: 2, seen: 4, injected: 2 }] });
      await fetch(control, { method: "DELETE" });
      expect((await post({ query: "SELECT 'fault_probe'" })).status).toBe(200);
    });
  });
}
