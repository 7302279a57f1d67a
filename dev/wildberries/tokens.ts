/**
 * Tokens of the Wildberries double, shaped like WB's: a JWT whose payload carries `exp` (180 days
 * after issue by default), the category bitmask `s` and WB's other claims (`id`, `sid`, `oid`,
 * `uid`, `acc`, `t`…). The signature is random bytes: nobody but WB can verify WB's, and neither
 * the production code nor the double verifies this one — the double knows its tokens by value.
 * @see src/integrations/wildberries/token.ts (the payload and the bit layout of `s`)
 */
import { randomBytes, randomInt, randomUUID } from "node:crypto";
import {
  bitmaskOf,
  readWbToken,
  WB_TOKEN_LIFETIME_DAYS,
  type WbTokenCategory,
  type WbTokenInfo,
} from "../../src/integrations/wildberries/token";

/** What to put in an issued token. */
export interface WbTokenClaims {
  /** Categories it grants; default `["statistics"]`. */
  categories?: readonly WbTokenCategory[];
  /** Expiry; default 180 days from now. */
  expiresAt?: Date;
  readOnly?: boolean;
  /** A sandbox (test-scope) token (`t: true`). */
  sandbox?: boolean;
}

const base64url = (value: string | Buffer) => Buffer.from(value).toString("base64url");

/** Issues a JWT-shaped WB token with `claims` (see the module comment). */
export function issueWbToken(claims: WbTokenClaims = {}): string {
  const expiresAt = claims.expiresAt ?? new Date(Date.now() + WB_TOKEN_LIFETIME_DAYS * 86_400_000);
  const header = { alg: "ES256", kid: "wb-double", typ: "JWT" };
  const payload = {
    acc: claims.sandbox ? 2 : 1,
    ent: 1,
    exp: Math.floor(expiresAt.getTime() / 1000),
    id: randomUUID(),
    iid: randomInt(1, 2 ** 31),
    oid: randomInt(1, 2 ** 31),
    s: bitmaskOf(claims.categories ?? ["statistics"], claims.readOnly ?? false),
    sid: randomUUID(),
    t: claims.sandbox ?? false,
    uid: randomInt(1, 2 ** 31),
  };
  return `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(payload))}.${base64url(randomBytes(64))}`;
}

/** The claims of a JWT-shaped token, or `undefined` for any other text (a plain token like the demo's). */
export function wbTokenClaims(token: string): WbTokenInfo | undefined {
  try {
    return readWbToken(token);
  } catch {
    return undefined;
  }
}
