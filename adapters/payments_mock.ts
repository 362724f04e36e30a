/**
 * The embedded payment provider: behaves like Stripe where the app can see it. Payments start as
 * `requires_payment_method` with a client secret; a test card decides the outcome (Stripe's test
 * numbers: 4242… succeeds, 4000…0002 is declined, 4000 0025 0000 3155 requires action), and the
 * outcome reaches the app later as a webhook event signed exactly as Stripe signs them, delivered
 * to the same webhook route. Its books (intents, refunds, what each idempotency key made) are kept
 * in the database it is given, as Stripe keeps them on its side: a restart forgets nothing.
 */
import {
  type DepositRequest,
  type PaymentProvider,
  PaymentProviderError,
  type ProviderPayment,
  type ProviderRefund,
  type RefundRequest,
} from "./payments.ts";
import type { Db } from "../db/client.ts";
import {
  chargeMockRefund,
  createMockIntent,
  findMockIntent,
  type MockIntentRow,
  mockIntentsSince,
  type MockRefundRow,
  mockRefundsSince,
  setMockOutcome,
} from "../db/mock_payments.ts";

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

/**
 * Where the mock keeps its books: the database in the app (a restart forgets nothing, so a refund
 * still finds its charge), or process memory for a provider made without one (a test double).
 */
interface MockBooks {
  /** Stores the intent unless its idempotency key is known; returns the stored one. */
  createIntent(intent: MockIntentRow): Promise<MockIntentRow>;
  intent(id: string): Promise<MockIntentRow | undefined>;
  /** A card's outcome, on an intent not yet paid; undefined when missing or already paid. */
  setOutcome(id: string, outcome: { status: string; failureCode: string | null }): Promise<MockIntentRow | undefined>;
  /** Charges the refund against what remains (atomically); a known key returns its refund. */
  chargeRefund(
    refund: MockRefundRow,
  ): Promise<{ refund: MockRefundRow; replayed: boolean } | "not_refundable" | "too_large">;
  intentsSince(seconds: number): Promise<MockIntentRow[]>;
  refundsSince(seconds: number): Promise<MockRefundRow[]>;
}

function databaseBooks(db: Db): MockBooks {
  return {
    createIntent: (intent) => createMockIntent(db, intent),
    intent: (id) => findMockIntent(db, id),
    setOutcome: (id, outcome) => setMockOutcome(db, id, outcome),
    chargeRefund: (refund) => chargeMockRefund(db, refund),
    intentsSince: (seconds) => mockIntentsSince(db, seconds),
    refundsSince: (seconds) => mockRefundsSince(db, seconds),
  };
}

function memoryBooks(): MockBooks {
  const intents = new Map<string, MockIntentRow>();
  const refunds = new Map<string, MockRefundRow>();
  const byKey = new Map<string, string>();
  return {
    createIntent(intent) {
      const known = byKey.get(intent.idempotencyKey);
      if (known) return Promise.resolve({ ...intents.get(known)! });
      intents.set(intent.id, { ...intent });
      byKey.set(intent.idempotencyKey, intent.id);
      return Promise.resolve({ ...intent });
    },
    intent: (id) => Promise.resolve(intents.has(id) ? { ...intents.get(id)! } : undefined),
    setOutcome(id, outcome) {
      const intent = intents.get(id);
      if (!intent || intent.status === "succeeded") return Promise.resolve(undefined);
      Object.assign(intent, outcome);
      return Promise.resolve({ ...intent });
    },
    chargeRefund(refund) {
      const known = byKey.get(refund.idempotencyKey);
      if (known) return Promise.resolve({ refund: { ...refunds.get(known)! }, replayed: true });
      const intent = intents.get(refund.paymentIntentId);
      if (!intent || intent.status !== "succeeded") return Promise.resolve("not_refundable");
      if (intent.refundedAmount + refund.amount > intent.amount) return Promise.resolve("too_large");
      intent.refundedAmount += refund.amount;
      refunds.set(refund.id, { ...refund });
      byKey.set(refund.idempotencyKey, refund.id);
      return Promise.resolve({ refund: { ...refund }, replayed: false });
    },
    intentsSince: (seconds) => Promise.resolve([...intents.values()].filter((i) => i.created >= seconds)),
    refundsSince: (seconds) => Promise.resolve([...refunds.values()].filter((r) => r.created >= seconds)),
  };
}

function toPayment(row: MockIntentRow): ProviderPayment {
  return {
    id: row.id,
    status: row.status as ProviderPayment["status"],
    amount: row.amount,
    currency: row.currency,
    clientSecret: row.clientSecret,
    bookingId: row.bookingId,
    created: row.created,
    failureCode: row.failureCode,
  };
}

function toRefund(row: MockRefundRow): ProviderRefund {
  return {
    id: row.id,
    paymentId: row.paymentIntentId,
    amount: row.amount,
    currency: row.currency,
    status: row.status as ProviderRefund["status"],
    created: row.created,
  };
}

