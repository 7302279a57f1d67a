/**
 * The helpdesk panel's reads and writes of tickets and messages, scoped by who asks:
 * - every query is limited to the caller's org (from the verified token);
 * - an `agent` sees the tickets assigned to them and the unassigned queue, nothing else: a
 *   colleague's ticket is answered like an unknown one (404), never 403, so its existence does not
 *   leak; an agent may take an unassigned ticket (assign it to themselves), and write to, change or
 *   release only their own;
 * - `manager`, `owner` and `admin` see and change every ticket of the org.
 *
 * Service levels are computed in SQL against the org's targets (`helpdesk_settings`, defaults when
 * absent): the first response is due `sla.firstResponse` minutes after creation, the resolution
 * `sla.resolution` minutes after; a ticket is breached when the first reply (resolution) came after
 * the due time, or has not come and the due time has passed (a closed ticket counts its closing).
 * Unread: messages of a ticket after the caller's read mark (`helpdesk_reads`), not written by them.
 */
import { and, eq, inArray, isNull, or, type SQL, sql } from "drizzle-orm";
import type { AuthContext } from "../core/auth/jwt";
import { encodeCursor, type KeysetCursor } from "../core/cursor";
import type { Database } from "../core/db/client";
import {
  helpdeskClients,
  helpdeskMedia,
  helpdeskMessages,
  helpdeskReads,
  helpdeskSettings,
  helpdeskTickets,
  jobs,
  memberships,
  type TicketPriority,
  type TicketStatus,
} from "../core/db/schema";
import { isoTime } from "../core/time";
import { PUBLISH_GRACE_SECONDS } from "../jobs/ledger";
import type { MediaView, MessageView, TicketView } from "../routes/helpdesk/schemas";
import { ticketNumber } from "./conversation";
import { DEFAULT_SETTINGS } from "./settings";

/** Roles who may be assigned a ticket. */
export const ticketHandlerRoles = ["owner", "admin", "manager", "agent"] as const;

/** The caller as the scoping sees them. */
export interface Viewer {
  orgId: string;
  /** Null for an API key (no user: never an agent, never unread marks). */
  userId: string | null;
  isAgent: boolean;
}

/** The viewer of `auth`. */
export const viewerOf = (auth: AuthContext): Viewer => ({
  orgId: auth.orgId,
  userId: auth.kind === "user" ? auth.userId : null,
  isAgent: auth.role === "agent",
});

const t = helpdeskTickets;
const NO_USER = "00000000-0000-0000-0000-000000000000";
const me = (viewer: Viewer) => viewer.userId ?? NO_USER;

/** The tickets `viewer` may see (see the module comment). */
export function visibleTickets(viewer: Viewer): SQL {
  const org = eq(t.orgId, viewer.orgId);
  return (viewer.isAgent ? and(org, or(eq(t.assigneeId, me(viewer)), isNull(t.assigneeId))) : org) as SQL;
}

const firstTarget = sql`coalesce(${helpdeskSettings.slaFirstResponseMinutes}, ${DEFAULT_SETTINGS.sla.firstResponse})`;
const resolutionTarget = sql`coalesce(${helpdeskSettings.slaResolutionMinutes}, ${DEFAULT_SETTINGS.sla.resolution})`;
const firstDue = sql`(${t.createdAt} + make_interval(mins => ${firstTarget}))`;
const resolutionDue = sql`(${t.createdAt} + make_interval(mins => ${resolutionTarget}))`;
/** Breach conditions (SQL booleans). */
export const firstResponseBreached = sql<boolean>`(coalesce(${t.firstResponseAt}, ${t.closedAt}, now()) > ${firstDue})`;
export const resolutionBreached = sql<boolean>`(coalesce(${t.resolvedAt}, ${t.closedAt}, now()) > ${resolutionDue})`;

/** The columns of a ticket view for `viewer`. */
function ticketColumns(viewer: Viewer) {
  return {
    ticket: t,
    client: {
      id: helpdeskClients.id,
      telegramUserId: helpdeskClients.telegramUserId,
      username: helpdeskClients.username,
      firstName: helpdeskClients.firstName,
      lastName: helpdeskClients.lastName,
      blockedAt: helpdeskClients.blockedAt,
    },
    firstResponseDueAt: sql<string>`${firstDue}::text`,
    resolutionDueAt: sql<string>`${resolutionDue}::text`,
    firstResponseBreached,
    resolutionBreached,
    unread: sql<number>`(select count(*) from ${helpdeskMessages} m where m.ticket_id = ${t.id}
      and m.id > coalesce((select r.last_read_message_id from ${helpdeskReads} r where r.ticket_id = ${t.id} and r.user_id = ${me(viewer)}), 0)
      and m.author_user_id is distinct from ${me(viewer)})::int`,
  };
}

