/**
 * Booking queries. Creation is one batch: lapsed holds overlapping the new time are marked EXPIRED
 * (the exclusion constraint cannot read the clock), then the insert, which the constraint refuses
 * if the professional's time is taken; the audit event, the outbox row and the idempotent answer
 * commit with it. Every transition is a conditional update on the status it started from.
 */
import { and, asc, eq, gte, inArray, lt, or, type SQL, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { type AuditContext, auditInsert } from "./audit.ts";
import type { Db } from "./client.ts";
import { auditEvents, bookings, outbox, professionals, refunds, salons } from "./schema.ts";

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

/** Creates a booking (see the module comment); the constraint's refusal surfaces as a 23P01 error. */
export async function insertBooking(
  db: Db,
  values: BookingInsert,
  options: {
    actorId: string;
    now: Date;
    context: AuditContext;
    remember?: BatchItem<"pg"> | null;
    /** More rows that belong to the booking (its deposit payment), committed with it. */
    extra?: BatchItem<"pg">[];
  },
): Promise<void> {
  await db.batch([
    expireLapsedHolds(
      db,
      values.professionalId,
      { start: values.blockStartsAt, end: values.blockEndsAt },
      options.now,
      options.context,
    ),
    db.insert(bookings).values(values),
    auditInsert(db, options.context, {
      actorId: options.actorId,
      action: "booking.create",
      entityType: "booking",
      entityId: values.id,
      toState: values.status,
      data: { starts_at: values.startsAt.toISOString(), professional_id: values.professionalId },
    }),
    db.insert(outbox).values({
      topic: "booking.created",
      payload: { booking_id: values.id, status: values.status },
      deduplicationId: `booking.created:${values.id}`,
    }),
    ...(options.extra ?? []),
    ...(options.remember ? [options.remember] : []),
  ]);
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
  },
): Promise<BookingRow | undefined> {
  const update = db.update(bookings).set({ ...change.set, status: change.to, updatedAt: change.now })
    .where(and(eq(bookings.id, booking.id), eq(bookings.status, booking.status)))
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
  }
    SELECT id FROM updated`);
  if (result.rows.length === 0) return undefined;
  return (await findBooking(db, booking.id))?.booking;
}
