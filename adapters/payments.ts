/**
 * Payment providers: one interface, Stripe in production and a mock (the embedded default) that
 * behaves like Stripe where the app can see it. Amounts are integer minor units of the currency
 * (zero-decimal currencies such as JPY included); instants are epoch seconds as Stripe gives them.
 */

export type ProviderPaymentStatus =
  | "requires_payment_method"
  | "requires_confirmation"
  | "requires_action"
  | "processing"
  | "succeeded"
  | "canceled";

export interface ProviderPayment {
  id: string;
  status: ProviderPaymentStatus;
  amount: number;
  currency: string; // ISO 4217, upper case
  clientSecret: string | null;
  bookingId: string | null; // from metadata
  created: number; // epoch seconds
  failureCode: string | null;
}

export type ProviderRefundStatus = "pending" | "succeeded" | "failed" | "canceled";

export interface ProviderRefund {
  id: string;
  paymentId: string;
  amount: number;
  currency: string;
  status: ProviderRefundStatus;
  created: number;
}

export interface DepositRequest {
  bookingId: string;
  amount: number;
  currency: string;
  /** Deterministic, e.g. `booking:{id}:deposit`: a retried call creates nothing new. */
  idempotencyKey: string;
  /** A salon's connected account: then a destination charge with this platform fee. */
  connectedAccountId?: string | null;
  platformFeeAmount?: number;
}

export interface RefundRequest {
  paymentId: string;
  amount: number;
  /** Deterministic, e.g. `booking:{id}:refund:{n}`. */
  idempotencyKey: string;
  reason?: string;
  /** Our refund's id, carried in the provider's metadata so its webhook finds our record. */
  refundId?: string;
}

export interface PaymentProvider {
  readonly kind: "stripe" | "mock";
  createDeposit(request: DepositRequest): Promise<ProviderPayment>;
  refund(request: RefundRequest): Promise<ProviderRefund>;
  retrieve(paymentId: string): Promise<ProviderPayment>;
  /** Payments and refunds created at or after `sinceSeconds`, for reconciliation. */
  listPaymentsSince(sinceSeconds: number): Promise<ProviderPayment[]>;
  listRefundsSince(sinceSeconds: number): Promise<ProviderRefund[]>;
}

/** A provider call that failed for a reason worth telling the caller (a decline, a bad request). */
export class PaymentProviderError extends Error {
  override name = "PaymentProviderError";
  constructor(message: string, readonly code: string, readonly retryable: boolean) {
    super(message);
  }
}