type TicketRow = {
  ticket: typeof t.$inferSelect;
  client: Omit<TicketView["client"], "blockedAt"> & { blockedAt: string | null };
  firstResponseDueAt: string;
  resolutionDueAt: string;
  firstResponseBreached: boolean;
  resolutionBreached: boolean;
  unread: number;
};

/** A row of {@link ticketColumns} as the API shows it. */
function toTicketView(row: TicketRow): TicketView {
  const { ticket } = row;
  return {
    id: ticket.id,
    number: ticketNumber(ticket.id),
    category: ticket.category,
    subject: ticket.subject,
    status: ticket.status,
    priority: ticket.priority,
    assigneeId: ticket.assigneeId,
    client: { ...row.client, blockedAt: isoTime(row.client.blockedAt) },
    clientBlocked: ticket.clientBlocked,
    createdAt: isoTime(ticket.createdAt),
    updatedAt: isoTime(ticket.updatedAt),
    lastMessageAt: isoTime(ticket.lastMessageAt),
    firstResponseAt: isoTime(ticket.firstResponseAt),
    resolvedAt: isoTime(ticket.resolvedAt),
    closedAt: isoTime(ticket.closedAt),
    unread: Number(row.unread),
    sla: {
      firstResponseDueAt: isoTime(row.firstResponseDueAt),
      resolutionDueAt: isoTime(row.resolutionDueAt),
      firstResponseBreached: row.firstResponseBreached,
      resolutionBreached: row.resolutionBreached,
    },
    overdue: row.firstResponseBreached || row.resolutionBreached,
  };
}

/** The select of ticket views for `viewer` (joined with the client and the org's settings). */
function selectTickets(db: Database, viewer: Viewer) {
  return db
    .select(ticketColumns(viewer))
    .from(t)
    .innerJoin(helpdeskClients, eq(helpdeskClients.id, t.clientId))
    .leftJoin(helpdeskSettings, eq(helpdeskSettings.orgId, t.orgId));
}

/** Filters of the ticket list. */
export interface TicketFilters {
  status?: TicketStatus | undefined;
  assignee: "me" | "unassigned" | "all";
  priority?: TicketPriority | undefined;
  q?: string | undefined;
  cursor?: KeysetCursor | undefined;
  limit: number;
}

/** `%text%` for ILIKE, with the pattern characters escaped. */
const containing = (text: string) => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/**
 * A page of the tickets `viewer` sees, by `last_message_at` desc then id desc (keyset cursor), and
 * the counts of the tabs `mine`, `unassigned`, `all` under the same status, priority and search
 * filters. One Neon request.
 */
export async function listTickets(db: Database, viewer: Viewer, filters: TicketFilters) {
  const pattern = filters.q === undefined ? undefined : containing(filters.q);
  const filtered = and(
    visibleTickets(viewer),
    filters.status === undefined ? undefined : eq(t.status, filters.status),
    filters.priority === undefined ? undefined : eq(t.priority, filters.priority),
    pattern === undefined
      ? undefined
      : sql`(${t.subject} ilike ${pattern} or ${t.category} ilike ${pattern} or ${helpdeskClients.username} ilike ${pattern}
          or ${helpdeskClients.firstName} ilike ${pattern} or ${helpdeskClients.lastName} ilike ${pattern})`,
  );
  const tab =
    filters.assignee === "me" ? eq(t.assigneeId, me(viewer)) : filters.assignee === "unassigned" ? isNull(t.assigneeId) : undefined;
  const [rows, [counts]] = await db.batch([
    selectTickets(db, viewer)
      .where(
        and(
          filtered,
          tab,
          filters.cursor === undefined
            ? undefined
            : sql`(${t.lastMessageAt}, ${t.id}) < (${filters.cursor.time}::timestamptz, ${filters.cursor.id}::uuid)`,
        ),
      )
      .orderBy(sql`${t.lastMessageAt} desc`, sql`${t.id} desc`)
      .limit(filters.limit + 1),
    db
      .select({
        mine: sql<number>`(count(*) filter (where ${t.assigneeId} = ${me(viewer)}))::int`,
        unassigned: sql<number>`(count(*) filter (where ${t.assigneeId} is null))::int`,
        all: sql<number>`count(*)::int`,
      })
      .from(t)
      .innerJoin(helpdeskClients, eq(helpdeskClients.id, t.clientId))
      .where(filtered),
  ]);
  const page = rows.slice(0, filters.limit);
  const last = page.at(-1);
  return {
    items: page.map(toTicketView),
    nextCursor: rows.length > filters.limit && last ? encodeCursor({ time: last.ticket.lastMessageAt, id: last.ticket.id }) : null,
    counts: { mine: Number(counts?.mine ?? 0), unassigned: Number(counts?.unassigned ?? 0), all: Number(counts?.all ?? 0) },
  };
}

