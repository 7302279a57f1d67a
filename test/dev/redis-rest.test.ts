/**
 * Conformance of the local Upstash Redis REST endpoint (dev/redis-rest.ts), with the official
 * `@upstash/redis` and `@upstash/ratelimit` clients against a spawned `redis-server`, raw fetch for
 * the wire shapes, and the embedded engine for the no-Redis fallback.
 */
import { createHash, randomUUID } from "node:crypto";
import { Ratelimit } from "@upstash/ratelimit";
import { Redis, type RedisConfigNodejs } from "@upstash/redis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type RedisRestHandle, startRedisRest, stripUpstashScriptFlags } from "../../dev/redis-rest";

const TOKEN = "test-token-redis-rest";
let rest: RedisRestHandle;

beforeAll(async () => {
  rest = await startRedisRest({ token: TOKEN });
});
afterAll(async () => {
  await rest?.close();
});

const client = (extra: Partial<RedisConfigNodejs> = {}) => new Redis({ url: rest.url, token: TOKEN, enableTelemetry: false, ...extra });

/** A unique key prefix per test, so tests do not see each other's data. */
const ns = () => `t:${randomUUID()}:`;

/** POSTs a JSON body to the endpoint; `auth` false sends no token. */
async function post(path: string, body: unknown, headers: Record<string, string> = {}, auth = true) {
  const res = await fetch(`${rest.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(auth ? { authorization: `Bearer ${TOKEN}` } : {}), ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as unknown };
}

const sha1 = (text: string) => createHash("sha1").update(text, "utf8").digest("hex");

describe("engine", () => {
  it("spawns redis-server when it is on PATH", () => {
    expect(rest.engine).toBe("redis-server");
    expect(rest.redisUrl).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
    expect(rest.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });
});

describe("@upstash/redis commands", () => {
  // 1.39 auto-pipelines by default (commands go to /pipeline); without it they go to POST /.
  it.each([true, false])("set/get with automatic (de)serialization, incr, hset/hgetall (autoPipelining %s)", async (auto) => {
    const redis = client({ enableAutoPipelining: auto });
    rest.resetStats();
    const p = ns();
    expect(await redis.set(`${p}obj`, { sku: "A-1", qty: 3, tags: ["x"] })).toBe("OK");
    expect(await redis.get(`${p}obj`)).toEqual({ sku: "A-1", qty: 3, tags: ["x"] });
    expect(await redis.get(`${p}missing`)).toBeNull();
    expect(await redis.incr(`${p}n`)).toBe(1);
    expect(await redis.incrby(`${p}n`, 41)).toBe(42);
    expect(await redis.hset(`${p}h`, { nmId: 123456, name: "Футболка" })).toBe(2);
    expect(await redis.hgetall(`${p}h`)).toEqual({ nmId: 123456, name: "Футболка" });
    expect(await redis.hgetall(`${p}nohash`)).toBeNull();
    expect(rest.stats().requests).toBe(8);
    // Auto-pipelining sends most commands through /pipeline (a few bypass it); without it all go to /.
    if (auto) expect(rest.stats().byPath["/pipeline"]).toBeGreaterThan(0);
    else expect(rest.stats().byPath).toEqual({ "/": 8 });
  });

  it("expire/ttl and zadd/zrange", async () => {
    const redis = client();
    const p = ns();
    await redis.set(`${p}k`, "v");
    expect(await redis.ttl(`${p}k`)).toBe(-1);
    expect(await redis.expire(`${p}k`, 100)).toBe(1);
    const ttl = await redis.ttl(`${p}k`);
    expect(ttl).toBeGreaterThan(95);
    expect(ttl).toBeLessThanOrEqual(100);
    await redis.set(`${p}ex`, "v", { ex: 50 });
    expect(await redis.pttl(`${p}ex`)).toBeGreaterThan(45_000);

    expect(await redis.zadd(`${p}z`, { score: 2, member: "b" }, { score: 1.5, member: "a" })).toBe(2);
    expect(await redis.zrange(`${p}z`, 0, -1)).toEqual(["a", "b"]);
    expect(await redis.zrange(`${p}z`, 0, -1, { withScores: true })).toEqual(["a", 1.5, "b", 2]);
    expect(await redis.zscore(`${p}z`, "a")).toBe(1.5);
  });

  it("round-trips unicode and control characters", async () => {
    const redis = client();
    const p = ns();
    const value = 'привет 👋 €\u0000\u0001\t\n"quoted" \\ end';
    await redis.set(`${p}u`, value);
    expect(await redis.get(`${p}u`)).toBe(value);
    await redis.hset(`${p}h`, { "ключ 🔑": value });
    expect(await redis.hget(`${p}h`, "ключ 🔑")).toBe(value);
    expect(await redis.mget(`${p}u`, `${p}none`)).toEqual([value, null]);
  });

  it("keeps non-UTF-8 bytes intact (base64 on the wire)", async () => {
    const p = ns();
    // Lua writes bytes no JSON string can carry; the REST answer must carry them exactly.
    const write = await post("/", ["EVAL", "return redis.call('SET', KEYS[1], string.char(255, 254, 0, 65))", "1", `${p}bin`]);
    expect(write).toEqual({ status: 200, body: { result: "OK" } });
    const read = await post("/", ["GET", `${p}bin`], { "Upstash-Encoding": "base64" });
    expect(read.body).toEqual({ result: Buffer.from([255, 254, 0, 65]).toString("base64") });
    const len = await post("/", ["STRLEN", `${p}bin`], { "Upstash-Encoding": "base64" });
    expect(len.body).toEqual({ result: 4 });
  });

  it("pipeline: one request, results in order, an error kept per item", async () => {
    const redis = client();
    const p = ns();
    rest.resetStats();
    const results = await redis.pipeline().set(`${p}a`, 1).incr(`${p}a`).get(`${p}a`).hset(`${p}h`, { f: "v" }).exec();
    expect(results).toEqual(["OK", 2, 2, 1]);
    expect(rest.stats()).toEqual({ requests: 1, byPath: { "/pipeline": 1 } });

    await redis.set(`${p}s`, "not a number");
    const withError = redis.pipeline().set(`${p}b`, "x").incr(`${p}s`).get(`${p}b`);
    await expect(withError.exec()).rejects.toThrow(/Command 2 \[ incr \] failed: ERR value is not an integer/);
    const kept = await redis.pipeline().set(`${p}c`, "y").incr(`${p}s`).get(`${p}c`).exec({ keepErrors: true });
    expect(kept[0]).toEqual({ result: "OK", error: undefined });
    expect(kept[1]?.error).toMatch(/^ERR value is not an integer/);
    expect(kept[2]).toEqual({ result: "y", error: undefined });
  });

  it("multi: one /multi-exec request, atomic results, runtime errors per item", async () => {
    const redis = client();
    const p = ns();
    rest.resetStats();
    const results = await redis.multi().set(`${p}a`, "1").incrby(`${p}a`, 9).get(`${p}a`).exec();
    expect(results).toEqual(["OK", 10, 10]);
    expect(rest.stats()).toEqual({ requests: 1, byPath: { "/multi-exec": 1 } });

    await redis.set(`${p}s`, "text");
    const kept = await redis.multi().incr(`${p}s`).set(`${p}b`, "z").exec({ keepErrors: true });
    expect(kept[0]?.error).toMatch(/^ERR value is not an integer/);
    expect(kept[1]).toEqual({ result: "OK", error: undefined });
  });

  it("auto-pipelining batches concurrent commands: one /pipeline for reads, one for writes", async () => {
    const redis = client({ enableAutoPipelining: true });
    const p = ns();
    rest.resetStats();
    const writes = await Promise.all([
      redis.set(`${p}a`, "v"),
      redis.incr(`${p}n`),
      redis.hset(`${p}h`, { f: 1 }),
      redis.expire(`${p}a`, 60),
    ]);
    expect(writes).toEqual(["OK", 1, 1, 1]);
    expect(rest.stats()).toEqual({ requests: 1, byPath: { "/pipeline": 1 } });

    rest.resetStats();
    const reads = await Promise.all([redis.get(`${p}a`), redis.hget(`${p}h`, "f"), redis.mget(`${p}a`, `${p}n`), redis.ttl(`${p}a`)]);
    expect(reads).toEqual(["v", 1, ["v", 1], 60]);
    expect(rest.stats()).toEqual({ requests: 1, byPath: { "/pipeline": 1 } });

    // The client keeps reads and writes in separate pipelines: a mixed batch costs two requests.
    rest.resetStats();
    const mixed = await Promise.all([redis.get(`${p}a`), redis.incr(`${p}n`)]);
    expect(mixed).toEqual(["v", 2]);
    expect(rest.stats()).toEqual({ requests: 2, byPath: { "/pipeline": 2 } });
  });

  it.each([true, false])("a wrong token makes the client throw (autoPipelining %s)", async (auto) => {
    const redis = new Redis({ url: rest.url, token: "wrong", enableTelemetry: false, enableAutoPipelining: auto });
    await expect(redis.get("anything")).rejects.toThrow(/Unauthorized/);
    await expect(redis.pipeline().set("a", 1).get("a").exec()).rejects.toThrow(/Unauthorized/);
  });

  it("Lua with the Upstash-only shebang: EVAL, SCRIPT LOAD, EVALSHA and SCRIPT EXISTS by the original sha", async () => {
    const redis = client();
    const p = ns();
    const script = "#!lua flags=allow-key-locking\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])";
    expect(await redis.eval(script, [`${p}n`], [5])).toBe(5);
    const loaded = await redis.scriptLoad(script);
    expect(loaded).toBe(sha1(script));
    expect(await redis.evalsha(loaded, [`${p}n`], [2])).toBe(7);
    expect(await redis.scriptExists(loaded, "0".repeat(40))).toEqual([1, 0]);
    await expect(redis.evalsha("f".repeat(40), [], [])).rejects.toThrow(/NOSCRIPT/);
    // Other flags survive; a Lua error keeps its line number (the shebang line is blanked, not removed).
    await expect(
      redis.eval("#!lua flags=allow-key-locking,no-writes\nreturn redis.call('SET', KEYS[1], 'x')", [`${p}w`], []),
    ).rejects.toThrow(/Write commands are not allowed from read-only scripts/);
    await expect(redis.eval("#!lua flags=allow-key-locking\n\nerror('boom')", [], [])).rejects.toThrow(/:3:.*boom|boom.*:3/);
  });

  it("answers plain JSON strings to the Workers' client (responseEncoding false), byte for byte", async () => {
    // src/core/redis.ts: no automatic (de)serialization and no base64, as a cached body is stored and read.
    const redis = client({ automaticDeserialization: false, responseEncoding: false, enableAutoPipelining: true });
    const p = ns();
    const body = `application/json\n${JSON.stringify({ name: 'Футболка "oversize" 👕', note: "a\\b\n\tc\u0001", days: Array.from({ length: 400 }, (_, i) => i) })}`;
    await redis.set(`${p}v1:entry`, body, { ex: 60 });
    await redis.set(`${p}version`, "1");
    const lookup =
      "local v = redis.call('GET', KEYS[1]) or '0'\nlocal key = ARGV[1] .. v .. ARGV[2]\nreturn { v, redis.call('GET', key), redis.call('PTTL', key) }";
    const [version, value, pttl] = (await redis.eval(lookup, [`${p}version`], [`${p}v`, ":entry"])) as [string, string, number];
    expect({ version, value }).toEqual({ version: "1", value: body });
    expect(pttl).toBeGreaterThan(55_000);
    expect(await redis.hincrbyfloat(`${p}h`, "sum", 0.25)).toBe("0.25");
    expect(await redis.get(`${p}missing`)).toBeNull();
  });

  it("pipeline: a script learned by an earlier EVAL answers a later EVALSHA; a blocking command in it still runs", async () => {
    const p = ns();
    const script = "#!lua flags=allow-key-locking\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])";
    const res = await post("/pipeline", [
      ["EVAL", script, "1", `${p}n`, "5"],
      ["EVALSHA", sha1(script), "1", `${p}n`, "2"],
      ["SCRIPT", "LOAD", script],
      ["EVALSHA", "f".repeat(40), "0"],
      ["GET", `${p}n`],
    ]);
    expect(res.status).toBe(200);
    const items = res.body as Array<{ result?: unknown; error?: string }>;
    expect(items.slice(0, 3)).toEqual([{ result: 5 }, { result: 7 }, { result: sha1(script) }]);
    expect(items[3]?.error).toMatch(/^NOSCRIPT/);
    expect(items[4]).toEqual({ result: "7" });

    await post("/", ["RPUSH", `${p}list`, "item"]);
    const blocking = await post("/pipeline", [
      ["SET", `${p}a`, "1"],
      ["BLPOP", `${p}list`, "1"],
      ["GET", `${p}a`],
    ]);
    expect(blocking.body).toEqual([{ result: "OK" }, { result: [`${p}list`, "item"] }, { result: "1" }]);
  });

  it("answers the client's paths with a trailing slash or a query string as without", async () => {
    const p = ns();
    expect((await post("/pipeline/", [["SET", `${p}a`, "x"]])).body).toEqual([{ result: "OK" }]);
    const res = await fetch(`${rest.url}/pipeline?_token=${TOKEN}`, { method: "POST", body: JSON.stringify([["GET", `${p}a`]]) });
    expect(await res.json()).toEqual([{ result: "x" }]);
    expect((await post("/multi-exec/", [["GET", `${p}a`]])).body).toEqual([{ result: "x" }]);
  });

  it("blocking commands do not stall other requests", async () => {
    const redis = client();
    const p = ns();
    let unblocked = false;
    // Blocks for up to 30 s unless a push arrives: a stalled endpoint would answer the SET only after it.
    const blocked = post("/", ["BLPOP", `${p}list`, "30"]).then((answer) => {
      unblocked = true;
      return answer;
    });
    expect(await redis.set(`${p}k`, "v")).toBe("OK");
    expect(unblocked).toBe(false);
    // The push that ends the wait goes through while BLPOP still holds its connection.
    expect(await redis.lpush(`${p}list`, "item")).toBeGreaterThanOrEqual(0);
    expect(await blocked).toEqual({ status: 200, body: { result: [`${p}list`, "item"] } });
  });
});

describe("wire format (raw fetch)", () => {
  it("answers 401 {error: 'Unauthorized'} without or with a wrong token, on every path", async () => {
    for (const path of ["/", "/pipeline", "/multi-exec"]) {
      expect(await post(path, ["PING"], {}, false)).toEqual({ status: 401, body: { error: "Unauthorized" } });
      expect(await post(path, ["PING"], { authorization: "Bearer nope" }, false)).toEqual({
        status: 401,
        body: { error: "Unauthorized" },
      });
    }
    const get = await fetch(`${rest.url}/get/foo`);
    expect(get.status).toBe(401);
    expect(await get.json()).toEqual({ error: "Unauthorized" });
  });

  it("accepts ?_token= and path-style commands (GET, and POST with the value as body)", async () => {
    const p = ns();
    const q = `_token=${TOKEN}`;
    const set = await fetch(`${rest.url}/set/${encodeURIComponent(`${p}k`)}/${encodeURIComponent("a b/ü")}?${q}`);
    expect(await set.json()).toEqual({ result: "OK" });
    const get = await fetch(`${rest.url}/get/${encodeURIComponent(`${p}k`)}?${q}`);
    expect(await get.json()).toEqual({ result: "a b/ü" });
    const postBody = await fetch(`${rest.url}/set/${encodeURIComponent(`${p}k2`)}`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}` },
      body: '{"raw": "json body"}',
    });
    expect(await postBody.json()).toEqual({ result: "OK" });
    expect((await post("/", ["GET", `${p}k2`])).body).toEqual({ result: '{"raw": "json body"}' });
  });

  it("answers Redis errors with 400 {error: 'ERR …'}", async () => {
    const p = ns();
    await post("/", ["SET", `${p}s`, "x"]);
    const res = await post("/", ["INCR", `${p}s`]);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: "ERR value is not an integer or out of range" });
    const unknown = await post("/", ["NOSUCHCOMMAND", "x"]);
    expect(unknown.status).toBe(400);
    expect((unknown.body as { error: string }).error).toMatch(/^ERR unknown command/);
    const notAvailable = await post("/", ["SELECT", "1"]);
    expect(notAvailable.status).toBe(400);
    expect((notAvailable.body as { error: string }).error).toMatch(/^ERR Command is not available/);
    const badJson = await fetch(`${rest.url}/`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}` }, body: "{" });
    expect(badJson.status).toBe(400);
  });

  it("base64-encodes every string when asked, integers and null unchanged", async () => {
    const p = ns();
    const b64 = { "Upstash-Encoding": "base64" };
    const enc = (s: string) => Buffer.from(s).toString("base64");
    await post("/", ["SET", `${p}a`, "hello ü"]);
    expect((await post("/", ["GET", `${p}a`])).body).toEqual({ result: "hello ü" });
    expect((await post("/", ["GET", `${p}a`], b64)).body).toEqual({ result: enc("hello ü") });
    expect((await post("/", ["SET", `${p}b`, "1"], b64)).body).toEqual({ result: enc("OK") });
    expect((await post("/", ["INCR", `${p}b`], b64)).body).toEqual({ result: 2 });
    expect((await post("/", ["GET", `${p}none`], b64)).body).toEqual({ result: null });
    expect((await post("/", ["MGET", `${p}a`, `${p}none`, `${p}b`], b64)).body).toEqual({
      result: [enc("hello ü"), null, enc("2")],
    });
    const nested = await post("/", ["EVAL", "return {1, 'x', {2, 'y'}}", "0"], b64);
    expect(nested.body).toEqual({ result: [1, enc("x"), [2, enc("y")]] });
  });

  it("pipeline answers one item per command; a failing command does not fail the others", async () => {
    const p = ns();
    await post("/", ["SET", `${p}s`, "x"]);
    const res = await post("/pipeline", [["SET", `${p}a`, "1"], ["INCR", `${p}s`], ["GET", `${p}a`], ["NOPE"], "notanarray"]);
    expect(res.status).toBe(200);
    const items = res.body as Array<{ result?: unknown; error?: string }>;
    expect(items[0]).toEqual({ result: "OK" });
    expect(items[1]?.error).toBe("ERR value is not an integer or out of range");
    expect(items[2]).toEqual({ result: "1" });
    expect(items[3]?.error).toMatch(/^ERR unknown command/);
    expect(items[4]?.error).toMatch(/^ERR /);
  });

  it("multi-exec: a command rejected while queueing discards the whole transaction", async () => {
    const p = ns();
    const res = await post("/multi-exec", [
      ["SET", `${p}a`, "1"],
      ["SET", `${p}b`],
    ]);
    expect(res.status).toBe(400);
    expect((res.body as { error: string }).error).toMatch(/^EXECABORT .*wrong number of arguments/);
    expect((await post("/", ["EXISTS", `${p}a`])).body).toEqual({ result: 0 });
  });

  it("serves /__stats and /__stats/reset without a token, and does not count them", async () => {
    await fetch(`${rest.url}/__stats/reset`, { method: "POST" });
    await post("/", ["PING"]);
    await post("/pipeline", [["PING"]]);
    await post("/pipeline", [["PING"]]);
    await post("/", ["PING"], {}, false);
    const stats = await (await fetch(`${rest.url}/__stats`)).json();
    expect(stats).toEqual({ requests: 4, byPath: { "/": 2, "/pipeline": 2 } });
    expect(rest.stats()).toEqual(stats);
    rest.resetStats();
    expect(await (await fetch(`${rest.url}/__stats`)).json()).toEqual({ requests: 0, byPath: {} });
  });
});

describe("script shebang rewriting", () => {
  it("drops only the Upstash flag and blanks an empty shebang line", () => {
    expect(stripUpstashScriptFlags("#!lua flags=allow-key-locking\nreturn 1")).toBe("\nreturn 1");
    expect(stripUpstashScriptFlags("#!lua flags=no-writes,allow-key-locking\nreturn 1")).toBe("#!lua flags=no-writes\nreturn 1");
    expect(stripUpstashScriptFlags("#!lua flags=no-writes\nreturn 1")).toBeUndefined();
    expect(stripUpstashScriptFlags("return 1")).toBeUndefined();
    expect(stripUpstashScriptFlags("#!lua\nreturn 1", true)).toBe("\nreturn 1");
  });
});

describe("@upstash/ratelimit", () => {
  const algorithms = {
    fixedWindow: () => Ratelimit.fixedWindow(3, "1 h"),
    slidingWindow: () => Ratelimit.slidingWindow(3, "1 h"),
    tokenBucket: () => Ratelimit.tokenBucket(1, "1 h", 3),
  } as const;

  for (const [name, limiter] of Object.entries(algorithms)) {
    for (const cached of [true, false]) {
      it(`${name} ${cached ? "with" : "without"} ephemeral cache: 3 allowed, then blocked`, async () => {
        const ratelimit = new Ratelimit({
          redis: client(),
          limiter: limiter(),
          prefix: `rl:${randomUUID()}`,
          ephemeralCache: cached ? new Map() : false,
        });
        const id = "seller-42";
        const before = Date.now();
        const remaining: number[] = [];
        for (let i = 0; i < 3; i++) {
          rest.resetStats();
          const r = await ratelimit.limit(id);
          // The first call may pay EVALSHA → NOSCRIPT → EVAL; once the sha is known, one request each.
          if (i === 0) expect(rest.stats().requests).toBeLessThanOrEqual(2);
          else expect(rest.stats().requests).toBe(1);
          expect(r.success).toBe(true);
          expect(r.limit).toBe(3);
          expect(r.reset).toBeGreaterThan(before);
          expect(r.reset).toBeLessThanOrEqual(Date.now() + 3_600_000);
          expect(r.reason).toBeUndefined();
          remaining.push(r.remaining);
          await r.pending;
        }
        expect(remaining).toEqual([2, 1, 0]);

        rest.resetStats();
        const blocked = await ratelimit.limit(id);
        expect(blocked).toMatchObject({ success: false, remaining: 0, limit: 3 });
        expect(blocked.reset).toBeGreaterThan(Date.now());
        expect(rest.stats().requests).toBe(1);

        rest.resetStats();
        const again = await ratelimit.limit(id);
        expect(again.success).toBe(false);
        if (cached) {
          expect(again.reason).toBe("cacheBlock");
          expect(rest.stats().requests).toBe(0);
        } else {
          expect(again.reason).toBeUndefined();
          expect(rest.stats().requests).toBe(1);
        }

        expect((await ratelimit.getRemaining(id)).remaining).toBe(0);
        // Another identifier has its own budget.
        expect((await ratelimit.limit("seller-43")).success).toBe(true);
        // The reset script (no shebang, a `null` argument) works too.
        await ratelimit.resetUsedTokens(id);
        expect((await ratelimit.limit(id)).success).toBe(true);
      });
    }
  }

  it("timeout: a fast Redis answers normally, a slow one lets the request through with reason 'timeout'", async () => {
    const fast = new Ratelimit({
      redis: client(),
      limiter: Ratelimit.fixedWindow(1, "1 h"),
      prefix: `rl:${randomUUID()}`,
      timeout: 2_000,
    });
    expect(await fast.limit("a")).toMatchObject({ success: true, remaining: 0 });
    expect(await fast.limit("a")).toMatchObject({ success: false });

    // A second endpoint on the same Redis (engine "external") that answers after 2 s.
    const slowRest = await startRedisRest({ token: TOKEN, redisUrl: rest.redisUrl, latencyMs: 2_000 });
    try {
      expect(slowRest.engine).toBe("external");
      const prefix = `rl:${randomUUID()}`;
      const slow = new Ratelimit({
        redis: new Redis({ url: slowRest.url, token: TOKEN, enableTelemetry: false, retry: false }),
        limiter: Ratelimit.fixedWindow(1, "1 h"),
        prefix,
        timeout: 50,
        ephemeralCache: false,
      });
      const r = await slow.limit("b");
      // `timeout` is the library's answer when its timer won the race against Redis's answer.
      expect(r).toMatchObject({ success: true, reason: "timeout" });
      // The endpoint delays before running the command: the limiter's window is not counted yet …
      expect(await client().keys(`${prefix}*`)).toEqual([]);
      expect(slowRest.stats().requests).toBeGreaterThanOrEqual(1);
      // … and is once the late request has run.
      await expect.poll(async () => (await client().keys(`${prefix}*`)).length, { timeout: 10_000 }).toBe(1);
    } finally {
      await slowRest.close();
    }
    // Closing an external-engine endpoint leaves that Redis running.
    expect(await client().ping()).toBe("PONG");
  });
});

describe("POST /__control/latency", () => {
  const control = (method: string, body?: unknown) =>
    fetch(`${rest.url}/__control/latency`, { method, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });

  afterEach(async () => {
    await control("DELETE");
  });

  it("makes every answer late until DELETE restores the start option; refuses a bad value; is not counted", async () => {
    rest.resetStats();
    expect(await (await control("POST", { ms: 300 })).json()).toEqual({ latencyMs: 300 });
    expect(await (await control("GET")).json()).toEqual({ latencyMs: 300 });
    const limiter = (timeout: number) =>
      new Ratelimit({
        redis: client({ retry: false }),
        limiter: Ratelimit.fixedWindow(5, "1 h"),
        prefix: `rl:${randomUUID()}`,
        timeout,
        ephemeralCache: false,
      });
    // Late: a limiter that waits 20 ms lets the request through unanswered; one that waits 10 s gets Redis's answer.
    expect(await limiter(20).limit("a")).toMatchObject({ success: true, reason: "timeout" });
    expect((await limiter(10_000).limit("a")).reason).toBeUndefined();
    expect(await (await control("DELETE")).json()).toEqual({ latencyMs: 0 });
    expect((await limiter(2_000).limit("a")).reason).toBeUndefined();
    for (const bad of [{ ms: -1 }, { ms: "slow" }, {}]) expect((await control("POST", bad)).status, JSON.stringify(bad)).toBe(400);
    expect(rest.stats().byPath["/__control"]).toBeUndefined();
  });
});

describe("embedded engine (ioredis-mock)", () => {
  let embedded: RedisRestHandle;
  beforeAll(async () => {
    embedded = await startRedisRest({ token: TOKEN, engine: "embedded" });
  });
  afterAll(async () => {
    await embedded?.close();
  });

  it("runs basic commands, pipelines and transactions through the official client", async () => {
    expect(embedded.engine).toBe("embedded");
    expect(embedded.redisUrl).toBe("");
    const redis = new Redis({ url: embedded.url, token: TOKEN, enableTelemetry: false, enableAutoPipelining: false });
    expect(await redis.set("obj", { a: 1, s: "ü👋" })).toBe("OK");
    expect(await redis.get("obj")).toEqual({ a: 1, s: "ü👋" });
    expect(await redis.incr("n")).toBe(1);
    expect(await redis.hset("h", { f: "v", g: 2 })).toBe(2);
    expect(await redis.hgetall("h")).toEqual({ f: "v", g: 2 });
    expect(await redis.expire("obj", 100)).toBe(1);
    expect(await redis.ttl("obj")).toBeGreaterThan(90);
    expect(await redis.zadd("z", { score: 2, member: "b" }, { score: 1, member: "a" })).toBe(2);
    expect(await redis.zrange("z", 0, -1)).toEqual(["a", "b"]);
    expect(await redis.pipeline().set("p", "1").incr("p").get("p").exec()).toEqual(["OK", 2, 2]);
    expect(await redis.multi().set("m", "1").incrby("m", 4).get("m").exec()).toEqual(["OK", 5, 5]);
    expect(embedded.stats().byPath).toEqual({ "/": 9, "/pipeline": 1, "/multi-exec": 1 });

    await expect(new Redis({ url: embedded.url, token: "bad", enableTelemetry: false }).get("x")).rejects.toThrow(/Unauthorized/);
    const unsupported = await fetch(`${embedded.url}/`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify(["NOSUCHCOMMAND"]),
    });
    expect(unsupported.status).toBe(400);
    expect(((await unsupported.json()) as { error: string }).error).toMatch(/^ERR unknown command/);
  });

  it("does not share data with the real engine or another embedded instance", async () => {
    const other = await startRedisRest({ token: TOKEN, engine: "embedded" });
    try {
      await new Redis({ url: embedded.url, token: TOKEN, enableTelemetry: false }).set("isolated", "1");
      expect(await new Redis({ url: other.url, token: TOKEN, enableTelemetry: false }).get("isolated")).toBeNull();
    } finally {
      await other.close();
    }
  });
});
