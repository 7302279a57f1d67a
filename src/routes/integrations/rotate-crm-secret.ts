/** `POST /api/v1/integrations/crm/{id}/rotate-secret`: a new webhook secret; the old one works 24 hours more. */
import { defineOperation } from "../../core/route";
import { rotateCrmSecret } from "../../crm/integrations";
import { connectionManagers, group } from "./group";
import { crmIntegrationParams, crmIntegrationWithSecret } from "./schemas";

/** Rotates an integration's webhook secret (owners, admins). */
export const rotateCrmSecretRoute = defineOperation({
  route: group.route({
    method: "post",
    path: "/api/v1/integrations/crm/{id}/rotate-secret",
    summary: "Rotate a CRM integration's webhook secret",
    description:
      "Makes a new secret and answers it this once (with the new Kommo webhook URL, which contains it). The previous " +
      "secret is still accepted for 24 hours (`previousSecretExpiresAt`), so the sender can be switched over without " +
      "losing deliveries; a rotation within those 24 hours replaces it. One UPDATE, then the webhook ingest's cached " +
      "copy is dropped. Takes no body.",
    access: connectionManagers,
    request: { params: crmIntegrationParams },
    errors: {
      404: "No CRM integration with this id in the caller's org.",
      409: "The integration is disabled; a disabled integration cannot be rotated.",
    },
    responses: {
      200: {
        description: "The integration with its new secret (shown only now).",
        content: { "application/json": { schema: crmIntegrationWithSecret } },
      },
    },
  }),
  handler: async (c) => {
    const { id } = c.req.valid("param");
    const { auth, services } = c.var;
    const rotated = await rotateCrmSecret(services, auth.orgId, id);
    services.logger.info("crm integration secret rotated", { orgId: auth.orgId, integrationId: id });
    return c.json(rotated, 200);
  },
});