/** The ticket `id` if `viewer` may see it. */
export async function getTicket(db: Database, viewer: Viewer, id: string): Promise<TicketView | undefined> {
  const [row] = await selectTickets(db, viewer).where(and(visibleTickets(viewer), eq(t.id, id)));
  return row ? toTicketView(row) : undefined;
}

/** The media view of a `helpdesk_media` row. */
export const toMediaView = (m: {
  id: string;
  type: MediaView["type"];
  size: number | null;
  mimeType: string | null;
  messageId: number | null;
}): MediaView => ({ ...m, url: `/api/v1/helpdesk/media/${m.id}` });

/** The ticket `id` with its attachments, if `viewer` may see it. One Neon request. */
export async function getTicketDetail(db: Database, viewer: Viewer, id: string) {
  const [[row], media] = await db.batch([
    selectTickets(db, viewer).where(and(visibleTickets(viewer), eq(t.id, id))),
    db
      .select({
        id: helpdeskMedia.id,
        type: helpdeskMedia.type,
        size: helpdeskMedia.size,
        mimeType: helpdeskMedia.mimeType,
        messageId: helpdeskMedia.messageId,
      })
      .from(helpdeskMedia)
      .innerJoin(t, eq(t.id, helpdeskMedia.ticketId))
      .where(and(visibleTickets(viewer), eq(helpdeskMedia.ticketId, id)))
      .orderBy(helpdeskMedia.createdAt, helpdeskMedia.id),
  ]);
  return row ? { ...toTicketView(row), media: media.map(toMediaView) } : undefined;
}

/** Why a ticket change is refused. */
export class TicketChangeError extends Error {
  override readonly name = "TicketChangeError";
  constructor(
    message: string,
    readonly status: 403 | 404 | 409 | 422,
  ) {
    super(message);
  }
}

/** A change of a ticket. */
export interface TicketChange {
  status?: TicketStatus | undefined;
  priority?: TicketPriority | undefined;
  assigneeId?: string | null | undefined;
}

/**
 * Applies `change` to ticket `id` as `viewer` and returns the ticket as it is now.
 * - An agent: on an unassigned ticket only together with taking it (`assigneeId` = themselves); on
 *   their own: any field, `assigneeId` only themselves or null (release). A colleague's: 404.
 * - `assigneeId` must be a member of the org with a role that handles tickets (422 otherwise).
 * - `closed` is final (409 for any other status); `resolved` stamps `resolved_at`, `closed`
 *   `closed_at`; reopening (`open`, `pending`) clears `resolved_at`.
 * - The write is conditional on the assignee read (409 when it changed meanwhile: two agents taking
 *   one ticket, only one gets it).
 * @throws TicketChangeError 403, 404, 409, 422.
 */
