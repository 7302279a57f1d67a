/**
 * Request and response schemas of the `integrations` route group. Times are RFC 3339 UTC; a WB
 * token is accepted in a request and never answered.
 */
import { z } from "@hono/zod-openapi";
import { wbTokenCategories } from "../../integrations/wildberries/token";

/** Body of `PUT /api/v1/integrations/wildberries`. */
export const connectWildberriesBody = z
  .object({
    /** The seller's WB API token (a JWT from the seller portal: Settings → Access to API), with the Statistics category. */
    token: z
      .string()
      .trim()
      .min(1)
      .max(4096)
      .openapi({ description: "A WB API token with the Statistics category (a JWT, `eyJ…`).", example: "eyJhbGciOiJFUzI1NiIs…" }),
  })
  .strict();

/** The org's Wildberries connection: whether there is one, its token's expiry and categories, the last successful sync. */
export const wildberriesConnection = z
  .object({
    connected: z.boolean(),
    /** When the token expires (its JWT `exp`); null when not connected or unknown. */
    expiresAt: z.string().nullable(),
    /** Whole days until then (0 once expired); null when not connected or unknown. */
    daysLeft: z.number().int().nonnegative().nullable(),
    /** Within 14 days of expiry (or expired): time to connect a new token. */
    expiringSoon: z.boolean(),
    /** The WB API categories the token grants (from its JWT `s`); empty when not connected or unknown. */
    categories: z.array(z.enum(wbTokenCategories)),
    /** When a sync last succeeded; null before the first. Synced data outlives a disconnection, and so does this. */
    lastSyncAt: z.string().nullable(),
  })
  .openapi("WildberriesConnection");
export type WildberriesConnection = z.infer<typeof wildberriesConnection>;
