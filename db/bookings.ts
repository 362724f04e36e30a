/**
 * Booking queries. Creation is one batch: an advisory lock on the client (so that the client's
 * bookings are counted and added one request at a time), lapsed holds overlapping the new time
 * marked EXPIRED (the exclusion constraint cannot read the clock), then the insert, made only if the
 * client is within the booking limits (domain/booking_limits.ts) and refused by the constraint if the
 * professional's time is taken; the audit event, the outbox row, the deposit payment and the
 * idempotent answer commit with it, and only if the booking was written. Every transition is a
 * conditional update on the status it started from.
 */
import { and, asc, eq, gte, inArray, lt, or, type SQL, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { ClientBookingCounts, LimitCheck } from "../domain/booking_limits.ts";
import { refundable } from "../domain/payments.ts";
import type { AuditContext } from "./audit.ts";
import type { Db } from "./client.ts";
import { capturedPaymentOf, refundState } from "./refunds.ts";
import {
  auditEvents,
  bookings,
  outbox,
  paymentLogs,
  payments,
  professionals,
  refunds,
  salons,
  users,
} from "./schema.ts";

export type BookingRow = typeof bookings.$inferSelect;
export type BookingInsert = typeof bookings.$inferInsert & { id: string };

/**
 * The statement that expires lapsed holds overlapping a range of the person who serves as this
 * professional (at any salon: the constraint compares persons), auditing each.
 */
function expireLapsedHolds(
  db: Db,
  professionalId: string,
  range: { start: Date; end: Date },
  now: Date,
  context: AuditContext,
) {
  const at = now.toISOString();
  return db.execute(sql`
    WITH expired AS (
      UPDATE ${bookings} SET status = 'EXPIRED', updated_at = ${at}
      WHERE person_id = (SELECT coalesce(p.user_id, p.id) FROM ${professionals} p WHERE p.id = ${professionalId})
        AND status = 'PENDING' AND hold_expires_at <= ${at}
        AND tstzrange(block_starts_at, block_ends_at, '[)')
          && tstzrange(${range.start.toISOString()}::timestamptz, ${range.end.toISOString()}::timestamptz, '[)')
      RETURNING id
    )
    INSERT INTO ${auditEvents} (actor_id, action, entity_type, entity_id, from_state, to_state, reason, request_id)
    SELECT NULL, 'booking.expire', 'booking', id, 'PENDING', 'EXPIRED', 'hold lapsed', ${context.requestId}
    FROM expired RETURNING 1`);
}

/** A deposit created at the provider, stored with the booking it belongs to. */
export interface DepositRecord {
  id: string;
  provider: "STRIPE" | "MOCK";
  providerPaymentId: string;
  amount: number;
  currency: string;
  platformFeeAmount: number;
  /** The provider call, for the payment log. */
  log: { status: string; latencyMs: number };
}

const iso = (d: Date | null | undefined) => d ? d.toISOString() : null;

/**
 * CTEs that store the deposit and its log line once per row of the CTE `source` (a booking written
 * or changed by the same statement): when the booking is not written, neither is its payment.
 */
function depositCtes(source: string, bookingId: string, deposit: DepositRecord | null | undefined): SQL {
  if (!deposit) return sql``;
  return sql`, deposited AS (
      INSERT INTO ${payments} (id, booking_id, provider, provider_payment_id, amount, currency, platform_fee_amount)
      SELECT ${deposit.id}::uuid, ${bookingId}::uuid, ${deposit.provider}, ${deposit.providerPaymentId},
        ${deposit.amount}, ${deposit.currency}, ${deposit.platformFeeAmount}
      FROM ${sql.raw(source)} RETURNING id
    ), deposit_logged AS (
      INSERT INTO ${paymentLogs} (payment_id, kind, provider, provider_object_id, status, latency_ms)
      SELECT id, 'create_deposit', ${deposit.provider}, ${deposit.providerPaymentId}, ${deposit.log.status},
        ${deposit.log.latencyMs} FROM deposited RETURNING 1
    )`;
}

/** Column names of the counts row, by the domain's names. */
const COUNT_COLUMNS: Record<keyof ClientBookingCounts, string> = {
  openHoldsAtSalon: "open_holds_at_salon",
  openHolds: "open_holds",
  futureAtSalon: "future_at_salon",
  future: "future",
  open: "open",
};

/**
 * One row with the client's counts at `now`, as domain/booking_limits.ts defines them (an open hold:
 * PENDING with a live hold; a future booking: an open hold or CONFIRMED, starting after now; an open
 * booking: an open hold, or CONFIRMED and not over), and whether the client's email or phone is verified.
 */
function clientCountsSql(clientId: string, salonId: string, now: Date): SQL {
  const at = sql`${now.toISOString()}::timestamptz`;
  const hold = sql`(status = 'PENDING' AND hold_expires_at > ${at})`;
  const future = sql`((${hold} OR status = 'CONFIRMED') AND starts_at > ${at})`;
  const here = sql`salon_id = ${salonId}::uuid`;
  return sql`SELECT
      count(*) FILTER (WHERE ${hold} AND ${here}) AS open_holds_at_salon,
      count(*) FILTER (WHERE ${hold}) AS open_holds,
      count(*) FILTER (WHERE ${future} AND ${here}) AS future_at_salon,
      count(*) FILTER (WHERE ${future}) AS future,
      count(*) FILTER (WHERE ${hold} OR (status = 'CONFIRMED' AND ends_at > ${at})) AS open,
      coalesce((SELECT u.verified OR u.phone_verified_at IS NOT NULL FROM ${users} u WHERE u.id = ${clientId}::uuid),
        false) AS verified
    FROM ${bookings} WHERE client_id = ${clientId}::uuid AND status IN ('PENDING', 'CONFIRMED')`;
}

/** The limits as a condition on the counts row: each count below its limit (unverified-only ones unless verified). */
function withinLimits(checks: readonly LimitCheck[]): SQL {
  if (checks.length === 0) return sql`true`;
  return sql.join(
    checks.map((check) => {
      const below = sql`${sql.raw(COUNT_COLUMNS[check.count])} < ${check.value}::int`;
      return check.unverifiedOnly ? sql`(verified OR ${below})` : below;
    }),
    sql` AND `,
  );
}

/** Serialises the writes that count a client's bookings, for the rest of the transaction. */
export function lockClient(db: Db, clientId: string) {
  return db.execute(sql`SELECT pg_advisory_xact_lock(hashtextextended(${`booking-limits:client:${clientId}`}, 0))`);
}

/**
 * Runs `statement` only if the booking `bookingId` exists by then in the same transaction. For the
 * idempotent answer: a refused insert must not store a success. The statement is the bare `SELECT`
 * of `storeAnswer` (no FROM, no WHERE), so the condition gates whether its function runs at all.
 */
export function onlyIfBooked(statement: BatchItem<"pg">, bookingId: string): SQL {
  const rendered = (statement as unknown as { getSQL(): SQL }).getSQL();
  return sql`${rendered} WHERE EXISTS (SELECT 1 FROM ${bookings} WHERE id = ${bookingId}::uuid)`;
}

/** The result of a limited insert: whether the booking was written, and the client's counts before it. */
export interface LimitedInsert {
  inserted: boolean;
  counts: ClientBookingCounts;
  verified: boolean;
}

function countsOf(row: Record<string, unknown>): LimitedInsert {
  return {
    inserted: Number(row.inserted) === 1,
    verified: row.verified === true,
    counts: {
      openHoldsAtSalon: Number(row.open_holds_at_salon),
      openHolds: Number(row.open_holds),
      futureAtSalon: Number(row.future_at_salon),
      future: Number(row.future),
      open: Number(row.open),
    },
  };
}

/**
 * The statement that inserts the booking if the client's counts are within `limits` (and `extra`
 * holds), with its audit event, outbox row and deposit, answering the counts and whether it inserted.
 */
export function limitedInsertSql(
  values: BookingInsert,
  options: {
    limits: readonly LimitCheck[];
    extra?: SQL;
    overbooked: boolean;
    actorId: string;
    now: Date;
    context: AuditContext;
    deposit?: DepositRecord | null;
  },
): SQL {
  const now = options.now.toISOString();
  const audit = JSON.stringify({
    user_agent: options.context.userAgent,
    starts_at: values.startsAt.toISOString(),
    professional_id: values.professionalId,
    ...(options.overbooked ? { overbooked: true } : {}),
  });
  const outboxPayload = options.overbooked
    ? sql`json_build_object('booking_id', id, 'status', status, 'overbooked', true)::jsonb`
    : sql`json_build_object('booking_id', id, 'status', status)::jsonb`;
  const snapshot = values.policySnapshot === null || values.policySnapshot === undefined
    ? null
    : JSON.stringify(values.policySnapshot);
  return sql`
    WITH counts AS (${clientCountsSql(values.clientId, values.salonId, options.now)}), inserted AS (
      INSERT INTO ${bookings} (id, salon_id, client_id, professional_id, service_id, variation_id, starts_at, ends_at,
        block_starts_at, block_ends_at, status, hold_expires_at, price_amount, deposit_amount, fee_amount, currency,
        policy_snapshot, notes, overbooked, approval_required, created_at, updated_at)
      SELECT ${values.id}::uuid, ${values.salonId}::uuid, ${values.clientId}::uuid, ${values.professionalId}::uuid,
        ${values.serviceId}::uuid, ${values.variationId ?? null}::uuid, ${iso(values.startsAt)}::timestamptz,
        ${iso(values.endsAt)}::timestamptz, ${iso(values.blockStartsAt)}::timestamptz,
        ${iso(values.blockEndsAt)}::timestamptz, ${values.status}, ${iso(values.holdExpiresAt)}::timestamptz,
        ${values.priceAmount}, ${values.depositAmount ?? 0}, 0, ${values.currency}, ${snapshot}::jsonb,
        ${values.notes ?? null}, ${options.overbooked}, ${values.approvalRequired ?? false},
        ${now}::timestamptz, ${now}::timestamptz
      FROM counts WHERE ${withinLimits(options.limits)} ${options.extra ? sql`AND ${options.extra}` : sql``}
      RETURNING id, status
    ), audited AS (
      INSERT INTO ${auditEvents} (actor_id, action, entity_type, entity_id, to_state, ip, request_id, data)
      SELECT ${options.actorId}::uuid, 'booking.create', 'booking', id, status, ${options.context.ip},
        ${options.context.requestId}, ${audit}::jsonb
      FROM inserted RETURNING 1
    ), queued AS (
      INSERT INTO ${outbox} (topic, payload, deduplication_id)
      SELECT 'booking.created', ${outboxPayload}, 'booking.created:' || id FROM inserted RETURNING 1
    )${depositCtes("inserted", values.id, options.deposit)}
    SELECT counts.*, (SELECT count(*) FROM inserted) AS inserted FROM counts`;
}

/**
 * The client's counts and verification now, read without a lock: a cheap early refusal before the
 * deposit is created at the provider. The insert counts again under the lock and decides.
 */
export async function clientCounts(
  db: Db,
  clientId: string,
  salonId: string,
  now: Date,
): Promise<Omit<LimitedInsert, "inserted">> {
  const result = await db.execute(clientCountsSql(clientId, salonId, now));
  const { counts, verified } = countsOf(result.rows[0] as Record<string, unknown>);
  return { counts, verified };
}

/** Reads the answer row of `limitedInsertSql` from a batch result. */
export function limitedInsertResult(result: unknown): LimitedInsert {
  const [row] = (result as { rows: Record<string, unknown>[] }).rows;
  return countsOf(row);
}

/**
 * Creates a booking (see the module comment) if the client stays within `limits`; answers whether
 * it did and the client's counts it decided on, so the caller can name the limit. The constraint's
 * refusal of a taken time surfaces as a 23P01 error.
 */
export async function insertBooking(
  db: Db,
  values: BookingInsert,
  options: {
    limits: readonly LimitCheck[];
    actorId: string;
    now: Date;
    context: AuditContext;
    remember?: BatchItem<"pg"> | null;
    /** The deposit created for the booking at the provider, stored with it. */
    deposit?: DepositRecord | null;
  },
): Promise<LimitedInsert> {
  const results = await db.batch([
    lockClient(db, values.clientId),
    expireLapsedHolds(
      db,
      values.professionalId,
      { start: values.blockStartsAt, end: values.blockEndsAt },
      options.now,
      options.context,
    ),
    db.execute(limitedInsertSql(values, { ...options, overbooked: false })),
    ...(options.remember ? [db.execute(onlyIfBooked(options.remember, values.id))] : []),
  ]);
  return limitedInsertResult(results[2]);
}

/**
 * The booking's captured deposit, its refund state, and what of it a refund can still return (paid
 * and not given back or on its way back); `paid` is 0 when nothing was captured.
 */
export async function paidOf(db: Db, bookingId: string) {
  const captured = await capturedPaymentOf(db, bookingId);
  const refundInfo = captured ? await refundState(db, captured.id) : null;
  const paid = captured && refundInfo ? refundable(captured.amount, captured.refundedAmount, refundInfo.pending) : 0;
  return { captured, refundInfo, paid };
}

/** Who may see a booking: its client, its professional, its salon's owner (admins see all). */
export function visibleTo(userId: string): SQL {
  return or(
    eq(bookings.clientId, userId),
    inArray(bookings.professionalId, professionalsOf(userId)),
    inArray(bookings.salonId, salonsOf(userId)),
  )!;
}

function professionalsOf(userId: string) {
  return sql`(select ${professionals.id} from ${professionals} where ${professionals.userId} = ${userId})`;
}

function salonsOf(userId: string) {
  return sql`(select ${salons.id} from ${salons} where ${salons.ownerId} = ${userId})`;
}

/** The booking with what access decisions need: its professional's user and its salon's owner. */
export interface BookingRecord {
  booking: BookingRow;
  professionalUserId: string | null;
  salonOwnerId: string;
  salonTimeZone: string;
}

export async function findBooking(db: Db, id: string): Promise<BookingRecord | undefined> {
  const [row] = await db.select({
    booking: bookings,
    professionalUserId: professionals.userId,
    salonOwnerId: salons.ownerId,
    salonTimeZone: salons.timeZone,
  }).from(bookings)
    .innerJoin(professionals, eq(professionals.id, bookings.professionalId))
    .innerJoin(salons, eq(salons.id, bookings.salonId))
    .where(eq(bookings.id, id)).limit(1);
  return row;
}

export interface BookingFilter {
  /** Only what this user may see; undefined for admins. */
  visibleToUserId?: string;
  status?: BookingRow["status"];
  from?: Date;
  to?: Date;
  professionalId?: string;
  salonId?: string;
}

/** Bookings by start time then id. */
export function listBookings(
  db: Db,
  filter: BookingFilter,
  page: { limit: number; after?: { startsAt: string; id: string } },
): Promise<BookingRow[]> {
  return db.select().from(bookings).where(and(
    filter.visibleToUserId ? visibleTo(filter.visibleToUserId) : undefined,
    filter.status ? eq(bookings.status, filter.status) : undefined,
    filter.from ? gte(bookings.startsAt, filter.from) : undefined,
    filter.to ? lt(bookings.startsAt, filter.to) : undefined,
    filter.professionalId ? eq(bookings.professionalId, filter.professionalId) : undefined,
    filter.salonId ? eq(bookings.salonId, filter.salonId) : undefined,
    page.after
      ? sql`(${bookings.startsAt}, ${bookings.id}) > (${page.after.startsAt}::timestamptz, ${page.after.id}::uuid)`
      : undefined,
  )).orderBy(asc(bookings.startsAt), asc(bookings.id)).limit(page.limit);
}

/** Microsecond-exact position of a booking in the list order. */
export async function positionOf(db: Db, id: string): Promise<{ startsAt: string; id: string }> {
  const [row] = await db.select({ at: sql<string>`${bookings.startsAt}::text` }).from(bookings)
    .where(eq(bookings.id, id));
  return { startsAt: row.at, id };
}

/**
 * Changes a booking's status if it is still what it was when read, with the audit event and an
 * outbox row, in one statement. Returns the updated row, or undefined when its status changed
 * meanwhile (the caller answers 409).
 */
export async function transitionBooking(
  db: Db,
  booking: BookingRow,
  change: {
    to: BookingRow["status"];
    set?: Partial<BookingInsert>;
    actorId: string;
    action: string;
    reason?: string | null;
    now: Date;
    context: AuditContext;
    data?: Record<string, unknown>;
    /** A refund to request with the change (recorded PENDING; a job asks the provider). */
    refund?: { id: string; paymentId: string; amount: number; reason: string; sequence: number };
    /** Fields that must still have these values for the change to apply (else it changed meanwhile). */
    expect?: { startsAt?: Date; carriedFeeAmount?: number; approvalRequired?: boolean };
    /** A deposit created at the provider for this booking, stored only if the change applies. */
    deposit?: DepositRecord | null;
  },
): Promise<BookingRow | undefined> {
  const update = db.update(bookings).set({ ...change.set, status: change.to, updatedAt: change.now })
    .where(and(
      eq(bookings.id, booking.id),
      eq(bookings.status, booking.status),
      change.expect?.startsAt ? eq(bookings.startsAt, change.expect.startsAt) : undefined,
      change.expect?.carriedFeeAmount !== undefined
        ? eq(bookings.carriedFeeAmount, change.expect.carriedFeeAmount)
        : undefined,
      change.expect?.approvalRequired !== undefined
        ? eq(bookings.approvalRequired, change.expect.approvalRequired)
        : undefined,
    ))
    .returning({ id: bookings.id });
  const data = JSON.stringify({ user_agent: change.context.userAgent, ...change.data });
  const payload = JSON.stringify({ booking_id: booking.id, from: booking.status, to: change.to, ...change.data });
  const result = await db.execute(sql`
    WITH updated AS (${update.getSQL()}), audited AS (
      INSERT INTO ${auditEvents} (actor_id, action, entity_type, entity_id, from_state, to_state, reason, ip, request_id, data)
      SELECT ${change.actorId}, ${change.action}, 'booking', id, ${booking.status}, ${change.to}, ${
    change.reason ?? null
  },
        ${change.context.ip}, ${change.context.requestId}, ${data}::jsonb
      FROM updated RETURNING 1
    ), queued AS (
      INSERT INTO ${outbox} (topic, payload, deduplication_id)
      SELECT ${change.action}, ${payload}::jsonb, ${`${change.action}:${booking.id}:${change.now.toISOString()}`}
      FROM updated RETURNING 1
    )${
    change.refund
      ? sql`, refunded AS (
      INSERT INTO ${refunds} (id, payment_id, amount, status, reason, sequence)
      SELECT ${change.refund.id}, ${change.refund.paymentId}, ${change.refund.amount}, 'PENDING', ${change.refund.reason},
        ${change.refund.sequence}
      FROM updated RETURNING 1
    )`
      : sql``
  }${depositCtes("updated", booking.id, change.deposit)}
    SELECT id FROM updated`);
  if (result.rows.length === 0) return undefined;
  return (await findBooking(db, booking.id))?.booking;
}
