/** The Drizzle schema: source of every table and row type. drizzle-kit generates `migrations/` from it. */
export * from "./assistant";
export * from "./credentials";
export * from "./crm";
export * from "./helpdesk";
export * from "./identity";
export * from "./jobs";
export * from "./marketplace";
export * from "./telegram";
