/** `GET /api/v1/integrations/wildberries`: the org's Wildberries connection. */
import { defineOperation } from "../../core/route";
import { readConnectionView } from "./connection";
import { connectionReaders, group } from "./group";
import { wildberriesConnection } from "./schemas";

/** The org's Wildberries connection (owners, admins, analysts). */
export const getWildberries = defineOperation({
  route: group.route({
    method: "get",
    path: "/api/v1/integrations/wildberries",
    summary: "The org's Wildberries connection",
    description:
      "Whether the org has a Wildberries token; when it expires (`daysLeft`, `expiringSoon` within 14 days); the WB API " +
      "categories it grants; and when a sync last succeeded. Never the token. One Neon request.",
    access: connectionReaders,
    responses: {
      200: { description: "The org's Wildberries connection.", content: { "application/json": { schema: wildberriesConnection } } },
    },
  }),
  handler: async (c) => c.json(await readConnectionView(c.var.services.db, c.var.auth.orgId), 200),
});
