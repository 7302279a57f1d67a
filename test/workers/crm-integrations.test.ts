/**
 * CRM integrations (`/api/v1/integrations/crm*`): creating Kommo and Standard Webhooks integrations
 * with their secrets (shown once, stored encrypted), listing them without secrets, rotating a secret
 * (the old one kept 24 hours), disabling one, and the ingest cache key they drop — against the real
 * database and Redis, through the Worker.
 */
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { decryptSecret } from "../../src/core/crypto";
import { crmIntegrations } from "../../src/core/db/schema";
import { createRedis } from "../../src/core/redis";
import { isoTime } from "../../src/core/time";
import { integrationCacheKey } from "../../src/crm/integrations";
import { addMember, api, config, createTenant, db, problem, type Tenant, testEnv } from "./helpers";

const CRM = "/api/v1/integrations/crm";
const HOUR_MS = 3_600_000;

type WithSecret = {
  id: string;
  provider: string;
  name: string;
  webhookUrl: string;
  chatsWebhookUrl: string | null;
  secret: string;
  kommoConnected: boolean;
  chatsSecretSet: boolean;
  previousSecretExpiresAt: string | null;
  disabledAt: string | null;
};
type View = Omit<WithSecret, "secret" | "webhookUrl"> & { webhookUrl: string | null; accountDomain: string | null };

const create = (tenant: Tenant, json: unknown) => api(CRM, { method: "POST", token: tenant.token, json });
const createOk = async (tenant: Tenant, json: unknown) => {
  const res = await create(tenant, json);
  expect(res.status, await res.clone().text()).toBe(201);
  return (await res.json()) as WithSecret;
};
const list = async (tenant: Tenant) => {
  const res = await api(CRM, { token: tenant.token });
  expect(res.status).toBe(200);
  return { text: await res.clone().text(), body: (await res.json()) as { integrations: View[] } };
};
const stored = async (id: string) => (await db().select().from(crmIntegrations).where(eq(crmIntegrations.id, id)))[0];
const webhooksBase = () => (testEnv.PUBLIC_WEBHOOKS_URL || testEnv.PUBLIC_JOBS_URL || "").replace(/\/+$/, "");
const base64Bytes = (b64: string) => atob(b64).length;
const base64UrlBytes = (text: string) =>
  atob(text.replaceAll("-", "+").replaceAll("_", "/") + "=".repeat((4 - (text.length % 4)) % 4)).length;

