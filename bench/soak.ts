/**
 * The webhook soak of `npm run bench`: `deliveries` signed Standard Webhooks deliveries
 * (default 10,000) to `POST /webhooks/crm/{id}` of a fresh integration — 10 % of them duplicates
 * (the same `webhook-id` delivered again, as a sender's retry) and the rest `lead.updated` events
 * over 2,000 leads in shuffled order (so most leads see updates out of order) — while the Neon
 * adapter fails every 20th commit of the `crm-event` consumer (5 % injected consumer failures:
 * the delivery dies before its writes commit, QStash retries it).
 *
 * It passes only when every distinct event is processed exactly once (one inbox row, one job,
 * `succeeded`), none is lost or dead, and every lead holds its newest update. It reports the
 * ingest's requests/s, p50/p99 latency, and the time until the last event was processed.
 * @see https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
 */
import { Worker } from "node:worker_threads";
import { Webhook } from "standardwebhooks";
import type { LocalEnvironment } from "../scripts/local-env";
import type { SendResult } from "./soak-sender";

/** Leads the events update. */
const LEADS = 2_000;
/** Every n-th consumer commit fails (5 %). */
const FAULT_EVERY_NTH = 20;

/** One webhook delivery: its id, body and signed headers. */
export interface Delivery {
  id: string;
  body: string;
  headers: Record<string, string>;
}

/** A deterministic PRNG (mulberry32), so every run sends the same events in the same order. */
function random(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Builds the deliveries: distinct events, then duplicates of random earlier ones, shuffled. */
function buildDeliveries(secret: string, deliveries: number) {
  const signer = new Webhook(secret);
  const rand = random(20261201);
  const distinct = Math.round(deliveries * 0.9);
  const base = Math.floor(Date.now() / 1000) - 86_400;
  const newest = new Map<number, number>();
  const events: Delivery[] = [];
  for (let i = 0; i < distinct; i++) {
    const leadId = 1 + (i % LEADS);
    const updatedAt = base + i;
    newest.set(leadId, Math.max(newest.get(leadId) ?? 0, updatedAt));
    const id = `msg_soak_${i}`;
    const body = JSON.stringify({
      type: "lead.updated",
      timestamp: new Date(updatedAt * 1000).toISOString(),
      data: {
        id: leadId,
        name: `Lead ${leadId}`,
        price: updatedAt % 100_000,
        status_id: 142,
        pipeline_id: 7_000_001,
        responsible_user_id: 1,
        created_at: base,
        updated_at: updatedAt,
      },
    });
    events.push({ id, body, headers: {} });
  }
  const all = [...events];
  for (let i = distinct; i < deliveries; i++) all.push(events[Math.floor(rand() * distinct)] as Delivery);
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [all[i], all[j]] = [all[j] as Delivery, all[i] as Delivery];
  }
  // Signed as the sender sends each (a retry is signed anew with the same id).
  const signed = all.map((d) => {
    const now = new Date();
    return {
      ...d,
      headers: {
        "Content-Type": "application/json",
        "webhook-id": d.id,
        "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
        "webhook-signature": signer.sign(d.id, now, d.body),
      },
    };
  });
  return { signed, distinct, newest };
}

/**
 * Sends every delivery over `connections` concurrent keep-alive loops, from a worker thread: the
 * main thread runs the local stack (the Neon, Redis and QStash doubles), which the load generator
 * must not slow down. Latencies in ms.
 */
function send(url: string, deliveries: Delivery[], connections: number): Promise<SendResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL("./soak-sender.ts", import.meta.url), { workerData: { url, deliveries, connections } });
    worker.once("message", (result: SendResult) => resolve(result));
    worker.once("error", reject);
    worker.once("exit", (code) => {
      if (code !== 0) reject(new Error(`the soak sender exited with ${code}`));
    });
  });
}

/**
 * Runs the soak against a running local environment, logged in as an org admin (`token`).
 * @throws when an event is lost, processed twice, dead, or a lead is not at its newest update.
 */
export async function runWebhookSoak(env: LocalEnvironment, token: string, deliveries: number, connections: number) {
  const auth = { Authorization: `Bearer ${token}`, "Content-Type": "application/json" };
  const created = await fetch(`${env.workerUrl}/api/v1/integrations/crm`, {
    method: "POST",
    headers: auth,
    body: JSON.stringify({ provider: "standard-webhooks", name: "soak" }),
  });
  if (created.status !== 201) throw new Error(`integration not created: ${created.status} ${await created.text()}`);
  const integration = (await created.json()) as { id: string; webhookUrl: string; secret: string };
  const { signed, distinct, newest } = buildDeliveries(integration.secret, deliveries);

  const faults = `${env.stack.neon.url}/__control/faults`;
  await fetch(faults, { method: "POST", body: JSON.stringify({ match: 'insert into "crm_leads"', everyNth: FAULT_EVERY_NTH }) });
  const { engine } = env.stack;
  try {
    const ingest = await send(`${env.workerUrl}/webhooks/crm/${integration.id}`, signed, connections);
    // Until every distinct event's job has succeeded (or 10 minutes).
    const deadline = Date.now() + 600_000;
    let states: Record<string, number> = {};
    for (;;) {
      const { rows } = await engine.query(
        `select j.status, count(*)::int as n from crm_events e join jobs j on j.id = e.job_id
         where e.integration_id = $1 group by j.status`,
        [integration.id],
      );
      states = Object.fromEntries(rows.map(([status, n]) => [String(status), Number(n)]));
      if ((states.succeeded ?? 0) + (states.dead ?? 0) >= distinct || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const drainedSeconds = Math.round((Date.now() - ingest.startedAtEpochMs) / 100) / 10;
    const injected = ((await (await fetch(faults)).json()) as { faults: Array<{ injected: number }> }).faults[0]?.injected ?? 0;

    const [{ rows: counts }, { rows: leads }] = await Promise.all([
      engine.query(
        `select count(*)::int as events, count(distinct e.job_id)::int as jobs,
           count(*) filter (where e.processed_at is not null)::int as processed
         from crm_events e where e.integration_id = $1`,
        [integration.id],
      ),
      engine.query(`select lead_id, extract(epoch from crm_updated_at)::bigint as updated from crm_leads where integration_id = $1`, [
        integration.id,
      ]),
    ]);
    const stale = leads.filter(([leadId, updated]) => Number(updated) !== newest.get(Number(leadId))).length;
    const [events, jobs, processed] = (counts[0] ?? []).map(Number);
    const result = {
      deliveries,
      distinctEvents: distinct,
      ingest: { ...ingest, startedAtEpochMs: undefined },
      injectedConsumerFailures: injected,
      inboxRows: events,
      jobs,
      processed,
      jobStates: states,
      lost: distinct - (processed ?? 0),
      leads: leads.length,
      leadsNotAtNewestUpdate: stale,
      secondsUntilLastProcessed: drainedSeconds,
    };
    const ok =
      result.inboxRows === distinct &&
      result.jobs === distinct &&
      result.processed === distinct &&
      (states.succeeded ?? 0) === distinct &&
      result.leads === newest.size &&
      stale === 0 &&
      (ingest.statuses["202"] ?? 0) === deliveries;
    if (!ok) throw new Error(`webhook soak failed: ${JSON.stringify(result)}`);
    return result;
  } finally {
    await fetch(faults, { method: "DELETE" });
  }
}
