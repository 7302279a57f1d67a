/**
 * `GET /api/v1/helpdesk/media/{id}`: streams an attachment from Telegram through the Worker (the
 * bot's token never leaves it): `getFile` gives the file's path, the body of
 * `{TELEGRAM_API_ORIGIN}/file/bot<token>/<file_path>` is passed through unbuffered. Telegram serves
 * bots files of at most 20 MB.
 * @see https://core.telegram.org/bots/api#getfile
 */
import { z } from "@hono/zod-openapi";
import { ApiError } from "../../core/errors";
import { defineOperation } from "../../core/route";
import { isUuid } from "../../core/validation";
import { openMedia } from "../../helpdesk/media";
import { viewerOf } from "../../helpdesk/tickets";
import { group, ticketWorkers } from "./group";
import { mediaParams } from "./schemas";

/** The content types an attachment is answered with (anything else is `application/octet-stream`). */
export const mediaContentTypes = [
  "image/jpeg",
  "image/png",
  "image/webp",
  "image/gif",
  "video/mp4",
  "video/quicktime",
  "video/webm",
  "audio/ogg",
  "audio/mpeg",
  "application/pdf",
  "application/octet-stream",
] as const;

const binary = { schema: z.string().openapi({ type: "string", format: "binary" }) };

/** Streams one attachment. */
export const getMediaRoute = defineOperation({
  route: group.route({
    method: "get",
    path: "/api/v1/helpdesk/media/{id}",
    summary: "Download an attachment",
    description:
      "The file of a photo, video, document or voice message a client sent, streamed from Telegram. `Content-Type` is " +
      "the file's (photos: `image/jpeg`), else `application/octet-stream`; `Content-Length` when Telegram gives it.",
    access: ticketWorkers,
    request: { params: mediaParams },
    errors: {
      404: "No such attachment in the caller's org, or (for an agent) one of a colleague's ticket.",
      502: "Telegram refused the file (gone, or over 20 MB) or answered unexpectedly.",
      503: "Telegram could not be reached; retry after `Retry-After` seconds.",
    },
    responses: {
      200: {
        description: "The file.",
        content: Object.fromEntries(mediaContentTypes.map((type) => [type, binary])) as Record<
          (typeof mediaContentTypes)[number],
          typeof binary
        >,
      },
    },
  }),
  handler: async (c) => {
    const { id } = c.req.valid("param");
    const file = isUuid(id) ? await openMedia(c.var.services, viewerOf(c.var.auth), id) : undefined;
    if (!file) throw new ApiError("NOT_FOUND", { detail: "No such attachment." });
    const type = (mediaContentTypes as readonly string[]).includes(file.contentType) ? file.contentType : "application/octet-stream";
    const headers: Record<string, string> = { "Content-Type": type, "Cache-Control": "private, max-age=300" };
    if (file.contentLength !== null) headers["Content-Length"] = String(file.contentLength);
    return c.body(file.body, 200, headers) as never;
  },
});
