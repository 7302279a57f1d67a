/**
 * `verifyWebhook` (src/integrations/standard-webhooks/verify.ts) against deliveries signed by the
 * reference implementation, the npm `standardwebhooks` package, plus the reference libraries'
 * known-answer vector and an independent HMAC computed with node:crypto.
 */
import { createHmac, randomBytes } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { verifyWebhook } from "../../src/integrations/standard-webhooks/verify";

/** Known-answer vector of the reference libraries' test suites (`libraries/*` "sign function works"). */
const KAT = {
  secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
};

const NOW_MS = Date.UTC(2026, 10, 20, 12, 0, 0);
const NOW_S = NOW_MS / 1000;
const BODY = '{"type":"lead.status_changed","timestamp":"2026-11-20T12:00:00Z","data":{"id":4821,"status_id":142}}';

const newSecret = () => `whsec_${randomBytes(32).toString("base64")}`;

/** A delivery signed by the reference library. */
function signed(secret: string, body: string | Buffer = BODY, timestampS = NOW_S, id = `msg_${randomBytes(8).toString("hex")}`) {
  const signature = new Webhook(secret).sign(id, new Date(timestampS * 1000), body);
  return { id, timestamp: String(timestampS), signature };
}

/** The base64 of `signature` with one bit of its MAC flipped. */
function flipSignatureBit(signature: string): string {
  const mac = Buffer.from(signature.slice("v1,".length), "base64");
  mac[7] = (mac[7] ?? 0) ^ 0x10;
  return `v1,${mac.toString("base64")}`;
}

