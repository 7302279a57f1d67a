/**
 * The `Authorization: Bearer <token>` credential. The scheme name is case-insensitive
 * (`bearer x` is `Bearer x`) and one or more spaces separate it from the token. What the token
 * may contain is the verifier's business (a JWT, an API key, the operator token).
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-11.1 (auth schemes are case-insensitive)
 */

const bearerPattern = /^Bearer +(\S+) *$/i;

/** The token of a Bearer `Authorization` header value; undefined for any other value or none. */
export function parseBearer(authorization: string | undefined): string | undefined {
  return authorization ? bearerPattern.exec(authorization)?.[1] : undefined;
}
