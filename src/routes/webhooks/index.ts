/** Route group `webhooks`: its routes, mounted by the route-group registry. */
import { createRouter, type RouteGroup } from "../../core/route";
import { group } from "./group";
import { receiveKommoChatsWebhook } from "./receive-kommo-chats-webhook";
import { receiveKommoWebhook } from "./receive-kommo-webhook";
import { receiveStandardWebhook } from "./receive-standard-webhook";

const routes = createRouter().openapiRoutes([receiveStandardWebhook, receiveKommoWebhook, receiveKommoChatsWebhook] as const);

/** The `webhooks` group (CRM senders call it; the typed client has no use for it). */
export const webhooks = { ...group, routes } satisfies RouteGroup<typeof routes>;
