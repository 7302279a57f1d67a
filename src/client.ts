/**
 * The typed client of the Seller Edge API for dashboards and scripts, built on Hono RPC (`hc`):
 * paths, parameters, bodies and response types are inferred from the route declarations, so a
 * client compiled against this version cannot call a route or read a field that does not exist.
 * Only types are imported from the server: a bundle of this client holds `hono/client` alone.
 *
 * Each route group is its own Worker in production, so each has its own base URL (one URL for
 * all in local development). The access token is read before every request, so a refresh takes
 * effect at once.
 * @example
 * const api = createClient({ baseUrl: "http://127.0.0.1:8787", accessToken: () => token });
 * const res = await api.dashboard.api.v1.analytics.sales.$get({ query: { period: "7d" } });
 * if (res.ok) console.log((await res.json()).totals.buyouts);
 * @see https://hono.dev/docs/guides/rpc
 */
import { hc } from "hono/client";
import type { assistant } from "./routes/assistant";
import type { auth } from "./routes/auth";
import type { crm } from "./routes/crm";
import type { dashboard } from "./routes/dashboard";
import type { helpdesk } from "./routes/helpdesk";
import type { integrations } from "./routes/integrations";
import type { jobs } from "./routes/jobs";

/** The routes of the `auth` Worker. */
export type AuthApi = (typeof auth)["routes"];
/** The routes of the `dashboard` Worker. */
export type DashboardApi = (typeof dashboard)["routes"];
/** The routes of the `jobs` Worker (sync and dead letters). */
export type JobsApi = (typeof jobs)["routes"];
/** The routes of the `integrations` Worker (the org's Wildberries connection). */
export type IntegrationsApi = (typeof integrations)["routes"];
/** The routes of the `crm` Worker (leads and received CRM events). */
export type CrmApi = (typeof crm)["routes"];
/** The routes of the `assistant` Worker (the LLM assistant bot: registration, settings, statistics). */
export type AssistantApi = (typeof assistant)["routes"];
/** The routes of the `helpdesk` Worker (the support bot and the tickets panel). */
export type HelpdeskApi = (typeof helpdesk)["routes"];

/** Options of {@link createClient}. */
export interface ClientOptions {
  /** One base URL for every group (the all-in-one Worker), or one per group Worker. */
  baseUrl:
    | string
    | { auth: string; dashboard: string; jobs: string; integrations: string; crm: string; assistant: string; helpdesk: string };
  /** The current access token (from login or refresh); none for public routes. */
  accessToken?: () => string | undefined | Promise<string | undefined>;
  /** A `fetch` to use instead of the global one (tests, service bindings). */
  fetch?: typeof fetch;
}

/** A client per route group: `auth`, `dashboard`, `jobs`, `integrations`, `crm`, `assistant`, `helpdesk`. */
export function createClient(options: ClientOptions) {
  const url = (group: "auth" | "dashboard" | "jobs" | "integrations" | "crm" | "assistant" | "helpdesk") =>
    typeof options.baseUrl === "string" ? options.baseUrl : options.baseUrl[group];
  const headers = async (): Promise<Record<string, string>> => {
    const token = await options.accessToken?.();
    return token ? { Authorization: `Bearer ${token}` } : {};
  };
  const init = { headers, ...(options.fetch ? { fetch: options.fetch } : {}) };
  return {
    auth: hc<AuthApi>(url("auth"), init),
    dashboard: hc<DashboardApi>(url("dashboard"), init),
    jobs: hc<JobsApi>(url("jobs"), init),
    integrations: hc<IntegrationsApi>(url("integrations"), init),
    crm: hc<CrmApi>(url("crm"), init),
    assistant: hc<AssistantApi>(url("assistant"), init),
    helpdesk: hc<HelpdeskApi>(url("helpdesk"), init),
  };
}

/** The client {@link createClient} returns. */
export type SellerEdgeClient = ReturnType<typeof createClient>;
