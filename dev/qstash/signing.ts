/**
 * The `Upstash-Signature` JWT that QStash attaches to every delivery.
 *
 * HS256 over the signing key's UTF-8 bytes; claims `iss: "Upstash"`, `sub` = the URL being
 * called, `iat`/`nbf` = now, `exp` = now + 5 min, `jti`, and `body` = base64url of the SHA-256 of
 * the raw body. QStash pads `body` with `=`; `Receiver.verify` strips padding from both sides before
 * comparing, so the padded form is what is sent here.
 *
 * @see https://upstash.com/docs/qstash/howto/signature
 * @see node_modules/@upstash/qstash (Receiver.verifyWithKey / verifyBodyAndUrl)
 */
import { createHash, randomBytes } from "node:crypto";
import { SignJWT } from "jose";

/** Lifetime of a delivery signature, in seconds. */
export const SIGNATURE_TTL_SECONDS = 300;

/** base64url (with `=` padding, as QStash sends it) of the SHA-256 of `body`. */
export function bodyHash(body: Uint8Array): string {
  return createHash("sha256").update(body).digest("base64").replaceAll("+", "-").replaceAll("/", "_");
}

/**
 * Signs one delivery.
 *
 * @param signingKey the current signing key (`sig_...`), used as raw HMAC key bytes.
 * @param url the destination (or callback) URL: becomes `sub`, which the receiver compares exactly.
 * @param body the raw bytes that will be sent.
 * @param nowSeconds epoch seconds, injectable for tests.
 * @returns the compact JWT.
 */
export async function signDelivery(
  signingKey: string,
  url: string,
  body: Uint8Array,
  nowSeconds: number = Math.floor(Date.now() / 1_000),
): Promise<string> {
  return await new SignJWT({ body: bodyHash(body) })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuer("Upstash")
    .setSubject(url)
    .setIssuedAt(nowSeconds)
    .setNotBefore(nowSeconds)
    .setExpirationTime(nowSeconds + SIGNATURE_TTL_SECONDS)
    .setJti(`jwt_${randomBytes(12).toString("hex")}`)
    .sign(new TextEncoder().encode(signingKey));
}
