/**
 * The QStash emulator's engine: messages, signed delivery with retries, callbacks, the DLQ,
 * schedules and the event log. All state lives in memory; every timer is unref'd and cleared by
 * {@link QStashEngine.close}, so an idle engine never keeps the process alive.
 *
 * Lifecycle of a message (states as in the client's `State` type):
 * CREATED → ACTIVE → DELIVERED, or ACTIVE → ERROR → RETRY → ACTIVE ... → FAILED (then DLQ and
 * failure callback), or → CANCELED.
 *
 * @see https://upstash.com/docs/qstash/features/retry
 * @see https://upstash.com/docs/qstash/features/callbacks
 * @see https://upstash.com/docs/qstash/features/dlq
 * @see https://upstash.com/docs/qstash/features/schedules
 */
import { createHash, randomBytes } from "node:crypto";
import http from "node:http";
import https from "node:https";
import { Cron } from "croner";
import { signDelivery } from "./signing";
import { addHeader, type CallbackSpec, type HeaderMap, type MessageSpec } from "./spec";
import { defaultBackoffMs, evaluateRetryDelay, parseRetryAfter } from "./timing";

/** Message states, as the client's `State` type names them. */
export type MessageState = "CREATED" | "ACTIVE" | "DELIVERED" | "ERROR" | "RETRY" | "FAILED" | "CANCELED";

/** What produced a message: a publish (or schedule), or a callback of another message. */
export type MessageKind = "message" | "callback" | "failure-callback";

/** Engine settings; see `startQStash` for their meaning. */
export interface EngineOptions {
  currentSigningKey: string;
  retryDelayFactor: number;
  defaultRetries: number;
  defaultTimeoutMs: number;
  deduplicationWindowMs: number;
}

/** A destination's answer to one delivery attempt. */
export interface DeliveryResponse {
  status: number;
  header: HeaderMap;
  body: Buffer;
}

/** One delivery attempt, as recorded for tests (`handle.deliveries()`). */
export interface DeliveryRecord {
  messageId: string;
  kind: MessageKind;
  url: string;
  method: string;
  /** Value of `Upstash-Retried`: 0 on the first attempt. */
  retried: number;
  scheduleId?: string;
  /** Headers sent, lower-case names. */
  headers: Record<string, string>;
  /** Body sent, UTF-8 decoded. */
  body: string;
  /** Destination's status; absent when the request failed (`error`). */
  status?: number;
  error?: string;
  /** Epoch milliseconds. */
  startedAt: number;
  finishedAt: number;
}

/** A message as the emulator keeps it (`handle.messages()` returns copies). */
export interface StoredMessage {
  messageId: string;
  kind: MessageKind;
  url: string;
  method: string;
  header: HeaderMap;
  body: Buffer;
  maxRetries: number;
  retryDelayExpression?: string;
  /** Epoch ms of the first delivery attempt. */
  notBefore: number;
  createdAt: number;
  timeoutMs: number;
  callback?: CallbackSpec;
  failureCallback?: CallbackSpec;
  scheduleId?: string;
  queueName?: string;
  labels: string[];
  callerIp: string;
  state: MessageState;
  /** How many times the message has been retried (the next attempt's `Upstash-Retried`). */
  retried: number;
  nextDeliveryTime?: number;
  lastResponse?: DeliveryResponse;
  lastError?: string;
  dlqId?: string;
}

/** A dead-lettered message. */
export interface DlqEntry {
  dlqId: string;
  message: StoredMessage;
  failedAt: number;
}

/** A stored schedule. */
export interface ScheduleRecord {
  scheduleId: string;
  cron: string;
  spec: MessageSpec;
  createdAt: number;
  callerIp: string;
  isPaused: boolean;
  job: Cron;
  lastScheduleTime?: number;
  lastScheduleStates: Record<string, "IN_PROGRESS" | "SUCCESS" | "FAIL">;
}

/** One entry of the event log (`GET /v2/events`), in the client's `LogPayload` shape. */
export interface EventRecord {
  time: number;
  state: MessageState;
  messageId: string;
  url: string;
  header: HeaderMap;
  /** Base64 of the message body. */
  body: string;
  nextDeliveryTime?: number;
  error?: string;
  responseStatus?: number;
  scheduleId?: string;
  queueName?: string;
  labels?: string[];
}

