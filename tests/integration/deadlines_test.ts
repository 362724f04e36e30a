/**
 * Every outside call has a deadline: a dependency that stops answering without refusing (packets
 * swallowed by a TCP proxy in front of the real service) ends in 503 with Retry-After within the
 * configured bound, having written nothing.
 */
import assert from "node:assert/strict";
import { eq } from "drizzle-orm";
import { ConfigError, loadConfig, paymentCallBudgetMs } from "../../adapters/config.ts";
import { isDatabaseUnavailable } from "../../db/errors.ts";
import { PostgresBackend } from "../../db/local_neon.ts";
import { StripeProvider } from "../../adapters/payments_stripe.ts";
import { MemoryStore } from "../../adapters/store.ts";
import { bookings } from "../../db/schema.ts";
import { apiClient, type Send } from "../support/api.ts";
import { makeTestApp, type TestApp } from "../support/app.ts";
import { makeProfessional, makeSalon, makeService } from "../support/catalog.ts";
import { startStripeFake } from "../support/stripe_fake.ts";
import { startTcpProxy } from "../support/tcp_proxy.ts";
import { createScratchDatabase, postgresAvailable } from "../support/postgres.ts";
import { makeUser, type SignedInUser } from "../support/users.ts";
// @deno-types="npm:@types/pg@8.23.1"
import pg from "pg";

/** Short database deadlines, so a test waits for them in well under a second or two. */
const DATABASE_DEADLINES = {
  DATABASE_CONNECT_TIMEOUT_MS: "500",
  DATABASE_STATEMENT_TIMEOUT_MS: "1000",
  DATABASE_LOCK_TIMEOUT_MS: "300",
};
// The client gives up 1 s after the statement timeout when the server is silent (db/local_neon.ts).
const SILENT_SERVER_BOUND_MS = 1000 + 1000;

/** A salon open around the clock with one professional and one service (with a deposit when asked). */
async function bookableService(send: Send, testApp: TestApp, deposit: boolean) {
  const owner = await makeUser(testApp, "SALON_OWNER");
  const salon = await makeSalon(send, owner, { minimum_notice_minutes: 0, time_zone: "UTC", currency: "BRL" });
  const pro = await makeProfessional(send, owner, salon.id);
  const rules = [1, 2, 3, 4, 5, 6, 7].map((day) => ({ day_of_week: day, start: "00:00", end: "24:00" }));
  await send("PUT", `/professionals/${pro.id}/availability/rules`, owner, { rules });
  const service = await makeService(send, owner, salon.id, {
    duration_minutes: 60,
    price_amount: 8000,
    ...(deposit ? { deposit: { kind: "FIXED", value: 3000 } } : {}),
    professional_ids: [pro.id],
  });
  const startsAt = new Date(Math.ceil(Date.now() / 3_600_000) * 3_600_000 + 72 * 3_600_000).toISOString();
  return { service, pro, startsAt };
}

async function timedSend(send: Send, method: string, path: string, user: SignedInUser | null, body?: unknown) {
  const started = performance.now();
  const res = await send(method, path, user, body);
  return { ...res, elapsedMs: Math.round(performance.now() - started) };
}

function assertUnavailable(res: { status: number; headers: Headers; body: Record<string, unknown> }, what: string) {
  assert.equal(res.status, 503, `${what}: ${JSON.stringify(res.body)}`);
  assert.ok(res.headers.get("retry-after"), `${what}: Retry-After`);
  assert.equal(res.body.code, "unavailable", what);
}

