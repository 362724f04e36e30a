/**
 * The production PaymentProvider over Stripe's API with the official SDK. Deposits are PaymentIntents
 * confirmed on the client (the app hands out the client secret); refunds and reconciliation lists go
 * through the same SDK so retries, idempotency and pagination follow Stripe's own rules.
 */

import Stripe from "stripe";
import {
  type DepositRequest,
  type PaymentProvider,
  PaymentProviderError,
  type ProviderPayment,
  type ProviderPaymentStatus,
  type ProviderRefund,
  type ProviderRefundStatus,
  type RefundRequest,
} from "./payments.ts";

export interface StripeProviderOptions {
  secretKey: string;
  /** Overrides for Stripe's API address: how tests point the SDK at a local fake. */
  host?: string;
  port?: number;
  protocol?: "http" | "https";
  /** Retries the SDK makes itself (connection errors, 409, 5xx, and what `Stripe-Should-Retry` allows). */
  maxNetworkRetries?: number;
  /**
   * How long one attempt may wait for Stripe's answer (the SDK's own default is 80 s); a timed-out
   * attempt counts as a connection error and is retried with the same idempotency key.
   */
  timeoutMs?: number;
  /** Page size for reconciliation lists; Stripe caps it at 100. */
  listPageSize?: number;
}

const DEFAULT_TIMEOUT_MS = 8000;
const DEFAULT_MAX_NETWORK_RETRIES = 2;

const REFUND_REASONS = new Set(["duplicate", "fraudulent", "requested_by_customer"]);

const PAYMENT_STATUSES = new Set<ProviderPaymentStatus>([
  "requires_payment_method",
  "requires_confirmation",
  "requires_action",
  "processing",
  "succeeded",
  "canceled",
]);

const REFUND_STATUSES = new Set<ProviderRefundStatus>(["pending", "succeeded", "failed", "canceled"]);

export class StripeProvider implements PaymentProvider {
  readonly kind = "stripe" as const;
  readonly #stripe: Stripe;
  readonly #listPageSize: number;

  constructor(options: StripeProviderOptions) {
    this.#stripe = new Stripe(options.secretKey, {
      // Deno has no Node http agent worth relying on; fetch is the portable transport.
      httpClient: Stripe.createFetchHttpClient(),
      maxNetworkRetries: options.maxNetworkRetries ?? DEFAULT_MAX_NETWORK_RETRIES,
      timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      telemetry: false,
      ...(options.host !== undefined ? { host: options.host } : {}),
      ...(options.port !== undefined ? { port: options.port } : {}),
      ...(options.protocol !== undefined ? { protocol: options.protocol } : {}),
    });
    this.#listPageSize = Math.min(Math.max(Math.trunc(options.listPageSize ?? 100), 1), 100);
  }

  async createDeposit(request: DepositRequest): Promise<ProviderPayment> {
    const params: Stripe.PaymentIntentCreateParams = {
      // Amounts are already minor units, and zero-decimal currencies (JPY) are whole units: no scaling.
      amount: request.amount,
      currency: request.currency.toLowerCase(),
      metadata: { booking_id: request.bookingId },
      automatic_payment_methods: { enabled: true },
    };
    if (request.connectedAccountId) {
      params.transfer_data = { destination: request.connectedAccountId };
      if (request.platformFeeAmount !== undefined) params.application_fee_amount = request.platformFeeAmount;
    }
    const intent = await this.#call(() =>
      this.#stripe.paymentIntents.create(params, { idempotencyKey: request.idempotencyKey })
    );
    return toProviderPayment(intent);
  }

  async refund(request: RefundRequest): Promise<ProviderRefund> {
    const reason = request.reason && REFUND_REASONS.has(request.reason)
      ? request.reason as Stripe.RefundCreateParams.Reason
      : "requested_by_customer";
    // Stripe accepts only its three reasons; the app's own wording is kept in metadata for support.
    const metadata: Record<string, string> = request.reason && !REFUND_REASONS.has(request.reason)
      ? { reason: request.reason }
      : {};
    if (request.refundId) metadata.refund_id = request.refundId;
    const refund = await this.#call(() =>
      this.#stripe.refunds.create(
        { payment_intent: request.paymentId, amount: request.amount, reason, metadata },
        { idempotencyKey: request.idempotencyKey },
      )
    );
    return toProviderRefund(refund);
  }

  async retrieve(paymentId: string): Promise<ProviderPayment> {
    return toProviderPayment(await this.#call(() => this.#stripe.paymentIntents.retrieve(paymentId)));
  }

  listPaymentsSince(sinceSeconds: number): Promise<ProviderPayment[]> {
    return this.#call(async () => {
      const payments: ProviderPayment[] = [];
      const pages = this.#stripe.paymentIntents.list({ created: { gte: sinceSeconds }, limit: this.#listPageSize });
      for await (const intent of pages) payments.push(toProviderPayment(intent));
      return payments;
    });
  }

  listRefundsSince(sinceSeconds: number): Promise<ProviderRefund[]> {
    return this.#call(async () => {
      const refunds: ProviderRefund[] = [];
      const pages = this.#stripe.refunds.list({ created: { gte: sinceSeconds }, limit: this.#listPageSize });
      for await (const refund of pages) refunds.push(toProviderRefund(refund));
      return refunds;
    });
  }

  async #call<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      throw toProviderError(error);
    }
  }
}