/** Result of a publish: `deduplicated` only when an earlier message was returned instead. */
export interface PublishResult {
  messageId: string;
  url: string;
  deduplicated?: true;
}

/** Query of the list and bulk endpoints (`/v2/dlq`, `/v2/messages`, `/v2/events`). */
export type ListQuery = URLSearchParams;

const PENDING: ReadonlySet<MessageState> = new Set(["CREATED", "ACTIVE", "ERROR", "RETRY"]);
const RETRY_AFTER_HEADERS = [
  "upstash-retry-after",
  "retry-after",
  "x-ratelimit-reset",
  "x-ratelimit-reset-requests",
  "x-ratelimit-reset-tokens",
];
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Base64 of `bytes`. */
function base64(bytes: Buffer): string {
  return bytes.toString("base64");
}

/** `{ body }` when `bytes` are valid UTF-8, else `{ bodyBase64 }`, as QStash reports bodies. */
function bodyFields(bytes: Buffer, prefix: "body" | "responseBody"): Record<string, string> {
  try {
    return { [prefix]: utf8.decode(bytes) };
  } catch {
    return { [`${prefix}Base64`]: base64(bytes) };
  }
}

function headerValue(header: HeaderMap, name: string): string | undefined {
  const key = Object.keys(header).find((candidate) => candidate.toLowerCase() === name);
  return key === undefined ? undefined : header[key]?.[0];
}

function toHeaderMap(rawHeaders: string[]): HeaderMap {
  const map: HeaderMap = {};
  for (let index = 0; index + 1 < rawHeaders.length; index += 2) {
    const name = rawHeaders[index];
    const value = rawHeaders[index + 1];
    if (name !== undefined && value !== undefined) addHeader(map, name, value);
  }
  return map;
}

function newId(prefix: string): string {
  return `${prefix}_${randomBytes(16).toString("base64url")}`;
}

/** Splits an optional `CRON_TZ=Zone ` prefix off a QStash cron expression. */
function parseCron(cron: string): { pattern: string; timezone?: string } {
  const match = /^\s*CRON_TZ=(\S+)\s+(.+)$/.exec(cron);
  return match?.[1] !== undefined && match[2] !== undefined ? { pattern: match[2].trim(), timezone: match[1] } : { pattern: cron.trim() };
}

/**
 * In-memory QStash. Construct once per emulator; call {@link close} to stop every timer and
 * abort in-flight deliveries.
 */
export class QStashEngine {
  readonly #options: EngineOptions;
  readonly #messages = new Map<string, StoredMessage>();
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #dlq = new Map<string, DlqEntry>();
  readonly #schedules = new Map<string, ScheduleRecord>();
  readonly #dedup = new Map<string, { messageId: string; expiresAt: number }>();
  readonly #events: EventRecord[] = [];
  readonly #deliveries: DeliveryRecord[] = [];
  readonly #inFlight = new Set<http.ClientRequest>();
  readonly #httpAgent = new http.Agent({ keepAlive: false });
  readonly #httpsAgent = new https.Agent({ keepAlive: false });
  #dlqSequence = 0;
  #closed = false;

  constructor(options: EngineOptions) {
    this.#options = options;
  }

  /**
   * Accepts a message. Duplicates (same `Upstash-Deduplication-Id`, or same content with
   * content-based deduplication) within the window return the first message's id.
   *
   * @see https://upstash.com/docs/qstash/features/deduplication
   */
  publish(spec: MessageSpec, callerIp: string, scheduleId?: string): PublishResult {
    const now = Date.now();
    const dedupKey = scheduleId === undefined ? this.#dedupKey(spec) : undefined;
    if (dedupKey !== undefined) {
      const seen = this.#dedup.get(dedupKey);
      if (seen !== undefined && seen.expiresAt > now) {
        return { messageId: seen.messageId, url: spec.url, deduplicated: true };
      }
    }
    const message = this.#create(spec, callerIp, "message", scheduleId);
    if (dedupKey !== undefined) {
      this.#dedup.set(dedupKey, { messageId: message.messageId, expiresAt: now + this.#options.deduplicationWindowMs });
    }
    return { messageId: message.messageId, url: spec.url };
  }

