/**
 * The key-value store contract, on the embedded store and on Upstash's client against the machine's
 * Redis (through an Upstash-REST-compatible endpoint, with a key prefix of its own for this run).
 */
import assert from "node:assert/strict";
import { type KeyValueStore, KvStore, MemoryStore, UpstashStore } from "../../adapters/store.ts";
import { makeTestApp } from "../support/app.ts";
import { concurrentWrongLogins } from "../support/login_race.ts";
import { redisAvailable, startUpstashEndpoint } from "../support/upstash_endpoint.ts";

async function contract(t: Deno.TestContext, store: KeyValueStore) {
  await t.step("answers a ping", () => store.ping());

  await t.step("stores a value with an expiry and deletes it", async () => {
    await store.set("greeting", "olá, mundo", 60);
    assert.equal(await store.get("greeting"), "olá, mundo");
    await store.delete("greeting");
    assert.equal(await store.get("greeting"), null);
  });

  await t.step("lets exactly one of many concurrent claims set an absent key", async () => {
    const claims = await Promise.all(Array.from({ length: 10 }, (_, i) => store.setIfAbsent("claim", `c${i}`, 60)));
    assert.equal(claims.filter(Boolean).length, 1);
    assert.equal(await store.get("claim"), `c${claims.indexOf(true)}`);
  });

  await t.step("counts concurrent increments exactly", async () => {
    const counts = await Promise.all(Array.from({ length: 25 }, () => store.increment("counter", 60)));
    assert.deepEqual(counts.sort((a, b) => a - b), Array.from({ length: 25 }, (_, i) => i + 1));
  });

  await t.step("gives back concurrently, never below zero, and never creates a counter", async () => {
    await Promise.all(Array.from({ length: 5 }, () => store.increment("given-back", 60)));
    const after = await Promise.all(Array.from({ length: 8 }, () => store.decrement("given-back")));
    assert.deepEqual(after.sort((a, b) => a - b), [0, 0, 0, 0, 1, 2, 3, 4]);
    assert.equal(await store.get("given-back"), "0");
    assert.equal(await store.decrement("never-counted"), 0);
    assert.equal(await store.get("never-counted"), null);
    assert.equal(await store.increment("given-back", 60), 1);
    await store.delete("given-back");
  });
}

Deno.test("the in-memory store", (t) => contract(t, new MemoryStore()));

Deno.test("the Deno KV store", async (t) => {
  let now = Date.now();
  const store = new KvStore(await Deno.openKv(":memory:"), () => now);
  try {
    await contract(t, store);
    await t.step("forgets values and restarts counters once they expire", async () => {
      await store.set("short", "x", 1);
      assert.equal(await store.increment("window", 1), 1);
      now += 1000;
      assert.equal(await store.get("short"), null);
      assert.equal(await store.increment("window", 1), 1);
      assert.equal(await store.setIfAbsent("short", "y", 1), true);
    });
    await t.step("a counter given back keeps its expiry", async () => {
      assert.equal(await store.increment("kept", 1), 1);
      assert.equal(await store.increment("kept", 1), 2);
      assert.equal(await store.decrement("kept"), 1);
      now += 1000;
      assert.equal(await store.get("kept"), null);
      assert.equal(await store.decrement("kept"), 0);
    });
  } finally {
    store.close();
  }
});

Deno.test({
  name: "the Upstash store on the machine's Redis",
  ignore: !(await redisAvailable()),
  async fn(t) {
    const endpoint = await startUpstashEndpoint();
    const prefix = `test:${crypto.randomUUID()}:`;
    const store = new UpstashStore({ url: endpoint.url, token: endpoint.token, prefix });
    try {
      await contract(t, store);

      await t.step("keeps every key under its prefix and sets an expiry on counters", async () => {
        const [keys] = await endpoint.redis.send([["KEYS", `${prefix}*`]]);
        assert.deepEqual((keys as string[]).sort(), [`${prefix}claim`, `${prefix}counter`]);
        const [ttl] = await endpoint.redis.send([["TTL", `${prefix}counter`]]);
        assert.ok(typeof ttl === "number" && ttl > 0 && ttl <= 60, `ttl ${ttl}`);
      });

      await t.step("a counter given back keeps its expiry", async () => {
        await store.increment("kept", 60);
        await store.increment("kept", 60);
        assert.equal(await store.decrement("kept"), 1);
        const [ttl] = await endpoint.redis.send([["TTL", `${prefix}kept`]]);
        assert.ok(typeof ttl === "number" && ttl > 0 && ttl <= 60, `ttl ${ttl}`);
      });

      await t.step("12 concurrent wrong passwords for one email verify at most the limit (5)", async () => {
        const { statuses, verified } = await concurrentWrongLogins(store, { attempts: 12, limit: 5 });
        assert.equal(verified, 5);
        assert.deepEqual(statuses, [...Array(5).fill(401), ...Array(7).fill(429)]);
      });

      await t.step("GET /health/redis reports upstash", async () => {
        const { app, close } = await makeTestApp({ LOG_LEVEL: "silent" }, { store });
        try {
          const res = await app.request("/health/redis");
          assert.equal(res.status, 200);
          assert.deepEqual((await res.json()).kind, "upstash");
        } finally {
          await close();
        }
      });

      await t.step("a wrong token is refused", async () => {
        const wrong = new UpstashStore({ url: endpoint.url, token: "wrong", prefix });
        await assert.rejects(() => wrong.ping());
      });
    } finally {
      const [keys] = await endpoint.redis.send([["KEYS", `${prefix}*`]]);
      if (Array.isArray(keys) && keys.length > 0) await endpoint.redis.send([["DEL", ...(keys as string[])]]);
      await endpoint.stop();
    }
  },
});
