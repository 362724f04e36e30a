/**
 * Payment state only moves forward, whatever order the provider's events arrive in: a failure
 * after a success changes nothing, a success after a failure (the client tried another card)
 * counts, and refunds decide between PARTIALLY_REFUNDED and REFUNDED by the amounts alone.
 */

export const PAYMENT_STATUSES = [
  "PENDING",
  "REQUIRES_ACTION",
  "PROCESSING",
  "FAILED",
  "CANCELLED",
  "SUCCEEDED",
  "PARTIALLY_REFUNDED",
  "REFUNDED",
] as const;
export type PaymentStatus = typeof PAYMENT_STATUSES[number];

/** What a provider event says about a payment attempt. */
export type AttemptStatus = "PENDING" | "REQUIRES_ACTION" | "PROCESSING" | "FAILED" | "CANCELLED" | "SUCCEEDED";

const CAPTURED: readonly PaymentStatus[] = ["SUCCEEDED", "PARTIALLY_REFUNDED", "REFUNDED"];
const ATTEMPT_RANK: Record<AttemptStatus, number> = {
  PENDING: 0,
  REQUIRES_ACTION: 1,
  PROCESSING: 2,
  FAILED: 1,
  CANCELLED: 3,
  SUCCEEDED: 4,
};

/** True once money was captured (refunds may follow). */
export function isCaptured(status: PaymentStatus): boolean {
  return CAPTURED.includes(status);
}

/**
 * The status after an event reporting `attempt`. Captured payments ignore attempt events (their
 * refunds decide); a cancelled one stays cancelled unless money was captured after all; a failed
 * attempt may be followed by any later attempt.
 */
export function nextPaymentStatus(current: PaymentStatus, attempt: AttemptStatus): PaymentStatus {
  if (isCaptured(current)) return current;
  if (attempt === "SUCCEEDED") return "SUCCEEDED";
  if (current === "CANCELLED") return current;
  if (current === "FAILED") return attempt === "FAILED" ? current : attempt === "PENDING" ? current : attempt;
  return ATTEMPT_RANK[attempt] >= ATTEMPT_RANK[current as AttemptStatus] ? attempt : current;
}

/** What can still be refunded of a captured payment: not what went back, nor what is on its way back. */
export function refundable(amount: number, refunded: number, pending = 0): number {
  return Math.max(0, amount - refunded - pending);
}

/** The status of a captured payment once `refunded` of `amount` has gone back. */
export function statusAfterRefunds(amount: number, refunded: number): PaymentStatus {
  if (refunded <= 0) return "SUCCEEDED";
  return refunded >= amount ? "REFUNDED" : "PARTIALLY_REFUNDED";
}
