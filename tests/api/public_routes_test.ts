/**
 * The routes outside /api: the OpenAPI document names the configured origin, the reference page
 * runs only its pinned script, and health, docs, callbacks and webhooks are rate limited per address.
 */
import assert from "node:assert/strict";
import { signLikeQStash } from "../../jobs/signature.ts";
import { REFERENCE_SCRIPT } from "../../routes/docs.ts";
import { makeTestApp, TEST_SIGNING_KEYS } from "../support/app.ts";

const PROXY = { TRUSTED_PROXY_IP_HEADER: "X-Forwarded-For" };

Deno.test("the OpenAPI document names the configured origin, whatever Host the caller sends", async () => {
  for (
    const [env, origin] of [[{}, "http://127.0.0.1:8000"], [
      { PUBLIC_BASE_URL: "https://api.salon.example/" },
      "https://api.salon.example",
    ]] as const
  ) {
    const { app, close } = await makeTestApp({ LOG_LEVEL: "silent", ...env });
    try {
      const res = await app.request("http://evil.example/openapi.json", { headers: { host: "evil.example" } });
      const doc = await res.json();
      assert.deepEqual(doc.servers.map((s: { url: string }) => s.url), [origin]);
      assert.doesNotMatch(JSON.stringify(doc.servers), /evil/);
    } finally {
      await close();
    }
  }
});

Deno.test("/docs loads only its pinned, integrity-checked script under a strict CSP", async () => {
  const { app, close } = await makeTestApp({ LOG_LEVEL: "silent" });
  try {
    const res = await app.request("/docs");
    assert.equal(res.status, 200);
    const csp = res.headers.get("content-security-policy") ?? "";
    const nonce = /'nonce-([^']+)'/.exec(csp)?.[1];
    assert.ok(nonce, csp);
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /script-src[^;]*'unsafe-inline'/);
    const html = await res.text();
    const scripts = [...html.matchAll(/<script\b([^>]*)>/g)].map((m) => m[1]);
    assert.equal(scripts.length, 2);
    for (const attributes of scripts) {
      assert.match(attributes, new RegExp(`nonce="${nonce.replace(/[+/=]/g, "\\$&")}"`));
    }
    const external = scripts.find((a) => a.includes("src="))!;
    assert.match(external, new RegExp(`src="${REFERENCE_SCRIPT.url}"`));
    assert.match(REFERENCE_SCRIPT.url, /@scalar\/api-reference@\d+\.\d+\.\d+\//, "pinned to one version");
    assert.match(external, /integrity="sha384-[A-Za-z0-9+/]{64}"/);
    assert.match(external, /crossorigin="anonymous"/);
    // A fresh nonce per page.
    const again = (await app.request("/docs")).headers.get("content-security-policy");
    assert.notEqual(again, csp);
  } finally {
    await close();
  }
});

Deno.test("public routes are limited per client address, the one the trusted proxy appended", async () => {
  const { app, close } = await makeTestApp({ LOG_LEVEL: "silent", ...PROXY, RATE_LIMIT_PUBLIC_PER_MINUTE: "3" });
  try {
    const live = (forwardedFor?: string) =>
      app.request("/health/db", { headers: forwardedFor ? { "x-forwarded-for": forwardedFor } : {} });
    // The client rotates the leftmost value it controls; the proxy's appended entry stays the same.
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await live(`10.0.0.${i}, 198.51.100.7`)).status);
    assert.deepEqual(statuses, [200, 200, 200, 429]);
    for (const path of ["/docs", "/openapi.json", "/health", "/health/ready", "/health/redis"]) {
      const res = await app.request(path, { headers: { "x-forwarded-for": "198.51.100.7" } });
      assert.equal(res.status, 429, path);
      assert.ok(Number(res.headers.get("retry-after")) >= 1);
    }
    assert.equal((await live("198.51.100.8")).status, 200, "another address has its own budget");
    // The liveness probe does no I/O and is never refused: a refusal would restart a healthy instance.
    const probe = await app.request("/health/live", { headers: { "x-forwarded-for": "198.51.100.7" } });
    assert.equal(probe.status, 200);
    // No header at all: the peer's address (here none: the shared unknown bucket), never no limit.
    const missing = [];
    for (let i = 0; i < 4; i++) missing.push((await live()).status);
    assert.deepEqual(missing, [200, 200, 200, 429]);
  } finally {
    await close();
  }
});

Deno.test("the /api limit also takes the proxy's entry, with a hop count for two proxies", async () => {
  const { app, close } = await makeTestApp({
    LOG_LEVEL: "silent",
    ...PROXY,
    TRUSTED_PROXY_HOPS: "2",
    RATE_LIMIT_API_PER_MINUTE: "2",
  });
  try {
    const call = (forwardedFor: string) =>
      app.request("/api/v1/salons", { headers: { "x-forwarded-for": forwardedFor } });
    // Two proxies append: the client's address is the second entry from the right.
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await call(`6.6.6.${i}, 203.0.113.5, 10.1.1.1`)).status);
    assert.deepEqual(statuses, [200, 200, 429]);
    assert.equal((await call("203.0.113.6, 10.1.1.1")).status, 200);
  } finally {
    await close();
  }
});

Deno.test("callbacks and webhooks: badly signed calls from an address are cut off, signed ones still pass", async () => {
  const { app, close } = await makeTestApp({ LOG_LEVEL: "silent", ...PROXY, RATE_LIMIT_UNSIGNED_PER_MINUTE: "3" });
  try {
    const url = "http://localhost/jobs/expire-holds";
    const job = async (from: string, signed: boolean) => {
      const body = "{}";
      const signature = signed
        ? await signLikeQStash({ url, body, key: TEST_SIGNING_KEYS.current, nowSeconds: Math.floor(Date.now() / 1000) })
        : "not-a-signature";
      const res = await app.request(url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "upstash-signature": signature,
          "upstash-message-id": `msg_${crypto.randomUUID()}`,
          "x-forwarded-for": from,
        },
        body,
      });
      await res.body?.cancel();
      return res.status;
    };
    const refused = [];
    for (let i = 0; i < 4; i++) refused.push(await job("192.0.2.66", false));
    assert.deepEqual(refused, [401, 401, 401, 429]);
    for (let i = 0; i < 5; i++) assert.equal(await job("192.0.2.10", true), 200, "a correct signer is not limited");

    const webhook = async () => {
      const res = await app.request("/webhooks/stripe", {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "stripe-signature": "t=1,v1=bad",
          "x-forwarded-for": "192.0.2.77",
        },
        body: "{}",
      });
      await res.body?.cancel();
      return res.status;
    };
    const hooks = [];
    for (let i = 0; i < 4; i++) hooks.push(await webhook());
    assert.deepEqual(hooks, [400, 400, 400, 429]);
  } finally {
    await close();
  }
});
