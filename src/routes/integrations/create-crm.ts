/** `POST /api/v1/integrations/crm`: creates a CRM integration of the org and answers its webhook secret, once. */
import { defineOperation } from "../../core/route";
import { createCrmIntegration } from "../../crm/integrations";
import { connectionManagers, group } from "./group";
import { createCrmIntegrationBody, crmIntegrationWithSecret } from "./schemas";

/** Creates a Kommo or Standard Webhooks integration (owners, admins). */
export const createCrm = defineOperation({
  route: group.route({
    method: "post",
    path: "/api/v1/integrations/crm",
    summary: "Create a CRM integration",
    description: [
      "Creates an integration that receives the org's CRM webhooks: `standard-webhooks` (any sender of signed " +
        "Standard Webhooks) or `kommo` (Kommo/amoCRM). Answers its secret this once — stored AES-GCM encrypted and " +
        "never answered again (a rotation makes a new one):",
      "- Standard Webhooks: `whsec_` + base64 of 32 random bytes, the signing secret for the sender; deliveries go to " +
        "`webhookUrl` = `{PUBLIC_WEBHOOKS_URL}/webhooks/crm/{id}`.\n" +
        "- Kommo: Kommo does not sign its webhooks, so the secret (32 random bytes, base64url) is in the URL: " +
        "`webhookUrl` = `{PUBLIC_WEBHOOKS_URL}/webhooks/kommo/{id}/{secret}`, to be entered in Kommo's webhook settings. " +
        "`chatsWebhookUrl` is the Kommo Chats channel URL; `chatsSecret` (optional) is the channel secret Kommo gave " +
        "the seller, stored encrypted. Connect the account next: `GET /api/v1/integrations/kommo/oauth/start`.",
    ].join("\n\n"),
    access: connectionManagers,
    request: { body: { required: true, content: { "application/json": { schema: createCrmIntegrationBody } } } },
    responses: {
      201: {
        description: "The integration, its webhook URL and its secret (shown only now).",
        content: { "application/json": { schema: crmIntegrationWithSecret } },
      },
    },
  }),
  handler: async (c) => {
    const body = c.req.valid("json");
    const { auth, services } = c.var;
    const created = await createCrmIntegration(services, {
      orgId: auth.orgId,
      createdBy: auth.kind === "user" ? auth.userId : null,
      ...body,
    });
    services.logger.info("crm integration created", { orgId: auth.orgId, integrationId: created.id, provider: created.provider });
    return c.json(created, 201);
  },
});
