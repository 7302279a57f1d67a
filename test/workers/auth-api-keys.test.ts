/**
 * API keys: create (shown once), list (never the secret), revoke; a key authenticates as role
 * `service` with its scopes on routes that declare one (`dashboard:read` on the dashboard,
 * `sync:read` on the sync status), and nowhere else.
 */
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { apiKeys } from "../../src/core/db/schema";
import { apiWithEnv, authApi } from "./auth-support";
import { addMember, createTenant, db, problem, type Tenant } from "./helpers";

const KEYS = "/api/v1/auth/api-keys";

interface Created {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  key: string;
  createdAt: string;
}

async function createKey(tenant: Tenant, scopes: string[], name = "bot"): Promise<Created> {
  const res = await authApi(KEYS, { method: "POST", token: tenant.token, json: { name, scopes } });
  if (res.status !== 201) throw new Error(`create key: ${res.status} ${await res.text()}`);
  return res.json();
}

describe("POST /api/v1/auth/api-keys", () => {
  it("creates a key and shows it once; only its hash is stored", async () => {
    const tenant = await createTenant({ role: "admin" });
    const res = await authApi(KEYS, {
      method: "POST",
      token: tenant.token,
      json: { name: " CRM bridge ", scopes: ["dashboard:read", "sync:read"] },
    });
    expect(res.status).toBe(201);
    expect(res.headers.get("Cache-Control")).toBe("no-store");
    const created = (await res.json()) as Created;
    expect(created).toEqual({
      id: expect.any(String),
      name: "CRM bridge",
      prefix: created.key.slice(0, 16),
      scopes: ["dashboard:read", "sync:read"],
      key: expect.stringMatching(/^se_live_[A-Za-z0-9_-]{43}$/),
      createdAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
    });
    const [row] = await db().select().from(apiKeys).where(eq(apiKeys.id, created.id));
    expect(row).toMatchObject({ orgId: tenant.orgId, createdBy: tenant.userId, prefix: created.prefix });
    expect(row?.keyHash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(row)).not.toContain(created.key);
  });

  it("refuses bad bodies and mass assignment with 400", async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    const bodies = [
      { name: "x", scopes: [] },
      { name: "x", scopes: ["admin:all"] },
      { name: "x", scopes: ["sync:read", "sync:read"] },
      { name: "", scopes: ["sync:read"] },
      { name: "x", scopes: ["sync:read"], orgId: other.orgId },
      { name: "x", scopes: ["sync:read"], role: "owner" },
      { name: "x", scopes: ["sync:read"], id: crypto.randomUUID() },
    ];
    for (const json of bodies) {
      const res = await authApi(KEYS, { method: "POST", token: tenant.token, json });
      expect(res.status, JSON.stringify(json)).toBe(400);
      await problem(res);
    }
    expect(await db().select().from(apiKeys).where(eq(apiKeys.orgId, other.orgId))).toEqual([]);
  });

  it("is for owners and admins only; an API key cannot mint keys", async () => {
    const tenant = await createTenant();
    const json = { name: "x", scopes: ["dashboard:read"] };
    expect((await authApi(KEYS, { method: "POST", json })).status).toBe(401);
    for (const role of ["analyst", "manager", "agent"] as const) {
      const token = await addMember(tenant.orgId, role);
      expect((await authApi(KEYS, { method: "POST", token, json })).status, role).toBe(403);
    }
    const { key } = await createKey(tenant, ["dashboard:read", "sync:read", "sync:write"]);
    expect((await authApi(KEYS, { method: "POST", token: key, json })).status).toBe(403);
    expect((await authApi(KEYS, { token: key })).status).toBe(403);
    expect((await authApi("/api/v1/auth/me", { token: key })).status).toBe(403);
  });
});

describe("GET /api/v1/auth/api-keys", () => {
  it("lists the org's keys, newest first, without the key or its hash", async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    const a = await createKey(tenant, ["sync:read"], "first");
    const b = await createKey(tenant, ["dashboard:read"], "second");
    await createKey(other, ["sync:read"], "foreign");
    const res = await authApi(KEYS, { token: tenant.token });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toContain(a.key);
    expect(text).not.toMatch(/keyHash|key_hash|"key"/);
    const { items } = JSON.parse(text) as { items: Record<string, unknown>[] };
    expect(items.map((k) => k.id)).toEqual([b.id, a.id]);
    expect(items[1]).toEqual({
      id: a.id,
      name: "first",
      prefix: a.prefix,
      scopes: ["sync:read"],
      createdAt: a.createdAt,
      lastUsedAt: null,
      revokedAt: null,
    });
  });
});

