/**
 * `PUT /api/v1/integrations/wildberries` `{ token }`: connects the org's Wildberries statistics API
 * token, or replaces it (a rotation), and queues the first sync.
 *
 * Checks, cheapest first, so nothing is stored that cannot work:
 * 1. the token's JWT payload, read without WB's signature (`readWbToken`): not a WB token → 400
 *    with a field error on `token`; no Statistics category, or expired → 422;
 * 2. WB's connectivity check on the statistics host (`GET /ping` on `WB_STATISTICS_API_URL`):
 *    a rejected token → 422; WB unreachable or failing → 502; WB's rate limit → 503 + `Retry-After`;
 * 3. then it is stored AES-GCM encrypted with its expiry, categories and who connected it, and a
 *    sync is queued (or the one in flight is kept; it reads the new token at its next attempt).
 * @see https://dev.wildberries.ru/openapi/api-information (tokens; `GET /ping`)
 */
import { sql } from "drizzle-orm";
import type { AuthContext } from "../../core/auth/jwt";
import { encryptSecret } from "../../core/crypto";
import { wbConnections } from "../../core/db/schema";
import { ApiError } from "../../core/errors";
import { defineOperation } from "../../core/route";
import { validationError } from "../../core/validation";
import { createWbStatisticsClient, WbAuthError, WbRateLimitError } from "../../integrations/wildberries/client";
import { readWbToken, WbTokenFormatError, type WbTokenInfo } from "../../integrations/wildberries/token";
import { describeCause } from "../../jobs/failure-cause";
import { enqueueWbSync } from "../../jobs/wb-sync-enqueue";
import { connectionColumns, lastSyncQuery, toConnectionView } from "./connection";
import { connectionManagers, group } from "./group";
import { connectWildberriesBody, wildberriesConnection } from "./schemas";

/** Timeout of WB's connectivity check, ms: the caller is waiting. */
const PING_TIMEOUT_MS = 10_000;

/** The token's payload, or the 400/422 that refuses it. */
function checkToken(token: string, now = Date.now()): WbTokenInfo {
  let info: WbTokenInfo;
  try {
    info = readWbToken(token);
  } catch (err) {
    if (!(err instanceof WbTokenFormatError)) throw err;
    throw validationError("json", [{ path: "token", message: err.message }]);
  }
  if (!info.categories.includes("statistics")) {
    const has = info.categories.length ? `it grants ${info.categories.join(", ")}` : "it grants no known category";
    throw new ApiError("UNPROCESSABLE", {
      detail: `The token lacks Statistics access (${has}); create a token with the Statistics category.`,
    });
  }
  if (info.expiresAt.getTime() <= now) {
    throw new ApiError("UNPROCESSABLE", { detail: `The token expired on ${info.expiresAt.toISOString()}; create a new one.` });
  }
  return info;
}

/** Connects or replaces the org's Wildberries token (owners, admins). */
export const connectWildberries = defineOperation({
  route: group.route({
    method: "put",
    path: "/api/v1/integrations/wildberries",
    summary: "Connect the org's Wildberries token",
    description: [
      "Takes a WB API token with the Statistics category (WB tokens are JWTs valid for 180 days). Its payload is read " +
        "without WB's signature to refuse a malformed token (400, field error on `token`), one without the Statistics " +
        "category or an expired one (422); then WB's connectivity check on the statistics host (`GET /ping`) must accept " +
        "it (a rejection is 422, WB unreachable or failing 502, WB's rate limit 503).",
      "Only then is it stored, AES-GCM encrypted, with its expiry and categories — replacing the org's previous token — " +
        "and a sync is queued (or the one in flight continues, with the new token from its next attempt). The token is " +
        "never answered: 201 with the connection when the org had none, 200 when it replaced one.",
    ].join("\n\n"),
    access: connectionManagers,
    request: { body: { required: true, content: { "application/json": { schema: connectWildberriesBody } } } },
    errors: {
      422: "The token lacks the Statistics category, has expired, or WB rejected it (`detail` says which).",
      502: "WB could not check the token (unreachable, or an error or unexpected answer); nothing was stored.",
      503: "WB rate-limited its connectivity check (retry after `Retry-After` seconds), or rate limiting is unavailable (production).",
    },
    responses: {
      200: {
        description: "The token replaced the org's previous one.",
        content: { "application/json": { schema: wildberriesConnection } },
      },
      201: { description: "The org is connected.", content: { "application/json": { schema: wildberriesConnection } } },
    },
  }),
  handler: async (c) => {
    const { token } = c.req.valid("json");
    const auth: AuthContext = c.var.auth;
    const services = c.var.services;
    const { config, db, logger } = services;
    const info = checkToken(token);

    try {
      await createWbStatisticsClient({ baseUrl: config.WB_STATISTICS_API_URL, token, timeoutMs: PING_TIMEOUT_MS }).ping();
    } catch (err) {
      const cause = describeCause(err);
      logger.info("wildberries token check failed", { orgId: auth.orgId, cause });
      // `WB rejected the token (401): <WB's reason> [GET /ping]`.
      if (err instanceof WbAuthError) throw new ApiError("UNPROCESSABLE", { detail: cause, cause: err });
      if (err instanceof WbRateLimitError) {
        throw new ApiError("SERVICE_UNAVAILABLE", {
          detail: `WB rate-limited the token check; retry after ${err.retryAfterSeconds} s.`,
          headers: { "Retry-After": String(Math.max(1, err.retryAfterSeconds)) },
          cause: err,
        });
      }
      throw new ApiError("BAD_GATEWAY", { detail: `WB could not check the token: ${cause}`, cause: err });
    }

    const values = {
      tokenCiphertext: await encryptSecret(token, config.ENCRYPTION_KEY),
      expiresAt: info.expiresAt.toISOString(),
      categories: info.categories,
      connectedBy: auth.kind === "user" ? auth.userId : null,
    };
    const [[stored], [last]] = await db.batch([
      db
        .insert(wbConnections)
        .values({ orgId: auth.orgId, ...values })
        .onConflictDoUpdate({ target: wbConnections.orgId, set: { ...values, updatedAt: sql`now()` } })
        // A new row has created_at = updated_at (both now() of this transaction); a replaced one keeps its created_at.
        .returning({
          ...connectionColumns,
          created: sql<number>`(${wbConnections.createdAt} = ${wbConnections.updatedAt})::int`.mapWith(Number),
        }),
      lastSyncQuery(db, auth.orgId),
    ]);
    if (!stored) throw new Error("the connection upsert returned no row");

    const sync = await enqueueWbSync(services, auth.orgId, (work) => c.executionCtx.waitUntil(work)).catch((err: unknown) => {
      // The token is stored; the cron's next slot syncs if this could not queue one.
      logger.warn("wildberries connected, but the first sync was not queued", { orgId: auth.orgId, cause: describeCause(err) });
      return undefined;
    });
    logger.info("wildberries connected", {
      orgId: auth.orgId,
      replaced: stored.created !== 1,
      expiresAt: values.expiresAt,
      categories: values.categories,
      sync: sync && "jobId" in sync ? sync : undefined,
    });
    return c.json(toConnectionView(stored, last?.lastSyncAt), stored.created === 1 ? 201 : 200);
  },
});
