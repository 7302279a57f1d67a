/**
 * Helpers of the `auth` tests. Every request gets its own `CF-Connecting-IP` unless one is
 * given, so the per-IP limits (`login`, `auth`) of one test never touch another's.
 */
import { toBase64Url } from "../../src/core/crypto";
import { api, buildRequest, testEnv, workerFetch } from "./helpers";

let ipCounter = 0;
/** A client IP no other test uses (10/8, random middle octets and a counter). */
export function freshIp(): string {
  ipCounter += 1;
  const r = crypto.getRandomValues(new Uint8Array(2));
  return `10.${r[0]}.${r[1]}.${ipCounter % 256}`;
}

type Init = RequestInit & { token?: string; json?: unknown; ip?: string };

/** `api()` with a client IP (fresh unless `ip` is given). */
export function authApi(path: string, init: Init = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("CF-Connecting-IP", init.ip ?? freshIp());
  return api(path, { ...init, headers });
}

/**
 * Calls the app with an env that overrides some variables (a second JWT key, …) and waits
 * for its `waitUntil` work (re-hash, last-used time) before resolving.
 */
export async function apiWithEnv(path: string, init: Init, overrides: Record<string, string> = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("CF-Connecting-IP", init.ip ?? freshIp());
  return workerFetch(buildRequest(path, { ...init, headers }), overrides);
}

/** The operator's registration token of the test stack. */
export const adminToken = () => testEnv.ADMIN_REGISTRATION_TOKEN as string;

/** A unique e-mail for one test. */
export const freshEmail = (label = "u") => `${label}-${crypto.randomUUID().slice(0, 12)}@example.test`;

/** A password that passes the policy for any `freshEmail`. */
export const goodPassword = "violet-Quartz-harbor-42";

/** `POST /register` with the admin token. */
export function register(json: unknown, init: Init = {}): Promise<Response> {
  return authApi("/api/v1/auth/register", { method: "POST", token: adminToken(), json, ...init });
}

/** Token answer of login and refresh. */
export interface Tokens {
  accessToken: string;
  tokenType: "Bearer";
  expiresIn: number;
  refreshToken: string;
  refreshExpiresIn: number;
  orgId: string;
  role: string;
}

/** Logs in and returns the token answer; throws unless 200. */
export async function loginTokens(email: string, password: string, extra: Record<string, unknown> = {}): Promise<Tokens> {
  const res = await authApi("/api/v1/auth/login", { method: "POST", json: { email, password, ...extra } });
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${await res.text()}`);
  return res.json();
}

/** `POST /login` (fresh IP unless given). */
export const login = (json: unknown, ip?: string) => authApi("/api/v1/auth/login", { method: "POST", json, ip });
/** `POST /refresh`. */
export const refresh = (refreshToken: string) => authApi("/api/v1/auth/refresh", { method: "POST", json: { refreshToken } });
/** `POST /logout`. */
export const logout = (refreshToken: string) => authApi("/api/v1/auth/logout", { method: "POST", json: { refreshToken } });

/**
 * Sends requests until one is refused with 429 (at most `limit + 3`). Upstash's sliding window
 * weighs the previous fixed window, so a burst that straddles a window boundary may get one or
 * two more than `limit` through; never fewer.
 * @returns how many got through, and the first 429.
 */
export async function sendUntilLimited(
  limit: number,
  send: () => Promise<Response>,
): Promise<{ allowed: Response[]; limited: Response | undefined }> {
  const allowed: Response[] = [];
  for (let i = 0; i < limit + 3; i++) {
    const res = await send();
    if (res.status === 429) return { allowed, limited: res };
    allowed.push(res);
  }
  return { allowed, limited: undefined };
}

/** Median of numbers. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** A random, well-formed API key that was never issued. */
export const randomApiKey = () => `se_live_${toBase64Url(crypto.getRandomValues(new Uint8Array(32)))}`;
