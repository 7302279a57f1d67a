/**
 * Sentry reports, end to end: an unexpected 5xx reaches the stack's Sentry double (`dev/sentry.ts`,
 * the `SENTRY_DSN` of the test env) with the request id, the release and the route as tags — and
 * with no e-mail, password, bearer token, cookie, query string or Wildberries token, though the
 * failing requests carry all of them (in the body, the headers, the query, and the failed query's
 * parameters in the error message). A 4xx and a deliberate 503 are not reported.
 */
import { describe, expect, it } from "vitest";
import { scrubEvent } from "../../src/core/sentry";
import { buildRequest, createTenant, testEnv, workerFetch } from "./helpers";

/** An event as the double stores it. */
interface StoredEvent {
  eventId: string;
  type: string;
  event: {
    release?: string;
    environment?: string;
    tags?: Record<string, string>;
    exception?: { values?: { type?: string; value?: string }[] };
    request?: {
      url?: string;
      method?: string;
      headers?: Record<string, string>;
      query_string?: unknown;
      cookies?: unknown;
      data?: unknown;
    };
  };
}

const sentryUrl = () => {
  const dsn = new URL(testEnv.SENTRY_DSN as string);
  return `${dsn.protocol}//${dsn.host}`;
};

/** The events the double holds for request `requestId`. */
async function eventsOf(requestId: string): Promise<StoredEvent[]> {
  const { events } = (await (await fetch(`${sentryUrl()}/__events`)).json()) as { events: StoredEvent[] };
  return events.filter((e) => e.event.tags?.requestId === requestId);
}

/** Postgres unreachable: every handler that reads it fails with an unexpected error (500). */
const postgresDown = { NEON_FETCH_ENDPOINT: "http://127.0.0.1:9/sql" };

/** A Wildberries API token's shape (an ES256 JWT); never a real one. */
const wbToken =
  "eyJhbGciOiJFUzI1NiIsImtpZCI6IjIwMjUwMTIwdjEiLCJ0eXAiOiJKV1QifQ.eyJlbnQiOjEsImV4cCI6MTc1MzMxNjQ2MCwiaWQiOiIwMTk0N2MyNCJ9.c2lnbmF0dXJlLW5vdC1yZWFs";

