/** `GET /api/v1/integrations/kommo/oauth/start`: sends the admin to Kommo's consent page for a Kommo integration. */
import { z } from "@hono/zod-openapi";
import { defineOperation } from "../../core/route";
import { OAUTH_STATE_TTL_SECONDS, startKommoOAuth } from "../../crm/kommo";
import { connectionManagers, group } from "./group";
import { kommoOAuthStartQuery } from "./schemas";

/** Starts connecting a Kommo account (owners, admins). */
export const kommoOAuthStart = defineOperation({
  route: group.route({
    method: "get",
    path: "/api/v1/integrations/kommo/oauth/start",
    summary: "Connect a Kommo account (OAuth): go to Kommo's consent page",
    description: [
      `Stores a random \`state\` bound to the caller, the org and the Kommo integration \`integrationId\` for ${OAUTH_STATE_TTL_SECONDS / 60} ` +
        "minutes (Redis, single use) and redirects (302) to Kommo's consent page " +
        "`https://www.kommo.com/oauth?client_id=…&state=…&mode=post_message`. After consent Kommo sends the browser to " +
        "`GET /api/v1/integrations/kommo/oauth/callback`.",
      "A single-page dashboard cannot follow a cross-origin redirect of a `fetch` (or send its Bearer token on a " +
        "navigation): with `Accept: application/json` the answer is 200 `{ authorizeUrl }` instead, for the page to open.",
      "The membership is re-read (a demoted admin cannot connect). 503 when our Kommo OAuth client is not configured.",
    ].join("\n\n"),
    access: connectionManagers,
    privileged: true,
    request: { query: kommoOAuthStartQuery },
    errors: {
      404: "No CRM integration with this id in the caller's org.",
      409: "The integration is not a Kommo integration, or it is disabled.",
      503: "Kommo OAuth is not configured (KOMMO_CLIENT_ID, KOMMO_CLIENT_SECRET, KOMMO_REDIRECT_URI), Redis is unavailable, or rate limiting is (production).",
    },
    responses: {
      200: {
        description: "With `Accept: application/json`: the consent page's URL, for the page to open.",
        content: { "application/json": { schema: z.object({ authorizeUrl: z.string().url() }) } },
      },
      302: {
        description: "To Kommo's consent page (`Location`).",
        headers: { Location: { description: "Kommo's consent page with our client id and the state.", schema: { type: "string" } } },
        content: { "text/plain": { schema: z.string() } },
      },
    },
  }),
  handler: async (c) => {
    const { integrationId } = c.req.valid("query");
    const { auth, services } = c.var;
    const userId = auth.kind === "user" ? auth.userId : "";
    const url = await startKommoOAuth(services, { userId, orgId: auth.orgId, integrationId });
    if (/\bapplication\/json\b/i.test(c.req.header("Accept") ?? "")) return c.json({ authorizeUrl: url }, 200);
    return c.text(`Redirecting to Kommo: ${url}`, 302, { Location: url });
  },
});
