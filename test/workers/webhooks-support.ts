/**
 * Support of the webhook ingest tests: CRM integrations inserted straight into the local stack's
 * database (secrets encrypted like the integrations API stores them), deliveries signed the way
 * each sender signs (the npm `standardwebhooks` reference library; Web Crypto's HMAC-SHA1 for Kommo
 * Chats). Request counts go through `neonRequestsDuring` (`helpers.ts`).
 */
import { eq, sql } from "drizzle-orm";
import { Webhook } from "standardwebhooks";
import { encryptSecret } from "../../src/core/crypto";
import { type CrmProvider, crmEvents, crmIntegrations, jobs } from "../../src/core/db/schema";
import { buildRequest, config, createTenant, db, testClientIp, workerFetch } from "./helpers";

/** A seeded integration and its secrets in clear. */
export interface SeededIntegration {
  id: string;
  orgId: string;
  provider: CrmProvider;
  secret: string;
  previousSecret?: string;
  chatsSecret?: string;
}

const randomBase64 = (bytes: number) => btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(bytes))));
const randomHex = (bytes: number) =>
  [...crypto.getRandomValues(new Uint8Array(bytes))].map((b) => b.toString(16).padStart(2, "0")).join("");

/** A fresh Standard Webhooks secret (`whsec_` + base64 of 32 random bytes). */
export const newWhsec = () => `whsec_${randomBase64(32)}`;
/** A fresh Kommo path secret (base64url of 32 random bytes). */
export const newPathSecret = () => randomBase64(32).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");

/**
 * Inserts a CRM integration of a new org: `provider`'s secret (fresh unless given), optionally a
 * previous secret valid until `previousExpiresAt`, a chats channel secret, or a disable time.
 */
export async function seedIntegration(
  provider: CrmProvider,
  options: { secret?: string; previousSecret?: string; previousExpiresAt?: Date; chatsSecret?: string; disabled?: boolean } = {},
): Promise<SeededIntegration> {
  const { orgId } = await createTenant();
  const key = config().ENCRYPTION_KEY;
  const secret = options.secret ?? (provider === "kommo" ? newPathSecret() : newWhsec());
  const id = crypto.randomUUID();
  await db()
    .insert(crmIntegrations)
    .values({
      id,
      orgId,
      provider,
      name: `${provider} ${id.slice(0, 8)}`,
      secretCiphertext: await encryptSecret(secret, key),
      previousSecretCiphertext: options.previousSecret ? await encryptSecret(options.previousSecret, key) : null,
      previousSecretExpiresAt: options.previousExpiresAt?.toISOString() ?? null,
      chatsSecretCiphertext: options.chatsSecret ? await encryptSecret(options.chatsSecret, key) : null,
      disabledAt: options.disabled ? new Date().toISOString() : null,
    });
  return { id, orgId, provider, secret, previousSecret: options.previousSecret, chatsSecret: options.chatsSecret };
}

/** A Standard Webhooks event body (compact JSON). */
export const standardEvent = (data: Record<string, unknown> = { id: 4821, status_id: 142 }, type = "lead.status_changed") =>
  JSON.stringify({ type, timestamp: new Date().toISOString(), data });

/** The three Standard Webhooks headers of `body`, signed with `secret` by the reference library. */
export function standardHeaders(
  secret: string,
  body: string,
  options: { id?: string; timestampSeconds?: number } = {},
): Record<string, string> {
  const id = options.id ?? `msg_${randomHex(12)}`;
  const seconds = options.timestampSeconds ?? Math.floor(Date.now() / 1000);
  return {
    "webhook-id": id,
    "webhook-timestamp": String(seconds),
    "webhook-signature": new Webhook(secret).sign(id, new Date(seconds * 1000), body),
  };
}

/** Options of a test delivery: headers, the client address, the body's `Content-Type`, env overrides, an extra query. */
export interface DeliveryOptions {
  headers?: Record<string, string>;
  ip?: string;
  contentType?: string;
  env?: Record<string, string>;
  query?: string;
}

/** POSTs `body` to `path` of the Worker under test (its `waitUntil` work awaited, the answer contract-checked). */
export function deliver(path: string, body: string | Uint8Array, options: DeliveryOptions = {}): Promise<Response> {
  const request = buildRequest(`${path}${options.query ?? ""}`, {
    method: "POST",
    body,
    headers: {
      "Content-Type": options.contentType ?? "application/json",
      "CF-Connecting-IP": options.ip ?? testClientIp(),
      ...options.headers,
    },
  });
  return workerFetch(request, options.env);
}

/** A Standard Webhooks delivery of `body` to `integration`, signed with its secret unless `headers` say otherwise. */
export function deliverStandard(integration: { id: string; secret: string }, body: string, options: DeliveryOptions = {}) {
  return deliver(`/webhooks/crm/${integration.id}`, body, {
    ...options,
    headers: { ...standardHeaders(integration.secret, body), ...options.headers },
  });
}

/** Kommo Chats' `X-Signature` of `body`: hex HMAC-SHA1 with the channel secret. */
export async function chatsSignature(secret: string, body: string): Promise<string> {
  const encoder = new TextEncoder();
  const key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-1" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(body)));
  return [...mac].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The inbox rows of `integrationId`. */
export const eventsOf = (integrationId: string) => db().select().from(crmEvents).where(eq(crmEvents.integrationId, integrationId));

/** The `crm-event` jobs of `orgId`. */
export const crmJobsOf = (orgId: string) => db().select().from(jobs).where(sql`${jobs.orgId} = ${orgId} and ${jobs.kind} = 'crm-event'`);
