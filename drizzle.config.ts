import { defineConfig } from "drizzle-kit";

/** drizzle-kit generates SQL migrations from the schema; `npm run db:migrate` applies them. */
export default defineConfig({
  dialect: "postgresql",
  schema: "./src/core/db/schema/index.ts",
  out: "./migrations",
});
