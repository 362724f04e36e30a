/**
 * Every outside call has a deadline: a dependency that stops answering without refusing (packets
 * swallowed by a TCP proxy in front of the real service) ends in 503 with Retry-After within the
 * configured bound, having written nothing.
 */
import assert from "node:assert/strict";
import { eq } from "drizzle-orm";
import { paymentCallBudgetMs } from "../../adapters/config.ts";
import { StripeProvider } from "../../adapters/payments_stripe.ts";
import { bookings } from "../../db/schema.ts";
import { apiClient, type Send } from "../support/api.ts";
import { makeTestApp, type TestApp } from "../support/app.ts";
import { makeProfessional, makeSalon, makeService } from "../support/catalog.ts";
import { startStripeFake } from "../support/stripe_fake.ts";
import { startTcpProxy } from "../support/tcp_proxy.ts";
import { makeUser, type SignedInUser } from "../support/users.ts";

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

Deno.test("payment timeouts and retries that could outlast the Idempotency-Key lease are refused at start-up", async () => {
  const { loadConfig, ConfigError } = await import("../../adapters/config.ts");
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