describe("Sentry reports", () => {
  it("reports a 5xx with request id, release and route as tags, and none of the request's secrets", async () => {
    const tenant = await createTenant({ role: "analyst" });
    const email = `victim-${crypto.randomUUID().slice(0, 8)}@example.test`;
    const password = `pw-${crypto.randomUUID()}`;
    const cookie = `sess-${crypto.randomUUID()}`;

    // 1. Login: the e-mail and the password in the body; the failed query's parameter is the e-mail.
    const login = await workerFetch(
      buildRequest("/api/v1/auth/login", { method: "POST", json: { email, password }, headers: { Cookie: `session=${cookie}` } }),
      postgresDown,
    );
    expect(login.status).toBe(500);
    // 2. A dashboard read: a bearer token, a cookie, a WB token in a header, an e-mail in the query.
    const read = await workerFetch(
      buildRequest(`/api/v1/stocks?q=${encodeURIComponent(email)}`, {
        token: tenant.token,
        headers: { Cookie: `session=${cookie}; password=${password}`, "X-WB-Token": wbToken, "X-Forwarded-For": "203.0.113.7" },
      }),
      postgresDown,
    );
    expect(read.status).toBe(500);

    for (const [res, route, group] of [
      [login, "/api/v1/auth/login", "auth"],
      [read, "/api/v1/stocks", "dashboard"],
    ] as const) {
      const requestId = res.headers.get("X-Request-Id") as string;
      const events = await eventsOf(requestId);
      expect(events, `one event for ${route}`).toHaveLength(1);
      const [{ event }] = events as [StoredEvent];
      expect(event.tags).toMatchObject({ requestId, route, group, release: "dev", service: "all" });
      expect(event.release).toBe("dev");
      expect(event.environment).toBe("test");
      expect(event.exception?.values?.length).toBeGreaterThan(0);
      expect(event.request?.url).toBe(`https://edge.test${route}`);
      expect(event.request?.query_string ?? "").toBe("");
      expect(event.request?.cookies).toBeUndefined();
      expect(event.request?.data).toBeUndefined();
      expect(Object.keys(event.request?.headers ?? {}).map((h) => h.toLowerCase())).not.toContain("authorization");

      const sent = JSON.stringify(event);
      for (const secret of [email, password, cookie, tenant.token, wbToken, wbToken.split(".")[1] as string, "203.0.113.7"]) {
        expect(sent, `${route}: ${secret.slice(0, 12)}…`).not.toContain(secret);
      }
      expect(sent).not.toMatch(/[\w.+-]+@example\.test/);
    }
    // The failed query's text survives (it names no value); its parameters (the e-mail) do not.
    const [loginEvent] = await eventsOf(login.headers.get("X-Request-Id") as string);
    const thrown = JSON.stringify(loginEvent?.event.exception);
    expect(thrown).toContain('from \\"users\\"');
    expect(thrown).not.toMatch(/params: (?!\[redacted\])/);
  });

  it("does not report a 4xx or a deliberate 503", async () => {
    const bad = await workerFetch(buildRequest("/api/v1/stocks", { token: "not.a.jwt" }));
    expect(bad.status).toBe(401);
    const refused = await workerFetch(buildRequest("/metrics", { token: testEnv.METRICS_TOKEN }), {
      UPSTASH_REDIS_REST_URL: "http://127.0.0.1:9",
    });
    expect(refused.status).toBe(503);
    for (const res of [bad, refused]) expect(await eventsOf(res.headers.get("X-Request-Id") as string)).toEqual([]);
  });
});

describe("scrubbing an event", () => {
  it("removes credentials and personal data from every text, the request's query, body, cookies and other headers", () => {
    const event = scrubEvent({
      message: "login of ivan@example.ru failed",
      exception: {
        values: [
          { type: "Error", value: `Failed query: select "id" from "users" where "email" = $1\nparams: ivan@example.ru,s3cret-Passw0rd` },
          {
            type: "Error",
            value: `upstream said: Authorization: Bearer abc.def-ghi; token=tok_123 key=k1 password=hunter2 se_live_AbC123_x ${wbToken}`,
          },
        ],
      },
      breadcrumbs: [{ message: "fetch https://x.test/?api_key=zzz", data: { password: "p", note: "a@b.io" } }],
      extra: { refreshToken: "rt_1", count: 2 },
      user: { id: "u1", email: "ivan@example.ru", ip_address: "203.0.113.7" },
      request: {
        url: "https://edge.test/api/v1/stocks?q=ivan@example.ru",
        query_string: "q=ivan@example.ru",
        data: '{"password":"hunter2"}',
        cookies: { session: "s1" },
        headers: { "User-Agent": "curl/8", Authorization: "Bearer abc", Cookie: "session=s1", "X-WB-Token": wbToken },
      },
    });
    const text = JSON.stringify(event);
    for (const secret of [
      "ivan@example.ru",
      "s3cret-Passw0rd",
      "abc.def-ghi",
      "tok_123",
      "k1 ",
      "hunter2",
      "AbC123",
      wbToken,
      "zzz",
      "rt_1",
      "s1",
      "203.0.113.7",
    ]) {
      expect(text, secret).not.toContain(secret);
    }
    expect(event.exception?.values?.[0]?.value).toBe('Failed query: select "id" from "users" where "email" = $1\nparams: [redacted]');
    expect(event.request).toEqual({ url: "https://edge.test/api/v1/stocks", headers: { "User-Agent": "curl/8" } });
    expect(event.user).toEqual({ id: "u1" });
    expect(event.extra).toEqual({ refreshToken: "[redacted]", count: 2 });
  });
});
