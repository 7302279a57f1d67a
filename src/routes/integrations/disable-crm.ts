/** `DELETE /api/v1/integrations/crm/{id}`: disables a CRM integration; its webhooks answer 404 from then on. */
import { defineOperation } from "../../core/route";
import { disableCrmIntegration } from "../../crm/integrations";
import { connectionManagers, group } from "./group";
import { crmIntegrationParams } from "./schemas";

/** Disables a CRM integration (owners, admins). */
export const disableCrm = defineOperation({
  route: group.route({
    method: "delete",
    path: "/api/v1/integrations/crm/{id}",
    summary: "Disable a CRM integration",
    description:
      "Sets `disabledAt`: the integration's webhooks answer 404 from the next delivery on (the webhook ingest's cached " +
      "copy is dropped), its Kommo tokens are no longer refreshed, and it can no longer be rotated (409). It stays " +
      "listed, with the leads and contacts it brought. Disabling a disabled integration is 204 too and keeps the first " +
      "`disabledAt`. Takes no body.",
    access: connectionManagers,
    request: { params: crmIntegrationParams },
    errors: {
      404: "No CRM integration with this id in the caller's org.",
      503: "Rate limiting is unavailable (production), or the integration is disabled but Redis did not drop its cached copy (it may accept webhooks up to 60 s more); repeat the call.",
    },
    responses: { 204: { description: "The integration is disabled." } },
  }),
  handler: async (c) => {
    const { id } = c.req.valid("param");
    const { auth, services } = c.var;
    await disableCrmIntegration(services, auth.orgId, id);
    services.logger.info("crm integration disabled", { orgId: auth.orgId, integrationId: id });
    return c.body(null, 204);
  },
});
