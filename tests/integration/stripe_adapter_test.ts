/**
 * The Stripe payment provider through the real `stripe` SDK, pointed at a local fake of Stripe's API:
 * deposits, idempotent replays, declines, the SDK's own retries, refund bounds, reconciliation lists
 * across pages and destination charges for connected accounts.
 */
import assert from "node:assert/strict";
import Stripe from "stripe";
import { PaymentProviderError } from "../../adapters/payments.ts";
import { StripeProvider, type StripeProviderOptions } from "../../adapters/payments_stripe.ts";
import { startStripeFake, type StripeFake } from "../support/stripe_fake.ts";

function providerFor(fake: StripeFake, options: Partial<StripeProviderOptions> = {}): StripeProvider {
  return new StripeProvider({
    secretKey: fake.secretKey,
    host: "127.0.0.1",
    port: fake.port,
    protocol: "http",
    ...options,
  });
}

function requestsTo(fake: StripeFake, method: string, path: string) {
  return fake.requests.filter((request) => request.method === method && request.path === path);
}

async function rejectsWithProviderError(
  promise: Promise<unknown>,
  expected: { code: string; retryable: boolean },
): Promise<PaymentProviderError> {
  let caught: unknown;
  await assert.rejects(promise, (error) => {
    caught = error;
    return true;
  });
  assert.ok(caught instanceof PaymentProviderError, `expected a PaymentProviderError, got ${caught}`);
  assert.equal(caught.code, expected.code);
  assert.equal(caught.retryable, expected.retryable);
  return caught;
}

