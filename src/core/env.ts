/**
 * Worker environment: bindings and secrets, parsed once per isolate with zod.
 *
 * A missing or malformed variable fails loudly with a message that names it
 * (`Invalid environment: DATABASE_URL: Required`). `.dev.vars.example` lists every
 * variable with a one-line meaning; keep the two in step.
 */
import { z } from "zod";

const csv = z
  .string()
  .default("")
  .transform((s) =>
    s
      .split(",")
      .map((v) => v.trim())
      .filter(Boolean),
  );

/** An AES-256 key: base64 of exactly 32 bytes. */
const aes256Key = z.string().refine((s) => {
  try {
    return atob(s).length === 32;
  } catch {
    return false;
  }
}, "must be base64 of 32 bytes");

/** A JSON text, parsed; then checked by `schema`. "must be JSON" when it does not parse. */
const jsonText = <T extends z.ZodType>(schema: T) =>
  z
    .string()
    .transform((s, ctx) => {
      try {
        return JSON.parse(s) as unknown;
      } catch {
        ctx.addIssue({ code: "custom", message: "must be JSON" });
        return z.NEVER;
      }
    })
    .pipe(schema);

/** One HMAC signing key of the JWT key set; `kid` goes into the token header. */
const jwtKey = z.object({ kid: z.string().min(1), secret: z.string().min(32) });

/** The zod schema of the Worker env. Types derive from it; never written twice. */
export const envSchema = z.object({
  ENVIRONMENT: z.enum(["development", "test", "production"]).default("production"),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
  /** Neon connection string (`postgres://user:pass@host/db`). */
  DATABASE_URL: z.string().url(),
  /** Local stack only: the Neon `/sql` adapter URL (sets `neonConfig.fetchEndpoint`). */
  NEON_FETCH_ENDPOINT: z.string().url().optional(),
  UPSTASH_REDIS_REST_URL: z.string().url(),
  UPSTASH_REDIS_REST_TOKEN: z.string().min(1),
  QSTASH_URL: z.string().url().default("https://qstash.upstash.io"),
  QSTASH_TOKEN: z.string().min(1),
  QSTASH_CURRENT_SIGNING_KEY: z.string().min(1),
  QSTASH_NEXT_SIGNING_KEY: z.string().min(1),
  /** Public base URL of the jobs Worker; QStash delivers to `${PUBLIC_JOBS_URL}/jobs/...`. */
  PUBLIC_JOBS_URL: z.string().url(),
  /**
   * Public base URL where CRMs deliver webhooks (`${PUBLIC_WEBHOOKS_URL}/webhooks/…`); unset means
   * `PUBLIC_JOBS_URL` (see `publicWebhooksUrl`).
   */
  PUBLIC_WEBHOOKS_URL: z.string().url().optional(),
  /**
   * Public base URLs of the helpdesk and assistant Workers, where Telegram delivers their bots'
   * updates (`…/webhooks/telegram/{purpose}/{botId}`, set with `setWebhook` at registration);
   * unset means `PUBLIC_WEBHOOKS_URL` (then `PUBLIC_JOBS_URL`): right for one all-in-one Worker,
   * not for one hostname per Worker (see docs/deployment.md).
   */
  PUBLIC_HELPDESK_URL: z.string().url().optional(),
  PUBLIC_ASSISTANT_URL: z.string().url().optional(),
  /**
   * Our Kommo OAuth integration (Kommo: Settings → Integrations → Keys and scopes): its client id,
   * secret and registered redirect URI (`…/api/v1/integrations/kommo/oauth/callback`). Unset: the
   * Kommo OAuth routes answer 503 and Kommo integrations cannot connect.
   */
  KOMMO_CLIENT_ID: z.string().min(1).optional(),
  KOMMO_CLIENT_SECRET: z.string().min(1).optional(),
  KOMMO_REDIRECT_URI: z.string().url().optional(),
  /**
   * Local stack only: every Kommo request (consent page, token exchange, API) goes to this origin
   * instead of `https://{account}.kommo.com` — the double serves every account on one origin.
   * Production must not set it: the account's own validated domain is then the only destination.
   */
  KOMMO_API_ORIGIN: z.string().url().optional(),
  /**
   * The Telegram Bot API's origin (`https://api.telegram.org`); the local stack points it at its
   * Bot API double. Bots' webhooks are set to `{PUBLIC_HELPDESK_URL | PUBLIC_ASSISTANT_URL}/webhooks/telegram/{purpose}/{botId}`.
   */
  TELEGRAM_API_ORIGIN: z.string().url().default("https://api.telegram.org"),
  /**
   * The LLM assistant's OpenAI-compatible chat completions API: base URL up to `/v1` (OpenRouter:
   * `https://openrouter.ai/api/v1`; `/chat/completions` is appended), its key, the primary model and
   * the fallback used on 429, 5xx, a network failure or a timeout. Unset URL, key or model: the
   * assistant's routes answer 503 (see docs/assistant.md).
   */
  LLM_API_URL: z.string().url().optional(),
  LLM_API_KEY: z.string().min(1).optional(),
  LLM_MODEL: z.string().min(1).optional(),
  /** Unset: no fallback (the primary's failure fails the attempt; QStash retries). */
  LLM_FALLBACK_MODEL: z.string().min(1).optional(),
  /** Milliseconds one chat completion request may take before it is aborted (and the fallback tried). */
  LLM_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(20_000),
  /** Messages one Telegram user may send the assistant per minute; more are answered "too many messages" without the LLM. */
  ASSISTANT_USER_MESSAGES_PER_MINUTE: z.coerce.number().int().min(1).default(10),
  /**
   * JWT key set as JSON: `[{"kid":"2026-11","secret":"..."}]`. The first key signs;
   * every key verifies, so a retired key keeps working through its grace window.
   */
  JWT_KEYS: jsonText(z.array(jwtKey).min(1)),
  JWT_ISSUER: z.string().min(1).default("seller-edge"),
  JWT_AUDIENCE: z.string().min(1).default("seller-edge-api"),
  /** Access token lifetime in seconds; at most 15 minutes (revocation waits for expiry). */
  JWT_ACCESS_TTL_SECONDS: z.coerce.number().int().min(60).max(900).default(900),
  /** AES-256-GCM key (base64 of 32 bytes) that encrypts marketplace API tokens at rest. */
  ENCRYPTION_KEY: aes256Key,
  /** During a key rotation: the previous ENCRYPTION_KEY; secrets made with it are re-encrypted on use. */
  ENCRYPTION_KEY_PREVIOUS: aes256Key.optional(),
  WB_STATISTICS_API_URL: z.string().url().default("https://statistics-api.wildberries.ru"),
  /** Browser origins allowed by CORS, comma separated (`https://app.example.com`). */
  CORS_ORIGINS: csv,
  /** Requests per minute per identity on the API groups. */
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).default(120),
  /** Writes (non-GET) per minute per identity. */
  RATE_LIMIT_WRITE_PER_MINUTE: z.coerce.number().int().min(1).default(30),
  /**
   * Per-group overrides of the defaults above, JSON `{"<group>-<policy>": perMinute}`, e.g.
   * `{"dashboard-read": 300, "jobs-write": 10, "auth-login": 5}`. Each name must be a policy of a
   * route group of the Worker (checked at its first request: `src/core/app.ts`).
   */
  RATE_LIMIT_OVERRIDES: jsonText(z.record(z.string().regex(/^[a-z][a-z0-9]*-[a-z]+$/), z.number().int().min(1))).default({}),
  /** Failed authentications (bad token, unknown API key, wrong operator token) per IP per minute before 429. */
  AUTH_FAILURES_PER_MINUTE: z.coerce.number().int().min(1).default(20),
  /** Requests per minute per IP on login. */
  LOGIN_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).default(10),
  /** Failed logins of one account before it is locked, and the lock (and counting window) in seconds. */
  LOGIN_LOCKOUT_THRESHOLD: z.coerce.number().int().min(1).default(5),
  LOGIN_LOCKOUT_SECONDS: z.coerce.number().int().min(1).default(900),
  /** Shared secret of `POST /api/v1/auth/register` (compared in constant time); ≥ 32 chars. */
  ADMIN_REGISTRATION_TOKEN: z.string().min(32),
  /** Sentry DSN; 5xx answers are reported there, scrubbed (`src/core/sentry.ts`). Unset: not reported. */
  SENTRY_DSN: z.string().url().optional(),
  /**
   * Bearer token of `GET /metrics` (Prometheus scrapes), compared in constant time; ≥ 32 chars.
   * Unset: `/metrics` answers 404 on this Worker.
   */
  METRICS_TOKEN: z.string().min(32).optional(),
  /**
   * A database request slower than this many ms logs a `slow query` warning (name and duration; in
   * development also its plan). 0 warns on every request.
   */
  SLOW_QUERY_MS: z.coerce.number().int().min(0).default(200),
  /** Script of the Scalar API reference served at `/docs` (default: its CDN; the local stack serves its own copy). */
  DOCS_SCRIPT_URL: z.string().url().default("https://cdn.jsdelivr.net/npm/@scalar/api-reference"),
  /** Git SHA or version string reported by `/health` and to Sentry. */
  RELEASE: z.string().default("dev"),
});

