/** Refunds: by the policy tier when a paid booking is cancelled, in full by the salon, manual within bounds, never lost. */
import assert from "node:assert/strict";
import { eq } from "drizzle-orm";
import { TEST_CARDS } from "../../adapters/payments_mock.ts";
import { outbox, payments, refunds } from "../../db/schema.ts";
import { apiClient } from "../support/api.ts";
import { makeTestApp } from "../support/app.ts";
import { makeProfessional, makeSalon, makeService } from "../support/catalog.ts";
import { makeUser } from "../support/users.ts";

const NOW = new Date("2026-06-01T12:00:00Z"); // 09:00 in São Paulo

Deno.test("refunds", async (t) => {
  const testApp = await makeTestApp({ LOG_LEVEL: "silent", RATE_LIMIT_API_PER_MINUTE: "100000" }, { now: () => NOW });
  const db = testApp.deps.database.db;
  const send = apiClient(testApp);
  const owner = await makeUser(testApp, "SALON_OWNER");
  const salon = await makeSalon(send, owner, { minimum_notice_minutes: 0 });
  const pro = await makeProfessional(send, owner, salon.id);
  const rules = [1, 2, 3, 4, 5, 6, 7].map((day) => ({ day_of_week: day, start: "09:00", end: "18:00" }));
  await send("PUT", `/professionals/${pro.id}/availability/rules`, owner, { rules });
  const policy = await send("POST", "/cancellation-policies", owner, {
    salon_id: salon.id,
    name: "Standard",
    tiers: [
      { hours_before_min: 0, hours_before_max: 24, fee_percent: 50 },
      { hours_before_min: 24, hours_before_max: 48, fee_percent: 20 },
      { hours_before_min: 48, hours_before_max: null, fee_percent: 0 },
    ],
  });
  assert.equal(policy.status, 201, JSON.stringify(policy.body));
  const service = await makeService(send, owner, salon.id, {
    duration_minutes: 60,
    price_amount: 20000,
    deposit: { kind: "FIXED", value: 5000 },
    professional_ids: [pro.id],
  });
  const deliverAll = async () => {
    for (let i = 0; i < 6; i++) {
      const report = await testApp.dispatcher.runDue();
      if (report.delivered + report.retried + report.dead === 0) return;
    }
  };
  const paidBooking = async (startsAt: string) => {
    const client = await makeUser(testApp, "CLIENT");
    const res = await send("POST", "/bookings", client, {
      service_id: service.id,
      professional_id: pro.id,
      starts_at: startsAt,
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const paid = await send("POST", `/payments/${res.body.payment.id}/mock-confirm`, client, {
      card_number: TEST_CARDS.succeeds,
    });
    assert.equal(paid.status, 202);
    return { client, booking: res.body, paymentId: res.body.payment.id as string };
  };
  const payment = async (id: string) => (await db.select().from(payments).where(eq(payments.id, id)))[0];

  try {
    await t.step("the client cancels: the deposit minus the tier's fee goes back", async () => {
      const cases = [
        { startsAt: "2026-06-04T12:00:00Z", refund: 5000, status: "REFUNDED" }, // 72 h: no fee
        { startsAt: "2026-06-02T18:00:00Z", refund: 1000, status: "PARTIALLY_REFUNDED" }, // 30 h: 20 % of 20,000
        { startsAt: "2026-06-01T20:00:00Z", refund: 0, status: "SUCCEEDED" }, // 8 h: 50 % exceeds the deposit
      ];
      for (const expected of cases) {
        const { client, booking, paymentId } = await paidBooking(expected.startsAt);
        const cancelled = await send("PATCH", `/bookings/${booking.id}/cancel`, client, {});
        assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
        assert.equal(cancelled.body.refund.amount, expected.refund, expected.startsAt);
        await deliverAll();
        const row = await payment(paymentId);
        assert.deepEqual([row.status, row.refundedAmount], [expected.status, expected.refund], expected.startsAt);
        const made = await db.select().from(refunds).where(eq(refunds.paymentId, paymentId));
        assert.equal(made.length, expected.refund > 0 ? 1 : 0);
        if (expected.refund > 0) assert.equal(made[0].status, "SUCCEEDED");
      }
    });

    await t.step("the salon cancels: the whole deposit goes back", async () => {
      const { booking, paymentId } = await paidBooking("2026-06-01T19:00:00Z");
      const cancelled = await send("PATCH", `/bookings/${booking.id}/cancel`, owner, { reason: "Professional ill" });
      assert.equal(cancelled.body.refund.amount, 5000);
      await deliverAll();
      assert.deepEqual([(await payment(paymentId)).status, (await payment(paymentId)).refundedAmount], [
        "REFUNDED",
        5000,
      ]);
    });

    await t.step("manual refunds never exceed what is still refundable; only the salon's side may refund", async () => {
      const { client, paymentId } = await paidBooking("2026-06-05T13:00:00Z");
      const refund = (amount: number, who = owner) =>
        send("POST", "/refunds", who, { payment_id: paymentId, amount, reason: "Goodwill" });
      assert.equal((await refund(3000)).status, 201);
      const tooMuch = await refund(2500);
      assert.equal(tooMuch.status, 422);
      assert.equal(tooMuch.body.errors[0].path, "amount");
      assert.equal((await refund(2000, client)).status, 403);
      const rival = await makeUser(testApp, "SALON_OWNER");
      assert.equal((await refund(2000, rival)).status, 404);
      assert.equal((await refund(2000)).status, 201);
      await deliverAll();
      assert.deepEqual([(await payment(paymentId)).status, (await payment(paymentId)).refundedAmount], [
        "REFUNDED",
        5000,
      ]);
      assert.equal((await refund(1)).status, 422);
    });

    await t.step("a refund whose prompt request was lost is made by the outbox relay", async () => {
      const { paymentId } = await paidBooking("2026-06-06T13:00:00Z");
      const id = crypto.randomUUID();
      // As if the process died right after committing: the refund and its outbox row, no job.
      await db.batch([
        db.insert(refunds).values({ id, paymentId, amount: 1500, status: "PENDING", reason: "test", sequence: 1 }),
        db.insert(outbox).values({
          topic: "payment.refund_requested",
          payload: { refund_id: id, payment_id: paymentId, amount: 1500 },
          deduplicationId: `payment.refund_requested:${id}`,
        }),
      ]);
      await testApp.dispatcher.publishSchedules();
      await deliverAll();
      const [row] = await db.select().from(refunds).where(eq(refunds.id, id));
      assert.equal(row.status, "SUCCEEDED");
      assert.equal((await payment(paymentId)).refundedAmount, 1500);
    });
  } finally {
    await testApp.close();
  }
});
