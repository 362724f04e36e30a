/** Refund queries: what is still refundable, and settling a refund with the provider's answer. */
import { and, eq, inArray, sql } from "drizzle-orm";
import type { Db } from "./client.ts";
import { payments, refunds } from "./schema.ts";
import { statusAfterRefunds } from "../domain/payments.ts";

export type RefundRow = typeof refunds.$inferSelect;
type PaymentRow = typeof payments.$inferSelect;

/** The booking's captured deposit (succeeded or partly refunded), if any. */
export async function capturedPaymentOf(db: Db, bookingId: string): Promise<PaymentRow | undefined> {
  const [row] = await db.select().from(payments).where(and(
    eq(payments.bookingId, bookingId),
    inArray(payments.status, ["SUCCEEDED", "PARTIALLY_REFUNDED"]),
  ));
  return row;
}

/** Refunds of a payment not yet settled, and the next sequence number (deterministic idempotency keys). */
export async function refundState(db: Db, paymentId: string): Promise<{ pending: number; nextSequence: number }> {
  const [row] = await db.select({
    pending: sql<string>`coalesce(sum(${refunds.amount}) filter (where ${refunds.status} = 'PENDING'), 0)::text`,
    last: sql<string>`coalesce(max(${refunds.sequence}), 0)::text`,
  }).from(refunds).where(eq(refunds.paymentId, paymentId));
  return { pending: Number(row.pending), nextSequence: Number(row.last) + 1 };
}

export async function findRefund(db: Db, id: string): Promise<RefundRow | undefined> {
  const [row] = await db.select().from(refunds).where(eq(refunds.id, id));
  return row;
}

export async function findRefundByProviderId(db: Db, providerRefundId: string): Promise<RefundRow | undefined> {
  const [row] = await db.select().from(refunds).where(eq(refunds.providerRefundId, providerRefundId));
  return row;
}

/** Brings a captured payment's refunded amount and status in line with its succeeded refunds. */
export async function syncRefunded(db: Db, paymentId: string, now: Date): Promise<void> {
  const [payment] = await db.select().from(payments).where(eq(payments.id, paymentId));
  const [{ total }] = await db.select({ total: sql<string>`coalesce(sum(${refunds.amount}), 0)::text` }).from(refunds)
    .where(and(eq(refunds.paymentId, paymentId), eq(refunds.status, "SUCCEEDED")));
  const refunded = Math.min(Number(total), payment.amount);
  await db.update(payments).set({
    refundedAmount: refunded,
    status: statusAfterRefunds(payment.amount, refunded),
    updatedAt: now,
  }).where(and(eq(payments.id, payment.id), inArray(payments.status, ["SUCCEEDED", "PARTIALLY_REFUNDED", "REFUNDED"])));
}

/**
 * Records the provider's word on a refund (a settled refund never goes back to pending), then
 * brings the payment's refunded amount and status in line with its succeeded refunds.
 */
export async function settleRefund(
  db: Db,
  refund: RefundRow,
  update: { providerRefundId: string; status: RefundRow["status"]; now: Date },
): Promise<void> {
  const status = refund.status !== "PENDING" && update.status === "PENDING" ? refund.status : update.status;
  await db.update(refunds).set({ providerRefundId: update.providerRefundId, status, updatedAt: update.now })
    .where(eq(refunds.id, refund.id));
  await syncRefunded(db, refund.paymentId, update.now);
}

/** Maps a provider refund status to ours. */
export function refundStatusOf(status: string): RefundRow["status"] {
  return status === "succeeded"
    ? "SUCCEEDED"
    : status === "failed"
    ? "FAILED"
    : status === "canceled"
    ? "CANCELLED"
    : "PENDING";
}
