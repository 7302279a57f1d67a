/** The panel's refusals as problems: a {@link TicketChangeError} becomes its status. */
import { ApiError } from "../../core/errors";
import { TicketChangeError } from "../../helpdesk/tickets";

const codes = { 403: "FORBIDDEN", 404: "NOT_FOUND", 409: "CONFLICT", 422: "UNPROCESSABLE" } as const;

/** `err` as the problem the API answers (a ticket refusal), or `err` itself. */
export function ticketProblem(err: unknown): unknown {
  if (err instanceof TicketChangeError) return new ApiError(codes[err.status], { detail: err.message });
  return err;
}
