/**
 * Payment figures per currency for a salon or the whole platform: one statement that scopes the
 * payments once and aggregates them with GROUP BY currency. Amounts stay in integer minor units.
 */
import { sql } from "drizzle-orm";
import type { Db } from "./client.ts";
import { bookings, payments } from "./schema.ts";

export interface PaymentMetricsScope {
  /** null: every salon. */
  salonId: string | null;
  /** Payments created at or after this instant. */
  from: Date;
  /** Payments created before this instant. */
  to: Date;
}

export interface CurrencyPaymentMetrics {
  currency: string;
  captured: number;
  refunded: number;
  feesKept: number;
  platformFees: number;
  pendingDeposits: number;
  attempts: number;
  failed: number;
}

interface MetricsRow {
  currency: string;
  captured: string | number;
  refunded: string | number;
  fees_kept: string | number;
  platform_fees: string | number;
  pending_deposits: string | number;
  attempts: string | number;
  failed: string | number;
}

const CAPTURED = sql.raw(`('SUCCEEDED', 'PARTIALLY_REFUNDED', 'REFUNDED')`);
const IN_FLIGHT = sql.raw(`('PENDING', 'REQUIRES_ACTION', 'PROCESSING')`);

/** Sums and counts per currency, ordered by currency; currencies without payments are absent. */
export async function paymentMetrics(db: Db, scope: PaymentMetricsScope): Promise<CurrencyPaymentMetrics[]> {
  const salonFilter = scope.salonId === null ? sql`TRUE` : sql`b.salon_id = ${scope.salonId}`;
  // Fees are summed per booking, not per payment row, so a booking paid twice (a retried deposit)
  // does not count its penalty twice. bigint sums come back as numeric: cast them back to bigint.
  const result = await db.execute(sql`
    WITH scoped AS (
      SELECT p.booking_id, p.status, p.amount, p.refunded_amount, p.platform_fee_amount, p.currency
      FROM ${payments} p JOIN ${bookings} b ON b.id = p.booking_id
      WHERE p.created_at >= ${scope.from.toISOString()} AND p.created_at < ${scope.to.toISOString()}
        AND ${salonFilter}
    ), totals AS (
      SELECT currency,
        coalesce(sum(amount) FILTER (WHERE status IN ${CAPTURED}), 0)::bigint AS captured,
        coalesce(sum(refunded_amount), 0)::bigint AS refunded,
        coalesce(sum(platform_fee_amount) FILTER (WHERE status IN ${CAPTURED}), 0)::bigint AS platform_fees,
        coalesce(sum(amount) FILTER (WHERE status IN ${IN_FLIGHT}), 0)::bigint AS pending_deposits,
        count(*) AS attempts,
        count(*) FILTER (WHERE status = 'FAILED') AS failed
      FROM scoped GROUP BY currency
    ), kept AS (
      SELECT b.currency, sum(b.fee_amount)::bigint AS fees_kept
      FROM ${bookings} b
      WHERE b.status IN ('CANCELLED', 'NO_SHOW')
        AND b.id IN (SELECT booking_id FROM scoped WHERE status IN ${CAPTURED})
      GROUP BY b.currency
    )
    SELECT totals.*, coalesce(kept.fees_kept, 0) AS fees_kept
    FROM totals LEFT JOIN kept ON kept.currency = totals.currency
    ORDER BY totals.currency`);
  return (result.rows as unknown as MetricsRow[]).map((row) => ({
    currency: row.currency,
    captured: Number(row.captured),
    refunded: Number(row.refunded),
    feesKept: Number(row.fees_kept),
    platformFees: Number(row.platform_fees),
    pendingDeposits: Number(row.pending_deposits),
    attempts: Number(row.attempts),
    failed: Number(row.failed),
  }));
}
