/**
 * `GET /api/v1/helpdesk/tickets?status=&assignee=me|unassigned|all&priority=&q=&cursor=&limit=`:
 * the tickets the caller may see (an agent: their own and the unassigned queue), by latest message
 * first, keyset-paged, each with its unread count and service-level flags, plus the counts of the
 * panel's tabs under the same filters.
 */
import { defineOperation } from "../../core/route";
import { listTickets, viewerOf } from "../../helpdesk/tickets";
import { group, ticketWorkers } from "./group";
import { ticketsPage, ticketsQuery } from "./schemas";

/** The caller's tickets, latest activity first. */
export const listTicketsRoute = defineOperation({
  route: group.route({
    method: "get",
    path: "/api/v1/helpdesk/tickets",
    summary: "List tickets",
    description:
      "Tickets by latest message first. `assignee`: `me` (assigned to the caller), `unassigned` (the queue) or `all` " +
      "(every ticket the caller may see — for an agent, their own and the queue). Filters: `status`, `priority`, `q` " +
      "(subject, category, the client's names). `counts` gives each tab's total under the same filters. Each ticket " +
      "carries `unread` (messages after the caller's read mark) and `sla` / `overdue` (past the org's targets). " +
      "At most `limit` (1–100, default 50) per page; `nextCursor` is the next page's `cursor`. One Neon request.",
    access: ticketWorkers,
    request: { query: ticketsQuery },
    responses: { 200: { description: "A page of tickets and the tab counts.", content: { "application/json": { schema: ticketsPage } } } },
  }),
  handler: async (c) => {
    const query = c.req.valid("query");
    return c.json(await listTickets(c.var.services.db, viewerOf(c.var.auth), query), 200);
  },
});
