/**
 * `POST /jobs/wb-sync` — QStash delivers a `wb-sync` job here (body `{ jobId }`).
 * 401 without a valid `Upstash-Signature` for `PUBLIC_JOBS_URL/jobs/wb-sync`; 400 for a bad body;
 * then see `src/jobs/wb-sync-delivery.ts` for the answers (200 done/continued/ignored, 429 with
 * `Retry-After`, 5xx so QStash retries).
 */
import { Hono } from "hono";
import type { AppEnv } from "../../core/app";
import { strictQuery } from "../../core/validation";
import { jobPaths } from "../../jobs/ledger";
import { deliverWbSync } from "../../jobs/wb-sync-delivery";
import { qstashJson, requireQStashSignature } from "./qstash";
import { jobMessageBody } from "./schemas";

export const wbSyncDelivery = new Hono<AppEnv>().post(
  "/wb-sync",
  requireQStashSignature(jobPaths["wb-sync"]),
  strictQuery(),
  qstashJson(jobMessageBody),
  async (c) => {
    const { jobId } = c.req.valid("json");
    return c.json(await deliverWbSync(c.var.services, jobId));
  },
);