/** Parsed, typed environment. */
export type AppConfig = z.infer<typeof envSchema>;

/** Raw bindings as Cloudflare hands them to the Worker (all strings here). */
export type Env = Record<keyof z.input<typeof envSchema>, string | undefined>;

let memo: { raw: unknown; config: AppConfig } | undefined;

/**
 * Parses the raw env once per isolate (re-parses only if the binding object changes,
 * as it does between tests).
 * @throws Error naming every invalid or missing variable.
 */
export function parseEnv(raw: unknown): AppConfig {
  if (memo && memo.raw === raw) return memo.config;
  // An empty variable (`SENTRY_DSN=`) means unset, as in a shell.
  const present = Object.fromEntries(Object.entries((raw ?? {}) as Record<string, unknown>).filter(([, v]) => v !== ""));
  const result = envSchema.safeParse(present);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
    throw new Error(`Invalid environment: ${problems}`);
  }
  memo = { raw, config: result.data };
  return result.data;
}

/**
 * The public base URL of the webhook endpoints, without a trailing slash: `PUBLIC_WEBHOOKS_URL`,
 * or `PUBLIC_JOBS_URL` when it is unset (one hostname serves both in small deployments).
 */
export function publicWebhooksUrl(config: Pick<AppConfig, "PUBLIC_WEBHOOKS_URL" | "PUBLIC_JOBS_URL">): string {
  return (config.PUBLIC_WEBHOOKS_URL ?? config.PUBLIC_JOBS_URL).replace(/\/+$/, "");
}