Deno.test("a payment provider that swallows traffic: the deposit booking answers 503 within the SDK's bound, nothing booked", async () => {
  const fake = await startStripeFake();
  const proxy = startTcpProxy({ hostname: "127.0.0.1", port: fake.port }, "swallow");
  const timeoutMs = 400;
  const maxNetworkRetries = 1;
  const provider = new StripeProvider({
    secretKey: fake.secretKey,
    host: "127.0.0.1",
    port: proxy.port,
    protocol: "http",
    timeoutMs,
    maxNetworkRetries,
  });
  const testApp = await makeTestApp({ LOG_LEVEL: "silent" }, { payments: provider });
  const send = apiClient(testApp);
  try {
    const { service, pro, startsAt } = await bookableService(send, testApp, true);
    const client = await makeUser(testApp, "CLIENT");
    const res = await timedSend(send, "POST", "/bookings", client, {
      service_id: service.id,
      professional_id: pro.id,
      starts_at: startsAt,
    });
    assertUnavailable(res, "deposit booking");
    const budget = paymentCallBudgetMs(timeoutMs, maxNetworkRetries);
    assert.ok(res.elapsedMs >= timeoutMs, `answered after ${res.elapsedMs} ms: the deadline did not wait at all`);
    assert.ok(res.elapsedMs < budget + 1000, `answered after ${res.elapsedMs} ms, budget ${budget} ms`);
    console.log(`deposit against a swallowing provider: 503 after ${res.elapsedMs} ms (budget ${budget} ms)`);
    const booked = await testApp.deps.database.db.select().from(bookings).where(eq(bookings.serviceId, service.id));
    assert.deepEqual(booked, []);
    // Nothing reached Stripe: the proxy swallowed every attempt.
    assert.equal(fake.requests.length, 0);
  } finally {
    await testApp.close();
    await proxy.close();
    await fake.close();
  }
});

Deno.test("payment timeouts and retries that could outlast the Idempotency-Key lease are refused at start-up", () => {
  const stripe = { STRIPE_SECRET_KEY: "sk_test_x", STRIPE_WEBHOOK_SECRET: "whsec_x" };
  assert.equal(loadConfig({}).PAYMENT_TIMEOUT_MS, 8000);
  assert.ok(paymentCallBudgetMs(8000, 2) < 30_000);
  assert.throws(
    () => loadConfig({ ...stripe, PAYMENT_TIMEOUT_MS: "10000", PAYMENT_MAX_NETWORK_RETRIES: "2" }),
    (error) => error instanceof ConfigError && /PAYMENT_TIMEOUT_MS/.test(error.message),
  );
  assert.equal(
    loadConfig({ ...stripe, PAYMENT_TIMEOUT_MS: "10000", PAYMENT_MAX_NETWORK_RETRIES: "1" }).PAYMENT_TIMEOUT_MS,
    10000,
  );
  // The mock provider answers in-process: a short lease (as tests use) needs no payment settings.
  assert.equal(loadConfig({ IDEMPOTENCY_LEASE_SECONDS: "2" }).IDEMPOTENCY_LEASE_SECONDS, 2);
});

Deno.test({
  name: "a PostgreSQL server that swallows traffic: reads and registration answer 503 within the client's deadline",
  ignore: !postgresAvailable,
  async fn() {
    const scratch = await createScratchDatabase();
    const target = new URL(scratch.url);
    const proxy = startTcpProxy({ hostname: target.hostname, port: Number(target.port || 5432) });
    const testApp = await makeTestApp({ LOG_LEVEL: "silent", ...DATABASE_DEADLINES }, {
      url: proxy.urlFor(scratch.url),
    });
    const send = apiClient(testApp);
    try {
      const client = await makeUser(testApp, "CLIENT");
      assert.equal((await send("GET", "/users/me", client)).status, 200);
      proxy.mode = "swallow";
      const me = await timedSend(send, "GET", "/users/me", client);
      assertUnavailable(me, "GET /users/me");
      assert.ok(me.elapsedMs < SILENT_SERVER_BOUND_MS + 1000, `GET /users/me answered after ${me.elapsedMs} ms`);
      const email = `late-${crypto.randomUUID()}@example.com`;
      const register = await timedSend(send, "POST", "/auth/register", null, {
        email,
        password: "Secret123",
        full_name: "Late Comer",
      });
      assertUnavailable(register, "POST /auth/register");
      assert.ok(register.elapsedMs < SILENT_SERVER_BOUND_MS + 1000, `register answered after ${register.elapsedMs} ms`);
      console.log(
        `swallowing PostgreSQL: /users/me 503 after ${me.elapsedMs} ms, register after ${register.elapsedMs} ms`,
      );

      // Back to normal: the pool opens fresh connections, and the refused registration wrote nothing.
      proxy.mode = "pass";
      const admin = new pg.Client({ connectionString: scratch.url });
      await admin.connect();
      try {
        const { rows } = await admin.query("SELECT count(*)::int AS n FROM users WHERE email = $1", [email]);
        assert.equal(rows[0].n, 0);
      } finally {
        await admin.end();
      }
      assert.equal((await send("GET", "/users/me", client)).status, 200);
    } finally {
      await proxy.close();
      await testApp.close();
      await scratch.drop();
    }
  },
});

