/** `GET /api/v1/integrations/crm`: the org's CRM integrations, without secrets. */
import { defineOperation } from "../../core/route";
import { listCrmIntegrations } from "../../crm/integrations";
import { connectionManagers, group } from "./group";
import { crmIntegrationList } from "./schemas";

/** Lists the org's CRM integrations (owners, admins). */
export const listCrm = defineOperation({
  route: group.route({
    method: "get",
    path: "/api/v1/integrations/crm",
    summary: "The org's CRM integrations",
    description:
      "Every CRM integration of the org, newest first, disabled ones included (`disabledAt`). Never a secret: " +
      "`webhookUrl` is given for Standard Webhooks and is null for Kommo, whose URL contains its secret (shown only " +
      "at creation and rotation). Kommo integrations show their account (`accountDomain`), whether OAuth tokens are " +
      "stored (`kommoConnected`) and until when they are valid. One Neon request.",
    access: connectionManagers,
    responses: {
      200: { description: "The org's CRM integrations.", content: { "application/json": { schema: crmIntegrationList } } },
    },
  }),
  handler: async (c) => c.json({ integrations: await listCrmIntegrations(c.var.services, c.var.auth.orgId) }, 200),
});
