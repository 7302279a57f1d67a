/**
 * The local stack in one call: Neon `/sql` adapter (PGlite or Postgres), Upstash Redis
 * REST adapter (redis-server), QStash emulator, the Wildberries statistics double and a Sentry
 * envelope endpoint, each on a free loopback port. Returns the env the Workers need to talk to it, so the
 * production code runs unchanged: only URLs and keys differ.
 *
 * Used by `npm run dev` (`scripts/dev.ts`), the test global setup and the benchmark.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { startDocsAssets } from "./docs-assets";
import { type KommoDouble, startKommoDouble } from "./kommo/server";
import { type LlmDouble, startLlmDouble } from "./llm/server";
import { type NeonHttpHandle, startNeonHttp } from "./neon-http";
import { startQStash } from "./qstash";
import { type RedisRestHandle, startRedisRest } from "./redis-rest";
import { type SentryHandle, startSentry } from "./sentry";
import { createEngineFromEnv, type SqlEngine } from "./sql-engine";
import { startTelegramDouble, type TelegramDouble } from "./telegram/server";
import type { WbDatasetOptions } from "./wildberries/dataset";
import { startWbStatisticsDouble } from "./wildberries/server";

/** Options of {@link startLocalStack}. */
export interface LocalStackOptions {
  /** Real Postgres (`postgres://…`); absent → embedded PGlite. */
  databaseUrl?: string;
  /** PGlite data directory; absent → in memory. */
  dataDir?: string;
  /** Existing Redis (`redis://…`); absent → spawn redis-server. */
  redisUrl?: string;
  /** Where QStash delivers `/jobs/*` (the jobs Worker's base URL). */
  publicJobsUrl: string;
  /** Public base URL of the API (Kommo's OAuth redirect goes to its `/api/v1/integrations/kommo/oauth/callback`); default `publicJobsUrl`. */
  publicApiUrl?: string;
  /** QStash backoff multiplier; 1 = real QStash delays. */
  qstashRetryDelayFactor?: number;
  /** Wildberries double: tokens → data set options (`WB_DATASET_PRESETS` has named ones), rows per page, rate limit. */
  wb?: {
    tokens?: Record<string, WbDatasetOptions>;
    rowLimit?: number;
    rateLimit?: { requests: number; perMs: number };
  };
  /** Keys to reuse (dev keeps them across restarts, so stored ciphertexts stay readable); absent → random. */
  secrets?: Partial<LocalStackSecrets>;
  /** Fixed ports (dev): 0 or absent picks free ones. */
  ports?: {
    neon?: number;
    redis?: number;
    qstash?: number;
    wb?: number;
    docs?: number;
    sentry?: number;
    kommo?: number;
    telegram?: number;
    llm?: number;
  };
}

/** The keys a stack is started with. */
export interface LocalStackSecrets {
  redisToken: string;
  qstashToken: string;
  qstashCurrentSigningKey: string;
  qstashNextSigningKey: string;
  jwtSecret: string;
  encryptionKey: string;
  adminRegistrationToken: string;
  /** `METRICS_TOKEN` of `GET /metrics`. */
  metricsToken: string;
  /** Public key of the Sentry double's project (the `SENTRY_DSN` user). */
  sentryPublicKey: string;
  /** Our Kommo OAuth integration's client id (a UUID, as Kommo issues) and secret. */
  kommoClientId: string;
  kommoClientSecret: string;
  /** `LLM_API_KEY` of the OpenAI-compatible double. */
  llmApiKey: string;
}

/** Fresh random keys for a stack. */
export function generateStackSecrets(): LocalStackSecrets {
  return {
    redisToken: secret(),
    qstashToken: secret(),
    qstashCurrentSigningKey: `sig_${secret(24)}`,
    qstashNextSigningKey: `sig_${secret(24)}`,
    jwtSecret: secret(48),
    encryptionKey: randomBytes(32).toString("base64"),
    adminRegistrationToken: secret(32),
    metricsToken: secret(32),
    sentryPublicKey: randomBytes(16).toString("hex"),
    kommoClientId: randomUUID(),
    kommoClientSecret: secret(48),
    llmApiKey: `sk-local-${secret(16)}`,
  };
}

/** A running stack. */
export interface LocalStack {
  /** Worker bindings pointing at the stack (DATABASE_URL, UPSTASH_*, QSTASH_*, ...). */
  env: Record<string, string>;
  neon: NeonHttpHandle;
  redis: RedisRestHandle;
  qstash: Awaited<ReturnType<typeof startQStash>>;
  wb: Awaited<ReturnType<typeof startWbStatisticsDouble>>;
  /** The Kommo API double (`KOMMO_API_ORIGIN`), with our OAuth integration registered. */
  kommo: KommoDouble;
  /** The Telegram Bot API double (`TELEGRAM_API_ORIGIN`). */
  telegram: TelegramDouble;
  /** The OpenAI-compatible chat completions double (`LLM_API_URL`). */
  llm: LlmDouble;
  /** The Sentry envelope endpoint `SENTRY_DSN` points at (`GET /__events` lists what arrived). */
  sentry: SentryHandle;
  engine: SqlEngine;
  close(): Promise<void>;
}