export async function changeTicket(db: Database, viewer: Viewer, id: string, change: TicketChange): Promise<TicketView> {
  const assignee = change.assigneeId;
  const [[current], member] = await db.batch([
    db
      .select({ status: t.status, assigneeId: t.assigneeId })
      .from(t)
      .where(and(visibleTickets(viewer), eq(t.id, id))),
    db
      .select({ userId: memberships.userId })
      .from(memberships)
      .where(
        and(
          eq(memberships.orgId, viewer.orgId),
          eq(memberships.userId, assignee ?? NO_USER),
          inArray(memberships.role, [...ticketHandlerRoles]),
        ),
      ),
  ]);
  if (!current) throw new TicketChangeError("No such ticket.", 404);
  if (viewer.isAgent) {
    const mine = current.assigneeId !== null && current.assigneeId === viewer.userId;
    if (!mine && assignee !== viewer.userId) throw new TicketChangeError("Take the ticket first: set assigneeId to yourself.", 403);
    if (assignee !== undefined && assignee !== null && assignee !== viewer.userId)
      throw new TicketChangeError("An agent assigns tickets only to themselves; a manager assigns them to others.", 403);
  }
  if (assignee !== undefined && assignee !== null && member.length === 0)
    throw new TicketChangeError("assigneeId is not a member of the org who handles tickets (agent, manager, owner, admin).", 422);
  if (current.status === "closed" && change.status !== undefined && change.status !== "closed")
    throw new TicketChangeError("The ticket is closed; a closed ticket does not change status.", 409);
  const status = change.status;
  const moved = status !== undefined && status !== current.status;
  const [updated] = await db
    .update(t)
    .set({
      ...(change.priority !== undefined ? { priority: change.priority } : {}),
      ...(assignee !== undefined ? { assigneeId: assignee } : {}),
      ...(moved ? { status } : {}),
      ...(moved && status === "resolved" ? { resolvedAt: sql`now()` } : {}),
      ...(moved && (status === "open" || status === "pending") ? { resolvedAt: null } : {}),
      ...(moved && status === "closed" ? { closedAt: sql`now()` } : {}),
      updatedAt: sql`now()`,
    })
    .where(
      and(
        visibleTickets(viewer),
        eq(t.id, id),
        current.assigneeId === null ? isNull(t.assigneeId) : eq(t.assigneeId, current.assigneeId),
        eq(t.status, current.status),
      ),
    )
    .returning({ id: t.id });
  if (!updated) throw new TicketChangeError("The ticket changed meanwhile (taken or moved by someone else); read it again.", 409);
  const view = await getTicket(db, { ...viewer, isAgent: false }, id);
  if (!view) throw new TicketChangeError("No such ticket.", 404);
  return view;
}

/** Columns of a message view (its media aggregated as JSON). */
const messageColumns = {
  id: helpdeskMessages.id,
  ticketId: helpdeskMessages.ticketId,
  author: helpdeskMessages.author,
  authorUserId: helpdeskMessages.authorUserId,
  kind: helpdeskMessages.kind,
  text: helpdeskMessages.text,
  createdAt: helpdeskMessages.createdAt,
  deliveredAt: helpdeskMessages.deliveredAt,
  deliveryError: helpdeskMessages.deliveryError,
  media: sql<Array<Omit<MediaView, "url">>>`coalesce((select json_agg(json_build_object('id', x.id, 'type', x.type, 'size', x.size,
    'mimeType', x.mime_type, 'messageId', x.message_id) order by x.created_at, x.id) from ${helpdeskMedia} x
    where x.message_id = ${helpdeskMessages.id}), '[]'::json)`,
};

type MessageRow = { [K in keyof typeof messageColumns]: unknown } & {
  id: number;
  ticketId: string;
  author: MessageView["author"];
  authorUserId: string | null;
  kind: MessageView["kind"];
  text: string;
  createdAt: string;
  deliveredAt: string | null;
  deliveryError: string | null;
  media: Array<Omit<MediaView, "url">>;
};

const toMessageView = (row: MessageRow): MessageView => ({
  id: Number(row.id),
  ticketId: row.ticketId,
  author: row.author,
  authorUserId: row.authorUserId,
  kind: row.kind,
  text: row.text,
  createdAt: isoTime(row.createdAt),
  deliveredAt: isoTime(row.deliveredAt),
  deliveryError: row.deliveryError,
  media: row.media.map(toMediaView),
});

/**
 * A page of ticket `id`'s messages, newest first, at most `limit`: without `after`, the newest
 * ones below `before` (older pages); with `after`, the oldest `limit` above it (what arrived since),
 * so a page never skips a message however many arrive while paging. Undefined when `viewer` may not
 * see the ticket. One Neon request.
 */
