import { afterEach, describe, expect, it, vi } from "vitest";
import { buildRequest, captureLogs, createTenant, type TestRequestInit, workerFetch } from "./helpers";

/** Calls the Worker module in this isolate (so its `console.log` is observable) at log level `info`; the test stack logs at `warn`. */
const api = (path: string, init: TestRequestInit = {}) => workerFetch(buildRequest(path, init), { LOG_LEVEL: "info" });

describe("structured request logs", () => {
  afterEach(() => vi.restoreAllMocks());

  it("writes one JSON line per request with method, route, status, duration, request id and org id", async () => {
    const tenant = await createTenant({ role: "analyst" });
    let requestId = "";
    const { lines } = await captureLogs(async () => {
      const res = await api("/api/v1/warehouses", { token: tenant.token });
      requestId = res.headers.get("X-Request-Id") ?? "";
      await res.arrayBuffer();
    });
    const line = lines.find((l) => l.msg === "request" && l.requestId === requestId);
    expect(line).toMatchObject({
      level: "info",
      method: "GET",
      route: "/api/v1/warehouses",
      status: 200,
      orgId: tenant.orgId,
      requestId,
    });
    expect(typeof line?.durationMs).toBe("number");
  });

  it("never logs passwords, e-mails or tokens, even on failures", async () => {
    const tenant = await createTenant();
    const { raw } = await captureLogs(async () => {
      await (await api("/api/v1/auth/login", { method: "POST", json: { email: tenant.email, password: tenant.password } })).arrayBuffer();
      await (
        await api("/api/v1/auth/login", { method: "POST", json: { email: tenant.email, password: "wrong-password-123" } })
      ).arrayBuffer();
      await (await api("/api/v1/warehouses", { token: `${tenant.token}x` })).arrayBuffer();
      await (await api("/api/v1/warehouses", { token: tenant.token })).arrayBuffer();
    });
    expect(raw.length).toBeGreaterThan(0);
    expect(raw).not.toContain(tenant.password);
    expect(raw).not.toContain("wrong-password-123");
    expect(raw).not.toContain(tenant.email);
    expect(raw).not.toContain(tenant.token);
  });
});