Deno.test({
  name:
    "a table lock held by another session: the booking answers 503 within the lock timeout, never 409, nothing booked",
  ignore: !postgresAvailable,
  async fn() {
    const scratch = await createScratchDatabase();
    const testApp = await makeTestApp({ LOG_LEVEL: "silent", ...DATABASE_DEADLINES }, { url: scratch.url });
    const send = apiClient(testApp);
    const locker = new pg.Client({ connectionString: scratch.url });
    await locker.connect();
    try {
      const { service, pro, startsAt } = await bookableService(send, testApp, false);
      const client = await makeUser(testApp, "CLIENT");
      await locker.query("BEGIN");
      await locker.query("LOCK TABLE bookings IN ACCESS EXCLUSIVE MODE");
      const body = { service_id: service.id, professional_id: pro.id, starts_at: startsAt };
      const res = await timedSend(send, "POST", "/bookings", client, body);
      assertUnavailable(res, "POST /bookings under a table lock");
      // Every statement that meets the lock waits at most the lock timeout (300 ms).
      assert.ok(res.elapsedMs < 1500, `answered after ${res.elapsedMs} ms`);
      console.log(`table lock held: POST /bookings 503 after ${res.elapsedMs} ms`);
      await locker.query("ROLLBACK");
      const booked = await testApp.deps.database.db.select().from(bookings).where(eq(bookings.serviceId, service.id));
      assert.deepEqual(booked, []);
      // The lock gone, the same request books.
      assert.equal((await send("POST", "/bookings", client, body)).status, 201);
    } finally {
      await locker.end().catch(() => {});
      await testApp.close();
      await scratch.drop();
    }
  },
});

Deno.test("expired database deadlines count as unavailable, not as a broken statement", () => {
  const pgError = (code: string) => Object.assign(new Error("x"), { name: "NeonDbError", code });
  for (const code of ["57014", "55P03"]) {
    assert.equal(isDatabaseUnavailable(new Error("wrapped", { cause: pgError(code) })), true, code);
  }
  assert.throws(
    () => loadConfig({ DATABASE_STATEMENT_TIMEOUT_MS: "1000", DATABASE_LOCK_TIMEOUT_MS: "1000" }),
    (error) => error instanceof ConfigError && /DATABASE_LOCK_TIMEOUT_MS/.test(error.message),
  );
  const config = loadConfig({});
  assert.deepEqual(
    [config.DATABASE_CONNECT_TIMEOUT_MS, config.DATABASE_STATEMENT_TIMEOUT_MS, config.DATABASE_LOCK_TIMEOUT_MS],
    [3000, 5000, 2000],
  );
});

/** A store whose server stopped answering: every call waits forever. */
class SilentStore extends MemoryStore {
  override ping(): Promise<void> {
    return new Promise(() => {});
  }
  override get(): Promise<string | null> {
    return new Promise(() => {});
  }
  override increment(): Promise<number> {
    return new Promise(() => {});
  }
}

async function timedProbe(testApp: TestApp, path: string) {
  const started = performance.now();
  const res = await testApp.app.request(path);
  return { status: res.status, body: await res.json(), elapsedMs: Math.round(performance.now() - started) };
}