describe("verifyWebhook", () => {
  it("reproduces the reference known-answer vector, and so do the signer and node:crypto", async () => {
    expect(new Webhook(KAT.secret).sign(KAT.id, new Date(KAT.timestamp * 1000), KAT.body)).toBe(KAT.signature);
    const key = Buffer.from(KAT.secret.slice("whsec_".length), "base64");
    const mac = createHmac("sha256", key).update(`${KAT.id}.${KAT.timestamp}.${KAT.body}`).digest("base64");
    expect(`v1,${mac}`).toBe(KAT.signature);

    const result = await verifyWebhook({
      secrets: [KAT.secret],
      headers: { id: KAT.id, timestamp: String(KAT.timestamp), signature: KAT.signature },
      rawBody: KAT.body,
      now: KAT.timestamp * 1000,
    });
    expect(result).toEqual({ ok: true, id: KAT.id, timestamp: KAT.timestamp, secretIndex: 0 });
  });

  it("accepts a delivery signed by the reference library, as text or as bytes, with or without the whsec_ prefix", async () => {
    const secret = newSecret();
    const body = '{"name":"Заявка с сайта","price":15000}';
    const headers = signed(secret, body);
    for (const rawBody of [body, new TextEncoder().encode(body)]) {
      expect(await verifyWebhook({ secrets: [secret], headers, rawBody, now: NOW_MS })).toMatchObject({ ok: true, secretIndex: 0 });
    }
    const bare = secret.slice("whsec_".length);
    expect(await verifyWebhook({ secrets: [bare], headers, rawBody: body, now: NOW_MS })).toMatchObject({ ok: true });
  });

  it("refuses a body with one flipped bit", async () => {
    const secret = newSecret();
    const headers = signed(secret);
    const bytes = new TextEncoder().encode(BODY);
    bytes[20] = (bytes[20] ?? 0) ^ 0x01;
    expect(await verifyWebhook({ secrets: [secret], headers, rawBody: bytes, now: NOW_MS })).toEqual({
      ok: false,
      reason: "signature_mismatch",
    });
  });

  it("refuses a signature with one flipped bit", async () => {
    const secret = newSecret();
    const headers = signed(secret);
    const tampered = { ...headers, signature: flipSignatureBit(headers.signature) };
    expect(await verifyWebhook({ secrets: [secret], headers: tampered, rawBody: BODY, now: NOW_MS })).toEqual({
      ok: false,
      reason: "signature_mismatch",
    });
  });

  it("refuses a delivery signed with another secret", async () => {
    const headers = signed(newSecret());
    expect(await verifyWebhook({ secrets: [newSecret()], headers, rawBody: BODY, now: NOW_MS })).toEqual({
      ok: false,
      reason: "signature_mismatch",
    });
  });

  it("accepts the previous secret while it is listed, says so, and refuses it once it is retired", async () => {
    const [current, previous] = [newSecret(), newSecret()];
    const headers = signed(previous);
    expect(await verifyWebhook({ secrets: [current, previous], headers, rawBody: BODY, now: NOW_MS })).toMatchObject({
      ok: true,
      secretIndex: 1,
    });
    expect(await verifyWebhook({ secrets: [current], headers, rawBody: BODY, now: NOW_MS })).toEqual({
      ok: false,
      reason: "signature_mismatch",
    });
    // A sender rotating its key signs with both: either of ours matching is enough.
    const both = { ...headers, signature: `${signed(current, BODY, NOW_S, headers.id).signature} ${headers.signature}` };
    expect(await verifyWebhook({ secrets: [current], headers: both, rawBody: BODY, now: NOW_MS })).toMatchObject({
      ok: true,
      secretIndex: 0,
    });
  });

  it("refuses the same JSON parsed and serialized again", async () => {
    const secret = newSecret();
    const sent = '{ "id": 4821, "status_id": 142, "price": 15000.0 }';
    const headers = signed(secret, sent);
    expect(await verifyWebhook({ secrets: [secret], headers, rawBody: sent, now: NOW_MS })).toMatchObject({ ok: true });
    const reserialized = JSON.stringify(JSON.parse(sent));
    expect(reserialized).not.toBe(sent);
    expect(await verifyWebhook({ secrets: [secret], headers, rawBody: reserialized, now: NOW_MS })).toEqual({
      ok: false,
      reason: "signature_mismatch",
    });
  });

  it("accepts timestamps up to 300 s away in either direction and refuses 301 s", async () => {
    const secret = newSecret();
    const at = (offsetS: number) =>
      verifyWebhook({ secrets: [secret], headers: signed(secret, BODY, NOW_S + offsetS), rawBody: BODY, now: NOW_MS });
    expect(await at(-299)).toMatchObject({ ok: true });
    expect(await at(-300)).toMatchObject({ ok: true });
    expect(await at(299)).toMatchObject({ ok: true });
    expect(await at(-301)).toEqual({ ok: false, reason: "timestamp_too_old" });
    expect(await at(301)).toEqual({ ok: false, reason: "timestamp_too_new" });
    // The window is configurable; the timestamp is checked before any signature work.
    const strict = await verifyWebhook({
      secrets: [secret],
      headers: signed(secret, BODY, NOW_S - 61),
      rawBody: BODY,
      now: NOW_MS,
      toleranceSeconds: 60,
    });
    expect(strict).toEqual({ ok: false, reason: "timestamp_too_old" });
  });

  it("accepts a header with several signatures of which one is valid, ignoring other schemes", async () => {
    const secret = newSecret();
    const headers = signed(secret);
    const bogus = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=";
    const signature = [
      bogus,
      "v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg==",
      `v2,${bogus.slice(3)}`,
      headers.signature,
      bogus,
    ].join(" ");
    expect(await verifyWebhook({ secrets: [secret], headers: { ...headers, signature }, rawBody: BODY, now: NOW_MS })).toMatchObject({
      ok: true,
    });
    const withoutValid = [bogus, `v2,${headers.signature.slice(3)}`].join(" ");
    expect(
      await verifyWebhook({ secrets: [secret], headers: { ...headers, signature: withoutValid }, rawBody: BODY, now: NOW_MS }),
    ).toEqual({
      ok: false,
      reason: "signature_mismatch",
    });
  });

  it("names what is wrong with malformed headers and secrets", async () => {
    const secret = newSecret();
    const good = signed(secret);
    const check = (headers: Partial<typeof good>, secrets = [secret]) =>
      verifyWebhook({ secrets, headers: { id: null, timestamp: null, signature: null, ...headers }, rawBody: BODY, now: NOW_MS });

    expect(await check({ timestamp: good.timestamp, signature: good.signature })).toEqual({ ok: false, reason: "missing_header" });
    expect(await check({ id: good.id, signature: good.signature })).toEqual({ ok: false, reason: "missing_header" });
    expect(await check({ id: good.id, timestamp: good.timestamp, signature: "" })).toEqual({ ok: false, reason: "missing_header" });
    expect(await check({ ...good, id: "msg.1" })).toEqual({ ok: false, reason: "invalid_id" });
    for (const timestamp of ["hello", "1.5", "-5", " 1", "1e9"]) {
      expect(await check({ ...good, timestamp })).toEqual({ ok: false, reason: "invalid_timestamp" });
    }
    for (const signature of ["v1,dawfeoifkpqwoekfpqoekf", "v1,", good.signature.slice(0, 8), `v1a,${good.signature.slice(3)}`]) {
      expect(await check({ ...good, signature })).toEqual({ ok: false, reason: "no_v1_signature" });
    }
    expect(await check(good, ["whsec_not*base64", ""])).toEqual({ ok: false, reason: "no_usable_secret" });
    expect(await check(good, ["whsec_not*base64", secret])).toMatchObject({ ok: true, secretIndex: 1 });
  });
});
