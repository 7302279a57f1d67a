/**
 * `npm run db:migrate` (`scripts/migrate.ts`) through the Neon `/sql` adapter over an in-memory
 * PGlite: every migration applied and recorded as Drizzle records them, a second run applies
 * nothing, and a migration that fails halfway leaves nothing behind (one transaction).
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { neon, neonConfig } from "@neondatabase/serverless";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type NeonHttpHandle, startNeonHttp } from "../../dev/neon-http";
import { createPgliteEngine, type SqlEngine } from "../../dev/sql-engine";
import { applyMigrations } from "../../scripts/migrate";

const journal = JSON.parse(readFileSync("migrations/meta/_journal.json", "utf8")) as { entries: { when: number; tag: string }[] };

describe("applyMigrations", () => {
  let engine: SqlEngine;
  let adapter: NeonHttpHandle;
  let folder: string;
  const query = async (text: string) => {
    neonConfig.fetchEndpoint = () => adapter.fetchEndpoint;
    return neon(adapter.connectionString).query(text);
  };

  beforeAll(async () => {
    engine = await createPgliteEngine();
    adapter = await startNeonHttp({ engine });
    folder = mkdtempSync(join(tmpdir(), "migrations-"));
    cpSync("migrations", folder, { recursive: true });
  });
  afterAll(async () => {
    await adapter?.close();
    await engine?.close();
    if (folder) rmSync(folder, { recursive: true, force: true });
  });

  it("applies every migration once, recorded in drizzle.__drizzle_migrations", async () => {
    expect(await applyMigrations(adapter.connectionString, adapter.fetchEndpoint, folder)).toEqual({ applied: journal.entries.length });
    const recorded = await query("SELECT created_at FROM drizzle.__drizzle_migrations ORDER BY created_at");
    expect(recorded.map((r) => Number(r.created_at))).toEqual(journal.entries.map((e) => e.when));
    const tables = await query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'");
    expect(tables.map((t) => t.table_name)).toEqual(expect.arrayContaining(["orgs", "users", "jobs", "orders", "sync_state"]));
    expect(await applyMigrations(adapter.connectionString, adapter.fetchEndpoint, folder)).toEqual({ applied: 0 });
  });

  it("rolls a failing migration back entirely, and applies it once fixed", async () => {
    const tag = "9999_broken";
    const when = Math.max(...journal.entries.map((e) => e.when)) + 1;
    const entries = [...journal.entries, { idx: journal.entries.length, version: "7", when, tag, breakpoints: true }];
    writeFileSync(join(folder, "meta/_journal.json"), JSON.stringify({ ...journal, entries }));
    writeFileSync(join(folder, `${tag}.sql`), 'CREATE TABLE "half_done" (x integer);--> statement-breakpoint\nSELECT 1 / 0;');
    await expect(applyMigrations(adapter.connectionString, adapter.fetchEndpoint, folder)).rejects.toThrow(/division by zero/);
    expect(await query("SELECT to_regclass('public.half_done') AS t")).toEqual([{ t: null }]);
    expect(await query("SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations")).toEqual([{ n: journal.entries.length }]);

    writeFileSync(join(folder, `${tag}.sql`), 'CREATE TABLE "half_done" (x integer);--> statement-breakpoint\nSELECT 1;');
    expect(await applyMigrations(adapter.connectionString, adapter.fetchEndpoint, folder)).toEqual({ applied: 1 });
    expect(await query("SELECT to_regclass('public.half_done')::text AS t")).toEqual([{ t: "half_done" }]);
  });
});
