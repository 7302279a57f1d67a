/**
 * The one error type of the API and its RFC 9457 `application/problem+json` rendering.
 *
 * Handlers throw `ApiError`; the app's `onError` turns it (or anything else) into a
 * problem document with `type`, `title`, `status`, `detail`, `instance` and `requestId`.
 * Unknown errors become a 500 whose body names only the request id, never internals.
 * @see https://www.rfc-editor.org/rfc/rfc9457
 */
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";

/** Error codes and their HTTP status and title. */
export const errorCodes = {
  BAD_REQUEST: { status: 400, title: "Bad Request" },
  VALIDATION_FAILED: { status: 400, title: "Validation failed" },
  UNAUTHORIZED: { status: 401, title: "Unauthorized" },
  FORBIDDEN: { status: 403, title: "Forbidden" },
  NOT_FOUND: { status: 404, title: "Not Found" },
  METHOD_NOT_ALLOWED: { status: 405, title: "Method Not Allowed" },
  CONFLICT: { status: 409, title: "Conflict" },
  PAYLOAD_TOO_LARGE: { status: 413, title: "Payload Too Large" },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: "Unsupported Media Type" },
  UNPROCESSABLE: { status: 422, title: "Unprocessable Content" },
  TOO_MANY_REQUESTS: { status: 429, title: "Too Many Requests" },
  INTERNAL: { status: 500, title: "Internal Server Error" },
  BAD_GATEWAY: { status: 502, title: "Bad Gateway" },
  SERVICE_UNAVAILABLE: { status: 503, title: "Service Unavailable" },
} as const satisfies Record<string, { status: ContentfulStatusCode; title: string }>;

export type ErrorCode = keyof typeof errorCodes;

/** One failing field of a validation error: JSON-pointer-like path and message. */
export interface FieldError {
  path: string;
  message: string;
}

/** Options of an `ApiError`. */
export interface ApiErrorOptions {
  detail?: string;
  /** Failing fields of a validation error (rendered as `errors`). */
  errors?: FieldError[];
  /** Extra response headers, e.g. `Retry-After` for 429/503. */
  headers?: Record<string, string>;
  cause?: unknown;
}

/** An error with a code from `errorCodes`; thrown by handlers and middleware. */
export class ApiError extends HTTPException {
  readonly code: ErrorCode;
  readonly detail: string | undefined;
  readonly errors: FieldError[] | undefined;
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, options: ApiErrorOptions = {}) {
    super(errorCodes[code].status, { message: options.detail ?? errorCodes[code].title, cause: options.cause });
    this.code = code;
    this.detail = options.detail;
    this.errors = options.errors;
    this.headers = options.headers ?? {};
  }
}

/** Body of a problem document. */
export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance: string;
  requestId: string;
  errors?: FieldError[];
}

/** Builds the problem document for `error` on the request path `instance`. */
export function toProblem(error: ApiError, instance: string, requestId: string): ProblemDocument {
  const { status, title } = errorCodes[error.code];
  return {
    type: `https://seller-edge.dev/problems/${error.code.toLowerCase().replaceAll("_", "-")}`,
    title,
    status,
    ...(error.detail ? { detail: error.detail } : {}),
    instance,
    requestId,
    ...(error.errors ? { errors: error.errors } : {}),
  };
}

/** Maps an arbitrary thrown value to an `ApiError` (unknown → INTERNAL, details hidden). */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof HTTPException) {
    const byStatus = Object.entries(errorCodes).find(([, v]) => v.status === err.status);
    const code = (byStatus?.[0] as ErrorCode | undefined) ?? "INTERNAL";
    // Hono's own HTTPExceptions (e.g. body limit, malformed JSON) carry safe messages.
    return new ApiError(code, { detail: code === "INTERNAL" ? undefined : err.message, cause: err });
  }
  return new ApiError("INTERNAL", { cause: err });
}