const secret = (bytes = 32) => randomBytes(bytes).toString("base64url");

/** Starts every piece and returns the Worker env for it. */
export async function startLocalStack(opts: LocalStackOptions): Promise<LocalStack> {
  const keys = { ...generateStackSecrets(), ...opts.secrets };
  const engine = await createEngineFromEnv({ databaseUrl: opts.databaseUrl, dataDir: opts.dataDir });
  const neon = await startNeonHttp({ engine, port: opts.ports?.neon });
  const redis = await startRedisRest({ token: keys.redisToken, redisUrl: opts.redisUrl, port: opts.ports?.redis });
  const qstash = await startQStash({
    token: keys.qstashToken,
    currentSigningKey: keys.qstashCurrentSigningKey,
    nextSigningKey: keys.qstashNextSigningKey,
    retryDelayFactor: opts.qstashRetryDelayFactor ?? 1,
    port: opts.ports?.qstash,
  });
  const docs = await startDocsAssets(opts.ports?.docs);
  const sentry = await startSentry({ publicKey: keys.sentryPublicKey, port: opts.ports?.sentry });
  const wb = await startWbStatisticsDouble({
    tokens: opts.wb?.tokens ?? {},
    rowLimit: opts.wb?.rowLimit,
    rateLimit: opts.wb?.rateLimit,
    port: opts.ports?.wb,
  });
  // Kommo: one OAuth integration of ours (client id and secret as Kommo's integration settings show them).
  const kommoClient = { clientId: keys.kommoClientId, clientSecret: keys.kommoClientSecret };
  const kommoRedirectUri = `${opts.publicApiUrl ?? opts.publicJobsUrl}/api/v1/integrations/kommo/oauth/callback`;
  const kommo = await startKommoDouble({
    port: opts.ports?.kommo,
    integrations: [{ ...kommoClient, redirectUri: kommoRedirectUri }],
  });
  const telegram = await startTelegramDouble({ port: opts.ports?.telegram });
  const llm = await startLlmDouble({ port: opts.ports?.llm, apiKeys: [keys.llmApiKey] });
  const env: Record<string, string> = {
    ENVIRONMENT: "development",
    LOG_LEVEL: "warn",
    DATABASE_URL: neon.connectionString,
    NEON_FETCH_ENDPOINT: neon.fetchEndpoint,
    UPSTASH_REDIS_REST_URL: redis.url,
    UPSTASH_REDIS_REST_TOKEN: redis.token,
    QSTASH_URL: qstash.url,
    QSTASH_TOKEN: qstash.token,
    QSTASH_CURRENT_SIGNING_KEY: qstash.currentSigningKey,
    QSTASH_NEXT_SIGNING_KEY: qstash.nextSigningKey,
    PUBLIC_JOBS_URL: opts.publicJobsUrl,
    JWT_KEYS: JSON.stringify([{ kid: "local-1", secret: keys.jwtSecret }]),
    ENCRYPTION_KEY: keys.encryptionKey,
    WB_STATISTICS_API_URL: wb.url,
    CORS_ORIGINS: "http://localhost:5173",
    ADMIN_REGISTRATION_TOKEN: keys.adminRegistrationToken,
    DOCS_SCRIPT_URL: docs.scriptUrl,
    METRICS_TOKEN: keys.metricsToken,
    SENTRY_DSN: sentry.dsn,
    KOMMO_CLIENT_ID: kommoClient.clientId,
    KOMMO_CLIENT_SECRET: kommoClient.clientSecret,
    KOMMO_REDIRECT_URI: kommoRedirectUri,
    KOMMO_API_ORIGIN: kommo.url,
    TELEGRAM_API_ORIGIN: telegram.url,
    LLM_API_URL: `${llm.url}/v1`,
    LLM_API_KEY: keys.llmApiKey,
    LLM_MODEL: "local/primary",
    LLM_FALLBACK_MODEL: "local/fallback",
  };
  return {
    env,
    neon,
    redis,
    qstash,
    wb,
    kommo,
    telegram,
    llm,
    sentry,
    engine,
    async close() {
      await Promise.allSettled([
        neon.close(),
        redis.close(),
        qstash.close(),
        wb.close(),
        kommo.close(),
        telegram.close(),
        llm.close(),
        docs.close(),
        sentry.close(),
      ]);
      await engine.close();
    },
  };
}
