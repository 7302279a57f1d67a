/**
 * QStash: publishing jobs and verifying deliveries.
 *
 * Deliveries carry `Upstash-Signature`, a JWT (HS256) signed with the current or next
 * signing key whose `sub` is the destination URL and whose `body` claim is the SHA-256
 * of the raw body; `Receiver.verify` checks all of it plus `exp`/`nbf`.
 * @see https://upstash.com/docs/qstash/howto/signature
 */
import { Client, Receiver } from "@upstash/qstash";
import type { AppConfig } from "./env";

/** Creates the QStash client (base URL from `QSTASH_URL`, the emulator on the local stack). */
export function createQueue(config: Pick<AppConfig, "QSTASH_URL" | "QSTASH_TOKEN">): Client {
  return new Client({ baseUrl: config.QSTASH_URL, token: config.QSTASH_TOKEN, retry: { retries: 2, backoff: (n) => 100 * 2 ** n } });
}

/** The public URL QStash delivers a job path to, e.g. `jobUrl(config, "/jobs/wb-sync")`. */
export function jobUrl(config: Pick<AppConfig, "PUBLIC_JOBS_URL">, path: string): string {
  return new URL(path, config.PUBLIC_JOBS_URL).toString();
}

/**
 * Verifies a QStash delivery of `rawBody` to the public URL of `path`.
 * Returns false (never throws) for a missing, tampered, expired or misaddressed signature.
 */
export async function verifyQStashDelivery(
  config: Pick<AppConfig, "QSTASH_CURRENT_SIGNING_KEY" | "QSTASH_NEXT_SIGNING_KEY" | "PUBLIC_JOBS_URL">,
  signature: string | undefined,
  rawBody: string,
  path: string,
): Promise<boolean> {
  if (!signature) return false;
  const receiver = new Receiver({ currentSigningKey: config.QSTASH_CURRENT_SIGNING_KEY, nextSigningKey: config.QSTASH_NEXT_SIGNING_KEY });
  try {
    return await receiver.verify({ signature, body: rawBody, url: jobUrl(config, path) });
  } catch {
    return false;
  }
}

export type { Client as QueueClient };
