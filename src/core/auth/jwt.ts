/**
 * Access tokens: JWS compact HS256 with jose, algorithm pinned, `kid` resolved against
 * the key set in `JWT_KEYS` (first key signs, all verify, so keys rotate with a grace
 * window). Required claims: `iss`, `aud`, `typ` (`access`), `exp`, `iat`, `sub` (user id),
 * `org` (org id) and `role`. The org of every query comes from here, never from the request.
 * @see https://www.rfc-editor.org/rfc/rfc8725 (JWT best current practices)
 */
import { errors, type JWTPayload, jwtVerify, SignJWT } from "jose";
import { z } from "zod";
import { type ApiKeyScope, roles } from "../db/schema";
import type { AppConfig } from "../env";

/** The verified identity a request acts as. */
export const accessClaimsSchema = z.object({
  sub: z.string().uuid(),
  org: z.string().uuid(),
  role: z.enum(roles),
});
/** A signed-in user acting in one org with one role. */
export type UserAuth = { kind: "user"; userId: string; orgId: string; role: z.infer<typeof accessClaimsSchema>["role"] };
/** A machine client's API key: role `service` with the key's scopes. */
export type ApiKeyAuth = { kind: "api-key"; keyId: string; orgId: string; role: "service"; scopes: ApiKeyScope[] };
/** Who a request acts as; `orgId` scopes every query. */
export type AuthContext = UserAuth | ApiKeyAuth;

const ALG = "HS256";
/** Allowed clock skew between the signing and the verifying Worker, in seconds. */
const CLOCK_TOLERANCE_SECONDS = 5;
const keyCache = new Map<string, Uint8Array>();
const keyBytes = (secret: string) => {
  let k = keyCache.get(secret);
  if (!k) {
    k = new TextEncoder().encode(secret);
    keyCache.set(secret, k);
  }
  return k;
};

/** Signs an access token for `auth`; returns the token and its lifetime in seconds. */
export async function signAccessToken(config: AppConfig, auth: Omit<UserAuth, "kind">): Promise<{ token: string; expiresIn: number }> {
  const [signing] = config.JWT_KEYS;
  if (!signing) throw new Error("JWT_KEYS is empty");
  const token = await new SignJWT({ org: auth.orgId, role: auth.role, typ: "access" })
    .setProtectedHeader({ alg: ALG, kid: signing.kid, typ: "JWT" })
    .setSubject(auth.userId)
    .setIssuer(config.JWT_ISSUER)
    .setAudience(config.JWT_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(`${config.JWT_ACCESS_TTL_SECONDS}s`)
    .setJti(crypto.randomUUID())
    .sign(keyBytes(signing.secret));
  // The `typ` claim separates access tokens from any other token kind we sign.
  return { token, expiresIn: config.JWT_ACCESS_TTL_SECONDS };
}

/**
 * Verifies an access token: HS256 only (`alg` pinned, so `none` and RS/HS confusion fail),
 * `kid` looked up in `JWT_KEYS` (any key of the set verifies), `iss`, `aud`, `exp`, `iat`,
 * `sub` and `typ: "access"` required, and no older than `JWT_ACCESS_TTL_SECONDS`.
 * @throws TokenError for any failure (bad signature, unknown kid, wrong alg/iss/aud/typ, expired).
 */
export async function verifyAccessToken(config: AppConfig, token: string): Promise<UserAuth> {
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(
      token,
      async (header) => {
        const key = config.JWT_KEYS.find((k) => k.kid === header.kid);
        if (!key) throw new TokenError("unknown kid");
        return keyBytes(key.secret);
      },
      {
        algorithms: [ALG],
        issuer: config.JWT_ISSUER,
        audience: config.JWT_AUDIENCE,
        requiredClaims: ["iss", "aud", "exp", "iat", "sub", "typ"],
        // A token is never honoured longer than the configured lifetime, whatever its `exp`.
        maxTokenAge: config.JWT_ACCESS_TTL_SECONDS,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
      },
    ));
  } catch (err) {
    if (err instanceof TokenError) throw err;
    throw new TokenError(err instanceof errors.JOSEError ? err.code : "invalid token");
  }
  if (payload.typ !== "access") throw new TokenError("not an access token");
  const claims = accessClaimsSchema.safeParse(payload);
  if (!claims.success) throw new TokenError("malformed claims");
  return { kind: "user", userId: claims.data.sub, orgId: claims.data.org, role: claims.data.role };
}

/** A token that does not verify; the reason is for logs, never for the client. */
export class TokenError extends Error {}
