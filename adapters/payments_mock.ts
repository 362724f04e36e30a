/**
 * The embedded payment provider: behaves like Stripe where the app can see it. Payments start as
 * `requires_payment_method` with a client secret; a test card decides the outcome (Stripe's test
 * numbers: 4242… succeeds, 4000…0002 is declined, 4000 0025 0000 3155 requires action), and the
 * outcome reaches the app later as a webhook event signed exactly as Stripe signs them, delivered
 * to the same webhook route. State lives in memory: a development stand-in, not a ledger.
 */
import {
  type DepositRequest,
  type PaymentProvider,
  PaymentProviderError,
  type ProviderPayment,
  type ProviderRefund,
  type RefundRequest,
} from "./payments.ts";

export const TEST_CARDS = {
  succeeds: "4242424242424242",
  declined: "4000000000000002",
  requiresAction: "4000002500003155",
} as const;

export interface StripeEvent {
  id: string;
  object: "event";
  type: string;
  created: number;
  data: { object: Record<string, unknown> };
}

/** Signs a payload as Stripe signs webhooks: `t=<seconds>,v1=<hex HMAC-SHA256 of "t.payload">`. */
export async function stripeSignature(payload: string, secret: string, seconds: number): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    [
      "sign",
    ],
  );
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${seconds}.${payload}`));
  const hex = [...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `t=${seconds},v1=${hex}`;
}

function randomId(prefix: string): string {
  return `${prefix}_${crypto.randomUUID().replaceAll("-", "").slice(0, 24)}`;
}

interface StoredPayment extends ProviderPayment {
  refunded: number;
}

export class MockPaymentProvider implements PaymentProvider {
  readonly kind = "mock" as const;
  readonly #payments = new Map<string, StoredPayment>();
  readonly #refunds = new Map<string, ProviderRefund>();
  readonly #byKey = new Map<string, string>();
  readonly #emit: (event: StripeEvent) => Promise<void>;
  readonly #now: () => number;

  /** `emit` delivers events to the webhook route (signed by the caller with `stripeSignature`). */
  constructor(options: { emit: (event: StripeEvent) => Promise<void>; now?: () => number }) {
    this.#emit = options.emit;
    this.#now = options.now ?? (() => Date.now());
  }

  #seconds(): number {
    return Math.floor(this.#now() / 1000);
  }

  createDeposit(request: DepositRequest): Promise<ProviderPayment> {
    const known = this.#byKey.get(request.idempotencyKey);
    if (known) return Promise.resolve(this.#public(this.#payments.get(known)!));
    if (!Number.isInteger(request.amount) || request.amount <= 0) {
      return Promise.reject(
        new PaymentProviderError("amount must be a positive integer", "parameter_invalid_integer", false),
      );
    }
    const id = randomId("pi_mock");
    const payment: StoredPayment = {
      id,
      status: "requires_payment_method",
      amount: request.amount,
      currency: request.currency.toUpperCase(),
      clientSecret: `${id}_secret_${crypto.randomUUID().slice(0, 8)}`,
      bookingId: request.bookingId,
      created: this.#seconds(),
      failureCode: null,
      refunded: 0,
    };
    this.#payments.set(id, payment);
    this.#byKey.set(request.idempotencyKey, id);
    return Promise.resolve(this.#public(payment));
  }

  /**
   * The client pays with a test card; the outcome arrives as a webhook event (unless `deliver` is
   * false: a webhook lost on the way, which reconciliation repairs).
   */
  async confirm(paymentId: string, cardNumber: string, options: { deliver?: boolean } = {}): Promise<ProviderPayment> {
    const payment = this.#payments.get(paymentId);
    if (!payment) throw new PaymentProviderError("no such payment", "resource_missing", false);
    if (payment.status === "succeeded") {
      throw new PaymentProviderError("already paid", "payment_intent_unexpected_state", false);
    }
    const digits = cardNumber.replaceAll(" ", "");
    if (digits === TEST_CARDS.succeeds) {
      payment.status = "succeeded";
      payment.failureCode = null;
    } else if (digits === TEST_CARDS.requiresAction) {
      payment.status = "requires_action";
    } else {
      payment.status = "requires_payment_method";
      payment.failureCode = "card_declined";
    }
    const type = payment.status === "succeeded"
      ? "payment_intent.succeeded"
      : payment.status === "requires_action"
      ? "payment_intent.requires_action"
      : "payment_intent.payment_failed";
    if (options.deliver !== false) await this.#emit(this.event(type, this.stripeObject(payment)));
    return this.#public(payment);
  }

  async refund(request: RefundRequest): Promise<ProviderRefund> {
    const known = this.#byKey.get(request.idempotencyKey);
    if (known) return this.#refunds.get(known)!;
    const payment = this.#payments.get(request.paymentId);
    if (!payment || payment.status !== "succeeded") {
      throw new PaymentProviderError("nothing captured to refund", "charge_not_refundable", false);
    }
    if (request.amount <= 0 || request.amount > payment.amount - payment.refunded) {
      throw new PaymentProviderError("refund exceeds what remains", "amount_too_large", false);
    }
    payment.refunded += request.amount;
    const refund: ProviderRefund = {
      id: randomId("re_mock"),
      paymentId: payment.id,
      amount: request.amount,
      currency: payment.currency,
      status: "succeeded",
      created: this.#seconds(),
    };
    this.#refunds.set(refund.id, refund);
    this.#byKey.set(request.idempotencyKey, refund.id);
    await this.#emit(this.event("refund.updated", {
      id: refund.id,
      object: "refund",
      amount: refund.amount,
      currency: refund.currency.toLowerCase(),
      payment_intent: payment.id,
      status: refund.status,
      created: refund.created,
      metadata: request.refundId ? { refund_id: request.refundId } : {},
    }));
    return refund;
  }

  retrieve(paymentId: string): Promise<ProviderPayment> {
    const payment = this.#payments.get(paymentId);
    if (!payment) return Promise.reject(new PaymentProviderError("no such payment", "resource_missing", false));
    return Promise.resolve(this.#public(payment));
  }

  listPaymentsSince(sinceSeconds: number): Promise<ProviderPayment[]> {
    return Promise.resolve(
      [...this.#payments.values()].filter((p) => p.created >= sinceSeconds).map((p) => this.#public(p)),
    );
  }

  listRefundsSince(sinceSeconds: number): Promise<ProviderRefund[]> {
    return Promise.resolve([...this.#refunds.values()].filter((r) => r.created >= sinceSeconds));
  }

  /** The payment as a Stripe PaymentIntent object. */
  stripeObject(payment: ProviderPayment): Record<string, unknown> {
    return {
      id: payment.id,
      object: "payment_intent",
      amount: payment.amount,
      currency: payment.currency.toLowerCase(),
      status: payment.status,
      client_secret: payment.clientSecret,
      metadata: payment.bookingId ? { booking_id: payment.bookingId } : {},
      created: payment.created,
      last_payment_error: payment.failureCode ? { code: payment.failureCode, decline_code: "generic_decline" } : null,
    };
  }

  event(type: string, object: Record<string, unknown>): StripeEvent {
    return { id: randomId("evt_mock"), object: "event", type, created: this.#seconds(), data: { object } };
  }

  #public(payment: StoredPayment): ProviderPayment {
    const { refunded: _refunded, ...rest } = payment;
    return { ...rest };
  }
}
