/**
 * `GET /api/v1/helpdesk/tickets/{id}/messages?before=&after=&limit=`: a ticket's messages newest
 * first, paged by message id (monotonic), so pages stay stable while messages arrive: `before=`
 * the page's oldest id gives older ones; `after=` the newest id gives what arrived since.
 */
import { ApiError } from "../../core/errors";
import { defineOperation } from "../../core/route";
import { isUuid } from "../../core/validation";
import { listMessages, viewerOf } from "../../helpdesk/tickets";
import { group, ticketWorkers } from "./group";
import { messagesPage, messagesQuery, ticketParams } from "./schemas";

/** A page of a ticket's messages. */
export const listMessagesRoute = defineOperation({
  route: group.route({
    method: "get",
    path: "/api/v1/helpdesk/tickets/{id}/messages",
    summary: "List a ticket's messages",
    description:
      "Messages (the client's, replies, notes, with their attachments), newest first, at most `limit` (1–100, default " +
      "50). Without `after`: the newest below `before` (omit it for the latest); `before` in the answer continues to " +
      "older ones. With `after`: the oldest `limit` messages above it, newest first (`hasMore`: more arrived). One Neon request.",
    access: ticketWorkers,
    request: { params: ticketParams, query: messagesQuery },
    errors: { 404: "No such ticket in the caller's org, or (for an agent) a colleague's ticket." },
    responses: { 200: { description: "A page of messages.", content: { "application/json": { schema: messagesPage } } } },
  }),
  handler: async (c) => {
    const { id } = c.req.valid("param");
    const page = isUuid(id) ? await listMessages(c.var.services.db, viewerOf(c.var.auth), id, c.req.valid("query")) : undefined;
    if (!page) throw new ApiError("NOT_FOUND", { detail: "No such ticket." });
    return c.json(page, 200);
  },
});
