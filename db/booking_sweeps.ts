/**
 * Time-driven booking changes, each one statement that changes the bookings, audits every one and
 * queues its outbox row: lapsed holds become EXPIRED, and confirmed bookings whose start plus the
 * salon's tolerance has passed without a check-in become NO_SHOW.
 */
import { type SQL, sql } from "drizzle-orm";
import { auditEvents, bookings, outbox, salons } from "./schema.ts";

function changed(
  update: SQL,
  from: string,
  to: string,
  action: string,
  reason: string,
  requestId: string,
) {
  return sql`
    WITH changed AS (${update}), audited AS (
      INSERT INTO ${auditEvents} (actor_id, action, entity_type, entity_id, from_state, to_state, reason, request_id)
      SELECT NULL, ${action}, 'booking', id, ${from}, ${to}, ${reason}, ${requestId} FROM changed RETURNING 1
    ), queued AS (
      INSERT INTO ${outbox} (topic, payload, deduplication_id)
      SELECT ${action}, json_build_object('booking_id', id, 'from', ${from}::text, 'to', ${to}::text, 'client_id', client_id,
        'salon_id', salon_id, 'price_amount', price_amount, 'deposit_amount', deposit_amount, 'currency', currency)::jsonb,
        ${action} || ':' || id
      FROM changed RETURNING 1
    )
    SELECT id FROM changed`;
}

/** Expires lapsed holds: one booking (`bookingId`) or every one due (`null`). */
export function expireHoldsStatement(bookingId: string | null, now: Date, requestId: string): SQL {
  const at = now.toISOString();
  return changed(
    sql`UPDATE ${bookings} SET status = 'EXPIRED', updated_at = ${at}
      WHERE status = 'PENDING' AND hold_expires_at <= ${at}
        ${bookingId ? sql`AND id = ${bookingId}` : sql``}
      RETURNING id, client_id, salon_id, price_amount, deposit_amount, currency`,
    "PENDING",
    "EXPIRED",
    "booking.expire",
    "hold lapsed",
    requestId,
  );
}

/** Marks confirmed bookings as no-shows once start + the salon's tolerance has passed without a check-in. */
export function detectNoShowsStatement(now: Date, requestId: string): SQL {
  const at = now.toISOString();
  return changed(
    sql`UPDATE ${bookings} AS b SET status = 'NO_SHOW', no_show_at = ${at}, updated_at = ${at}
      FROM ${salons} AS s
      WHERE s.id = b.salon_id AND b.status = 'CONFIRMED' AND b.checked_in_at IS NULL
        AND b.starts_at + make_interval(mins => s.no_show_tolerance_minutes) <= ${at}::timestamptz
      RETURNING b.id, b.client_id, b.salon_id, b.price_amount, b.deposit_amount, b.currency`,
    "CONFIRMED",
    "NO_SHOW",
    "booking.no_show",
    "not checked in within the salon's tolerance",
    requestId,
  );
}

/**
 * Confirms a booking whose deposit was paid, if its time can still be held: a pending one, or one
 * whose hold lapsed (the exclusion constraint refuses it if the slot was taken meanwhile).
 */
export function confirmPaidStatement(bookingId: string, now: Date, requestId: string): SQL {
  const at = now.toISOString();
  return sql`
    WITH confirmed AS (
      UPDATE ${bookings} SET status = 'CONFIRMED', hold_expires_at = NULL, updated_at = ${at}
      WHERE id = ${bookingId} AND status IN ('PENDING', 'EXPIRED') AND NOT approval_required
      RETURNING id, status
    ), audited AS (
      INSERT INTO ${auditEvents} (actor_id, action, entity_type, entity_id, to_state, reason, request_id)
      SELECT NULL, 'booking.confirm', 'booking', id, 'CONFIRMED', 'deposit paid', ${requestId} FROM confirmed RETURNING 1
    ), queued AS (
      INSERT INTO ${outbox} (topic, payload, deduplication_id)
      SELECT 'booking.approve', json_build_object('booking_id', id)::jsonb, 'booking.confirm:' || id FROM confirmed RETURNING 1
    )
    SELECT id FROM confirmed`;
}
