/** `GET /api/v1/helpdesk/tickets/{id}`: one ticket with its attachments (404 when the caller may not see it). */
import { ApiError } from "../../core/errors";
import { defineOperation } from "../../core/route";
import { isUuid } from "../../core/validation";
import { getTicketDetail, viewerOf } from "../../helpdesk/tickets";
import { group, ticketWorkers } from "./group";
import { ticketDetail, ticketParams } from "./schemas";

/** One ticket. */
export const getTicketRoute = defineOperation({
  route: group.route({
    method: "get",
    path: "/api/v1/helpdesk/tickets/{id}",
    summary: "Get a ticket",
    description: "The ticket, its client, service levels, unread count and attachments (`media[].url` downloads one).",
    access: ticketWorkers,
    request: { params: ticketParams },
    errors: { 404: "No such ticket in the caller's org, or (for an agent) a colleague's ticket." },
    responses: { 200: { description: "The ticket.", content: { "application/json": { schema: ticketDetail } } } },
  }),
  handler: async (c) => {
    const { id } = c.req.valid("param");
    const ticket = isUuid(id) ? await getTicketDetail(c.var.services.db, viewerOf(c.var.auth), id) : undefined;
    if (!ticket) throw new ApiError("NOT_FOUND", { detail: "No such ticket." });
    return c.json(ticket, 200);
  },
});
