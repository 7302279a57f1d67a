/**
 * `GET /api/v1/sizes` — the distinct `techSize` values of the org's stock rows, in logical
 * order: one size (`0`) first, then letters (XXS…5XL), numerics by first number, the rest
 * alphabetically (rules in `./sizes.ts`). One Neon request (one query: a loose index scan, one
 * index probe per distinct size).
 * Errors: 400 (unknown parameter), 401, 403.
 */
import { defineOperation } from "../../core/route";
import { cacheTtl, dashboardReaders, group } from "./group";
import { sizeList } from "./schemas";
import { compareSizes, distinctSizes } from "./sizes";

/** `GET /sizes`, mounted under `/api/v1`. */
export const listSizes = defineOperation({
  route: group.route({
    method: "get",
    path: "/api/v1/sizes",
    summary: "Sizes in the org's stock, in logical order",
    access: dashboardReaders,
    cache: { name: "sizes", ttlSeconds: cacheTtl.reference },

    responses: {
      200: { description: "Sizes in the org's stock, in logical order.", content: { "application/json": { schema: sizeList } } },
    },
  }),
  handler: async (c) => {
    const { orgId } = c.var.auth;
    const { db } = c.var.services;
    const { rows } = await distinctSizes(db, orgId);
    return c.json({ items: rows.map((r) => r.tech_size).sort(compareSizes) }, 200);
  },
});
