/**
 * Attachments, streamed from Telegram: the media row (visible to the caller by its ticket, as
 * `src/helpdesk/tickets.ts` scopes tickets) names a Telegram `file_id`; `getFile` turns it into a
 * `file_path`, downloaded from `{TELEGRAM_API_ORIGIN}/file/bot<token>/<file_path>` and passed through
 * as a stream. The token stays in the Worker: errors name Telegram's answer, never the URL.
 * @see https://core.telegram.org/bots/api#getfile
 */
import { and, eq } from "drizzle-orm";
import { GrammyError } from "grammy/web";
import type { Services } from "../core/context";
import { helpdeskClients, helpdeskMedia, helpdeskTickets } from "../core/db/schema";
import { ApiError } from "../core/errors";
import { botApi } from "../telegram/bots";
import { type Viewer, visibleTickets } from "./tickets";

/** An attachment's body and what its answer's headers say. */
export interface MediaStream {
  body: ReadableStream<Uint8Array>;
  contentType: string;
  /** Bytes, when Telegram said. */
  contentLength: number | null;
}

const unavailable = (detail: string, cause: unknown) =>
  new ApiError("SERVICE_UNAVAILABLE", { detail, headers: { "Retry-After": "5" }, cause });

/**
 * Opens attachment `id` for `viewer`: undefined when it does not exist for them.
 * @throws ApiError 502 when Telegram refuses the file (gone, too big) or answers unexpectedly, 503 when unreachable.
 */
export async function openMedia(services: Services, viewer: Viewer, id: string): Promise<MediaStream | undefined> {
  const [media] = await services.db
    .select({ fileId: helpdeskMedia.fileId, type: helpdeskMedia.type, mimeType: helpdeskMedia.mimeType, botId: helpdeskClients.botId })
    .from(helpdeskMedia)
    .innerJoin(helpdeskTickets, eq(helpdeskTickets.id, helpdeskMedia.ticketId))
    .innerJoin(helpdeskClients, eq(helpdeskClients.id, helpdeskTickets.clientId))
    .where(and(visibleTickets(viewer), eq(helpdeskMedia.id, id), eq(helpdeskMedia.orgId, viewer.orgId)));
  if (!media) return undefined;
  const { api } = await botApi(services, media.botId);
  let filePath: string | undefined;
  try {
    filePath = (await api.getFile(media.fileId)).file_path;
  } catch (err) {
    if (err instanceof GrammyError)
      throw new ApiError("BAD_GATEWAY", { detail: `Telegram refused the file (${err.error_code}): ${err.description}`, cause: err });
    throw unavailable("Telegram could not be reached.", err);
  }
  if (!filePath) throw new ApiError("BAD_GATEWAY", { detail: "Telegram gave no file path for the file." });
  let res: Response;
  try {
    res = await fetch(`${services.config.TELEGRAM_API_ORIGIN}/file/bot${api.token}/${filePath}`);
  } catch (err) {
    throw unavailable("Telegram could not be reached.", err);
  }
  if (!res.ok || !res.body) {
    await res.body?.cancel();
    throw new ApiError("BAD_GATEWAY", { detail: `Telegram answered the download with ${res.status}.` });
  }
  const length = Number(res.headers.get("Content-Length"));
  return {
    body: res.body,
    contentType: media.type === "photo" ? "image/jpeg" : (media.mimeType ?? "application/octet-stream"),
    contentLength: Number.isSafeInteger(length) && length >= 0 && res.headers.has("Content-Length") ? length : null,
  };
}
