/**
 * Keeping Kommo OAuth tokens fresh: the hourly cron queues one `kommo-token-refresh` job per
 * connected, enabled Kommo integration whose access token expires within
 * {@link REFRESH_HORIZON_HOURS} hours (Kommo's access tokens live 24 hours), and each delivery
 * refreshes that integration's tokens.
 *
 * - Idempotency key `kommo-token-refresh:{integrationId}:{hour slot}` (slot `YYYY-MM-DDTHHZ`, UTC):
 *   a cron that fires twice in an hour adds nothing.
 * - A delivery (`runJobDelivery`) stores the new token pair as soon as Kommo issues it, not in the
 *   batch with the `succeeded` mark: Kommo's refresh token is single use, so a pair lost to a failed
 *   batch would disconnect the integration. A token refreshed meanwhile (on demand, or by another
 *   delivery) is left alone (`skipped`).
 * - Failures say their cause (`Kommo refused the refresh_token grant (401): Token has been revoked;
 *   reconnect …`) and make QStash retry; after the last retry the dead letter keeps it.
 */
import { and, eq, isNotNull, isNull, lt, sql } from "drizzle-orm";
import type { Services } from "../core/context";
import { crmIntegrations } from "../core/db/schema";
import { isoTime } from "../core/time";
import { KommoNotConnectedError, kommoConnection } from "../crm/kommo";
import { KommoApiError, KommoRateLimitError, KommoUnavailableError } from "../integrations/kommo/client";
import {
  insertJob,
  JobAttemptError,
  type JobDeliveryResult,
  type JobPublication,
  type JobWork,
  publishJobs,
  runJobDelivery,
} from "./ledger";

/** An access token expiring within this many hours is refreshed by the cron. */
export const REFRESH_HORIZON_HOURS = 6;

/** The hour slot of a cron firing, `YYYY-MM-DDTHHZ` (UTC). */
export const hourSlot = (scheduledTime: number) => `${new Date(scheduledTime).toISOString().slice(0, 13)}Z`;

/** The idempotency key of integration `integrationId`'s refresh in `slot`. */
export const tokenRefreshKey = (integrationId: string, slot: string) => `kommo-token-refresh:${integrationId}:${slot}`;

/**
 * Creates this hour's refresh jobs (one query for the integrations, one batch of inserts) and
 * publishes them with QStash's batch API under their idempotency keys.
 * @returns the slot, how many jobs were created and how many published.
 */
export async function enqueueKommoTokenRefreshes(services: Pick<Services, "db" | "queue" | "config" | "logger">, scheduledTime: number) {
  const { db } = services;
  const slot = hourSlot(scheduledTime);
  const due = await db
    .select({ id: crmIntegrations.id, orgId: crmIntegrations.orgId })
    .from(crmIntegrations)
    .where(
      and(
        eq(crmIntegrations.provider, "kommo"),
        isNull(crmIntegrations.disabledAt),
        isNotNull(crmIntegrations.refreshTokenCiphertext),
        lt(crmIntegrations.accessTokenExpiresAt, sql`now() + make_interval(hours => ${REFRESH_HORIZON_HOURS})`),
      ),
    );
  const inserts = due.map((integration) => {
    const key = tokenRefreshKey(integration.id, slot);
    return {
      key,
      statement: insertJob(db, {
        id: crypto.randomUUID(),
        kind: "kommo-token-refresh",
        orgId: integration.orgId,
        idempotencyKey: key,
        payload: { integrationId: integration.id },
      }),
    };
  });
  const [first, ...rest] = inserts.map((i) => i.statement);
  const results = first ? await db.batch([first, ...rest]) : [];
  const publications: JobPublication[] = results.flatMap((rows, i) =>
    rows.map((row) => ({ jobId: row.id, kind: "kommo-token-refresh" as const, deduplicationId: inserts[i]?.key ?? row.id })),
  );
  const published = await publishJobs(services, publications);
  services.logger.info("scheduled kommo-token-refresh jobs", { slot, due: due.length, created: publications.length, published });
  return { slot, created: publications.length, published };
}

/** What one refresh did: `refreshed` (new expiry) or `skipped` (why). */
export type KommoTokenRefreshResult =
  | { integrationId: string; action: "refreshed"; expiresAt: string }
  | { integrationId: string; action: "skipped"; reason: string };

/** The integration id of a job payload. @throws JobAttemptError 500 when there is none. */
function integrationIdOf(payload: unknown): string {
  const id = (payload as { integrationId?: unknown } | null)?.integrationId;
  if (typeof id !== "string" || !/^[0-9a-f-]{36}$/i.test(id)) {
    throw new JobAttemptError("the kommo-token-refresh job has no integrationId in its payload", 500);
  }
  return id;
}

/** Maps a Kommo failure to the answer that makes QStash retry. */
function attemptError(err: unknown): unknown {
  if (err instanceof KommoRateLimitError) return new JobAttemptError(err.message, 429, err.retryAfterSeconds, { cause: err });
  if (err instanceof KommoUnavailableError) return new JobAttemptError(err.message, 503, undefined, { cause: err });
  if (err instanceof KommoApiError) return new JobAttemptError(err.message, 502, undefined, { cause: err });
  return err;
}

/**
 * One delivery of a `kommo-token-refresh` job: claims it, refreshes the integration's tokens when
 * they still expire within {@link REFRESH_HORIZON_HOURS} hours (storing the new pair at once), and
 * marks it succeeded; a disabled or unconnected integration is `skipped`.
 * @throws ApiError 429/500/502/503 with the cause, so QStash retries (see `runJobDelivery`).
 */
export function deliverKommoTokenRefresh(
  services: Pick<Services, "db" | "redis" | "config" | "logger" | "metrics">,
  jobId: string,
): Promise<JobDeliveryResult<KommoTokenRefreshResult>> {
  return runJobDelivery(services, "kommo-token-refresh", jobId, async (job): Promise<JobWork<KommoTokenRefreshResult>> => {
    const integrationId = integrationIdOf(job.payload);
    const [row] = await services.db
      .select({ disabledAt: crmIntegrations.disabledAt })
      .from(crmIntegrations)
      .where(eq(crmIntegrations.id, integrationId));
    if (!row) return { writes: [], result: { integrationId, action: "skipped", reason: "the integration no longer exists" } };
    if (row.disabledAt !== null) {
      return {
        writes: [],
        result: { integrationId, action: "skipped", reason: `the integration was disabled at ${isoTime(row.disabledAt)}` },
      };
    }
    try {
      const connection = await kommoConnection(services, integrationId);
      if (connection.expiresAt() - Date.now() > REFRESH_HORIZON_HOURS * 3_600_000) {
        const expiresAt = new Date(connection.expiresAt()).toISOString();
        return {
          writes: [],
          result: { integrationId, action: "skipped", reason: `already refreshed: the access token expires at ${expiresAt}` },
        };
      }
      const tokens = await connection.refresh();
      return { writes: [], result: { integrationId, action: "refreshed", expiresAt: new Date(tokens.expiresAt).toISOString() } };
    } catch (err) {
      if (err instanceof KommoNotConnectedError) return { writes: [], result: { integrationId, action: "skipped", reason: err.message } };
      throw attemptError(err);
    }
  });
}
