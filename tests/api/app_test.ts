/** The app's shared behaviour through `app.request`: problems, request ids, logs, health and docs. */
import assert from "node:assert/strict";
import { createRoute, z } from "@hono/zod-openapi";
import { bodyErrorResponses } from "../../routes/errors.ts";
import { makeTestApp } from "../support/app.ts";

const PROBLEM = "application/problem+json";

// A route with a JSON body, added by the test to exercise the shared validation and body handling.
const probe = createRoute({
  method: "post",
  path: "/api/v1/probe",
  request: {
    body: {
      required: true,
      content: {
        "application/json": {
          schema: z.object({
            name: z.string().min(1),
            services: z.array(z.object({ price: z.number().int().nonnegative() })),
          }).strict(),
        },
      },
    },
  },
  responses: { 200: { description: "Echo" }, ...bodyErrorResponses },
});

Deno.test("the app", async (t) => {
  const { app, deps, logLines, close } = await makeTestApp({
    BODY_LIMIT_BYTES: "2048",
    CORS_ORIGINS: "https://app.example",
  });
  app.openapi(probe, (c) => c.json(c.req.valid("json"), 200));
  app.get("/api/v1/boom", () => {
    throw new Error("SELECT secret FROM users; stack here");
  });
  const post = (body: string, headers: Record<string, string> = { "content-type": "application/json" }) =>
    app.request("/api/v1/probe", { method: "POST", body, headers });

  try {
    await t.step("answers an unknown route with a 404 problem", async () => {
      const res = await app.request("/api/v1/nothing-here");
      assert.equal(res.status, 404);
      assert.equal(res.headers.get("content-type"), PROBLEM);
      const body = await res.json();
      assert.equal(body.code, "not_found");
      assert.equal(body.status, 404);
      assert.equal(body.instance, res.headers.get("x-request-id"));
    });

    await t.step("answers a wrong method with 405 and Allow", async () => {
      const res = await app.request("/health/live", { method: "DELETE" });
      assert.equal(res.status, 405);
      assert.equal(res.headers.get("content-type"), PROBLEM);
      assert.equal(res.headers.get("allow"), "GET, HEAD");
      assert.equal((await res.json()).code, "method_not_allowed");
    });

    await t.step("lists every invalid field by path and changes nothing", async () => {
      const res = await post(JSON.stringify({ name: "", services: [{ price: 10 }, { price: -1.5 }], role: "ADMIN" }));
      assert.equal(res.status, 400);
      assert.equal(res.headers.get("content-type"), PROBLEM);
      const body = await res.json();
      assert.equal(body.code, "validation");
      const paths = body.errors.map((e: { path: string }) => e.path).sort();
      assert.ok(paths.includes("name"), JSON.stringify(paths));
      assert.ok(paths.includes("services.1.price"), JSON.stringify(paths));
      assert.ok(paths.includes("(root)"), "the unknown field is reported");
    });

    await t.step("answers malformed JSON with a 400 problem", async () => {
      const res = await post('{"name": "x",');
      assert.equal(res.status, 400);
      assert.equal(res.headers.get("content-type"), PROBLEM);
      assert.equal((await res.json()).code, "malformed_json");
    });

    await t.step("answers a body that is not JSON with 415", async () => {
      const res = await post("name=x", { "content-type": "application/x-www-form-urlencoded" });
      assert.equal(res.status, 415);
      assert.equal(res.headers.get("content-type"), PROBLEM);
      assert.equal((await res.json()).code, "unsupported_media_type");
    });

    await t.step("answers an oversize body with 413", async () => {
      const res = await post(JSON.stringify({ name: "x".repeat(5000), services: [] }));
      assert.equal(res.status, 413);
      assert.equal(res.headers.get("content-type"), PROBLEM);
      assert.equal((await res.json()).code, "payload_too_large");
    });

    await t.step("accepts a valid body", async () => {
      const res = await post(JSON.stringify({ name: "Ana", services: [{ price: 4500 }] }));
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { name: "Ana", services: [{ price: 4500 }] });
    });

    await t.step("answers an unexpected error with a 500 that holds the request id and no internals", async () => {
      const res = await app.request("/api/v1/boom", { headers: { "x-request-id": "req-123" } });
      assert.equal(res.status, 500);
      assert.equal(res.headers.get("content-type"), PROBLEM);
      const text = await res.text();
      assert.doesNotMatch(text, /SELECT|stack|secret/);
      assert.equal(JSON.parse(text).instance, "req-123");
    });

    await t.step("keeps a safe X-Request-Id and replaces an unsafe one", async () => {
      const kept = await app.request("/health/live", { headers: { "x-request-id": "abc-123_x.y:z" } });
      assert.equal(kept.headers.get("x-request-id"), "abc-123_x.y:z");
      const replaced = await app.request("/health/live", { headers: { "x-request-id": 'bad id"<script>' } });
      assert.match(replaced.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/);
    });

    await t.step("logs one JSON line per request with the route pattern and never the body", async () => {
      logLines.length = 0;
      await post(JSON.stringify({ name: "hunter2-password", services: [] }), {
        "content-type": "application/json",
        authorization: "Bearer secret-token",
      });
      assert.equal(logLines.length, 1);
      const [line] = logLines;
      assert.equal(line.message, "request");
      assert.equal(line.method, "POST");
      assert.equal(line.route, "/api/v1/probe");
      assert.equal(line.status, 200);
      assert.equal(typeof line.duration_ms, "number");
      assert.equal(typeof line.request_id, "string");
      assert.doesNotMatch(JSON.stringify(line), /hunter2|secret-token/);
    });

    await t.step("sends security headers and CORS only for configured origins", async () => {
      const allowed = await app.request("/health/live", { headers: { origin: "https://app.example" } });
      assert.equal(allowed.headers.get("access-control-allow-origin"), "https://app.example");
      assert.equal(allowed.headers.get("x-content-type-options"), "nosniff");
      const other = await app.request("/health/live", { headers: { origin: "https://evil.example" } });
      assert.equal(other.headers.get("access-control-allow-origin"), null);
    });

    await t.step("GET /health reports the embedded database and Redis store", async () => {
      const res = await app.request("/health");
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "application/json");
      const body = await res.json();
      assert.equal(body.status, "ok");
      assert.equal(body.checks.database.kind, "pglite");
      assert.equal(body.checks.database.status, "up");
      assert.equal(body.checks.redis.kind, "embedded");
    });

    await t.step("GET /health/live, /health/db and /health/redis answer 200", async () => {
      for (const path of ["/health/live", "/health/db", "/health/redis"]) {
        const res = await app.request(path);
        assert.equal(res.status, 200, path);
      }
      assert.equal((await (await app.request("/health/redis")).json()).kind, "embedded");
    });

    await t.step("GET /health/ready is 200 when every migration is applied and 503 when one is missing", async () => {
      const ready = await app.request("/health/ready");
      assert.equal(ready.status, 200);
      assert.equal((await ready.json()).status, "ready");
      await deps.database.sql.query("DELETE FROM schema_migrations WHERE name = '0001_booking_constraints'");
      const notReady = await app.request("/health/ready");
      assert.equal(notReady.status, 503);
      assert.deepEqual((await notReady.json()).migrations.pending, ["0001_booking_constraints"]);
    });

    await t.step("GET /openapi.json is an OpenAPI 3.1 document generated from the routes", async () => {
      const res = await app.request("/openapi.json");
      assert.equal(res.status, 200);
      const doc = await res.json();
      assert.equal(doc.openapi, "3.1.0");
      for (const path of ["/health", "/health/live", "/health/ready", "/health/db", "/health/redis"]) {
        assert.ok(doc.paths[path]?.get, path);
      }
      assert.ok(doc.components.schemas.Problem);
      assert.ok(doc.components.securitySchemes.bearerAuth);
    });

    await t.step("GET /docs serves the interactive reference", async () => {
      const res = await app.request("/docs");
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /text\/html/);
      assert.match(await res.text(), /openapi\.json/);
    });
  } finally {
    await close();
  }
});

Deno.test("GET /health answers 503 when the database is down", async () => {
  const { app, deps, close } = await makeTestApp();
  await close();
  const res = await app.request("/health/db");
  assert.equal(res.status, 503);
  const body = await res.json();
  assert.equal(body.status, "down");
  assert.equal((await app.request("/health/ready")).status, 503);
  assert.equal(deps.database.kind, "pglite");
});
