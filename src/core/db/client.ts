/**
 * Neon over HTTP (`@neondatabase/serverless` + `drizzle-orm/neon-http`): one fetch per
 * query or per `db.batch` (which runs as one transaction). There are no interactive
 * transactions on this driver; group writes that must commit together in `db.batch`.
 * @see https://orm.drizzle.team/docs/connect-neon
 */
import { neon, neonConfig } from "@neondatabase/serverless";
import { drizzle } from "drizzle-orm/neon-http";
import type { AppConfig } from "../env";
import * as schema from "./schema";

export type Database = ReturnType<typeof createDatabase>;

/**
 * Creates the Drizzle client. On the local stack `NEON_FETCH_ENDPOINT` points the
 * driver at the Neon `/sql` adapter; in production it is unset and the driver derives
 * the endpoint from the connection string's host.
 */
export function createDatabase(config: Pick<AppConfig, "DATABASE_URL" | "NEON_FETCH_ENDPOINT">) {
  if (config.NEON_FETCH_ENDPOINT) {
    const endpoint = config.NEON_FETCH_ENDPOINT;
    neonConfig.fetchEndpoint = () => endpoint;
  }
  return drizzle({ client: neon(config.DATABASE_URL), schema });
}

export { schema };
