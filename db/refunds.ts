/**
 * Refund queries: what is still refundable, settling a refund with the provider's answer, a refusal
 * that tells whoever must know, and the admin's list and retry of refused ones.
 */
import { and, desc, eq, inArray, sql } from "drizzle-orm";
import type { AuditContext } from "./audit.ts";
import type { Db } from "./client.ts";
import { auditEvents, bookings, outbox, payments, refunds } from "./schema.ts";
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
 * brings the payment's refunded amount and status in line with its succeeded refunds. A refund
 * that fails is marked as `failRefund` marks it (with its notice).
 */
export async function settleRefund(
  db: Db,
  refund: RefundRow,
  update: { providerRefundId: string; status: RefundRow["status"]; now: Date; failureReason?: string | null },
): Promise<void> {
  if (update.status === "FAILED") {
    await failRefund(db, refund, {
      reason: update.failureReason ?? "failed",
      now: update.now,
      providerRefundId: update.providerRefundId,
    });
  } else {
    const status = refund.status !== "PENDING" && update.status === "PENDING" ? refund.status : update.status;
    await db.update(refunds).set({ providerRefundId: update.providerRefundId, status, updatedAt: update.now })
      .where(eq(refunds.id, refund.id));
  }
  await syncRefunded(db, refund.paymentId, update.now);
}

/** The outbox topic of a refund the provider refused for good. */
export const REFUND_FAILED_TOPIC = "refund.failed";

/**
 * Marks a refund FAILED with the provider's reason and, in the same statement, writes the outbox
 * row that tells the salon's owner, the admins and the client: nothing refused is silent. Only the
 * attempt that was read fails (its sequence: a retry since then is another attempt), and a refund
 * already FAILED is not told twice. True when this call marked it.
 */
export async function failRefund(
  db: Db,
  refund: RefundRow,
  failure: { reason: string; now: Date; providerRefundId?: string | null },
): Promise<boolean> {
  const reason = failure.reason.slice(0, 200);
  const result = await db.execute(sql`
    WITH failed AS (
      UPDATE ${refunds} SET status = 'FAILED', failure_reason = ${reason}, updated_at = ${failure.now.toISOString()},
        provider_refund_id = coalesce(${failure.providerRefundId ?? null}, provider_refund_id)
      WHERE id = ${refund.id} AND sequence = ${refund.sequence} AND status <> 'FAILED'
      RETURNING id, payment_id, amount, sequence
    ), told AS (
      INSERT INTO ${outbox} (topic, payload, deduplication_id)
      SELECT ${REFUND_FAILED_TOPIC}::text,
        jsonb_build_object('refund_id', f.id, 'payment_id', f.payment_id, 'booking_id', p.booking_id,
          'amount', f.amount, 'currency', p.currency, 'failure_reason', ${reason}::text),
        ${REFUND_FAILED_TOPIC}::text || ':' || f.id::text || ':' || f.sequence::text
      FROM failed f JOIN ${payments} p ON p.id = f.payment_id
      ON CONFLICT (deduplication_id) DO NOTHING
      RETURNING 1
    )
    SELECT id FROM failed`);
  return result.rows.length === 1;
}

/** Refunds for the admin list (or one, `id`), most recently changed first; `after` continues a page. */
export function listRefunds(
  db: Db,
  options: { id?: string; status?: RefundRow["status"]; limit: number; after?: { updatedAt: string; id: string } },
) {
  return db.select({
    refund: refunds,
    currency: payments.currency,
    bookingId: payments.bookingId,
    salonId: bookings.salonId,
    at: sql<string>`${refunds.updatedAt}::text`,
  }).from(refunds)
    .innerJoin(payments, eq(payments.id, refunds.paymentId))
    .innerJoin(bookings, eq(bookings.id, payments.bookingId))
    .where(and(
      options.id ? eq(refunds.id, options.id) : undefined,
      options.status ? eq(refunds.status, options.status) : undefined,
      options.after
        ? sql`(${refunds.updatedAt}, ${refunds.id}) < (${options.after.updatedAt}::timestamptz, ${options.after.id}::uuid)`
        : undefined,
    ))
    .orderBy(desc(refunds.updatedAt), desc(refunds.id)).limit(options.limit);
}

export type RetryOutcome =
  | { retried: RefundRow }
  | { refused: "not_found" | "not_failed" | "exceeds_refundable" };

/**
 * Puts a FAILED refund back to PENDING as a new attempt (the next sequence of its payment, hence a
 * new idempotency key: the provider would answer the old one with its old refusal), with the audit
 * event and an outbox row that asks for the refund again if the prompt request is lost, in one
 * statement. Refused when the refund is not FAILED (any more), or when what is left of the payment
 * (less what went back and what is on its way) no longer covers it.
 */
export async function retryRefund(
  db: Db,
  refundId: string,
  change: { actorId: string; now: Date; context: AuditContext },
): Promise<RetryOutcome> {
  const at = change.now.toISOString();
  const data = JSON.stringify({ user_agent: change.context.userAgent });
  const result = await db.execute(sql`
    WITH target AS (
      SELECT r.id, r.payment_id, r.amount, r.sequence AS previous_sequence FROM ${refunds} r
      JOIN ${payments} p ON p.id = r.payment_id
      WHERE r.id = ${refundId} AND r.status = 'FAILED'
        AND p.status IN ('SUCCEEDED', 'PARTIALLY_REFUNDED')
        AND r.amount <= p.amount - p.refunded_amount - (
          SELECT coalesce(sum(o.amount), 0) FROM ${refunds} o WHERE o.payment_id = r.payment_id AND o.status = 'PENDING')
    ), retried AS (
      UPDATE ${refunds} r SET status = 'PENDING', failure_reason = NULL, provider_refund_id = NULL, updated_at = ${at},
        sequence = (SELECT max(o.sequence) + 1 FROM ${refunds} o WHERE o.payment_id = r.payment_id)
      FROM target t WHERE r.id = t.id AND r.status = 'FAILED'
      RETURNING r.*, t.previous_sequence
    ), audited AS (
      INSERT INTO ${auditEvents} (actor_id, action, entity_type, entity_id, from_state, to_state, ip, request_id, data)
      SELECT ${change.actorId}, 'refund.retry', 'refund', id, 'FAILED', 'PENDING', ${change.context.ip},
        ${change.context.requestId}, ${data}::jsonb || jsonb_build_object('sequence', sequence, 'previous_sequence', previous_sequence)
      FROM retried RETURNING 1
    ), queued AS (
      INSERT INTO ${outbox} (topic, payload, deduplication_id)
      SELECT 'refund.retry', jsonb_build_object('refund_id', id, 'refund_sequence', sequence),
        'refund.retry:' || id::text || ':' || sequence::text
      FROM retried RETURNING 1
    )
    SELECT id FROM retried`);
  if (result.rows.length === 1) return { retried: (await findRefund(db, refundId))! };
  const refund = await findRefund(db, refundId);
  if (!refund) return { refused: "not_found" };
  return { refused: refund.status === "FAILED" ? "exceeds_refundable" : "not_failed" };
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
