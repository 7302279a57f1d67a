/**
 * `PATCH /api/v1/helpdesk/tickets/{id}` `{ status?, priority?, assigneeId? }`: moves, prioritizes or
 * assigns a ticket (rules in `changeTicket` of `src/helpdesk/tickets.ts`: an agent takes unassigned
 * tickets and changes only their own; a closed ticket is final).
 */
import { ApiError } from "../../core/errors";
import { defineOperation } from "../../core/route";
import { isUuid } from "../../core/validation";
import { changeTicket, viewerOf } from "../../helpdesk/tickets";
import { ticketProblem } from "./errors";
import { group, ticketWorkers } from "./group";
import { ticketParams, ticketView, updateTicketBody } from "./schemas";

/** Changes a ticket's status, priority or assignee. */
export const updateTicketRoute = defineOperation({
  route: group.route({
    method: "patch",
    path: "/api/v1/helpdesk/tickets/{id}",
    summary: "Change a ticket",
    description: [
      "`status`: `open` → `pending` → `resolved` → `closed` (any order but out of `closed`, which is final); `resolved` " +
        "stamps `resolvedAt`, reopening clears it; a client writing to a pending or resolved ticket reopens it. " +
        "`priority`: `low`, `normal`, `high`, `urgent`. `assigneeId`: a member who handles tickets, or null.",
      "An agent takes an unassigned ticket by setting `assigneeId` to themselves, and changes or releases only their own. " +
        "Two agents taking one ticket at once: one gets it, the other a 409.",
    ].join("\n\n"),
    access: ticketWorkers,
    request: {
      params: ticketParams,
      body: { required: true, content: { "application/json": { schema: updateTicketBody } } },
    },
    errors: {
      403: "An agent changing a ticket that is not theirs (take it first), or assigning it to someone else.",
      404: "No such ticket in the caller's org, or (for an agent) a colleague's ticket.",
      409: "The ticket is closed, or changed meanwhile.",
      422: "`assigneeId` is not a member of the org who handles tickets.",
    },
    responses: { 200: { description: "The ticket as it is now.", content: { "application/json": { schema: ticketView } } } },
  }),
  handler: async (c) => {
    const { id } = c.req.valid("param");
    const change = c.req.valid("json");
    if (!isUuid(id)) throw new ApiError("NOT_FOUND", { detail: "No such ticket." });
    const viewer = viewerOf(c.var.auth);
    try {
      const ticket = await changeTicket(c.var.services.db, viewer, id, change);
      c.var.services.logger.info("ticket changed", { ticketId: id, ...change });
      return c.json(ticket, 200);
    } catch (err) {
      throw ticketProblem(err);
    }
  },
});
