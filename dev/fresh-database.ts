/**
 * A fresh, empty database on a Postgres server, for a run that must start from nothing (the tests'
 * global setup, the bench) and must not touch the server's other databases.
 */
import pg from "pg";

/**
 * Creates `<prefix>_<ms>_<pid>` on the server of `url` (which must allow `CREATE DATABASE`);
 * answers its URL and a `drop` (`DROP DATABASE … WITH (FORCE)`: open connections are closed).
 */
export async function freshDatabase(url: string, prefix: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `${prefix}_${Date.now()}_${process.pid}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const dbUrl = new URL(url);
  dbUrl.pathname = `/${name}`;
  return {
    url: dbUrl.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
