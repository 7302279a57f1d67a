/**
 * `POST /webhooks/kommo/{integrationId}/{pathSecret}`: a Kommo CRM webhook. Kommo signs nothing and
 * never retries, so the URL carries the integration's path secret (compared in constant time by
 * the guard) and the event is stored at once: the form (`leads[status][0][id]=…`,
 * `account[subdomain]=…`) read by `parseKommoWebhook` as `{ accountSubdomain, events, ignored }`,
 * typed `kommo.<entity>.<action>` after its first event (`kommo.lead.status`; `kommo.none` when it
 * holds only entities we do not read), keyed by the SHA-256 of the body (Kommo sends no event id).
 * The consumer re-reads the entities through Kommo's API. Kommo expects 200.
 * @see https://developers.kommo.com/docs/webhooks-general
 */
import { ApiError } from "../../core/errors";
import { defineOperation } from "../../core/route";
import { validationHook } from "../../core/validation";
import { parseKommoWebhook } from "../../integrations/kommo/webhook";
import { ingestWebhook } from "../../webhooks/ingest";
import { group, kommoSenders } from "./group";
import { kommoParams, kommoWebhookBody, webhookAck, webhookErrors } from "./schemas";

/** Stores a Kommo CRM webhook (Kommo, holding the integration's path secret). */
export const receiveKommoWebhook = defineOperation({
  route: group.route({
    method: "post",
    path: "/webhooks/kommo/{integrationId}/{pathSecret}",
    summary: "Receive a Kommo CRM webhook",
    description: [
      "Kommo's form-encoded webhook (`leads[add|update|status|delete]`, `contacts[add|update|delete]`, `account[subdomain]`). " +
        "Kommo does not sign webhooks: the URL's path secret proves the sender (a wrong one is 401).",
      "Stored before the answer, keyed by the SHA-256 of the body: 200 `{ eventId, duplicate }`. A form that is not a Kommo " +
        "webhook is 400, nothing stored.",
    ].join("\n\n"),
    access: kommoSenders,
    request: {
      params: kommoParams,
      body: { required: true, content: { "application/x-www-form-urlencoded": { schema: kommoWebhookBody } } },
    },
    errors: { ...webhookErrors, 401: "The path secret is wrong.", 415: "The body is not form-encoded." },
    responses: {
      200: {
        description: "Stored (or stored before: `duplicate`); processed asynchronously.",
        content: { "application/json": { schema: webhookAck } },
      },
    },
  }),
  handler: async (c) => {
    const delivery = c.var.webhook;
    const parsed = parseKommoWebhook(new URLSearchParams(new TextDecoder().decode(delivery.rawBody)));
    if (!parsed.ok) throw new ApiError("BAD_REQUEST", { detail: `Not a Kommo webhook: ${parsed.reason}.` });
    const payload = { accountSubdomain: parsed.accountSubdomain, events: parsed.events, ignored: parsed.ignored };
    // Postgres cannot store U+0000 in jsonb: a 400, like every other body.
    validationHook({ target: "form", success: true, data: payload });
    const first = parsed.events[0];
    const type = first ? `kommo.${first.entity}.${first.action}` : "kommo.none";
    const services = c.var.services;
    const result = await ingestWebhook(services, delivery, { type, payload }, (w) => c.executionCtx.waitUntil(w));
    services.logger.info("webhook stored", { scheme: delivery.scheme, integrationId: delivery.integration.id, type, ...result });
    return c.json({ eventId: delivery.eventId, duplicate: result.duplicate }, 200);
  },
});
