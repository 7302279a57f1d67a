/** The Drizzle schema: source of every table and row type. drizzle-kit generates `migrations/` from it. */
export * from "./credentials";
export * from "./crm";
export * from "./identity";
export * from "./jobs";
export * from "./marketplace";
