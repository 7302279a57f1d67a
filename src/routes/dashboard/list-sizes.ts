/**
 * `GET /api/v1/sizes` — the distinct `techSize` values of the org's stock rows, in logical
 * order: one size (`0`) first, then letters (XXS…5XL), numerics by first number, the rest
 * alphabetically (rules in `./sizes.ts`). One Neon request (one query).
 * Errors: 400 (unknown parameter), 401, 403.
 */
import { eq } from "drizzle-orm";
import { Hono } from "hono";
import type { AppEnv } from "../../core/app";
import { cacheTtl } from "../../core/cache";
import { stocks } from "../../core/db/schema";
import { cachedRead } from "../../core/middleware";
import { validate } from "../../core/validation";
import { requireDashboardReader } from "./access";
import { noQuery, type SizeList } from "./schemas";
import { compareSizes } from "./sizes";

/** `GET /sizes`, mounted under `/api/v1`. */
export const listSizes = new Hono<AppEnv>().get(
  "/sizes",
  requireDashboardReader(),
  cachedRead("dashboard", "sizes", cacheTtl.reference),
  validate("query", noQuery),
  async (c) => {
    const { orgId } = c.var.auth;
    const { db } = c.var.services;
    const rows = await db.selectDistinct({ techSize: stocks.techSize }).from(stocks).where(eq(stocks.orgId, orgId));
    return c.json({ items: rows.map((r) => r.techSize).sort(compareSizes) } satisfies SizeList);
  },
);