export async function listMessages(
  db: Database,
  viewer: Viewer,
  id: string,
  page: { before?: number | undefined; after?: number | undefined; limit: number },
) {
  const forward = page.after !== undefined;
  const [[ticket], rows] = await db.batch([
    db
      .select({ id: t.id })
      .from(t)
      .where(and(visibleTickets(viewer), eq(t.id, id))),
    db
      .select(messageColumns)
      .from(helpdeskMessages)
      .innerJoin(t, eq(t.id, helpdeskMessages.ticketId))
      .where(
        and(
          visibleTickets(viewer),
          eq(helpdeskMessages.ticketId, id),
          page.before === undefined ? undefined : sql`${helpdeskMessages.id} < ${page.before}`,
          page.after === undefined ? undefined : sql`${helpdeskMessages.id} > ${page.after}`,
        ),
      )
      .orderBy(forward ? sql`${helpdeskMessages.id} asc` : sql`${helpdeskMessages.id} desc`)
      .limit(page.limit + 1),
  ]);
  if (!ticket) return undefined;
  const taken = rows.slice(0, page.limit) as MessageRow[];
  const items = (forward ? taken.reverse() : taken).map(toMessageView);
  return {
    items,
    hasMore: rows.length > page.limit,
    before: items.at(-1)?.id ?? null,
    after: items[0]?.id ?? page.after ?? null,
  };
}

/**
 * Adds a manager's reply (`message`) or internal note to ticket `id` as `viewer` — one statement:
 * the message; for a reply also the ticket's `first_response_at` (first reply only),
 * `last_message_at`, and its `helpdesk-notify` job (the outbox row, idempotency key
 * `helpdesk-notify:message:{id}`). The caller publishes the job after the answer.
 * @throws TicketChangeError 404 (not visible), 403 (an agent on an unassigned ticket), 409 (a reply to a closed ticket).
 */
export async function addManagerMessage(
  db: Database,
  viewer: Viewer,
  id: string,
  input: { text: string; kind: "message" | "note" },
): Promise<{ message: MessageView; notifyJobId: string | null }> {
  const [current] = await db
    .select({ status: t.status, assigneeId: t.assigneeId })
    .from(t)
    .where(and(visibleTickets(viewer), eq(t.id, id)));
  if (!current) throw new TicketChangeError("No such ticket.", 404);
  if (viewer.isAgent && current.assigneeId !== viewer.userId)
    throw new TicketChangeError("Take the ticket first: an agent answers only their own tickets.", 403);
  const reply = input.kind === "message";
  if (reply && current.status === "closed")
    throw new TicketChangeError("The ticket is closed: add a note, or the client opens a new one.", 409);
  const jobId = crypto.randomUUID();
  const { rows } = await db.execute<{ id: string | number; created_at: string; job_id: string | null }>(sql`
    with m as (
      insert into ${helpdeskMessages} (ticket_id, org_id, author, author_user_id, kind, text)
      select ${id}::uuid, ${viewer.orgId}::uuid, 'manager', ${viewer.userId}::uuid, ${input.kind}, ${input.text}
      where exists (select 1 from ${t} where ${t.id} = ${id} and ${t.orgId} = ${viewer.orgId})
      returning id, created_at
    ), touched as (
      update ${t} set first_response_at = coalesce(first_response_at, now()), last_message_at = now(), updated_at = now()
      where id = ${id} and org_id = ${viewer.orgId} and ${reply}::boolean and exists (select 1 from m)
      returning id
    ), job as (
      insert into ${jobs} (id, org_id, kind, dedup_id, payload, lease_until)
      select ${jobId}::uuid, ${viewer.orgId}::uuid, 'helpdesk-notify', 'helpdesk-notify:message:' || m.id,
             jsonb_build_object('messageId', m.id), now() + make_interval(secs => ${PUBLISH_GRACE_SECONDS})
      from m where ${reply}::boolean
      returning id
    )
    select m.id, m.created_at, (select id from job) as job_id from m`);
  const row = rows[0];
  if (!row) throw new TicketChangeError("No such ticket.", 404);
  return {
    message: {
      id: Number(row.id),
      ticketId: id,
      author: "manager",
      authorUserId: viewer.userId,
      kind: input.kind,
      text: input.text,
      createdAt: isoTime(row.created_at),
      deliveredAt: null,
      deliveryError: null,
      media: [],
    },
    notifyJobId: row.job_id,
  };
}

