/**
 * The deposit flow with the real Stripe SDK against the local fake of Stripe's API: the deposit
 * PaymentIntent with its idempotency key and metadata, a webhook signed by the SDK's own helper,
 * and the salon's cancellation refunding through a job with its deterministic key.
 */
import assert from "node:assert/strict";
import { eq } from "drizzle-orm";
import Stripe from "stripe";
import { StripeProvider } from "../../adapters/payments_stripe.ts";
import { bookings, payments } from "../../db/schema.ts";
import { apiClient } from "../support/api.ts";
import { makeTestApp, TEST_STRIPE_WEBHOOK_SECRET } from "../support/app.ts";
import { makeProfessional, makeSalon, makeService } from "../support/catalog.ts";
import { startStripeFake } from "../support/stripe_fake.ts";
import { makeUser } from "../support/users.ts";

Deno.test("a deposit paid and refunded through Stripe's API (local fake) and its signed webhooks", async () => {
  const fake = await startStripeFake();
  const provider = new StripeProvider({
    secretKey: fake.secretKey,
    host: "127.0.0.1",
    port: fake.port,
    protocol: "http",
  });
  const now = new Date();
  const testApp = await makeTestApp({ LOG_LEVEL: "silent" }, { now: () => now, payments: provider });
  const db = testApp.deps.database.db;
  const send = apiClient(testApp);
  try {
    const owner = await makeUser(testApp, "SALON_OWNER");
    const salon = await makeSalon(send, owner, { minimum_notice_minutes: 0, time_zone: "UTC", currency: "JPY" });
    const pro = await makeProfessional(send, owner, salon.id);
    const rules = [1, 2, 3, 4, 5, 6, 7].map((day) => ({ day_of_week: day, start: "00:00", end: "24:00" }));
    await send("PUT", `/professionals/${pro.id}/availability/rules`, owner, { rules });
    const service = await makeService(send, owner, salon.id, {
      duration_minutes: 60,
      price_amount: 8000,
      deposit: { kind: "FIXED", value: 3000 },
      professional_ids: [pro.id],
    });
    const client = await makeUser(testApp, "CLIENT");
    const start = new Date(Math.ceil(now.getTime() / 3_600_000) * 3_600_000 + 72 * 3_600_000).toISOString();
    const booked = await send("POST", "/bookings", client, {
      service_id: service.id,
      professional_id: pro.id,
      starts_at: start,
    });
    assert.equal(booked.status, 201, JSON.stringify(booked.body));
    assert.equal(booked.body.payment.provider, "stripe");
    assert.match(booked.body.payment.client_secret, /^pi_.*_secret_/);

    const created = fake.requests.find((r) => r.method === "POST" && r.path === "/v1/payment_intents")!;
    assert.equal(created.idempotencyKey, `booking:${booked.body.id}:deposit`);
    assert.equal(created.params.amount, "3000"); // yen have no minor unit
    assert.equal(created.params.currency, "jpy");
    assert.equal((created.params.metadata as Record<string, string>).booking_id, booked.body.id);

    // The client pays on Stripe's side; Stripe then sends the signed event.
    const [payment] = await db.select().from(payments).where(eq(payments.bookingId, booked.body.id));
    fake.setOutcome(payment.providerPaymentId!, "succeeded");
    const sdk = new Stripe(fake.secretKey, { httpClient: Stripe.createFetchHttpClient() });
    const payload = JSON.stringify({
      id: "evt_fake_1",
      object: "event",
      type: "payment_intent.succeeded",
      created: Math.floor(Date.now() / 1000),
      data: { object: { id: payment.providerPaymentId, object: "payment_intent", status: "succeeded", amount: 3000 } },
    });
    const header = await sdk.webhooks.generateTestHeaderStringAsync({ payload, secret: TEST_STRIPE_WEBHOOK_SECRET });
    const res = await testApp.app.request("/webhooks/stripe", {
      method: "POST",
      headers: { "content-type": "application/json", "stripe-signature": header },
      body: payload,
    });
    assert.equal(res.status, 200);
    assert.equal((await db.select().from(bookings).where(eq(bookings.id, booked.body.id)))[0].status, "CONFIRMED");

    // The salon cancels: the whole deposit goes back through Stripe, once.
    const cancelled = await send("PATCH", `/bookings/${booked.body.id}/cancel`, owner, { reason: "Closed" });
    assert.equal(cancelled.body.refund.amount, 3000);
    for (let i = 0; i < 4; i++) await testApp.dispatcher.runDue();
    const refundCalls = fake.requests.filter((r) =>
      r.method === "POST" && r.path === "/v1/refunds" && r.status === 200
    );
    assert.equal(refundCalls.length, 1);
    assert.equal(refundCalls[0].idempotencyKey, `booking:${booked.body.id}:refund:1`);
    const [after] = await db.select().from(payments).where(eq(payments.id, payment.id));
    assert.deepEqual([after.status, after.refundedAmount], ["REFUNDED", 3000]);
  } finally {
    await testApp.close();
    await fake.close();
  }
});