Deno.test("a silent store: /health/ready and /health answer 503 within a second and name the store as late", async () => {
  const testApp = await makeTestApp({ LOG_LEVEL: "silent" }, { store: new SilentStore() });
  try {
    for (const path of ["/health/ready", "/health"]) {
      const res = await timedProbe(testApp, path);
      assert.equal(res.status, 503, `${path}: ${JSON.stringify(res.body)}`);
      assert.ok(res.elapsedMs < 1000, `${path} answered after ${res.elapsedMs} ms`);
      const store = path === "/health" ? res.body.checks.redis : res.body.store;
      const database = path === "/health" ? res.body.checks.database : res.body.database;
      assert.equal(store.status, "down", path);
      assert.equal(store.error, "timeout", path);
      assert.equal(database.status, "up", path);
      console.log(`silent store: ${path} 503 after ${res.elapsedMs} ms`);
    }
    assert.equal((await timedProbe(testApp, "/health/ready")).body.status, "not_ready");
  } finally {
    await testApp.close();
  }
});

Deno.test({
  name: "a PostgreSQL server that swallows traffic: /health/ready answers 503 within a second and names the database",
  ignore: !postgresAvailable,
  async fn() {
    const scratch = await createScratchDatabase();
    const target = new URL(scratch.url);
    const proxy = startTcpProxy({ hostname: target.hostname, port: Number(target.port || 5432) });
    const testApp = await makeTestApp({ LOG_LEVEL: "silent" }, { url: proxy.urlFor(scratch.url) });
    try {
      const before = await timedProbe(testApp, "/health/ready");
      assert.equal(before.status, 200, JSON.stringify(before.body));
      assert.equal(before.body.store.status, "up");
      proxy.mode = "swallow";
      const res = await timedProbe(testApp, "/health/ready");
      assert.equal(res.status, 503, JSON.stringify(res.body));
      assert.ok(res.elapsedMs < 1000, `answered after ${res.elapsedMs} ms`);
      assert.equal(res.body.database.status, "down");
      assert.equal(res.body.database.error, "timeout");
      assert.equal(res.body.store.status, "up");
      console.log(`swallowing PostgreSQL: /health/ready 503 after ${res.elapsedMs} ms`);
    } finally {
      await proxy.close();
      await testApp.close();
      await scratch.drop();
    }
  },
});

Deno.test({
  name:
    "a batch on an open connection to a server gone silent fails after one read deadline, without waiting for a ROLLBACK",
  ignore: !postgresAvailable,
  async fn() {
    const scratch = await createScratchDatabase();
    const target = new URL(scratch.url);
    const proxy = startTcpProxy({ hostname: target.hostname, port: Number(target.port || 5432) });
    const backend = new PostgresBackend(proxy.urlFor(scratch.url), {
      max: 1,
      deadlines: { connectMs: 500, statementMs: 500, lockMs: 200 },
    });
    try {
      // One pooled connection, open and idle: the next batch runs on it.
      await backend.batch([{ query: "SELECT 1", params: [] }], {});
      proxy.mode = "swallow";
      const started = performance.now();
      const error = await backend.batch([{ query: "SELECT 1", params: [] }], {}).then(() => undefined, (e) => e);
      const elapsedMs = Math.round(performance.now() - started);
      assert.ok(error, "a batch to a silent server must fail");
      // BEGIN waits one read deadline (500 ms + 1 s margin); a ROLLBACK on the dead connection would double it.
      assert.ok(elapsedMs < 2500, `failed after ${elapsedMs} ms`);
      console.log(`silent server, open connection: batch failed after ${elapsedMs} ms`);
      proxy.mode = "pass";
      // The dead connection was dropped, not returned to the pool: the next batch gets a fresh one.
      const [result] = await backend.batch([{ query: "SELECT 2 AS n", params: [] }], {});
      assert.deepEqual(result.rows, [["2"]]);
    } finally {
      await proxy.close();
      await backend.close();
      await scratch.drop();
    }
  },
});