/**
 * Moves `viewer`'s read mark of ticket `id` to `messageId` (default the newest message; a mark
 * never moves back) and returns it with the unread count left. Undefined when the ticket is not
 * visible. One statement.
 */
export async function markRead(db: Database, viewer: Viewer & { userId: string }, id: string, messageId: number | undefined) {
  const visible = visibleTickets(viewer);
  const { rows } = await db.execute<{ last_read_message_id: string | number; unread: string | number }>(sql`
    with target as (
      select ${t.id} as ticket_id,
             coalesce(${messageId ?? null}::bigint, (select max(m.id) from ${helpdeskMessages} m where m.ticket_id = ${t.id}), 0) as message_id
      from ${t} where ${visible} and ${t.id} = ${id}
    ), mark as (
      insert into ${helpdeskReads} (ticket_id, user_id, last_read_message_id)
      select ticket_id, ${viewer.userId}::uuid, message_id from target
      on conflict (ticket_id, user_id) do update
        set last_read_message_id = greatest(${helpdeskReads.lastReadMessageId}, excluded.last_read_message_id), read_at = now()
      returning last_read_message_id
    )
    select mark.last_read_message_id,
           (select count(*) from ${helpdeskMessages} m where m.ticket_id = ${id} and m.id > mark.last_read_message_id
              and m.author_user_id is distinct from ${viewer.userId}) as unread
    from mark`);
  const row = rows[0];
  if (!row) return undefined;
  return { ticketId: id, lastReadMessageId: Number(row.last_read_message_id), unread: Number(row.unread) };
}

/**
 * The org's helpdesk stats over the tickets created in the last `days` days: counts by status now,
 * median minutes to the first reply and to resolution, breaches of the targets. One Neon request.
 */
export async function helpdeskStats(db: Database, orgId: string, days: number) {
  const since = sql`now() - make_interval(days => ${days})`;
  const [[row], [settings]] = await db.batch([
    db
      .select({
        from: sql<string>`(${since})::text`,
        created: sql<number>`count(${t.id})::int`,
        open: sql<number>`(count(*) filter (where ${t.status} = 'open'))::int`,
        pending: sql<number>`(count(*) filter (where ${t.status} = 'pending'))::int`,
        resolved: sql<number>`(count(*) filter (where ${t.status} = 'resolved'))::int`,
        closed: sql<number>`(count(*) filter (where ${t.status} = 'closed'))::int`,
        medianFirstResponse: sql<
          number | null
        >`percentile_cont(0.5) within group (order by extract(epoch from ${t.firstResponseAt} - ${t.createdAt}) / 60)
          filter (where ${t.firstResponseAt} is not null)`,
        medianResolution: sql<
          number | null
        >`percentile_cont(0.5) within group (order by extract(epoch from ${t.resolvedAt} - ${t.createdAt}) / 60)
          filter (where ${t.resolvedAt} is not null)`,
        firstResponseBreached: sql<number>`(count(*) filter (where ${firstResponseBreached}))::int`,
        resolutionBreached: sql<number>`(count(*) filter (where ${resolutionBreached}))::int`,
      })
      .from(t)
      .leftJoin(helpdeskSettings, eq(helpdeskSettings.orgId, t.orgId))
      .where(and(eq(t.orgId, orgId), sql`${t.createdAt} >= ${since}`)),
    db
      .select({ firstResponse: helpdeskSettings.slaFirstResponseMinutes, resolution: helpdeskSettings.slaResolutionMinutes })
      .from(helpdeskSettings)
      .where(eq(helpdeskSettings.orgId, orgId)),
  ]);
  const round = (v: number | string | null | undefined) => (v === null || v === undefined ? null : Math.round(Number(v) * 10) / 10);
  return {
    from: isoTime(row?.from ?? new Date().toISOString()),
    created: Number(row?.created ?? 0),
    byStatus: {
      open: Number(row?.open ?? 0),
      pending: Number(row?.pending ?? 0),
      resolved: Number(row?.resolved ?? 0),
      closed: Number(row?.closed ?? 0),
    },
    medianFirstResponseMinutes: round(row?.medianFirstResponse),
    medianResolutionMinutes: round(row?.medianResolution),
    firstResponseBreached: Number(row?.firstResponseBreached ?? 0),
    resolutionBreached: Number(row?.resolutionBreached ?? 0),
    sla: settings ?? DEFAULT_SETTINGS.sla,
  };
}
