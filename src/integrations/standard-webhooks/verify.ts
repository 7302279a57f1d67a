/**
 * Verification of Standard Webhooks signatures (symmetric scheme, `v1`), on Web Crypto only, so it
 * runs on Workers as well as on Node.
 *
 * The rule (Standard Webhooks 1.0, "Verifying webhook authenticity"):
 * - headers `webhook-id`, `webhook-timestamp` (integer Unix seconds), `webhook-signature`;
 * - signed content: `${webhook-id}.${webhook-timestamp}.${raw body}`, byte for byte as received
 *   (a parsed and re-serialized JSON body does not verify);
 * - key: the secret after its `whsec_` prefix, base64-decoded; HMAC-SHA256 over the signed content;
 * - `webhook-signature`: space-separated `v1,<base64 MAC>` entries (several during a sender's key
 *   rotation; other schemes such as `v1a` are ignored); one matching entry is enough, compared in
 *   constant time;
 * - the timestamp must be within the tolerance (default 300 s) of now, in both directions
 *   (replay protection).
 *
 * On our side a rotation lists several secrets (current first, then the previous ones still
 * accepted); the match reports which one verified, so a caller can log the use of a retired secret.
 *
 * @see https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
 * @see https://www.standardwebhooks.com/
 */

/** Why a delivery was refused; for logs and metrics only, never for the sender's eyes. */
export type WebhookRejection =
  /** `webhook-id`, `webhook-timestamp` or `webhook-signature` is absent or empty. */
  | "missing_header"
  /** `webhook-id` contains `.` or whitespace (the spec forbids `.`: it would make the signed content ambiguous). */
  | "invalid_id"
  /** `webhook-timestamp` is not a plain integer of Unix seconds. */
  | "invalid_timestamp"
  /** The timestamp is more than the tolerance in the past. */
  | "timestamp_too_old"
  /** The timestamp is more than the tolerance in the future. */
  | "timestamp_too_new"
  /** None of the configured secrets is a usable `whsec_<base64>` key (a configuration error). */
  | "no_usable_secret"
  /** `webhook-signature` has no well-formed `v1,<base64 of 32 bytes>` entry. */
  | "no_v1_signature"
  /** Well-formed `v1` entries, none of them made with one of our secrets over this content. */
  | "signature_mismatch";

/** The outcome of {@link verifyWebhook}. */
export type WebhookVerification =
  | {
      ok: true;
      /** `webhook-id`: the delivery's idempotency key (the same on every retry). */
      id: string;
      /** `webhook-timestamp`, Unix seconds. */
      timestamp: number;
      /** Index in `secrets` of the secret that verified: 0 = current, > 0 = a previous one. */
      secretIndex: number;
    }
  | { ok: false; reason: WebhookRejection };

/** Input of {@link verifyWebhook}. */
export interface VerifyWebhookInput {
  /**
   * Accepted secrets, `whsec_<base64>` (the prefix may be omitted, as the reference libraries
   * allow): the current one first, then previous ones during a rotation.
   */
  secrets: readonly string[];
  /** The three header values as received (`null`/`undefined` when absent). */
  headers: {
    id: string | null | undefined;
    timestamp: string | null | undefined;
    signature: string | null | undefined;
  };
  /** The request body exactly as received: bytes, or the text decoded from them. */
  rawBody: Uint8Array | string;
  /** Current time, milliseconds since the Unix epoch; default `Date.now()`. */
  now?: number;
  /** Allowed distance between `webhook-timestamp` and now, seconds; default 300 (5 minutes). */
  toleranceSeconds?: number;
}

const SECRET_PREFIX = "whsec_";
const MAC_BYTES = 32;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const encoder = new TextEncoder();

/** Imported HMAC keys by secret text; bounded so a misconfiguration cannot grow it without end. */
const keyCache = new Map<string, Promise<CryptoKey | undefined>>();
const KEY_CACHE_LIMIT = 64;

