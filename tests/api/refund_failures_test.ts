/**
 * Refunds that do not simply succeed: the mock provider's books survive a restart (a refund after
 * it still finds the charge); a refund the provider refuses for good ends FAILED with its reason,
 * tells the salon's owner and the admins (in-app) and the client (truthfully), is listed for admins
 * and can be retried as a new attempt with a new idempotency key, audited.
 */
import assert from "node:assert/strict";
import { and, eq } from "drizzle-orm";
import { MockPaymentProvider, stripeSignature, TEST_CARDS } from "../../adapters/payments_mock.ts";
import {
  type PaymentProvider,
  PaymentProviderError,
  type ProviderRefund,
  type RefundRequest,
} from "../../adapters/payments.ts";
import { auditEvents, notifications, paymentLogs, payments, refunds } from "../../db/schema.ts";
import { apiClient } from "../support/api.ts";
import { makeTestApp, TEST_STRIPE_WEBHOOK_SECRET, type TestApp } from "../support/app.ts";
import { makeProfessional, makeSalon, makeService } from "../support/catalog.ts";
import { makeUser } from "../support/users.ts";

const NOW = new Date("2026-06-01T12:00:00Z");

/** The mock as a freshly started process builds it: a new object over the same database. */
function restartedMock(testApp: TestApp): MockPaymentProvider {
  return new MockPaymentProvider({
    db: testApp.deps.database.db,
    emit: async (event) => {
      const payload = JSON.stringify(event);
      const signature = await stripeSignature(payload, TEST_STRIPE_WEBHOOK_SECRET, Math.floor(Date.now() / 1000));
      const res = await testApp.app.request("/webhooks/stripe", {
        method: "POST",
        headers: { "content-type": "application/json", "stripe-signature": signature },
        body: payload,
      });
      await res.body?.cancel();
    },
  });
}

/** A provider whose refunds answer as the test says; everything else is the real mock. */
function refundsAnswering(
  inner: PaymentProvider,
  answer: (request: RefundRequest) => Promise<ProviderRefund> | "inner",
) {
  const keys: string[] = [];
  const provider: PaymentProvider = {
    kind: inner.kind,
    createDeposit: (request) => inner.createDeposit(request),
    retrieve: (id) => inner.retrieve(id),
    listPaymentsSince: (seconds) => inner.listPaymentsSince(seconds),
    listRefundsSince: (seconds) => inner.listRefundsSince(seconds),
    refund(request) {
      keys.push(request.idempotencyKey);
      const answered = answer(request);
      return answered === "inner" ? inner.refund(request) : answered;
    },
  };
  // The mock-confirm route pays through the mock itself (it asks for a MockPaymentProvider).
  Object.setPrototypeOf(provider, inner);
  Object.assign(provider, {
    confirm: (...args: Parameters<MockPaymentProvider["confirm"]>) => (inner as MockPaymentProvider).confirm(...args),
  });
  return { provider, keys };
}

