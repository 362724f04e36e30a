/**
 * The deposit flow on the mock provider: payment with test cards, webhooks verified with the
 * Stripe SDK (tampered, stale, missing signatures), one effect per event id even when concurrent,
 * forward-only state with out-of-order events, a late success after the hold lapsed, JPY, scoping.
 */
import assert from "node:assert/strict";
import Stripe from "stripe";
import { and, eq } from "drizzle-orm";
import { MockPaymentProvider, stripeSignature, TEST_CARDS } from "../../adapters/payments_mock.ts";
import { PaymentProviderError } from "../../adapters/payments.ts";
import { auditEvents, bookings, outbox, paymentLogs, payments, refunds } from "../../db/schema.ts";
import { apiClient } from "../support/api.ts";
import { makeTestApp, TEST_STRIPE_WEBHOOK_SECRET } from "../support/app.ts";
import { makeProfessional, makeSalon, makeService } from "../support/catalog.ts";
import { makeUser } from "../support/users.ts";

const NOW = new Date("2026-06-01T12:00:00Z");
const MINUTE = 60_000;

Deno.test("payments", async (t) => {
  let clock = NOW;
  const testApp = await makeTestApp({ LOG_LEVEL: "silent", RATE_LIMIT_API_PER_MINUTE: "100000" }, { now: () => clock });
  const db = testApp.deps.database.db;
  const mock = testApp.deps.payments as MockPaymentProvider;
  const send = apiClient(testApp);
  const owner = await makeUser(testApp, "SALON_OWNER");
  const salon = await makeSalon(send, owner, { minimum_notice_minutes: 0 });
  const pro = await makeProfessional(send, owner, salon.id);
  const rules = [1, 2, 3, 4, 5, 6, 7].map((day) => ({ day_of_week: day, start: "09:00", end: "18:00" }));
  await send("PUT", `/professionals/${pro.id}/availability/rules`, owner, { rules });
  const service = await makeService(send, owner, salon.id, {
    duration_minutes: 60,
    price_amount: 20000,
    deposit: { kind: "FIXED", value: 5000 },
    professional_ids: [pro.id],
  });
  const book = async (startsAt: string) => {
    const client = await makeUser(testApp, "CLIENT");
    const res = await send("POST", "/bookings", client, {
      service_id: service.id,
      professional_id: pro.id,
      starts_at: startsAt,
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return { client, booking: res.body };
  };
  const paymentOf = async (bookingId: string) =>
    (await db.select().from(payments).where(eq(payments.bookingId, bookingId)))[0];
  const bookingRow = async (id: string) => (await db.select().from(bookings).where(eq(bookings.id, id)))[0];
  const postEvent = async (
    event: unknown,
    options: { ageSeconds?: number; tamper?: boolean; secret?: string } = {},
  ) => {
    const payload = JSON.stringify(event);
    const signature = await stripeSignature(
      payload,
      options.secret ?? TEST_STRIPE_WEBHOOK_SECRET,
      Math.floor(Date.now() / 1000) - (options.ageSeconds ?? 0),
    );
    const res = await testApp.app.request("/webhooks/stripe", {
      method: "POST",
      headers: { "content-type": "application/json", "stripe-signature": signature },
      body: options.tamper ? payload.replace('"amount":5000', '"amount":1') : payload,
    });
    return { status: res.status, body: await res.json() };
  };
  const succeededEvent = async (bookingId: string) => {
    const payment = await paymentOf(bookingId);
    const intent = await mock.retrieve(payment.providerPaymentId!);
    return mock.event("payment_intent.succeeded", { ...mock.stripeObject(intent), status: "succeeded" });
  };

  try {
    await t.step("a deposit booking is PENDING with a payment to make; a test card confirms it", async () => {
      const { client, booking } = await book("2026-06-02T13:00:00Z");
      assert.equal(booking.status, "PENDING");
      assert.equal(booking.payment.provider, "mock");
      assert.match(booking.payment.client_secret, /_secret_/);
      assert.deepEqual(booking.payment.amount, { amount: 5000, currency: "BRL" });
      const paid = await send("POST", `/payments/${booking.payment.id}/mock-confirm`, client, {
        card_number: TEST_CARDS.succeeds,
      });
      assert.equal(paid.status, 202);
      assert.equal((await paymentOf(booking.id)).status, "SUCCEEDED");
      const row = await bookingRow(booking.id);
      assert.equal(row.status, "CONFIRMED");
      assert.equal(row.holdExpiresAt, null);
      const mine = await send("GET", "/payments", client);
      assert.deepEqual(mine.body.data.map((p: { id: string }) => p.id), [booking.payment.id]);
      const rival = await makeUser(testApp, "SALON_OWNER");
      assert.equal((await send("GET", `/payments/${booking.payment.id}`, rival)).status, 404);
      assert.equal((await send("GET", `/payments/${booking.payment.id}`, owner)).status, 200);
    });

    await t.step("a declined card: the payment FAILED with its code, the booking still held", async () => {
      const { client, booking } = await book("2026-06-02T15:00:00Z");
      await send("POST", `/payments/${booking.payment.id}/mock-confirm`, client, { card_number: TEST_CARDS.declined });
      const payment = await paymentOf(booking.id);
      assert.deepEqual([payment.status, payment.failureCode], ["FAILED", "card_declined"]);
      assert.equal((await bookingRow(booking.id)).status, "PENDING");
      // Another card later succeeds: forward again.
      await send("POST", `/payments/${booking.payment.id}/mock-confirm`, client, { card_number: TEST_CARDS.succeeds });
      assert.equal((await paymentOf(booking.id)).status, "SUCCEEDED");
    });

    await t.step("the provider down: 503, nothing booked, the failed call in the payment logs", async () => {
      const real = testApp.deps.payments;
      testApp.deps.payments = Object.assign(Object.create(real), {
        createDeposit: () => Promise.reject(new PaymentProviderError("Stripe is unavailable", "api_error", true)),
      });
      try {
        const client = await makeUser(testApp, "CLIENT");
        const before = await db.select().from(bookings).where(eq(bookings.clientId, client.id));
        const res = await send("POST", "/bookings", client, {
          service_id: service.id,
          professional_id: pro.id,
          starts_at: "2026-06-02T16:00:00Z",
        });
        assert.equal(res.status, 503, JSON.stringify(res.body));
        assert.equal(res.headers.get("retry-after"), "5");
        assert.deepEqual(before, []);
        assert.deepEqual(await db.select().from(bookings).where(eq(bookings.clientId, client.id)), []);
        const logged = await db.select().from(paymentLogs)
          .where(and(eq(paymentLogs.kind, "create_deposit"), eq(paymentLogs.status, "error")));
        assert.equal(logged.length, 1);
        assert.equal(logged[0].paymentId, null);
        assert.equal(logged[0].provider, "MOCK");
        assert.equal(logged[0].errorCode, "api_error");
        assert.match(logged[0].providerObjectId ?? "", /^booking:[0-9a-f-]{36}:deposit$/);
        assert.ok(typeof logged[0].latencyMs === "number" && logged[0].latencyMs >= 0);
      } finally {
        testApp.deps.payments = real;
      }
    });

    await t.step("tampered, stale, foreign or missing signatures are 400 and change nothing", async () => {
      const { booking } = await book("2026-06-03T13:00:00Z");
      const event = await succeededEvent(booking.id);
      assert.equal((await postEvent(event, { tamper: true })).status, 400);
      assert.equal((await postEvent(event, { ageSeconds: 400 })).status, 400);
      assert.equal((await postEvent(event, { secret: "whsec_someone_else" })).status, 400);
      const unsigned = await testApp.app.request("/webhooks/stripe", { method: "POST", body: JSON.stringify(event) });
      assert.equal(unsigned.status, 400);
      assert.equal((await paymentOf(booking.id)).status, "PENDING");
      assert.equal((await bookingRow(booking.id)).status, "PENDING");
    });

    await t.step("an event signed by the Stripe SDK's own test helper is accepted", async () => {
      const { booking } = await book("2026-06-06T13:00:00Z");
      const payload = JSON.stringify(await succeededEvent(booking.id));
      const sdk = new Stripe("sk_test_unused", { httpClient: Stripe.createFetchHttpClient() });
      const header = await sdk.webhooks.generateTestHeaderStringAsync({ payload, secret: TEST_STRIPE_WEBHOOK_SECRET });
      const res = await testApp.app.request("/webhooks/stripe", {
        method: "POST",
        headers: { "content-type": "application/json", "stripe-signature": header },
        body: payload,
      });
      assert.equal(res.status, 200);
      assert.equal((await bookingRow(booking.id)).status, "CONFIRMED");
    });

    await t.step("validly signed events of an unusable shape are acknowledged and logged, never a 500", async () => {
      const { booking } = await book("2026-06-06T15:00:00Z");
      const real = await succeededEvent(booking.id) as { id: string; data: { object: Record<string, unknown> } };
      const shapes = [
        { id: "evt_no_data", type: "payment_intent.succeeded" },
        { id: "evt_null_object", type: "payment_intent.succeeded", data: { object: null } },
        { ...real, id: "evt_bad_intent", data: { object: { ...real.data.object, id: "pi_\u0000x" } } },
        {
          id: "evt_refund",
          type: "refund.created",
          data: { object: { id: "re_1", amount: 100, status: "succeeded" } },
        },
        {
          id: "evt_refund_zero",
          type: "refund.created",
          data: { object: { id: "re_2", payment_intent: "pi_x", amount: 0, status: "succeeded" } },
        },
        { id: 42, type: "payment_intent.succeeded", data: real.data },
      ];
      for (const event of shapes) {
        const res = await postEvent(event);
        assert.equal(res.status, 200, JSON.stringify(event));
        assert.equal(res.body.outcome, "unusable");
      }
      assert.equal((await paymentOf(booking.id)).status, "PENDING");
      // A refund event whose metadata names something that is not one of our ids is still usable.
      const payment = await paymentOf(booking.id);
      const refund = await postEvent({
        id: "evt_refund_foreign_metadata",
        type: "refund.created",
        data: {
          object: {
            id: "re_foreign",
            payment_intent: payment.providerPaymentId,
            amount: 100,
            status: "pending",
            metadata: { refund_id: "not-a-uuid" },
          },
        },
      });
      assert.equal(refund.status, 200);
      assert.notEqual(refund.body.outcome, "unusable");
    });

    await t.step("one event delivered five times at once acts once", async () => {
      const { booking } = await book("2026-06-03T15:00:00Z");
      const event = await succeededEvent(booking.id);
      const answers = await Promise.all(Array.from({ length: 5 }, () => postEvent(event)));
      assert.deepEqual(answers.map((a) => a.status), [200, 200, 200, 200, 200]);
      assert.deepEqual(answers.map((a) => a.body.outcome).sort(), [
        "confirmed",
        "duplicate",
        "duplicate",
        "duplicate",
        "duplicate",
      ]);
      const confirms = await db.select().from(auditEvents)
        .where(and(eq(auditEvents.entityId, booking.id), eq(auditEvents.action, "booking.confirm")));
      assert.equal(confirms.length, 1);
    });

    await t.step(
      "out of order: a failure that arrives after the success leaves it SUCCEEDED, with no failure code",
      async () => {
        const { booking } = await book("2026-06-04T13:00:00Z");
        const payment = await paymentOf(booking.id);
        const intent = mock.stripeObject(await mock.retrieve(payment.providerPaymentId!));
        const failed = mock.event("payment_intent.payment_failed", {
          ...intent,
          last_payment_error: { code: "card_declined" },
        });
        await postEvent(await succeededEvent(booking.id));
        await postEvent(failed);
        const after = await paymentOf(booking.id);
        // The late failure describes an attempt the success superseded: no failure code on a paid deposit.
        assert.deepEqual([after.status, after.failureCode], ["SUCCEEDED", null]);
        const shown = await send("GET", `/payments/${payment.id}`, owner);
        assert.deepEqual([shown.body.status, shown.body.failure_code], ["SUCCEEDED", null]);
        assert.equal((await bookingRow(booking.id)).status, "CONFIRMED");
      },
    );

    await t.step("out of order: a refund reported before the success counts once the success arrives", async () => {
      const { booking } = await book("2026-06-04T15:00:00Z");
      const payment = await paymentOf(booking.id);
      const refunded = mock.event("refund.updated", {
        id: "re_mock_early",
        object: "refund",
        amount: 2000,
        currency: "brl",
        payment_intent: payment.providerPaymentId,
        status: "succeeded",
      });
      assert.equal((await postEvent(refunded)).status, 200);
      assert.equal((await paymentOf(booking.id)).status, "PENDING");
      await postEvent(await succeededEvent(booking.id));
      const after = await paymentOf(booking.id);
      assert.deepEqual([after.status, after.refundedAmount], ["PARTIALLY_REFUNDED", 2000]);
    });

    await t.step(
      "a success after the hold lapsed: confirmed if the slot is free, refunded in full if it was taken",
      async () => {
        const free = await book("2026-06-05T13:00:00Z");
        const taken = await book("2026-06-05T15:00:00Z");
        clock = new Date(NOW.getTime() + 20 * MINUTE);
        // Someone else books the lapsed slot of `taken` (their insert expires the old hold first).
        const other = await makeUser(testApp, "CLIENT");
        const login = await send("POST", "/auth/login", null, { email: other.email, password: other.password });
        const later = { ...other, accessToken: login.body.access_token };
        const rival = await send("POST", "/bookings", later, {
          service_id: service.id,
          professional_id: pro.id,
          starts_at: "2026-06-05T15:00:00Z",
        });
        assert.equal(rival.status, 201, JSON.stringify(rival.body));

        // Both clients pay now, 20 minutes in: the provider's success arrives after their holds lapsed.
        for (const { client, booking } of [free, taken]) {
          const paid = await send("POST", `/payments/${booking.payment.id}/mock-confirm`, client, {
            card_number: TEST_CARDS.succeeds,
          });
          assert.equal(paid.status, 202);
        }
        assert.equal((await bookingRow(free.booking.id)).status, "CONFIRMED");
        assert.equal((await bookingRow(taken.booking.id)).status, "EXPIRED");
        // The refund is made by its job, as every refund is.
        for (let i = 0; i < 4; i++) await testApp.dispatcher.runDue();
        const payment = await paymentOf(taken.booking.id);
        assert.deepEqual([payment.status, payment.refundedAmount], ["REFUNDED", 5000]);
        const [refund] = await db.select().from(refunds).where(eq(refunds.paymentId, payment.id));
        assert.deepEqual([refund.amount, refund.status], [5000, "SUCCEEDED"]);
        const told = await db.select().from(outbox).where(
          eq(outbox.deduplicationId, `payment.auto_refund:${payment.id}`),
        );
        assert.equal(told.length, 1);
        clock = NOW;
      },
    );

    await t.step("JPY: a zero-decimal currency keeps whole yen", async () => {
      const yenSalon = await makeSalon(send, owner, {
        time_zone: "Asia/Tokyo",
        currency: "JPY",
        minimum_notice_minutes: 0,
      });
      const yenPro = await makeProfessional(send, owner, yenSalon.id);
      await send("PUT", `/professionals/${yenPro.id}/availability/rules`, owner, { rules });
      const yenService = await makeService(send, owner, yenSalon.id, {
        duration_minutes: 60,
        price_amount: 3001,
        deposit: { kind: "PERCENTAGE", value: 5000 },
        professional_ids: [yenPro.id],
      });
      const client = await makeUser(testApp, "CLIENT");
      const res = await send("POST", "/bookings", client, {
        service_id: yenService.id,
        professional_id: yenPro.id,
        starts_at: "2026-06-02T01:00:00Z",
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      assert.deepEqual(res.body.payment.amount, { amount: 1501, currency: "JPY" });
      const intent = await mock.retrieve((await paymentOf(res.body.id)).providerPaymentId!);
      assert.deepEqual([intent.amount, intent.currency], [1501, "JPY"]);
    });
  } finally {
    await testApp.close();
  }
});
