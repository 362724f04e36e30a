/**
 * What the slot search needs, loaded with a fixed number of statements however long the range or
 * however many professionals: the offer (service, variation, professionals), then one read-only
 * batch for rules, overrides, closures and busy time.
 */
import { and, eq, gt, gte, inArray, lt, lte, ne, or, sql } from "drizzle-orm";
import type { Db } from "./client.ts";
import {
  availabilityOverrides,
  availabilityRules,
  bookings,
  professionals,
  professionalServices,
  salonClosures,
  salons,
  services,
  serviceVariations,
  timeOff,
} from "./schema.ts";

/** Upper bounds the schema's CHECKs put on a service's buffers and duration (minutes). */
const MAX_BUFFER_MS = 240 * 60_000;
const MAX_DURATION_MS = 1440 * 60_000;

export type SalonRow = typeof salons.$inferSelect;
export type ServiceRow = typeof services.$inferSelect;
export type VariationRow = typeof serviceVariations.$inferSelect;

export interface Offer {
  salon: SalonRow;
  service: ServiceRow;
  variation: VariationRow | null;
  /** Active professionals who perform the service (narrowed to one when asked). */
  professionals: { id: string; displayName: string }[];
}

/**
 * The active service (and variation) of an active salon, with the active professionals who
 * perform it; undefined when the service is not bookable. `professionalId` narrows to one.
 */
export async function loadOffer(
  db: Db,
  options: { serviceId: string; variationId?: string; salonId?: string; professionalId?: string },
): Promise<Offer | { missing: "service" | "variation" } | undefined> {
  const [row] = await db.select({ salon: salons, service: services }).from(services)
    .innerJoin(salons, eq(salons.id, services.salonId))
    .where(and(
      eq(services.id, options.serviceId),
      eq(services.active, true),
      eq(salons.active, true),
      options.salonId ? eq(salons.id, options.salonId) : undefined,
    )).limit(1);
  if (!row) return { missing: "service" };
  const [variationRows, performers] = await db.batch([
    options.variationId
      ? db.select().from(serviceVariations).where(and(
        eq(serviceVariations.id, options.variationId),
        eq(serviceVariations.serviceId, row.service.id),
        eq(serviceVariations.active, true),
      ))
      : db.select().from(serviceVariations).where(sql`false`),
    db.select({ id: professionals.id, displayName: professionals.displayName }).from(professionals)
      .innerJoin(professionalServices, eq(professionalServices.professionalId, professionals.id))
      .where(and(
        eq(professionalServices.serviceId, row.service.id),
        eq(professionals.salonId, row.salon.id),
        eq(professionals.active, true),
        options.professionalId ? eq(professionals.id, options.professionalId) : undefined,
      )).orderBy(professionals.id),
  ]);
  if (options.variationId && variationRows.length === 0) return { missing: "variation" };
  return { salon: row.salon, service: row.service, variation: variationRows[0] ?? null, professionals: performers };
}

export interface ScheduleData {
  rules: { professionalId: string; dayOfWeek: number; startTime: string; endTime: string }[];
  overrides: {
    professionalId: string;
    date: string;
    kind: "CLOSED" | "OPEN";
    startTime: string | null;
    endTime: string | null;
  }[];
  closures: { startDate: string; endDate: string }[];
  /** Bookings that hold time (confirmed, or pending with a live hold) and time off, as instants. */
  busy: { professionalId: string; startsAt: Date; endsAt: Date }[];
}

/**
 * Everything the engine needs for these professionals: weekly rules, overrides between two local
 * dates, the salon's closures, and busy time overlapping [busyFrom, busyTo). One read-only batch.
 */
export async function loadSchedule(
  db: Db,
  options: {
    salonId: string;
    professionalIds: string[];
    fromDate: string;
    toDate: string;
    busyFrom: Date;
    busyTo: Date;
    now: Date;
    /** A booking whose own time does not count as busy (it is being moved). */
    excludeBookingId?: string;
  },
): Promise<ScheduleData> {
  const ids = options.professionalIds;
  const [rules, overrides, closures, held, away] = await db.batch([
    db.select({
      professionalId: availabilityRules.professionalId,
      dayOfWeek: availabilityRules.dayOfWeek,
      startTime: availabilityRules.startTime,
      endTime: availabilityRules.endTime,
    }).from(availabilityRules).where(inArray(availabilityRules.professionalId, ids)),
    db.select({
      professionalId: availabilityOverrides.professionalId,
      date: availabilityOverrides.date,
      kind: availabilityOverrides.kind,
      startTime: availabilityOverrides.startTime,
      endTime: availabilityOverrides.endTime,
    }).from(availabilityOverrides).where(and(
      inArray(availabilityOverrides.professionalId, ids),
      gte(availabilityOverrides.date, options.fromDate),
      lte(availabilityOverrides.date, options.toDate),
    )),
    db.select({ startDate: salonClosures.startDate, endDate: salonClosures.endDate }).from(salonClosures)
      .where(and(
        eq(salonClosures.salonId, options.salonId),
        lte(salonClosures.startDate, options.toDate),
        gte(salonClosures.endDate, options.fromDate),
      )),
    // Busy by person: the bookings of whoever serves as each professional (their account, at any
    // salon; an unlinked record is its own person), reported under the professional asked about.
    // This is what the exclusion constraint compares, so no slot is offered that it would refuse.
    db.select({
      professionalId: professionals.id,
      startsAt: bookings.blockStartsAt,
      endsAt: bookings.blockEndsAt,
    }).from(bookings).innerJoin(
      professionals,
      eq(bookings.personId, sql`coalesce(${professionals.userId}, ${professionals.id})`),
    ).where(and(
      inArray(professionals.id, ids),
      // Bounds on starts_at let the (person_id, starts_at) index do the work: a block starts at
      // most MAX_BUFFER before its booking and a booking lasts at most MAX_DURATION.
      lt(bookings.startsAt, new Date(options.busyTo.getTime() + MAX_BUFFER_MS)),
      gt(bookings.startsAt, new Date(options.busyFrom.getTime() - MAX_DURATION_MS - MAX_BUFFER_MS)),
      lt(bookings.blockStartsAt, options.busyTo),
      gt(bookings.blockEndsAt, options.busyFrom),
      options.excludeBookingId ? ne(bookings.id, options.excludeBookingId) : undefined,
      or(
        eq(bookings.status, "CONFIRMED"),
        and(eq(bookings.status, "PENDING"), gt(bookings.holdExpiresAt, options.now)),
      ),
    )),
    db.select({ professionalId: timeOff.professionalId, startsAt: timeOff.startsAt, endsAt: timeOff.endsAt })
      .from(timeOff).where(and(
        inArray(timeOff.professionalId, ids),
        lt(timeOff.startsAt, options.busyTo),
        gt(timeOff.endsAt, options.busyFrom),
      )),
  ]);
  return { rules, overrides, closures, busy: [...held, ...away] };
}