describe("POST /api/v1/integrations/crm", () => {
  it("creates a Standard Webhooks integration: whsec_ + base64 of 32 bytes, shown once, stored encrypted", async () => {
    const tenant = await createTenant({ role: "admin" });
    const created = await createOk(tenant, { provider: "standard-webhooks", name: "  Acme CRM " });
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]+={0,2}$/);
    expect(base64Bytes(created.secret.slice("whsec_".length))).toBe(32);
    expect(created).toMatchObject({
      provider: "standard-webhooks",
      name: "Acme CRM",
      webhookUrl: `${webhooksBase()}/webhooks/crm/${created.id}`,
      chatsWebhookUrl: null,
      kommoConnected: false,
      previousSecretExpiresAt: null,
      disabledAt: null,
    });
    const row = await stored(created.id);
    expect(row?.orgId).toBe(tenant.orgId);
    expect(row?.createdBy).toBe(tenant.userId);
    expect(row?.secretCiphertext).not.toContain(created.secret.slice(6));
    expect(await decryptSecret(row?.secretCiphertext ?? "", config().ENCRYPTION_KEY)).toBe(created.secret);
    expect(row?.chatsSecretCiphertext).toBeNull();
  });

  it("creates a Kommo integration: a 32-byte base64url path secret in its webhook URL, the chats URL, the chats secret encrypted", async () => {
    const tenant = await createTenant({ role: "owner" });
    const chatsSecret = `chats-${crypto.randomUUID()}`;
    const created = await createOk(tenant, { provider: "kommo", name: "Kommo", chatsSecret });
    expect(created.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(base64UrlBytes(created.secret)).toBe(32);
    expect(created.webhookUrl).toBe(`${webhooksBase()}/webhooks/kommo/${created.id}/${created.secret}`);
    expect(created.chatsWebhookUrl).toBe(`${webhooksBase()}/webhooks/kommo-chats/${created.id}`);
    expect(created.chatsSecretSet).toBe(true);
    expect(JSON.stringify(created)).not.toContain(chatsSecret);
    const row = await stored(created.id);
    expect(await decryptSecret(row?.secretCiphertext ?? "", config().ENCRYPTION_KEY)).toBe(created.secret);
    expect(row?.chatsSecretCiphertext).not.toContain(chatsSecret);
    expect(await decryptSecret(row?.chatsSecretCiphertext ?? "", config().ENCRYPTION_KEY)).toBe(chatsSecret);
    // Two integrations never share a secret.
    expect((await createOk(tenant, { provider: "kommo", name: "Kommo 2" })).secret).not.toBe(created.secret);
  });

  it("refuses bad input with 400 and field errors", async () => {
    const tenant = await createTenant();
    const cases: Array<[unknown, string]> = [
      [{ provider: "hubspot", name: "x" }, "provider"],
      [{ provider: "kommo" }, "name"],
      [{ provider: "kommo", name: "   " }, "name"],
      [{ provider: "kommo", name: "x".repeat(101) }, "name"],
      [{ provider: "standard-webhooks", name: "x", chatsSecret: "s" }, "chatsSecret"],
      [{ provider: "kommo", name: "x", chatsSecret: "" }, "chatsSecret"],
    ];
    for (const [json, field] of cases) {
      const res = await create(tenant, json);
      expect(res.status, JSON.stringify(json)).toBe(400);
      expect((await problem(res)).errors?.map((e) => e.path).join(), JSON.stringify(json)).toContain(field);
    }
    expect((await create(tenant, { provider: "kommo", name: "x", orgId: crypto.randomUUID() })).status).toBe(400);
    expect((await list(tenant)).body.integrations).toEqual([]);
  });

  it("is for owners and admins only: an analyst or a member of another role gets 403, nothing is created", async () => {
    const tenant = await createTenant();
    for (const role of ["analyst", "manager"] as const) {
      const token = await addMember(tenant.orgId, role);
      const res = await api(CRM, { method: "POST", token, json: { provider: "kommo", name: "x" } });
      expect(res.status, role).toBe(403);
      expect((await api(CRM, { token })).status, role).toBe(403);
      expect((await api(`${CRM}/${crypto.randomUUID()}/rotate-secret`, { method: "POST", token })).status, role).toBe(403);
      expect((await api(`${CRM}/${crypto.randomUUID()}`, { method: "DELETE", token })).status, role).toBe(403);
    }
    expect(await db().select().from(crmIntegrations).where(eq(crmIntegrations.orgId, tenant.orgId))).toEqual([]);
  });
});

describe("GET /api/v1/integrations/crm", () => {
  it("lists the org's integrations newest first with no secret and no Kommo URL (it holds the secret)", async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    const standard = await createOk(tenant, { provider: "standard-webhooks", name: "SW" });
    const kommo = await createOk(tenant, { provider: "kommo", name: "K", chatsSecret: "chats-secret-value" });
    await createOk(other, { provider: "kommo", name: "Other org" });
    const { text, body } = await list(tenant);
    expect(body.integrations.map((i) => i.id)).toEqual([kommo.id, standard.id]);
    for (const secret of [standard.secret, kommo.secret, "chats-secret-value"]) expect(text).not.toContain(secret);
    expect(text).not.toContain("Ciphertext");
    const [k, s] = body.integrations;
    expect(k).toMatchObject({
      provider: "kommo",
      webhookUrl: null,
      chatsWebhookUrl: kommo.chatsWebhookUrl,
      kommoConnected: false,
      accountDomain: null,
    });
    expect(s).toMatchObject({
      provider: "standard-webhooks",
      webhookUrl: standard.webhookUrl,
      chatsWebhookUrl: null,
      chatsSecretSet: false,
    });
    expect(Object.keys(k ?? {})).not.toContain("secret");
  });
});

