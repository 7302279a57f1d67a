/**
 * Every job kind of the one job ledger (`src/jobs/ledger.ts`) and its budget, declared in one
 * place: the path QStash delivers it to, QStash's retries and delivery timeout, the lease a
 * delivery holds, and which jobs may not run side by side.
 *
 * The lease must outlive one delivery's work (a delivery that outlives it loses its writes, see
 * the fencing in `ledger.ts`); the delivery timeout must outlive the lease so QStash does not
 * retry a delivery that is still working. QStash retries with exponential backoff
 * (`min(86400, e^(2.5·n))` seconds, so 5 retries span about 2.5 hours), then calls the failure
 * callback, which lands the dead letter.
 * @see https://upstash.com/docs/qstash/features/retry
 */

/** The budget and path of one job kind. */
export interface JobKindSpec {
  /** Path QStash delivers the kind's messages to (on `PUBLIC_JOBS_URL`). */
  path: string;
  /** QStash retries after the first delivery; then the failure callback (dead letter). */
  retries: number;
  /** QStash's timeout of one delivery, seconds (`Upstash-Timeout`). */
  deliveryTimeoutSeconds: number;
  /** Seconds a claim (or a heartbeat) holds a job. */
  leaseSeconds: number;
  /**
   * The concurrency key of a job of this kind for an org: at most one unfinished job per key
   * (index `jobs_active_concurrency_uq`); undefined = any number at once.
   */
  concurrencyKey?: (orgId: string) => string;
  /** One line for the admin API and docs. */
  description: string;
}

/** The job kinds. */
export const jobKinds = {
  "wb-sync": {
    path: "/jobs/wb-sync",
    retries: 5,
    deliveryTimeoutSeconds: 120,
    leaseSeconds: 60,
    concurrencyKey: (orgId: string) => `wb-sync:${orgId}`,
    description: "Sync an org's Wildberries orders, sales and stocks from their cursors (one at a time per org).",
  },
  "crm-event": {
    path: "/jobs/crm-event",
    retries: 5,
    deliveryTimeoutSeconds: 60,
    leaseSeconds: 30,
    description: "Apply one received CRM webhook event to the org's leads and contacts.",
  },
  "kommo-token-refresh": {
    path: "/jobs/kommo-token-refresh",
    retries: 5,
    deliveryTimeoutSeconds: 60,
    leaseSeconds: 30,
    description: "Refresh a Kommo integration's OAuth tokens before the access token expires.",
  },
  "helpdesk-update": {
    path: "/jobs/helpdesk-update",
    retries: 5,
    deliveryTimeoutSeconds: 60,
    leaseSeconds: 30,
    description: "Apply one Telegram update of an org's support bot: the client's conversation, tickets, messages, media.",
  },
  "helpdesk-notify": {
    path: "/jobs/helpdesk-notify",
    retries: 5,
    deliveryTimeoutSeconds: 60,
    leaseSeconds: 30,
    description: "Send a manager's reply to the client through the support bot (a blocked bot ends it without retries).",
  },
  "assistant-reply": {
    path: "/jobs/assistant-reply",
    retries: 3,
    deliveryTimeoutSeconds: 150,
    leaseSeconds: 120,
    description: "Answer one Telegram message to the LLM assistant: history, the model (with a fallback), the reply.",
  },
} as const satisfies Record<string, JobKindSpec>;

export type JobKind = keyof typeof jobKinds;

/** The job kinds, in declaration order. */
export const jobKindNames = Object.keys(jobKinds) as [JobKind, ...JobKind[]];

/** True when `kind` names a declared job kind. */
export const isJobKind = (kind: string): kind is JobKind => Object.hasOwn(jobKinds, kind);

/** The spec of `kind` (typed as the general shape). */
export const jobKindSpec = (kind: JobKind): JobKindSpec => jobKinds[kind];

/** The concurrency key of a new job of `kind` for `orgId`, or null. */
export const concurrencyKeyOf = (kind: JobKind, orgId: string): string | null => jobKindSpec(kind).concurrencyKey?.(orgId) ?? null;