export class MockPaymentProvider implements PaymentProvider {
  readonly kind = "mock" as const;
  readonly #books: MockBooks;
  readonly #emit: (event: StripeEvent) => Promise<void>;
  readonly #now: () => number;

  /**
   * `emit` delivers events to the webhook route (signed by the caller with `stripeSignature`);
   * `db` keeps the mock's books across restarts (without it they live in this object only).
   */
  constructor(options: { emit: (event: StripeEvent) => Promise<void>; now?: () => number; db?: Db }) {
    this.#emit = options.emit;
    this.#now = options.now ?? (() => Date.now());
    this.#books = options.db ? databaseBooks(options.db) : memoryBooks();
  }

  #seconds(): number {
    return Math.floor(this.#now() / 1000);
  }

  async createDeposit(request: DepositRequest): Promise<ProviderPayment> {
    if (!Number.isInteger(request.amount) || request.amount <= 0) {
      throw new PaymentProviderError("amount must be a positive integer", "parameter_invalid_integer", false);
    }
    const id = randomId("pi_mock");
    const stored = await this.#books.createIntent({
      id,
      idempotencyKey: request.idempotencyKey,
      status: "requires_payment_method",
      amount: request.amount,
      refundedAmount: 0,
      currency: request.currency.toUpperCase(),
      clientSecret: `${id}_secret_${crypto.randomUUID().slice(0, 8)}`,
      bookingId: request.bookingId,
      created: this.#seconds(),
      failureCode: null,
    });
    return toPayment(stored);
  }

  /**
   * The client pays with a test card; the outcome arrives as a webhook event (unless `deliver` is
   * false: a webhook lost on the way, which reconciliation repairs).
   */
  async confirm(paymentId: string, cardNumber: string, options: { deliver?: boolean } = {}): Promise<ProviderPayment> {
    const digits = cardNumber.replaceAll(" ", "");
    const outcome = digits === TEST_CARDS.succeeds
      ? { status: "succeeded", failureCode: null }
      : digits === TEST_CARDS.requiresAction
      ? { status: "requires_action", failureCode: null }
      : { status: "requires_payment_method", failureCode: "card_declined" };
    const updated = await this.#books.setOutcome(paymentId, outcome);
    if (!updated) {
      if (!(await this.#books.intent(paymentId))) {
        throw new PaymentProviderError("no such payment", "resource_missing", false);
      }
      throw new PaymentProviderError("already paid", "payment_intent_unexpected_state", false);
    }
    const payment = toPayment(updated);
    const type = payment.status === "succeeded"
      ? "payment_intent.succeeded"
      : payment.status === "requires_action"
      ? "payment_intent.requires_action"
      : "payment_intent.payment_failed";
    if (options.deliver !== false) await this.#emit(this.event(type, this.stripeObject(payment)));
    return payment;
  }

  async refund(request: RefundRequest): Promise<ProviderRefund> {
    if (!Number.isInteger(request.amount) || request.amount <= 0) {
      throw new PaymentProviderError("refund exceeds what remains", "amount_too_large", false);
    }
    const intent = await this.#books.intent(request.paymentId);
    const made = await this.#books.chargeRefund({
      id: randomId("re_mock"),
      idempotencyKey: request.idempotencyKey,
      paymentIntentId: request.paymentId,
      amount: request.amount,
      currency: intent?.currency ?? "XXX",
      status: "succeeded",
      created: this.#seconds(),
    });
    if (made === "not_refundable") {
      throw new PaymentProviderError("nothing captured to refund", "charge_not_refundable", false);
    }
    if (made === "too_large") throw new PaymentProviderError("refund exceeds what remains", "amount_too_large", false);
    const refund = toRefund(made.refund);
    // A repeated key answers with the refund it made, as Stripe does, and announces nothing new.
    if (made.replayed) return refund;
    await this.#emit(this.event("refund.updated", {
      id: refund.id,
      object: "refund",
      amount: refund.amount,
      currency: refund.currency.toLowerCase(),
      payment_intent: refund.paymentId,
      status: refund.status,
      created: refund.created,
      metadata: request.refundId ? { refund_id: request.refundId } : {},
    }));
    return refund;
  }

  async retrieve(paymentId: string): Promise<ProviderPayment> {
    const intent = await this.#books.intent(paymentId);
    if (!intent) throw new PaymentProviderError("no such payment", "resource_missing", false);
    return toPayment(intent);
  }

  async listPaymentsSince(sinceSeconds: number): Promise<ProviderPayment[]> {
    return (await this.#books.intentsSince(sinceSeconds)).map(toPayment);
  }

  async listRefundsSince(sinceSeconds: number): Promise<ProviderRefund[]> {
    return (await this.#books.refundsSince(sinceSeconds)).map(toRefund);
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
}
