import { describe, expect, it, vi } from "vitest";
import { api, buildRequest, createTenant, problem, workerFetch } from "./helpers";

describe("platform", () => {
  it("answers /health with the request id header", async () => {
    const res = await api("/health");
    expect(res.status).toBe(200);
    expect(res.headers.get("X-Request-Id")).toMatch(/[0-9a-f-]{36}/);
    expect(await res.json()).toMatchObject({ status: "ok", service: "all" });
  });

  it("reports readiness of Postgres, Redis and QStash with the latency of each", async () => {
    const res = await api("/ready");
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    const ok = { status: "ok", latencyMs: expect.any(Number) };
    expect(body).toEqual({ status: "ready", postgres: ok, redis: ok, qstash: ok });
  });

  it("reports each dependency that does not answer, with 503", async () => {
    const dead = "http://127.0.0.1:9";
    for (const [name, overrides] of [
      ["postgres", { NEON_FETCH_ENDPOINT: `${dead}/sql` }],
      ["redis", { UPSTASH_REDIS_REST_URL: dead }],
      ["qstash", { QSTASH_URL: dead }],
      ["qstash", { QSTASH_TOKEN: "not-the-token" }],
    ] as const) {
      const res = await workerFetch(buildRequest("/ready"), overrides);
      expect(res.status, JSON.stringify(overrides)).toBe(503);
      const body = (await res.json()) as Record<string, { status: string; latencyMs: number }>;
      expect(body.status).toBe("degraded");
      for (const dependency of ["postgres", "redis", "qstash"]) {
        expect(body[dependency]?.status, `${dependency} with ${JSON.stringify(overrides)}`).toBe(dependency === name ? "down" : "ok");
        expect(body[dependency]?.latencyMs).toBeGreaterThanOrEqual(0);
      }
    }
  });

  it("keeps /health free of I/O: it answers with every dependency unreachable", async () => {
    const dead = "http://127.0.0.1:9";
    const res = await workerFetch(buildRequest("/health"), {
      NEON_FETCH_ENDPOINT: `${dead}/sql`,
      UPSTASH_REDIS_REST_URL: dead,
      QSTASH_URL: dead,
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "ok", service: "all" });
  });

  it("answers unknown paths with a 404 problem and wrong methods with 405 + Allow", async () => {
    const notFound = await api("/nope");
    expect(notFound.status).toBe(404);
    expect(await problem(notFound)).toMatchObject({ status: 404, title: "Not Found", instance: "/nope" });
    const wrongMethod = await api("/health", { method: "DELETE" });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get("Allow")).toBe("GET");
    expect((await problem(wrongMethod)).requestId).toBe(wrongMethod.headers.get("X-Request-Id"));
  });

  it("sets secure headers on every response", async () => {
    for (const res of [await api("/health"), await api("/nope")]) {
      expect(res.headers.get("Strict-Transport-Security")).toContain("max-age=");
      expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
      expect(res.headers.get("X-Frame-Options")).toBe("DENY");
    }
  });
});

describe("POST /api/v1/auth/login", () => {
  it("returns an access token for the right password", async () => {
    const tenant = await createTenant({ role: "analyst" });
    const res = await api("/api/v1/auth/login", { method: "POST", json: { email: tenant.email, password: tenant.password } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { accessToken: string; orgId: string; role: string; expiresIn: number };
    expect(body).toMatchObject({ orgId: tenant.orgId, role: "analyst", tokenType: "Bearer" });
    expect(body.expiresIn).toBeLessThanOrEqual(900);
    const [, payload] = body.accessToken.split(".");
    const claims = JSON.parse(atob((payload as string).replaceAll("-", "+").replaceAll("_", "/")));
    expect(claims).toMatchObject({
      sub: tenant.userId,
      org: tenant.orgId,
      role: "analyst",
      typ: "access",
      iss: "seller-edge",
      aud: "seller-edge-api",
    });
  });

  it("answers 401 alike for a wrong password and an unknown e-mail", async () => {
    const tenant = await createTenant();
    const wrong = await api("/api/v1/auth/login", { method: "POST", json: { email: tenant.email, password: "wrong password!" } });
    const unknown = await api("/api/v1/auth/login", { method: "POST", json: { email: "nobody@example.test", password: "whatever it is" } });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect((await problem(wrong)).detail).toBe((await problem(unknown)).detail);
  });

  it("rejects a malformed body with the failing fields", async () => {
    const res = await api("/api/v1/auth/login", { method: "POST", json: { email: "not-an-email", role: "owner" } });
    expect(res.status).toBe(400);
    const body = await problem(res);
    expect(body.errors?.map((e) => e.path).sort()).toEqual(expect.arrayContaining(["email", "password"]));
  });
});

describe("unexpected failures", () => {
  it("answers 500 problem+json with the request id and no internals when Postgres is unreachable", async () => {
    const tenant = await createTenant({ role: "analyst" });
    const res = await workerFetch(buildRequest("/api/v1/warehouses", { token: tenant.token }), {
      NEON_FETCH_ENDPOINT: "http://127.0.0.1:9/sql",
    });
    expect(res.status).toBe(500);
    const body = await problem(res);
    expect(body).toMatchObject({ status: 500, title: "Internal Server Error", instance: "/api/v1/warehouses" });
    expect(body.requestId).toBe(res.headers.get("X-Request-Id"));
    expect(body.detail).toBeUndefined();
    expect(JSON.stringify(body)).not.toMatch(/127\.0\.0\.1|fetch|neon|stack|at /i);
  });

  it("fails loudly, naming the variable, when the env is incomplete", async () => {
    const log = vi.spyOn(console, "log");
    const res = await workerFetch(buildRequest("/health"), { ENCRYPTION_KEY: "too-short" });
    const logged = log.mock.calls.map((args) => args.join(" ")).join("\n");
    log.mockRestore();
    expect(res.status).toBe(500);
    expect(logged).toContain("Invalid environment: ENCRYPTION_KEY: must be base64 of 32 bytes");
    expect(JSON.stringify(await problem(res))).not.toContain("ENCRYPTION_KEY");
  });
});