  #dedupKey(spec: MessageSpec): string | undefined {
    if (spec.deduplicationId !== undefined) return `id:${spec.deduplicationId}`;
    if (!spec.contentBasedDeduplication) return undefined;
    const hash = createHash("sha256");
    hash.update(spec.url).update("\n").update(spec.method).update("\n");
    for (const name of Object.keys(spec.header).sort()) hash.update(`${name.toLowerCase()}:${spec.header[name]?.join(",")}\n`);
    hash.update(spec.body);
    return `content:${hash.digest("hex")}`;
  }

  #create(spec: MessageSpec, callerIp: string, kind: MessageKind, scheduleId?: string): StoredMessage {
    const now = Date.now();
    const message: StoredMessage = {
      messageId: newId("msg"),
      kind,
      url: spec.url,
      method: spec.method,
      header: spec.header,
      body: spec.body,
      maxRetries: spec.retries ?? this.#options.defaultRetries,
      notBefore: spec.notBefore ?? now + spec.delayMs,
      createdAt: now,
      timeoutMs: spec.timeoutMs ?? this.#options.defaultTimeoutMs,
      labels: spec.labels,
      callerIp,
      state: "CREATED",
      retried: 0,
      ...(spec.retryDelayExpression === undefined ? {} : { retryDelayExpression: spec.retryDelayExpression }),
      ...(spec.callback === undefined ? {} : { callback: spec.callback }),
      ...(spec.failureCallback === undefined ? {} : { failureCallback: spec.failureCallback }),
      ...(scheduleId === undefined ? {} : { scheduleId }),
      ...(spec.queueName === undefined ? {} : { queueName: spec.queueName }),
    };
    this.#messages.set(message.messageId, message);
    this.#event(message, "CREATED");
    this.#arm(message, message.notBefore);
    return message;
  }

  #arm(message: StoredMessage, at: number): void {
    if (this.#closed) return;
    const timer = setTimeout(
      () => {
        this.#timers.delete(message.messageId);
        void this.#attempt(message);
      },
      Math.max(0, at - Date.now()),
    );
    timer.unref();
    this.#timers.set(message.messageId, timer);
  }

  async #attempt(message: StoredMessage): Promise<void> {
    if (this.#closed || message.state === "CANCELED") return;
    message.state = "ACTIVE";
    delete message.nextDeliveryTime;
    this.#event(message, "ACTIVE");
    const outcome = await this.#deliver(message);
    // The state may have changed to CANCELED while the delivery was in flight.
    if (this.#closed || (message.state as MessageState) === "CANCELED") return;

    if ("response" in outcome) message.lastResponse = outcome.response;
    const ok = "response" in outcome && outcome.response.status >= 200 && outcome.response.status < 300;
    if (ok) {
      message.state = "DELIVERED";
      delete message.lastError;
      this.#event(message, "DELIVERED", { responseStatus: outcome.response.status });
      this.#noteSchedule(message, "SUCCESS");
      if (message.callback !== undefined) this.#callback(message, message.callback, "callback");
      return;
    }

    message.lastError = "error" in outcome ? outcome.error : `destination answered ${outcome.response.status}`;
    this.#event(message, "ERROR", {
      error: message.lastError,
      ...("response" in outcome ? { responseStatus: outcome.response.status } : {}),
    });
    // QStash calls the (success) callback after every attempt; the receiver tells a final
    // failure by `retried == maxRetries`.
    if (message.callback !== undefined) this.#callback(message, message.callback, "callback");

    if (message.retried < message.maxRetries) {
      const delay = this.#retryDelay(message, "response" in outcome ? outcome.response : undefined);
      message.retried += 1;
      message.state = "RETRY";
      message.nextDeliveryTime = Date.now() + Math.round(delay);
      this.#event(message, "RETRY");
      this.#arm(message, message.nextDeliveryTime);
      return;
    }
    this.#fail(message);
  }

  /**
   * Delay before the next attempt: the destination's `Upstash-Retry-After` / `Retry-After` /
   * `X-RateLimit-Reset*` if given (any failing status, up to one day), else `Upstash-Retry-Delay`,
   * else `min(86400, e ** (2.5 * n))` s for retry n; then times `retryDelayFactor`.
   */
  #retryDelay(message: StoredMessage, response: DeliveryResponse | undefined): number {
    let delay: number | undefined;
    if (response !== undefined) {
      for (const name of RETRY_AFTER_HEADERS) {
        const value = headerValue(response.header, name);
        if (value === undefined) continue;
        delay = parseRetryAfter(value, Date.now());
        if (delay !== undefined) break;
      }
    }
    if (delay === undefined && message.retryDelayExpression !== undefined) {
      delay = evaluateRetryDelay(message.retryDelayExpression, message.retried);
    }
    delay ??= defaultBackoffMs(message.retried + 1);
    return delay * this.#options.retryDelayFactor;
  }

  #fail(message: StoredMessage): void {
    const dlqId = `${Date.now()}-${this.#dlqSequence++}`;
    message.dlqId = dlqId;
    this.#dlq.set(dlqId, { dlqId, message, failedAt: Date.now() });
    // Publish the failure callback before the state turns FAILED, so waitForIdle never sees a gap.
    if (message.failureCallback !== undefined) {
      this.#callback(message, message.failureCallback, "failure-callback", dlqId);
    }
    message.state = "FAILED";
    this.#event(message, "FAILED", { error: message.lastError ?? "failed" });
    this.#noteSchedule(message, "FAIL");
  }

  /**
   * Publishes a callback message about `source`, with the JSON body QStash documents.
   *
   * @see https://upstash.com/docs/qstash/features/callbacks
   */
  #callback(source: StoredMessage, target: CallbackSpec, kind: "callback" | "failure-callback", dlqId?: string): void {
    const response = source.lastResponse;
    const payload = {
      status: response?.status ?? 0,
      header: response?.header ?? {},
      body: response === undefined ? "" : base64(response.body),
      retried: source.retried,
      maxRetries: source.maxRetries,
      ...(dlqId === undefined ? {} : { dlqId }),
      sourceMessageId: source.messageId,
      url: source.url,
      method: source.method,
      sourceHeader: source.header,
      sourceBody: base64(source.body),
      notBefore: String(source.notBefore),
      createdAt: String(source.createdAt),
      ...(source.scheduleId === undefined ? {} : { scheduleId: source.scheduleId }),
      callerIP: source.callerIp,
      ...(response === undefined && source.lastError !== undefined ? { error: source.lastError } : {}),
    };
    const spec: MessageSpec = {
      url: target.url,
      method: target.method,
      header: { ...target.header, "Content-Type": ["application/json"] },
      body: Buffer.from(JSON.stringify(payload)),
      retries: target.retries ?? source.maxRetries,
      delayMs: target.delayMs,
      timeoutMs: target.timeoutMs ?? source.timeoutMs,
      contentBasedDeduplication: false,
      labels: [],
    };
    this.#create(spec, source.callerIp, kind);
  }

  async #deliver(message: StoredMessage): Promise<{ response: DeliveryResponse } | { error: string }> {
    const startedAt = Date.now();
    const headers: Record<string, string | string[]> = {};
    for (const [name, values] of Object.entries(message.header)) {
      headers[name] = values.length === 1 && values[0] !== undefined ? values[0] : values;
    }
    headers["User-Agent"] = "Upstash-QStash";
    headers["Upstash-Message-Id"] = message.messageId;
    headers["Upstash-Retried"] = String(message.retried);
    headers["Upstash-Caller-Ip"] = message.callerIp;
    if (message.scheduleId !== undefined) headers["Upstash-Schedule-Id"] = message.scheduleId;
    headers["Upstash-Signature"] = await signDelivery(this.#options.currentSigningKey, message.url, message.body);
    if (this.#closed) return { error: "emulator closed" };
    headers["Content-Length"] = String(message.body.length);

    const record: DeliveryRecord = {
      messageId: message.messageId,
      kind: message.kind,
      url: message.url,
      method: message.method,
      retried: message.retried,
      headers: Object.fromEntries(
        Object.entries(headers).map(([name, value]) => [name.toLowerCase(), Array.isArray(value) ? value.join(", ") : value]),
      ),
      body: message.body.toString("utf8"),
      startedAt,
      finishedAt: startedAt,
      ...(message.scheduleId === undefined ? {} : { scheduleId: message.scheduleId }),
    };
    try {
      const response = await this.#request(message, headers);
      record.status = response.status;
      return { response };
    } catch (error) {
      record.error = error instanceof Error ? error.message : String(error);
      return { error: record.error };
    } finally {
      record.finishedAt = Date.now();
      this.#deliveries.push(record);
    }
  }

  #request(message: StoredMessage, headers: Record<string, string | string[]>): Promise<DeliveryResponse> {
    return new Promise((resolve, reject) => {
      const target = new URL(message.url);
      const secure = target.protocol === "https:";
      const request = (secure ? https : http).request(target, {
        method: message.method,
        headers,
        agent: secure ? this.#httpsAgent : this.#httpAgent,
      });
      this.#inFlight.add(request);
      request.setTimeout(message.timeoutMs, () => {
        request.destroy(new Error(`timed out after ${message.timeoutMs} ms`));
      });
      request.on("response", (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => {
          resolve({ status: response.statusCode ?? 0, header: toHeaderMap(response.rawHeaders), body: Buffer.concat(chunks) });
        });
        response.on("error", reject);
      });
      request.on("error", reject);
      request.on("close", () => this.#inFlight.delete(request));
      request.end(message.body);
    });
  }

  #event(message: StoredMessage, state: MessageState, extra: { error?: string; responseStatus?: number } = {}): void {
    this.#events.push({
      time: Date.now(),
      state,
      messageId: message.messageId,
      url: message.url,
      header: message.header,
      body: base64(message.body),
      ...(message.nextDeliveryTime === undefined ? {} : { nextDeliveryTime: message.nextDeliveryTime }),
      ...(message.scheduleId === undefined ? {} : { scheduleId: message.scheduleId }),
      ...(message.queueName === undefined ? {} : { queueName: message.queueName }),
      ...(message.labels.length === 0 ? {} : { labels: message.labels }),
      ...extra,
    });
  }

  #noteSchedule(message: StoredMessage, state: "SUCCESS" | "FAIL"): void {
    if (message.scheduleId === undefined) return;
    const schedule = this.#schedules.get(message.scheduleId);
    if (schedule !== undefined && message.messageId in schedule.lastScheduleStates) {
      schedule.lastScheduleStates[message.messageId] = state;
    }
  }

  /** A pending message in the client's `Message` shape, or undefined (unknown or finished). */
  getMessage(messageId: string): Record<string, unknown> | undefined {
    const message = this.#messages.get(messageId);
    return message !== undefined && PENDING.has(message.state) ? messagePayload(message) : undefined;
  }

  /** Cancels one pending message. @returns whether it was pending. */
  cancel(messageId: string): boolean {
    const message = this.#messages.get(messageId);
    if (message === undefined || !PENDING.has(message.state)) return false;
    clearTimeout(this.#timers.get(messageId));
    this.#timers.delete(messageId);
    message.state = "CANCELED";
    this.#event(message, "CANCELED");
    return true;
  }

  /** Cancels pending messages by `messageIds` or by filter (`url`, `scheduleId`, `queueName`, `label`). */
  cancelMany(query: ListQuery): number {
    const ids = query.getAll("messageIds");
    const candidates = [...this.#messages.values()].filter((message) =>
      ids.length > 0 ? ids.includes(message.messageId) : matches(messageFilterable(message), query),
    );
    return candidates.filter((message) => this.cancel(message.messageId)).length;
  }

  /**
   * Lists the DLQ, oldest first, in the client's `DlqMessage` shape.
   * Filters: `dlqIds`, `messageId`, `url`, `scheduleId`, `queueName`, `responseStatus`, `label`,
   * `fromDate`/`toDate` (epoch ms); paging by `count` (default 100) and an opaque `cursor`.
   */
  listDlq(query: ListQuery): { messages: Array<Record<string, unknown>>; cursor?: string } {
    const { page, cursor } = paginate(this.#selectDlq(query), query);
    return { messages: page.map(dlqPayload), ...(cursor === undefined ? {} : { cursor }) };
  }

  #selectDlq(query: ListQuery): DlqEntry[] {
    const ids = query.getAll("dlqIds");
    return [...this.#dlq.values()].filter((entry) =>
      ids.length > 0 ? ids.includes(entry.dlqId) : matches(messageFilterable(entry.message, entry.failedAt), query),
    );
  }

  /** Removes one DLQ entry. @returns whether it existed. */
  deleteDlq(dlqId: string): boolean {
    return this.#dlq.delete(dlqId);
  }

  /** Removes DLQ entries by `dlqIds` or filter, a page (`count`, default 100) at a time. */
  deleteDlqMany(query: ListQuery): { deleted: number; cursor?: string } {
    const { page, cursor } = paginate(this.#selectDlq(query), query);
    for (const entry of page) this.#dlq.delete(entry.dlqId);
    return { deleted: page.length, ...(cursor === undefined ? {} : { cursor }) };
  }

  /** Republishes DLQ entries as new messages and removes them from the DLQ. */
  retryDlq(query: ListQuery): { responses: Array<{ messageId: string }>; cursor?: string } {
    const { page, cursor } = paginate(this.#selectDlq(query), query);
    const responses = page.map((entry) => {
      this.#dlq.delete(entry.dlqId);
      const source = entry.message;
      const spec: MessageSpec = {
        url: source.url,
        method: source.method,
        header: source.header,
        body: source.body,
        retries: source.maxRetries,
        delayMs: 0,
        timeoutMs: source.timeoutMs,
        contentBasedDeduplication: false,
        labels: source.labels,
        ...(source.retryDelayExpression === undefined ? {} : { retryDelayExpression: source.retryDelayExpression }),
        ...(source.callback === undefined ? {} : { callback: source.callback }),
        ...(source.failureCallback === undefined ? {} : { failureCallback: source.failureCallback }),
      };
      return { messageId: this.#create(spec, source.callerIp, source.kind, source.scheduleId).messageId };
    });
    return { responses, ...(cursor === undefined ? {} : { cursor }) };
  }

  /**
   * Creates (or, with an existing `scheduleId`, replaces) a schedule. Accepts 5-field cron, an
   * optional `CRON_TZ=Zone` prefix, and (an emulator extension, for tests) 6-field cron with seconds.
   *
   * @throws Error when the cron expression is invalid.
   */
  createSchedule(spec: MessageSpec, cron: string, callerIp: string, scheduleId?: string): string {
    const id = scheduleId ?? newId("scd");
    const { pattern, timezone } = parseCron(cron);
    const existing = this.#schedules.get(id);
    const job = new Cron(pattern, { unref: true, catch: true, paused: this.#closed, ...(timezone === undefined ? {} : { timezone }) }, () =>
      this.#fire(id),
    );
    existing?.job.stop();
    this.#schedules.set(id, {
      scheduleId: id,
      cron,
      spec,
      createdAt: existing?.createdAt ?? Date.now(),
      callerIp,
      isPaused: false,
      job,
      lastScheduleStates: {},
      ...(existing?.lastScheduleTime === undefined ? {} : { lastScheduleTime: existing.lastScheduleTime }),
    });
    return id;
  }

  #fire(scheduleId: string): void {
    const schedule = this.#schedules.get(scheduleId);
    if (schedule === undefined || schedule.isPaused || this.#closed) return;
    const { messageId } = this.publish(schedule.spec, schedule.callerIp, scheduleId);
    schedule.lastScheduleTime = Date.now();
    schedule.lastScheduleStates = { [messageId]: "IN_PROGRESS" };
  }

  /** All schedules in the client's `Schedule` shape. */
  listSchedules(): Array<Record<string, unknown>> {
    return [...this.#schedules.values()].map((schedule) => schedulePayload(schedule, this.#options.defaultRetries));
  }

  /** One schedule in the client's `Schedule` shape, or undefined. */
  getSchedule(scheduleId: string): Record<string, unknown> | undefined {
    const schedule = this.#schedules.get(scheduleId);
    return schedule === undefined ? undefined : schedulePayload(schedule, this.#options.defaultRetries);
  }

  /** Deletes a schedule (its already published messages continue). @returns whether it existed. */
  deleteSchedule(scheduleId: string): boolean {
    const schedule = this.#schedules.get(scheduleId);
    schedule?.job.stop();
    return this.#schedules.delete(scheduleId);
  }

  /** Pauses or resumes a schedule. @returns whether it exists. */
  setSchedulePaused(scheduleId: string, paused: boolean): boolean {
    const schedule = this.#schedules.get(scheduleId);
    if (schedule === undefined) return false;
    schedule.isPaused = paused;
    if (paused) schedule.job.pause();
    else schedule.job.resume();
    return true;
  }

  /**
   * The event log, newest first, in the client's `LogPayload` shape.
   * Filters: `messageId`, `state`, `url`, `scheduleId`, `queueName`, `label`, `fromDate`/`toDate`;
   * paging by `count` (default 100) and `cursor`.
   */
  listEvents(query: ListQuery): { events: EventRecord[]; cursor?: string } {
    const states = query.getAll("state");
    const selected = [...this.#events].reverse().filter(
      (event) =>
        (states.length === 0 || states.includes(event.state)) &&
        matches(
          {
            url: event.url,
            labels: event.labels ?? [],
            scheduleId: event.scheduleId,
            queueName: event.queueName,
            messageId: event.messageId,
            responseStatus: event.responseStatus,
            time: event.time,
          },
          query,
        ),
    );
    const { page, cursor } = paginate(selected, query);
    return { events: page, ...(cursor === undefined ? {} : { cursor }) };
  }

  /** Snapshot of every message ever accepted (bodies as UTF-8 text), oldest first. */
  messages(): Array<Omit<StoredMessage, "body"> & { body: string }> {
    return [...this.#messages.values()].map((message) => ({ ...message, body: message.body.toString("utf8") }));
  }

  /** Snapshot of the DLQ in the client's `DlqMessage` shape, oldest first. */
  dlq(): Array<Record<string, unknown>> {
    return [...this.#dlq.values()].map(dlqPayload);
  }

  /** Snapshot of every delivery attempt, in completion order. */
  deliveries(): DeliveryRecord[] {
    return this.#deliveries.map((record) => ({ ...record, headers: { ...record.headers } }));
  }

  /** Whether any message is still waiting, retrying or being delivered. */
  busy(): boolean {
    for (const message of this.#messages.values()) if (PENDING.has(message.state)) return true;
    return false;
  }

  /** Ids of pending messages, for diagnostics. */
  pendingIds(): string[] {
    return [...this.#messages.values()].filter((message) => PENDING.has(message.state)).map((message) => message.messageId);
  }

  /** Stops every timer and cron job and aborts in-flight deliveries. Idempotent. */
  close(): void {
    this.#closed = true;
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    for (const schedule of this.#schedules.values()) schedule.job.stop();
    for (const request of this.#inFlight) request.destroy(new Error("emulator closed"));
    this.#inFlight.clear();
    this.#httpAgent.destroy();
    this.#httpsAgent.destroy();
  }
}

/** The fields list and bulk filters look at. */
interface Filterable {
  url: string;
  labels: string[];
  scheduleId?: string | undefined;
  queueName?: string | undefined;
  messageId?: string | undefined;
  responseStatus?: number | undefined;
  /** Epoch ms compared with `fromDate`/`toDate`. */
  time: number;
}

function matches(item: Filterable, query: ListQuery): boolean {
  const equals = (key: string, value: string | undefined): boolean => {
    const wanted = query.getAll(key);
    return wanted.length === 0 || (value !== undefined && wanted.includes(value));
  };
  if (!equals("url", item.url)) return false;
  if (!equals("scheduleId", item.scheduleId)) return false;
  if (!equals("queueName", item.queueName)) return false;
  if (!equals("messageId", item.messageId)) return false;
  if (!equals("responseStatus", item.responseStatus?.toString())) return false;
  const labels = query.getAll("label");
  if (labels.length > 0 && !labels.some((label) => item.labels.includes(label))) return false;
  const from = Number(query.get("fromDate") ?? Number.NEGATIVE_INFINITY);
  const to = Number(query.get("toDate") ?? Number.POSITIVE_INFINITY);
  return item.time >= from && item.time <= to;
}

function messageFilterable(message: StoredMessage, time: number = message.createdAt): Filterable {
  return {
    url: message.url,
    labels: message.labels,
    scheduleId: message.scheduleId,
    queueName: message.queueName,
    messageId: message.messageId,
    responseStatus: message.lastResponse?.status,
    time,
  };
}

function paginate<T>(items: T[], query: ListQuery): { page: T[]; cursor?: string } {
  const start = Math.max(0, Number.parseInt(query.get("cursor") ?? "0", 10) || 0);
  const count = Math.max(1, Number.parseInt(query.get("count") ?? "100", 10) || 100);
  const page = items.slice(start, start + count);
  const next = start + page.length;
  return next < items.length ? { page, cursor: String(next) } : { page };
}

/** A message in the shape of the client's `MessagePayload`. */
function messagePayload(message: StoredMessage): Record<string, unknown> {
  return {
    messageId: message.messageId,
    url: message.url,
    method: message.method,
    header: message.header,
    ...bodyFields(message.body, "body"),
    maxRetries: message.maxRetries,
    notBefore: message.notBefore,
    createdAt: message.createdAt,
    callerIp: message.callerIp,
    ...(message.retryDelayExpression === undefined ? {} : { retryDelayExpression: message.retryDelayExpression }),
    ...(message.callback === undefined ? {} : { callback: message.callback.url }),
    ...(message.failureCallback === undefined ? {} : { failureCallback: message.failureCallback.url }),
    ...(message.scheduleId === undefined ? {} : { scheduleId: message.scheduleId }),
    ...(message.queueName === undefined ? {} : { queueName: message.queueName }),
    ...(message.labels.length === 0 ? {} : { label: message.labels[0], labels: message.labels }),
  };
}

/** A DLQ entry in the shape of the client's `DlqMessage`. */
function dlqPayload(entry: DlqEntry): Record<string, unknown> {
  const response = entry.message.lastResponse;
  return {
    ...messagePayload(entry.message),
    dlqId: entry.dlqId,
    ...(response === undefined
      ? {}
      : { responseStatus: response.status, responseHeader: response.header, ...bodyFields(response.body, "responseBody") }),
  };
}

/** A schedule in the shape of the client's `Schedule`. */
function schedulePayload(schedule: ScheduleRecord, defaultRetries: number): Record<string, unknown> {
  const { spec } = schedule;
  const next = schedule.isPaused ? null : schedule.job.nextRun();
  return {
    scheduleId: schedule.scheduleId,
    cron: schedule.cron,
    createdAt: schedule.createdAt,
    destination: spec.url,
    method: spec.method,
    header: spec.header,
    ...bodyFields(spec.body, "body"),
    retries: spec.retries ?? defaultRetries,
    delay: Math.round(spec.delayMs / 1_000),
    callerIp: schedule.callerIp,
    callerIP: schedule.callerIp,
    isPaused: schedule.isPaused,
    lastScheduleStates: schedule.lastScheduleStates,
    ...(schedule.lastScheduleTime === undefined ? {} : { lastScheduleTime: schedule.lastScheduleTime }),
    ...(next === null ? {} : { nextScheduleTime: next.getTime() }),
    ...(spec.callback === undefined ? {} : { callback: spec.callback.url }),
    ...(spec.failureCallback === undefined ? {} : { failureCallback: spec.failureCallback.url }),
    ...(spec.retryDelayExpression === undefined ? {} : { retryDelayExpression: spec.retryDelayExpression }),
    ...(spec.queueName === undefined ? {} : { queueName: spec.queueName }),
    ...(spec.labels.length === 0 ? {} : { label: spec.labels[0], labels: spec.labels }),
  };
}