Deno.test("the Stripe provider against a local Stripe API", async (t) => {
  const fake = await startStripeFake();
  const provider = providerFor(fake);
  const startedAt = Math.floor(Date.now() / 1000);
  try {
    await t.step("creates a deposit PaymentIntent in minor units with the booking in metadata", async () => {
      const payment = await provider.createDeposit({
        bookingId: "booking-brl",
        amount: 5000,
        currency: "BRL",
        idempotencyKey: "booking:booking-brl:deposit",
      });
      assert.match(payment.id, /^pi_/);
      assert.equal(payment.status, "requires_payment_method");
      assert.equal(payment.amount, 5000);
      assert.equal(payment.currency, "BRL");
      assert.equal(payment.bookingId, "booking-brl");
      assert.match(payment.clientSecret ?? "", new RegExp(`^${payment.id}_secret_`));
      assert.equal(payment.failureCode, null);
      assert.ok(payment.created >= startedAt);

      const sent = requestsTo(fake, "POST", "/v1/payment_intents").at(-1)!;
      assert.equal(sent.idempotencyKey, "booking:booking-brl:deposit");
      assert.deepEqual(sent.params, {
        amount: "5000",
        currency: "brl",
        metadata: { booking_id: "booking-brl" },
        automatic_payment_methods: { enabled: "true" },
      });
    });

    await t.step("passes zero-decimal amounts through unscaled", async () => {
      const payment = await provider.createDeposit({
        bookingId: "booking-jpy",
        amount: 3000,
        currency: "JPY",
        idempotencyKey: "booking:booking-jpy:deposit",
      });
      assert.equal(payment.amount, 3000);
      assert.equal(payment.currency, "JPY");
      assert.equal((await provider.retrieve(payment.id)).amount, 3000);
    });

    await t.step("replays the same PaymentIntent for a repeated idempotency key", async () => {
      const request = {
        bookingId: "booking-twice",
        amount: 4500,
        currency: "BRL",
        idempotencyKey: "booking:twice:deposit",
      };
      const first = await provider.createDeposit(request);
      const second = await provider.createDeposit(request);
      assert.equal(second.id, first.id);
      assert.equal(second.clientSecret, first.clientSecret);
      const attempts = fake.requests.filter((r) => r.idempotencyKey === "booking:twice:deposit");
      assert.deepEqual(attempts.map((r) => [r.status, r.replayed]), [[200, false], [200, true]]);
      const created = (await provider.listPaymentsSince(startedAt)).filter((p) => p.bookingId === "booking-twice");
      assert.equal(created.length, 1);
    });

    await t.step("refuses an idempotency key reused with different parameters", async () => {
      const error = await rejectsWithProviderError(
        provider.createDeposit({
          bookingId: "booking-twice",
          amount: 9999,
          currency: "BRL",
          idempotencyKey: "booking:twice:deposit",
        }),
        { code: "idempotency_error", retryable: false },
      );
      assert.match(error.message, /same parameters/);
    });

    await t.step("reports a card decline as the payment's failure code", async () => {
      // A decline from the SDK's own request (the fake's trigger) ...
      const stripe = new Stripe(fake.secretKey, {
        httpClient: Stripe.createFetchHttpClient(),
        host: "127.0.0.1",
        port: fake.port,
        protocol: "http",
      });
      const declined = await stripe.paymentIntents.create({
        amount: 2000,
        currency: "brl",
        metadata: { booking_id: "booking-declined", test_decline: "card_declined" },
      });
      const seen = await provider.retrieve(declined.id);
      assert.equal(seen.status, "requires_payment_method");
      assert.equal(seen.failureCode, "generic_decline");

      // ... and one settled after a client-side confirmation failed.
      const deposit = await provider.createDeposit({
        bookingId: "booking-funds",
        amount: 2000,
        currency: "BRL",
        idempotencyKey: "booking:funds:deposit",
      });
      fake.setOutcome(deposit.id, "requires_payment_method", { declineCode: "insufficient_funds" });
      assert.equal((await provider.retrieve(deposit.id)).failureCode, "insufficient_funds");
    });

    await t.step("lets the SDK retry a 429 that Stripe marks retryable", async () => {
      const before = requestsTo(fake, "POST", "/v1/payment_intents").length;
      fake.failNextWith429(1);
      const payment = await provider.createDeposit({
        bookingId: "booking-429",
        amount: 1500,
        currency: "BRL",
        idempotencyKey: "booking:429:deposit",
      });
      assert.equal(payment.bookingId, "booking-429");
      const attempts = requestsTo(fake, "POST", "/v1/payment_intents").slice(before);
      assert.deepEqual(attempts.map((r) => r.status), [429, 200]);
      assert.ok(attempts.every((r) => r.idempotencyKey === "booking:429:deposit"));
    });

    await t.step("reports a rate limit that outlasts the SDK's retries as retryable", async () => {
      const impatient = providerFor(fake, { maxNetworkRetries: 0 });
      fake.failNextWith429(1);
      await rejectsWithProviderError(impatient.retrieve("pi_missing"), { code: "rate_limit", retryable: true });
    });

    await t.step("reports an unreachable API as retryable", async () => {
      const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const closedPort = (probe.addr as Deno.NetAddr).port;
      probe.close();
      const unreachable = new StripeProvider({
        secretKey: fake.secretKey,
        host: "127.0.0.1",
        port: closedPort,
        protocol: "http",
        maxNetworkRetries: 0,
      });
      await rejectsWithProviderError(unreachable.retrieve("pi_any"), { code: "api_connection_error", retryable: true });
    });

    await t.step("reports an unknown PaymentIntent as a non-retryable invalid request", async () => {
      await rejectsWithProviderError(provider.retrieve("pi_unknown"), { code: "resource_missing", retryable: false });
    });

    await t.step("refunds within what remains and refuses beyond it", async () => {
      const deposit = await provider.createDeposit({
        bookingId: "booking-refund",
        amount: 5000,
        currency: "BRL",
        idempotencyKey: "booking:refund:deposit",
      });
      await rejectsWithProviderError(
        provider.refund({ paymentId: deposit.id, amount: 1000, idempotencyKey: "booking:refund:refund:0" }),
        { code: "payment_intent_unexpected_state", retryable: false },
      );
      fake.setOutcome(deposit.id, "succeeded");
      assert.equal((await provider.retrieve(deposit.id)).status, "succeeded");

      const refund = await provider.refund({
        paymentId: deposit.id,
        amount: 3000,
        idempotencyKey: "booking:refund:refund:1",
        reason: "salon cancelled",
      });
      assert.match(refund.id, /^re_/);
      assert.deepEqual({ ...refund, id: "", created: 0 }, {
        id: "",
        paymentId: deposit.id,
        amount: 3000,
        currency: "BRL",
        status: "succeeded",
        created: 0,
      });
      const sent = requestsTo(fake, "POST", "/v1/refunds").at(-1)!;
      assert.equal(sent.idempotencyKey, "booking:refund:refund:1");
      assert.deepEqual(sent.params, {
        payment_intent: deposit.id,
        amount: "3000",
        reason: "requested_by_customer",
        metadata: { reason: "salon cancelled" },
      });

      const replayed = await provider.refund({
        paymentId: deposit.id,
        amount: 3000,
        idempotencyKey: "booking:refund:refund:1",
        reason: "salon cancelled",
      });
      assert.equal(replayed.id, refund.id);

      const tooMuch = await rejectsWithProviderError(
        provider.refund({ paymentId: deposit.id, amount: 2001, idempotencyKey: "booking:refund:refund:2" }),
        { code: "amount_too_large", retryable: false },
      );
      assert.match(tooMuch.message, /greater than unrefunded amount/);
      await rejectsWithProviderError(
        provider.refund({ paymentId: deposit.id, amount: 0, idempotencyKey: "booking:refund:refund:3" }),
        { code: "parameter_invalid_integer", retryable: false },
      );

      const rest = await provider.refund({
        paymentId: deposit.id,
        amount: 2000,
        idempotencyKey: "booking:refund:refund:4",
        reason: "duplicate",
      });
      assert.equal(rest.amount, 2000);
      assert.equal(requestsTo(fake, "POST", "/v1/refunds").at(-1)!.params.reason, "duplicate");
    });

    await t.step("lists payments and refunds since an instant across pages", async () => {
      fake.advanceClock(3600);
      const since = Math.floor(Date.now() / 1000) + 3600;
      const deposits = [];
      for (let i = 0; i < 5; i++) {
        const deposit = await provider.createDeposit({
          bookingId: `booking-list-${i}`,
          amount: 1000 + i,
          currency: "BRL",
          idempotencyKey: `booking:list-${i}:deposit`,
        });
        fake.setOutcome(deposit.id, "succeeded");
        deposits.push(deposit);
      }
      const refundIds = [];
      for (const [i, deposit] of deposits.entries()) {
        refundIds.push((await provider.refund({ paymentId: deposit.id, amount: 100, idempotencyKey: `list:${i}` })).id);
      }

      const paged = providerFor(fake, { listPageSize: 2 });
      const listsBefore = requestsTo(fake, "GET", "/v1/payment_intents").length;
      const payments = await paged.listPaymentsSince(since);
      assert.deepEqual(payments.map((p) => p.id).sort(), deposits.map((d) => d.id).sort());
      assert.ok(payments.every((p) => p.status === "succeeded" && p.currency === "BRL"));
      const pages = requestsTo(fake, "GET", "/v1/payment_intents").slice(listsBefore);
      assert.equal(pages.length, 3);
      assert.deepEqual(pages[0].params, { created: { gte: String(since) }, limit: "2" });
      assert.equal(pages[1].params.starting_after, payments[1].id);
      assert.equal(pages[2].params.starting_after, payments[3].id);

      const refunds = await paged.listRefundsSince(since);
      assert.deepEqual(refunds.map((r) => r.id).sort(), refundIds.sort());
      assert.ok(refunds.every((r) => r.amount === 100 && r.status === "succeeded"));

      // The default page size reads everything in one request; earlier objects fall outside `since`.
      assert.equal((await provider.listPaymentsSince(since)).length, 5);
      assert.ok((await provider.listPaymentsSince(startedAt)).length > 5);
      assert.deepEqual(await provider.listRefundsSince(since + 1), []);
    });

    await t.step("makes a destination charge with the platform fee for a connected account", async () => {
      const payment = await provider.createDeposit({
        bookingId: "booking-connect",
        amount: 8000,
        currency: "BRL",
        idempotencyKey: "booking:connect:deposit",
        connectedAccountId: "acct_1SalonConnected",
        platformFeeAmount: 800,
      });
      const sent = requestsTo(fake, "POST", "/v1/payment_intents").at(-1)!;
      assert.deepEqual(sent.params.transfer_data, { destination: "acct_1SalonConnected" });
      assert.equal(sent.params.application_fee_amount, "800");
      assert.equal(payment.amount, 8000);
    });
  } finally {
    await fake.close();
  }
});

Deno.test("the Stripe fake requires a Bearer secret key", async () => {
  const fake = await startStripeFake();
  try {
    const anonymous = await fetch(`${fake.url}/v1/payment_intents`);
    assert.equal(anonymous.status, 401);
    assert.equal((await anonymous.json()).error.type, "invalid_request_error");
    const provider = new StripeProvider({
      secretKey: "not-a-key",
      host: "127.0.0.1",
      port: fake.port,
      protocol: "http",
    });
    await rejectsWithProviderError(provider.retrieve("pi_any"), { code: "authentication_error", retryable: false });
  } finally {
    await fake.close();
  }
});