/** Stripe's errors, reached only after the SDK's own retries, as the app's error type. */
function toProviderError(error: unknown): unknown {
  if (!(error instanceof Stripe.errors.StripeError)) return error;
  const message = error.message;
  if (error instanceof Stripe.errors.StripeCardError) {
    return new PaymentProviderError(message, error.decline_code ?? error.code ?? "card_declined", false);
  }
  if (error instanceof Stripe.errors.StripeRateLimitError) {
    return new PaymentProviderError(message, error.code ?? "rate_limit", true);
  }
  if (error instanceof Stripe.errors.StripeConnectionError) {
    return new PaymentProviderError(message, "api_connection_error", true);
  }
  if (error instanceof Stripe.errors.StripeIdempotencyError) {
    return new PaymentProviderError(message, error.code ?? "idempotency_error", false);
  }
  if (error instanceof Stripe.errors.StripeInvalidRequestError) {
    return new PaymentProviderError(message, error.code ?? "invalid_request_error", false);
  }
  if (error instanceof Stripe.errors.StripeAuthenticationError) {
    return new PaymentProviderError(message, "authentication_error", false);
  }
  if (error instanceof Stripe.errors.StripePermissionError) {
    return new PaymentProviderError(message, "permission_error", false);
  }
  // A 5xx Stripe still failed after retries: the request may succeed later with the same idempotency key.
  if (error instanceof Stripe.errors.StripeAPIError) {
    return new PaymentProviderError(message, error.code ?? "api_error", true);
  }
  return new PaymentProviderError(message, error.code ?? "stripe_error", false);
}

function toProviderPayment(intent: Stripe.PaymentIntent): ProviderPayment {
  const lastError = intent.last_payment_error;
  return {
    id: intent.id,
    status: PAYMENT_STATUSES.has(intent.status as ProviderPaymentStatus)
      ? intent.status as ProviderPaymentStatus
      // requires_capture only arises with manual capture, which deposits never use.
      : "processing",
    amount: intent.amount,
    currency: intent.currency.toUpperCase(),
    clientSecret: intent.client_secret ?? null,
    bookingId: intent.metadata?.booking_id ?? null,
    created: intent.created,
    failureCode: lastError?.decline_code ?? lastError?.code ?? null,
  };
}

function toProviderRefund(refund: Stripe.Refund): ProviderRefund {
  const paymentIntent = refund.payment_intent;
  return {
    id: refund.id,
    paymentId: typeof paymentIntent === "string" ? paymentIntent : paymentIntent?.id ?? "",
    amount: refund.amount,
    currency: refund.currency.toUpperCase(),
    // requires_action (some bank-transfer refunds) is still on its way.
    status: REFUND_STATUSES.has(refund.status as ProviderRefundStatus)
      ? refund.status as ProviderRefundStatus
      : "pending",
    created: refund.created,
  };
}
