/**
 * A database that cannot be reached answers 503 `unavailable` with Retry-After on /api (sign-in,
 * registration, authenticated reads, keyed bookings), never 500: the embedded database closed, a
 * PostgreSQL database dropped under the app, and a pool pointed at a port nobody listens on.
 */
import assert from "node:assert/strict";
import { openDatabase } from "../../db/client.ts";
import { isDatabaseUnavailable } from "../../db/errors.ts";
import { apiClient } from "../support/api.ts";
import { makeTestApp, type TestApp } from "../support/app.ts";
import { createScratchDatabase, postgresAvailable } from "../support/postgres.ts";
import { makeUser } from "../support/users.ts";

/** A booking with an Idempotency-Key: refused before the key can be claimed. */
async function keyedBooking(testApp: TestApp, accessToken: string) {
  const res = await testApp.app.request("/api/v1/bookings", {
    method: "POST",
    headers: {
      "content-type": "application/json",
      authorization: `Bearer ${accessToken}`,
      "idempotency-key": "while-down",
    },
    body: JSON.stringify({ service_id: crypto.randomUUID(), starts_at: "2026-06-03T13:00:00Z" }),
  });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

async function assertRefusedWhileDown(testApp: TestApp, goDown: () => Promise<void>) {
  const send = apiClient(testApp);
  const client = await makeUser(testApp, "CLIENT");
  assert.equal((await send("GET", "/users/me", client)).status, 200);
  await goDown();
  const answers = {
    login: await send("POST", "/auth/login", null, { email: client.email, password: client.password }),
    register: await send("POST", "/auth/register", null, {
      email: `late-${crypto.randomUUID()}@example.com`,
      password: "Secret123",
      full_name: "Late Comer",
    }),
    me: await send("GET", "/users/me", client),
    bookings: await send("GET", "/bookings", client),
    keyed: await keyedBooking(testApp, client.accessToken),
  };
  for (const [name, res] of Object.entries(answers)) {
    assert.equal(res.status, 503, `${name}: ${JSON.stringify(res.body)}`);
    assert.equal(res.headers.get("retry-after"), "5", name);
    assert.equal(res.headers.get("content-type"), "application/problem+json", name);
    assert.equal(res.body.code, "unavailable", name);
  }
  assert.ok(
    testApp.logLines.some((line) => line.msg === "database unavailable" || line.message === "database unavailable"),
  );
  assert.ok(!testApp.logLines.some((line) => line.msg === "unhandled error" || line.message === "unhandled error"));
}

Deno.test("the embedded database closed: /api answers 503 unavailable with Retry-After", async () => {
  const testApp = await makeTestApp({ LOG_LEVEL: "info" });
  await assertRefusedWhileDown(testApp, () => testApp.close());
});

Deno.test({
  name: "a PostgreSQL database dropped under the app: /api answers 503 unavailable with Retry-After",
  ignore: !postgresAvailable,
  async fn() {
    const scratch = await createScratchDatabase();
    const testApp = await makeTestApp({ LOG_LEVEL: "info" }, { url: scratch.url });
    try {
      await assertRefusedWhileDown(testApp, () => scratch.drop());
    } finally {
      await testApp.close();
      await scratch.drop();
    }
  },
});

Deno.test({
  name: "a PostgreSQL pool pointed at a closed port fails as unavailable",
  ignore: !postgresAvailable,
  async fn() {
    // A port that was free a moment ago: nothing listens there.
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    const database = await openDatabase({ url: `postgres://postgres@127.0.0.1:${port}/nothing` });
    try {
      const error = await database.sql.query("SELECT 1").then(() => undefined, (caught: unknown) => caught);
      assert.ok(error, "a query to a closed port must fail");
      assert.equal(isDatabaseUnavailable(error), true, String(error));
      const batchError = await database.sql.transaction([database.sql.query("SELECT 1")])
        .then(() => undefined, (caught: unknown) => caught);
      assert.equal(isDatabaseUnavailable(batchError), true, String(batchError));
    } finally {
      await database.close();
    }
  },
});

Deno.test("statement errors are not mistaken for an unreachable database", () => {
  const pgError = (code: string) => Object.assign(new Error("x"), { name: "NeonDbError", code });
  for (const code of ["23505", "23P01", "40P01", "42P01", "IK001"]) {
    assert.equal(isDatabaseUnavailable(pgError(code)), false, code);
    assert.equal(isDatabaseUnavailable(new Error("wrapped", { cause: pgError(code) })), false, code);
  }
  for (const code of ["08006", "57P01", "57P03", "53300", "3D000"]) {
    assert.equal(isDatabaseUnavailable(new Error("wrapped", { cause: pgError(code) })), true, code);
  }
  const neon = (message: string) => Object.assign(new Error(message), { name: "NeonDbError" });
  assert.equal(isDatabaseUnavailable(neon("Server error (HTTP status 503): down")), true);
  assert.equal(isDatabaseUnavailable(neon("Error connecting to database: TypeError: fetch failed")), true);
  assert.equal(isDatabaseUnavailable(neon("Server error (HTTP status 401): bad password")), false);
  assert.equal(isDatabaseUnavailable(new Error("Server error (HTTP status 503)")), false);
});