Deno.test("refunds that fail, and the mock across restarts", async (t) => {
  const testApp = await makeTestApp({ LOG_LEVEL: "silent" }, { now: () => NOW });
  const db = testApp.deps.database.db;
  const send = apiClient(testApp);
  const owner = await makeUser(testApp, "SALON_OWNER");
  const admin = await makeUser(testApp, "ADMIN");
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
  const deliverAll = async () => {
    for (let i = 0; i < 8; i++) {
      const report = await testApp.dispatcher.runDue();
      if (report.delivered + report.retried + report.dead === 0) return;
    }
  };
  let hour = 9;
  const paidBooking = async () => {
    const client = await makeUser(testApp, "CLIENT");
    const res = await send("POST", "/bookings", client, {
      service_id: service.id,
      professional_id: pro.id,
      starts_at: `2026-06-03T${String(hour++).padStart(2, "0")}:00:00-03:00`,
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const paid = await send("POST", `/payments/${res.body.payment.id}/mock-confirm`, client, {
      card_number: TEST_CARDS.succeeds,
    });
    assert.equal(paid.status, 202);
    await deliverAll();
    return { client, bookingId: res.body.id as string, paymentId: res.body.payment.id as string };
  };
  const paymentRow = async (id: string) => (await db.select().from(payments).where(eq(payments.id, id)))[0];
  const refundOf = async (paymentId: string) =>
    (await db.select().from(refunds).where(eq(refunds.paymentId, paymentId)))[0];
  const noticesOf = (userId: string, template: string) =>
    db.select().from(notifications).where(and(eq(notifications.userId, userId), eq(notifications.template, template)));
  const original = testApp.deps.payments;

  try {
    await t.step("after a restart of the mock provider, the salon cancels a paid booking: refunded", async () => {
      const { bookingId, paymentId } = await paidBooking();
      testApp.deps.payments = restartedMock(testApp);
      const cancelled = await send("PATCH", `/bookings/${bookingId}/cancel`, owner, { reason: "Closed today" });
      assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
      assert.equal(cancelled.body.refund.amount, 5000);
      await deliverAll();
      const refund = await refundOf(paymentId);
      assert.deepEqual([refund.status, refund.failureReason], ["SUCCEEDED", null]);
      const payment = await paymentRow(paymentId);
      assert.deepEqual([payment.status, payment.refundedAmount], ["REFUNDED", 5000]);
      // The restarted mock knows the charge and what went back of it, as the provider would.
      const intent = await testApp.deps.payments.retrieve(payment.providerPaymentId!);
      assert.equal(intent.status, "succeeded");
      const since = await testApp.deps.payments.listRefundsSince(0);
      assert.deepEqual(since.filter((r) => r.paymentId === intent.id).map((r) => r.amount), [5000]);
    });

    await t.step(
      "a refund refused for good: FAILED with its reason, the owner and admins told in-app, the client truthfully",
      async () => {
        const refusing = refundsAnswering(
          original,
          () =>
            Promise.reject(new PaymentProviderError("the charge cannot be refunded", "charge_not_refundable", false)),
        );
        testApp.deps.payments = refusing.provider;
        const { client, bookingId, paymentId } = await paidBooking();
        assert.equal((await send("PATCH", `/bookings/${bookingId}/cancel`, owner, {})).status, 200);
        await deliverAll();
        const refund = await refundOf(paymentId);
        assert.deepEqual([refund.status, refund.failureReason], ["FAILED", "charge_not_refundable"]);
        assert.deepEqual([(await paymentRow(paymentId)).status, (await paymentRow(paymentId)).refundedAmount], [
          "SUCCEEDED",
          0,
        ]);
        for (const staff of [owner, admin]) {
          const told = await noticesOf(staff.id, "refund_failed");
          assert.deepEqual(told.map((n) => n.channel), ["IN_APP"], staff.role);
          // In the salon's language (pt-BR): who, how much and the provider's reason.
          assert.match(
            told[0].body,
            /recusou o reembolso de R\$ 50,00 para Test CLIENT deste agendamento \(motivo: charge_not_refundable\)/,
          );
        }
        // In the owner's inbox.
        const inbox = await send("GET", "/notifications?unread=true", owner);
        assert.ok(inbox.body.data.some((n: { template: string }) => n.template === "refund_failed"));
        // The client hears that the refund was not made, and never that it was.
        const followUp = await noticesOf(client.id, "booking_refund_failed");
        assert.deepEqual(followUp.map((n) => n.channel).sort(), ["EMAIL", "IN_APP"]);
        assert.match(followUp[0].body, /Não conseguimos fazer o reembolso de R\$ 50,00 deste agendamento/);
        assert.match(followUp[0].body, /Nada foi devolvido ainda\./);
        const everything = await db.select().from(notifications).where(eq(notifications.userId, client.id));
        for (const notice of everything) assert.doesNotMatch(notice.body, /Refunded|Reembolsado/, notice.template);
        const cancelNotice = everything.find((n) => n.template === "booking_cancelled")!;
        // Written before or after the refusal: "requested", or "not made"; never "refunded".
        assert.match(cancelNotice.body, /Reembolso solicitado: R\$ 50,00\.|Reembolso de R\$ 50,00 não realizado/);
        // The failed call is in the payment logs, tied to the refund.
        const logged = await db.select().from(paymentLogs).where(eq(paymentLogs.refundId, refund.id));
        assert.deepEqual(logged.map((l) => [l.status, l.errorCode]), [["error", "charge_not_refundable"]]);
      },
    );

    await t.step("admins list FAILED refunds; the owner may not", async () => {
      const listed = await send("GET", "/admin/refunds?status=FAILED", admin);
      assert.equal(listed.status, 200);
      assert.equal(listed.body.data.length, 1);
      const [item] = listed.body.data;
      assert.deepEqual(
        [item.status, item.failure_reason, item.amount, item.attempt, item.salon_id],
        ["FAILED", "charge_not_refundable", { amount: 5000, currency: "BRL" }, 1, salon.id],
      );
      assert.equal(listed.body.next_cursor, null);
      assert.equal((await send("GET", "/admin/refunds?status=FAILED", owner)).status, 403);
      assert.equal((await send("GET", "/admin/refunds?status=LOST", admin)).status, 400);
      const all = await send("GET", "/admin/refunds?limit=1", admin);
      assert.equal(all.body.data.length, 1);
      assert.ok(all.body.next_cursor);
      const next = await send("GET", `/admin/refunds?limit=1&cursor=${all.body.next_cursor}`, admin);
      assert.notEqual(next.body.data[0].id, all.body.data[0].id);
    });

    await t.step(
      "a retry is a new attempt with a new key, audited; refused again it is told again; then it is made",
      async () => {
        const [failed] = (await send("GET", "/admin/refunds?status=FAILED", admin)).body.data;
        const refusing = refundsAnswering(
          original,
          () => Promise.reject(new PaymentProviderError("still refused", "charge_not_refundable", false)),
        );
        testApp.deps.payments = refusing.provider;
        assert.equal((await send("POST", `/admin/refunds/${failed.id}/retry`, owner)).status, 403);
        const retried = await send("POST", `/admin/refunds/${failed.id}/retry`, admin);
        assert.equal(retried.status, 202, JSON.stringify(retried.body));
        assert.deepEqual([retried.body.status, retried.body.attempt, retried.body.failure_reason], [
          "PENDING",
          2,
          null,
        ]);
        await deliverAll();
        const bookingKey = `booking:${failed.booking_id}:refund`;
        assert.deepEqual(refusing.keys, [`${bookingKey}:2`]);
        assert.equal((await db.select().from(refunds).where(eq(refunds.id, failed.id)))[0].status, "FAILED");
        assert.equal((await noticesOf(owner.id, "refund_failed")).length, 2);

        const working = refundsAnswering(original, () => "inner");
        testApp.deps.payments = working.provider;
        assert.equal((await send("POST", `/admin/refunds/${failed.id}/retry`, admin)).status, 202);
        // A second retry while the first is under way is refused: only a FAILED refund is retried.
        assert.equal((await send("POST", `/admin/refunds/${failed.id}/retry`, admin)).status, 409);
        await deliverAll();
        assert.deepEqual(working.keys, [`${bookingKey}:3`]);
        const made = (await db.select().from(refunds).where(eq(refunds.id, failed.id)))[0];
        assert.deepEqual([made.status, made.sequence, made.failureReason], ["SUCCEEDED", 3, null]);
        const payment = await paymentRow(failed.payment_id);
        assert.deepEqual([payment.status, payment.refundedAmount], ["REFUNDED", 5000]);
        const audits = await db.select().from(auditEvents)
          .where(and(eq(auditEvents.entityId, failed.id), eq(auditEvents.action, "refund.retry")));
        assert.equal(audits.length, 2);
        assert.deepEqual([audits[0].actorId, audits[0].fromState, audits[0].toState], [admin.id, "FAILED", "PENDING"]);
        assert.equal((await send("GET", "/admin/refunds?status=FAILED", admin)).body.data.length, 0);
        assert.equal((await send("POST", `/admin/refunds/${failed.id}/retry`, admin)).status, 409);
        assert.equal((await send("POST", `/admin/refunds/${crypto.randomUUID()}/retry`, admin)).status, 404);
      },
    );

    await t.step("a refund the provider reports failed by webhook is FAILED with its reason and told", async () => {
      const pending = refundsAnswering(original, (request) =>
        Promise.resolve({
          id: `re_pending_${request.refundId!.slice(0, 8)}`,
          paymentId: request.paymentId,
          amount: request.amount,
          currency: "BRL",
          status: "pending",
          created: Math.floor(NOW.getTime() / 1000),
        }));
      testApp.deps.payments = pending.provider;
      const { bookingId, paymentId } = await paidBooking();
      assert.equal((await send("PATCH", `/bookings/${bookingId}/cancel`, owner, {})).status, 200);
      await deliverAll();
      const refund = await refundOf(paymentId);
      assert.equal(refund.status, "PENDING");
      const mock = original as MockPaymentProvider;
      const event = mock.event("refund.failed", {
        id: refund.providerRefundId,
        object: "refund",
        amount: refund.amount,
        currency: "brl",
        payment_intent: (await paymentRow(paymentId)).providerPaymentId,
        status: "failed",
        failure_reason: "expired_or_canceled_card",
        metadata: { refund_id: refund.id },
      });
      const postEvent = async (body: unknown) => {
        const payload = JSON.stringify(body);
        const res = await testApp.app.request("/webhooks/stripe", {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "stripe-signature": await stripeSignature(
              payload,
              TEST_STRIPE_WEBHOOK_SECRET,
              Math.floor(Date.now() / 1000),
            ),
          },
          body: payload,
        });
        return { status: res.status, body: await res.json() };
      };
      assert.equal((await postEvent(event)).status, 200);
      await deliverAll();
      const failed = await refundOf(paymentId);
      assert.deepEqual([failed.status, failed.failureReason], ["FAILED", "expired_or_canceled_card"]);
      const told = (await noticesOf(owner.id, "refund_failed")).filter((n) => n.bookingId === bookingId);
      assert.equal(told.length, 1);
      assert.match(told[0].body, /expired_or_canceled_card/);

      // Retried and made; a late event about the first attempt's provider refund changes nothing.
      testApp.deps.payments = original;
      assert.equal((await send("POST", `/admin/refunds/${failed.id}/retry`, admin)).status, 202);
      await deliverAll();
      const made = await refundOf(paymentId);
      assert.equal(made.status, "SUCCEEDED");
      assert.notEqual(made.providerRefundId, failed.providerRefundId);
      const late = await postEvent({ ...event, id: `${event.id}_late` });
      assert.deepEqual([late.status, late.body.outcome], [200, "earlier_attempt"]);
      assert.equal((await refundOf(paymentId)).status, "SUCCEEDED");
      assert.equal((await paymentRow(paymentId)).refundedAmount, 5000);
    });
  } finally {
    testApp.deps.payments = original;
    await testApp.close();
  }
});
