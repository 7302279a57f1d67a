/**
 * The OpenAPI 3.1 document of a Worker: its groups' routes as they are declared (one
 * `createRoute` each), the shared problem+json schema, and the security schemes the routes'
 * access policies name.
 * @see https://spec.openapis.org/oas/v3.1.0
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "./context";

/** Registers the security schemes (`bearerAuth`, `apiKey`, `adminToken`, `metricsToken`, `qstashSignature`, `standardWebhooksSignature`, `kommoChatsSignature`) on `app`. */
export function registerSecuritySchemes(app: OpenAPIHono<AppEnv>): void {
  const registry = app.openAPIRegistry;
  registry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: "An access token from `POST /api/v1/auth/login` or `/refresh` (HS256, at most 15 minutes). The org is the token's.",
  });
  registry.registerComponent("securitySchemes", "apiKey", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "se_live_…",
    description: "An org's API key (`Authorization: Bearer se_live_…`) from `POST /api/v1/auth/api-keys`, holding scopes.",
  });
  registry.registerComponent("securitySchemes", "adminToken", {
    type: "http",
    scheme: "bearer",
    description: "The operator's `ADMIN_REGISTRATION_TOKEN`.",
  });
  registry.registerComponent("securitySchemes", "metricsToken", {
    type: "http",
    scheme: "bearer",
    description: "The metrics scraper's `METRICS_TOKEN` (Prometheus `authorization: { credentials: … }`).",
  });
  registry.registerComponent("securitySchemes", "qstashSignature", {
    type: "apiKey",
    in: "header",
    name: "Upstash-Signature",
    description: "A QStash delivery: a JWT signed with the QStash signing key over the destination URL and the body's SHA-256.",
  });
  registry.registerComponent("securitySchemes", "standardWebhooksSignature", {
    type: "apiKey",
    in: "header",
    name: "webhook-signature",
    description:
      "Standard Webhooks v1: `v1,<base64 HMAC-SHA256 of {webhook-id}.{webhook-timestamp}.{raw body}>` with the integration's `whsec_` secret (docs/webhooks.md).",
  });
  registry.registerComponent("securitySchemes", "kommoChatsSignature", {
    type: "apiKey",
    in: "header",
    name: "X-Signature",
    description: "Kommo Chats: hex HMAC-SHA1 of the raw body with the integration's channel secret.",
  });
  registry.registerComponent("securitySchemes", "telegramSecretToken", {
    type: "apiKey",
    in: "header",
    name: "X-Telegram-Bot-Api-Secret-Token",
    description: "Telegram's webhook delivery: the `secret_token` the bot's webhook was set with (generated at registration).",
  });
}

/** A section of `/docs`: a route group's name and what it is for. */
export interface Tag {
  name: string;
  description: string;
}

/** The OpenAPI 3.1 document of `app` (the Worker `name`, with `tags` for its groups), served at `/openapi.json`. */
export function openApiDocument(app: OpenAPIHono<AppEnv>, name: string, release: string, serverUrl: string, tags: readonly Tag[] = []) {
  return app.getOpenAPI31Document({
    openapi: "3.1.0",
    info: {
      title: name === "all" ? "Seller Edge API" : `Seller Edge API: ${name}`,
      version: release,
      description:
        "An edge backend for Wildberries sellers. Errors are RFC 9457 `application/problem+json`; every answer carries " +
        "`X-Request-Id`. Each operation's `x-access`, `x-rate-limit` and `x-cache` state who may call it, its rate-limit " +
        "policy and its cache. Guide: docs/api.md in the repository.",
    },
    servers: [{ url: serverUrl }],
    tags: tags.map((t) => ({ name: t.name, description: t.description })),
  });
}
