/** Rate limits through the real app: headers, 429s, login counting only failures, concurrent logins, store outages. */
import assert from "node:assert/strict";
import { KvStore, MemoryStore } from "../../adapters/store.ts";
import { makeTestApp } from "../support/app.ts";
import { concurrentWrongLogins } from "../support/login_race.ts";

const JSON_HEADERS = { "content-type": "application/json" };

/** A store that never answers, as a Redis that hangs would. */
class HangingStore extends MemoryStore {
  override get(): Promise<string | null> {
    return new Promise(() => {});
  }
  override increment(): Promise<number> {
    return new Promise(() => {});
  }
}

Deno.test("rate limits", async (t) => {
  const env = { LOG_LEVEL: "silent", TRUSTED_PROXY_IP_HEADER: "X-Client-IP", RATE_LIMIT_API_PER_MINUTE: "10" };
  // A fixed clock: counts must not straddle a minute boundary mid-test.
  const fixed = new Date("2026-11-23T12:00:20Z");
  const { app, close } = await makeTestApp(env, { now: () => fixed });
  const login = (email: string, password: string, ip = "203.0.113.7") =>
    app.request("/api/v1/auth/login", {
      method: "POST",
      body: JSON.stringify({ email, password }),
      headers: { ...JSON_HEADERS, "X-Client-IP": ip },
    });

  try {
    await t.step("the sixth failed login in a minute answers 429 with Retry-After", async () => {
      const email = `victim-${crypto.randomUUID()}@example.com`;
      for (let i = 0; i < 5; i++) assert.equal((await login(email, "Wrong1234", `198.51.100.${i}`)).status, 401);
      const res = await login(email, "Wrong1234", "198.51.100.99");
      assert.equal(res.status, 429);
      assert.equal(res.headers.get("content-type"), "application/problem+json");
      assert.ok(Number(res.headers.get("retry-after")) >= 1);
      assert.equal((await res.json()).code, "rate_limited");
    });

    await t.step("successful logins do not count toward the login limit", async () => {
      const account = { email: `ok-${crypto.randomUUID()}@example.com`, password: "Secret123", full_name: "Ok" };
      const registered = await app.request("/api/v1/auth/register", {
        method: "POST",
        body: JSON.stringify(account),
        headers: { ...JSON_HEADERS, "X-Client-IP": "192.0.2.50" },
      });
      assert.equal(registered.status, 201);
      for (let i = 0; i < 7; i++) {
        assert.equal((await login(account.email, account.password, `192.0.2.${60 + i}`)).status, 200, `login ${i + 1}`);
      }
    });

    await t.step("API requests carry RateLimit headers and the one past the limit gets 429", async () => {
      const ip = "203.0.113.200";
      const remaining: string[] = [];
      for (let i = 0; i < 10; i++) {
        const res = await app.request("/api/v1/nothing", { headers: { "X-Client-IP": ip } });
        assert.equal(res.headers.get("ratelimit-limit"), "10");
        remaining.push(res.headers.get("ratelimit-remaining")!);
      }
      assert.deepEqual(remaining, ["9", "8", "7", "6", "5", "4", "3", "2", "1", "0"]);
      const over = await app.request("/api/v1/nothing", { headers: { "X-Client-IP": ip } });
      assert.equal(over.status, 429);
      assert.ok(Number(over.headers.get("retry-after")) >= 1);
      // Another address is not affected.
      assert.equal((await app.request("/api/v1/nothing", { headers: { "X-Client-IP": "203.0.113.201" } })).status, 404);
    });

    await t.step("X-Forwarded-For is not trusted when another header is configured", async () => {
      for (let i = 0; i < 12; i++) {
        await app.request("/api/v1/nothing", {
          headers: { "X-Client-IP": "203.0.113.210", "X-Forwarded-For": `10.0.0.${i}` },
        });
      }
      const res = await app.request("/api/v1/nothing", {
        headers: { "X-Client-IP": "203.0.113.210", "X-Forwarded-For": "10.9.9.9" },
      });
      assert.equal(res.status, 429);
    });
  } finally {
    await close();
  }
});

Deno.test("when the store hangs, login fails closed with 503 and the API fails open", async () => {
  const { app, close } = await makeTestApp(
    { LOG_LEVEL: "silent", TRUSTED_PROXY_IP_HEADER: "X-Client-IP", STORE_TIMEOUT_MS: "50" },
    { store: new HangingStore() },
  );
  try {
    const login = await app.request("/api/v1/auth/login", {
      method: "POST",
      body: JSON.stringify({ email: "a@example.com", password: "Secret123" }),
      headers: { ...JSON_HEADERS, "X-Client-IP": "203.0.113.9" },
    });
    assert.equal(login.status, 503);
    assert.equal(login.headers.get("content-type"), "application/problem+json");
    const api = await app.request("/api/v1/nothing", { headers: { "X-Client-IP": "203.0.113.9" } });
    assert.equal(api.status, 404);
  } finally {
    await close();
  }
});

for (
  const [name, open] of [
    ["the in-memory store", () => Promise.resolve(new MemoryStore())],
    ["the Deno KV store", () => KvStore.open(":memory:")],
  ] as const
) {
  Deno.test(`12 concurrent wrong passwords for one email verify at most the limit on ${name}`, async () => {
    const store = await open();
    try {
      const { statuses, verified } = await concurrentWrongLogins(store, { attempts: 12, limit: 5 });
      assert.equal(verified, 5);
      assert.deepEqual(statuses, [...Array(5).fill(401), ...Array(7).fill(429)]);
    } finally {
      if (store instanceof KvStore) store.close();
    }
  });
}
