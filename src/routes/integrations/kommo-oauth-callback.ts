/** `GET /api/v1/integrations/kommo/oauth/callback`: Kommo sends the admin's browser back here after consent. */
import { publicAccess } from "../../core/access";
import { defineOperation } from "../../core/route";
import { completeKommoOAuth } from "../../crm/kommo";
import { group } from "./group";
import { kommoOAuthCallbackQuery, kommoOAuthConnected } from "./schemas";

/** Completes connecting a Kommo account: public, the single-use state is the credential. */
export const kommoOAuthCallback = defineOperation({
  route: group.route({
    method: "get",
    path: "/api/v1/integrations/kommo/oauth/callback",
    summary: "Kommo OAuth callback: store the account's tokens",
    description: [
      "Reached by the admin's browser from Kommo's consent page with `code`, `state` and `referer` (the account " +
        "domain). No credential: the state is one, taken from Redis at once (known, unexpired, single use). The " +
        "referer must be a Kommo account domain (`{account}.kommo.com`, `.amocrm.ru`, `.amocrm.com`) before any request " +
        "leaves; then the code is exchanged at `https://{account}/oauth2/access_token`, and the tokens are stored " +
        "AES-GCM encrypted with the account domain. The access token (24 hours) is refreshed before it expires.",
      "400: no, unknown, used or expired state; a referer that is not a Kommo account; the user refused (`error`); a " +
        "missing code. 502: Kommo refused the code (its `hint` in `detail`, e.g. `Authorization code has expired`) " +
        "or failed.",
    ].join("\n\n"),
    access: publicAccess,
    request: { query: kommoOAuthCallbackQuery },
    errors: {
      409: "The integration was disabled, or deleted, after the connection started.",
      502: "Kommo refused the authorization code (`detail` has Kommo's hint) or could not be reached.",
      503: "Kommo OAuth is not configured, or Redis is unavailable.",
    },
    responses: {
      200: { description: "The integration is connected.", content: { "application/json": { schema: kommoOAuthConnected } } },
    },
  }),
  handler: async (c) => c.json(await completeKommoOAuth(c.var.services, c.req.valid("query")), 200),
});