describe("POST /api/v1/integrations/crm/{id}/rotate-secret", () => {
  it("answers a new secret and keeps the old one in the row, accepted for 24 hours; drops the ingest's cached row", async () => {
    const tenant = await createTenant({ role: "admin" });
    for (const provider of ["standard-webhooks", "kommo"] as const) {
      const created = await createOk(tenant, { provider, name: provider });
      const redis = createRedis(config());
      await redis.set(integrationCacheKey(created.id), "{}", { ex: 60 });
      const before = Date.now();
      const res = await api(`${CRM}/${created.id}/rotate-secret`, { method: "POST", token: tenant.token });
      expect(res.status).toBe(200);
      const rotated = (await res.json()) as WithSecret;
      expect(rotated.id).toBe(created.id);
      expect(rotated.secret).not.toBe(created.secret);
      expect(rotated.secret).toMatch(provider === "kommo" ? /^[A-Za-z0-9_-]{43}$/ : /^whsec_[A-Za-z0-9+/]{43}=$/);
      if (provider === "kommo") expect(rotated.webhookUrl).toBe(`${webhooksBase()}/webhooks/kommo/${created.id}/${rotated.secret}`);
      else expect(rotated.webhookUrl).toBe(created.webhookUrl);

      const row = await stored(created.id);
      expect(await decryptSecret(row?.secretCiphertext ?? "", config().ENCRYPTION_KEY)).toBe(rotated.secret);
      expect(await decryptSecret(row?.previousSecretCiphertext ?? "", config().ENCRYPTION_KEY)).toBe(created.secret);
      const expires = Date.parse(rotated.previousSecretExpiresAt ?? "");
      expect(Math.abs(expires - (before + 24 * HOUR_MS))).toBeLessThan(60_000);
      expect(Date.parse(isoTime(row?.previousSecretExpiresAt ?? null) ?? "")).toBe(expires);
      expect(await redis.get(integrationCacheKey(created.id))).toBeNull();

      // A second rotation keeps only the secret it replaces.
      const again = (await (await api(`${CRM}/${created.id}/rotate-secret`, { method: "POST", token: tenant.token })).json()) as WithSecret;
      expect(await decryptSecret((await stored(created.id))?.previousSecretCiphertext ?? "", config().ENCRYPTION_KEY)).toBe(rotated.secret);
      expect(again.secret).not.toBe(rotated.secret);
    }
  });

  it("answers 404 for another org's integration or none, 409 for a disabled one, 400 for a malformed id", async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    const theirs = await createOk(other, { provider: "standard-webhooks", name: "theirs" });
    const rotate = (id: string) => api(`${CRM}/${id}/rotate-secret`, { method: "POST", token: tenant.token });
    expect((await rotate(theirs.id)).status).toBe(404);
    expect((await rotate(crypto.randomUUID())).status).toBe(404);
    expect((await rotate("not-a-uuid")).status).toBe(400);
    expect((await stored(theirs.id))?.previousSecretCiphertext).toBeNull();

    const mine = await createOk(tenant, { provider: "kommo", name: "mine" });
    expect((await api(`${CRM}/${mine.id}`, { method: "DELETE", token: tenant.token })).status).toBe(204);
    const refused = await rotate(mine.id);
    expect(refused.status).toBe(409);
    expect((await problem(refused)).detail).toMatch(/^The integration was disabled at \d{4}-.*; it cannot be rotated\.$/);
    expect(await decryptSecret((await stored(mine.id))?.secretCiphertext ?? "", config().ENCRYPTION_KEY)).toBe(mine.secret);
  });
});

describe("DELETE /api/v1/integrations/crm/{id}", () => {
  it("disables the integration (kept, listed with disabledAt), idempotently, and drops the ingest's cached row", async () => {
    const tenant = await createTenant({ role: "admin" });
    const created = await createOk(tenant, { provider: "standard-webhooks", name: "to disable" });
    const redis = createRedis(config());
    await redis.set(integrationCacheKey(created.id), "{}", { ex: 60 });
    const res = await api(`${CRM}/${created.id}`, { method: "DELETE", token: tenant.token });
    expect(res.status).toBe(204);
    expect(await redis.get(integrationCacheKey(created.id))).toBeNull();
    const first = (await stored(created.id))?.disabledAt;
    expect(first).not.toBeNull();
    expect((await api(`${CRM}/${created.id}`, { method: "DELETE", token: tenant.token })).status).toBe(204);
    expect((await stored(created.id))?.disabledAt).toBe(first);
    const [view] = (await list(tenant)).body.integrations;
    expect(view?.id).toBe(created.id);
    expect(Math.abs(Date.parse(view?.disabledAt ?? "") - Date.now())).toBeLessThan(60_000);
  });

  it("answers 404 for another org's integration, which stays enabled", async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    const theirs = await createOk(other, { provider: "kommo", name: "theirs" });
    const res = await api(`${CRM}/${theirs.id}`, { method: "DELETE", token: tenant.token });
    expect(res.status).toBe(404);
    expect((await problem(res)).detail).toBe("No CRM integration with this id in the org.");
    expect((await stored(theirs.id))?.disabledAt).toBeNull();
    expect((await api(`${CRM}/${theirs.id}`, { method: "DELETE", token: tenant.token, json: { force: true } })).status).toBe(400);
  });
});