describe("API key authentication", () => {
  it("authenticates as `service` with its scopes, and records the last use", async () => {
    const tenant = await createTenant();
    const dashboardKey = await createKey(tenant, ["dashboard:read"]);
    const syncKey = await createKey(tenant, ["sync:read"]);

    const summary = await apiWithEnv("/api/v1/analytics/summary?period=30d", { token: dashboardKey.key });
    expect(summary.status).toBe(200);
    expect((await authApi("/api/v1/sync/status", { token: syncKey.key })).status).toBe(200);

    const wrongScope = await authApi("/api/v1/analytics/summary?period=30d", { token: syncKey.key });
    expect(wrongScope.status).toBe(403);
    expect((await problem(wrongScope)).detail).toContain("dashboard:read");
    expect((await authApi("/api/v1/sync/status", { token: dashboardKey.key })).status).toBe(403);
    // sync:read does not start a sync; sync:write does (the tenant has no WB connection: 409 past access).
    expect((await authApi("/api/v1/sync/wildberries", { method: "POST", token: syncKey.key })).status).toBe(403);
    const writeKey = await createKey(tenant, ["sync:write"]);
    expect((await authApi("/api/v1/sync/wildberries", { method: "POST", token: writeKey.key })).status).toBe(409);

    const [row] = await db().select({ lastUsedAt: apiKeys.lastUsedAt }).from(apiKeys).where(eq(apiKeys.id, dashboardKey.id));
    expect(row?.lastUsedAt).not.toBeNull();
    const listed = (await (await authApi(KEYS, { token: tenant.token })).json()) as { items: { id: string; lastUsedAt: string | null }[] };
    const seen = listed.items.find((k) => k.id === dashboardKey.id)?.lastUsedAt;
    expect(Date.now() - Date.parse(seen as string)).toBeLessThan(60_000);
  });

  it("reads only its own org", async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    const key = await createKey(tenant, ["sync:read"]);
    const status = (await (await authApi("/api/v1/sync/status", { token: key.key })).json()) as { connected: boolean };
    expect(status.connected).toBe(false);
    const foreign = await createKey(other, ["sync:read"]);
    const del = await authApi(`${KEYS}/${foreign.id}`, { method: "DELETE", token: tenant.token });
    expect(del.status).toBe(404);
    expect((await authApi("/api/v1/sync/status", { token: foreign.key })).status).toBe(200);
  });

  it("answers 401 for an unknown or malformed key", async () => {
    const forged = `se_live_${"A".repeat(43)}`;
    for (const token of [forged, "se_live_short", `${forged}A`]) {
      const res = await authApi("/api/v1/sync/status", { token });
      expect(res.status, token).toBe(401);
      expect(res.headers.get("WWW-Authenticate")).toContain('error="invalid_token"');
    }
  });
});

describe("DELETE /api/v1/auth/api-keys/{id}", () => {
  it("revokes at once (401 after), keeps the first revokedAt, and is idempotent", async () => {
    const tenant = await createTenant();
    const key = await createKey(tenant, ["sync:read"]);
    expect((await authApi("/api/v1/sync/status", { token: key.key })).status).toBe(200);
    const res = await authApi(`${KEYS}/${key.id}`, { method: "DELETE", token: tenant.token });
    expect(res.status).toBe(204);
    const revoked = await authApi("/api/v1/sync/status", { token: key.key });
    expect(revoked.status).toBe(401);
    await problem(revoked);

    const listed = (await (await authApi(KEYS, { token: tenant.token })).json()) as { items: { id: string; revokedAt: string | null }[] };
    const revokedAt = listed.items.find((k) => k.id === key.id)?.revokedAt;
    expect(revokedAt).toEqual(expect.any(String));
    expect((await authApi(`${KEYS}/${key.id}`, { method: "DELETE", token: tenant.token })).status).toBe(204);
    const again = (await (await authApi(KEYS, { token: tenant.token })).json()) as { items: { id: string; revokedAt: string | null }[] };
    expect(again.items.find((k) => k.id === key.id)?.revokedAt).toBe(revokedAt);
  });

  it("answers 404 for another org's or no key, 400 for a non-UUID, 403 for an analyst", async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    const foreign = await createKey(other, ["sync:read"]);
    expect((await authApi(`${KEYS}/${foreign.id}`, { method: "DELETE", token: tenant.token })).status).toBe(404);
    expect((await authApi(`${KEYS}/${crypto.randomUUID()}`, { method: "DELETE", token: tenant.token })).status).toBe(404);
    expect((await authApi(`${KEYS}/not-a-uuid`, { method: "DELETE", token: tenant.token })).status).toBe(400);
    const withBody = await authApi(`${KEYS}/${foreign.id}`, { method: "DELETE", token: other.token, json: { orgId: tenant.orgId } });
    expect(withBody.status).toBe(400);
    expect((await authApi(`${KEYS}/${foreign.id}?orgId=${tenant.orgId}`, { method: "DELETE", token: other.token })).status).toBe(400);
    const analyst = await addMember(other.orgId, "analyst");
    expect((await authApi(`${KEYS}/${foreign.id}`, { method: "DELETE", token: analyst })).status).toBe(403);
    const [row] = await db().select({ revokedAt: apiKeys.revokedAt }).from(apiKeys).where(eq(apiKeys.id, foreign.id));
    expect(row?.revokedAt).toBeNull();
  });
});
