/**
 * The route-group registry: every group, once. The all-in-one Worker (`src/workers/all.ts`),
 * the env check of `RATE_LIMIT_OVERRIDES`, the `npm run build` and `npm run deploy` loop (`scripts/deploy.ts`), the
 * wrangler.toml check and the security tests all read this list. A group's own Worker entry is
 * `src/routes/<name>/worker.ts`, deployed as wrangler env `<name>` with the group's `crons` as
 * its triggers. Adding a group: its folder, one line here, and its `[env.<name>]` block.
 */
import type { RouteGroup } from "../core/route";
import { assistant } from "./assistant";
import { auth } from "./auth";
import { crm } from "./crm";
import { dashboard } from "./dashboard";
import { helpdesk } from "./helpdesk";
import { integrations } from "./integrations";
import { jobs } from "./jobs";
import { webhooks } from "./webhooks";

export const routeGroups: readonly RouteGroup[] = [auth, dashboard, jobs, integrations, crm, webhooks, assistant, helpdesk];