function decodeBase64(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (text.length % 4 !== 0 || !BASE64.test(text)) return undefined;
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

/** The HMAC key of a `whsec_…` secret, or `undefined` when the secret is not valid base64. */
function importSecret(secret: string): Promise<CryptoKey | undefined> {
  let key = keyCache.get(secret);
  if (key === undefined) {
    const raw = decodeBase64(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret);
    key =
      raw === undefined || raw.length === 0
        ? Promise.resolve(undefined)
        : crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    if (keyCache.size >= KEY_CACHE_LIMIT) {
      const oldest = keyCache.keys().next().value;
      if (oldest !== undefined) keyCache.delete(oldest);
    }
    keyCache.set(secret, key);
  }
  return key;
}

/** Equal length and bytes, in time independent of where they differ. */
function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

/** The MACs of the `v1` entries of a `webhook-signature` header; malformed entries are skipped. */
function v1Signatures(header: string): Uint8Array[] {
  const macs: Uint8Array[] = [];
  for (const entry of header.split(" ")) {
    const comma = entry.indexOf(",");
    if (comma < 0 || entry.slice(0, comma) !== "v1") continue;
    const mac = decodeBase64(entry.slice(comma + 1));
    if (mac !== undefined && mac.length === MAC_BYTES) macs.push(mac);
  }
  return macs;
}

/** `${id}.${timestamp}.` followed by the body's bytes. */
function signedContent(id: string, timestamp: string, rawBody: Uint8Array | string): Uint8Array<ArrayBuffer> {
  const prefix = encoder.encode(`${id}.${timestamp}.`);
  const body = typeof rawBody === "string" ? encoder.encode(rawBody) : rawBody;
  const content = new Uint8Array(prefix.length + body.length);
  content.set(prefix, 0);
  content.set(body, prefix.length);
  return content;
}

/**
 * Verifies a Standard Webhooks delivery: headers present, timestamp within the tolerance, and one
 * `v1` signature made with one of `secrets` over `${id}.${timestamp}.${rawBody}`.
 *
 * Checks run in this order: headers → id → timestamp format → timestamp window → secrets →
 * signatures; the first failure is the reason. Never throws for bad input.
 */
export async function verifyWebhook(input: VerifyWebhookInput): Promise<WebhookVerification> {
  const { id, timestamp, signature } = input.headers;
  if (!id || !timestamp || !signature) return { ok: false, reason: "missing_header" };
  if (/[.\s]/.test(id)) return { ok: false, reason: "invalid_id" };
  if (!/^\d{1,15}$/.test(timestamp)) return { ok: false, reason: "invalid_timestamp" };

  const seconds = Number(timestamp);
  const nowSeconds = Math.floor((input.now ?? Date.now()) / 1000);
  const tolerance = input.toleranceSeconds ?? 300;
  if (seconds < nowSeconds - tolerance) return { ok: false, reason: "timestamp_too_old" };
  if (seconds > nowSeconds + tolerance) return { ok: false, reason: "timestamp_too_new" };

  const keys = await Promise.all(input.secrets.map(importSecret));
  if (keys.every((key) => key === undefined)) return { ok: false, reason: "no_usable_secret" };
  const candidates = v1Signatures(signature);
  if (candidates.length === 0) return { ok: false, reason: "no_v1_signature" };

  const content = signedContent(id, timestamp, input.rawBody);
  for (const [secretIndex, key] of keys.entries()) {
    if (key === undefined) continue;
    const expected = new Uint8Array(await crypto.subtle.sign("HMAC", key, content));
    // Compare with every candidate, without stopping early, so timing does not tell which matched.
    let matched = false;
    for (const candidate of candidates) matched = timingSafeEqual(expected, candidate) || matched;
    if (matched) return { ok: true, id, timestamp: seconds, secretIndex };
  }
  return { ok: false, reason: "signature_mismatch" };
}
