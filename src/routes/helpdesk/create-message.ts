/**
 * `POST /api/v1/helpdesk/tickets/{id}/messages` `{ text, kind? }`: a manager's reply to the client
 * (`message`) or an internal note (`note`, never sent). A reply is stored with its `helpdesk-notify`
 * job in one statement and published after the answer: it reaches the client through the job
 * (retries, dead letters, a blocked client marked), never inline.
 */
import { ApiError } from "../../core/errors";
import { defineOperation } from "../../core/route";
import { isUuid } from "../../core/validation";
import { publishNotifications } from "../../helpdesk/notify";
import { addManagerMessage, viewerOf } from "../../helpdesk/tickets";
import { ticketProblem } from "./errors";
import { group, ticketWorkers } from "./group";
import { createMessageBody, messageView, ticketParams } from "./schemas";

/** Adds a reply or a note to a ticket. */
export const createMessageRoute = defineOperation({
  route: group.route({
    method: "post",
    path: "/api/v1/helpdesk/tickets/{id}/messages",
    summary: "Reply to a ticket, or add a note",
    description:
      "`kind: message` (default) is sent to the client by the support bot through a `helpdesk-notify` job (over 4,096 " +
      "characters: several Telegram messages); `deliveredAt` is set once Telegram accepted it, `deliveryError` says why " +
      "not (the client blocked the bot). The first reply stamps the ticket's `firstResponseAt`. `kind: note` is internal " +
      "and never reaches the client. An agent writes only to tickets assigned to them.",
    access: ticketWorkers,
    request: {
      params: ticketParams,
      body: { required: true, content: { "application/json": { schema: createMessageBody } } },
    },
    errors: {
      403: "An agent writing to a ticket not assigned to them (take it first).",
      404: "No such ticket in the caller's org, or (for an agent) a colleague's ticket.",
      409: "A reply to a closed ticket.",
    },
    responses: { 201: { description: "The stored message.", content: { "application/json": { schema: messageView } } } },
  }),
  handler: async (c) => {
    const { id } = c.req.valid("param");
    const body = c.req.valid("json");
    if (!isUuid(id)) throw new ApiError("NOT_FOUND", { detail: "No such ticket." });
    const services = c.var.services;
    try {
      const { message, notifyJobId } = await addManagerMessage(services.db, viewerOf(c.var.auth), id, body);
      if (notifyJobId) c.executionCtx.waitUntil(publishNotifications(services, [notifyJobId]));
      services.logger.info("ticket message added", { ticketId: id, messageId: message.id, kind: message.kind });
      return c.json(message, 201);
    } catch (err) {
      throw ticketProblem(err);
    }
  },
});
