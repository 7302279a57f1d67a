/** `POST /api/v1/helpdesk/tickets/{id}/read` `{ messageId? }`: moves the caller's read mark (default: the newest message). */
import { ApiError } from "../../core/errors";
import { defineOperation } from "../../core/route";
import { isUuid } from "../../core/validation";
import { markRead, viewerOf } from "../../helpdesk/tickets";
import { group, ticketWorkers } from "./group";
import { markReadBody, readMark, ticketParams } from "./schemas";

/** Marks a ticket read up to a message, for the caller. */
export const markReadRoute = defineOperation({
  route: group.route({
    method: "post",
    path: "/api/v1/helpdesk/tickets/{id}/read",
    summary: "Mark a ticket read",
    description:
      "Moves the caller's read mark of the ticket to `messageId` (default: its newest message); a mark never moves back. " +
      "Each manager has their own: `unread` in the lists counts the messages after it that others wrote.",
    access: ticketWorkers,
    request: { params: ticketParams, body: { required: false, content: { "application/json": { schema: markReadBody } } } },
    errors: { 404: "No such ticket in the caller's org, or (for an agent) a colleague's ticket." },
    responses: { 200: { description: "The read mark and what is still unread.", content: { "application/json": { schema: readMark } } } },
  }),
  handler: async (c) => {
    const { id } = c.req.valid("param");
    const { messageId } = c.req.valid("json") ?? {};
    const viewer = viewerOf(c.var.auth);
    const mark =
      isUuid(id) && viewer.userId ? await markRead(c.var.services.db, { ...viewer, userId: viewer.userId }, id, messageId) : undefined;
    if (!mark) throw new ApiError("NOT_FOUND", { detail: "No such ticket." });
    return c.json(mark, 200);
  },
});
