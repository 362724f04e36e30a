/**
 * Free slots for a service: of one professional, or of every professional of a salon who performs
 * it (each slot naming who). The route loads everything with a fixed number of statements and the
 * pure engine in domain/slots.ts decides.
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { findProfessional } from "../db/professionals.ts";
import { findSalon } from "../db/salons.ts";
import type { Db } from "../db/client.ts";
import { loadOffer, loadSchedule, type Offer } from "../db/scheduling.ts";
import {
  type AnyProfessionalSlot,
  anyProfessionalSlots,
  busyMinutesWithin,
  computeSlots,
  MAX_RANGE_DAYS,
} from "../domain/slots.ts";
import type { App, AppEnv } from "./app.ts";
import { json, optionalUser, problem401 } from "./auth.ts";
import { ApiError, errorResponses, notFound } from "./errors.ts";
import { optionalBearer } from "./salons.ts";
import { instantSchema, plainDateSchema } from "./schemas.ts";

const tags = ["Scheduling"];
const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;
/** Range searched when `to` is left out. */
const DEFAULT_RANGE_DAYS = 14;

const boundSchema = z.union([instantSchema, plainDateSchema]).openapi({
  description: "An instant (`2026-03-08T09:00:00Z`) or a date in the salon's zone (`2026-03-08`)",
  example: "2026-03-08",
});

const slotQuery = z.object({
  service: z.uuid().openapi({ description: "The service to book" }),
  variation: z.uuid().optional().openapi({ description: "One of the service's variations" }),
  from: boundSchema.optional().openapi({ description: "Earliest start (a date: its first moment); default now" }),
  to: boundSchema.optional().openapi({
    description:
      `Latest start, exclusive (a date: the end of that day); default ${DEFAULT_RANGE_DAYS} days after \`from\`, at most ${MAX_RANGE_DAYS}`,
  }),
});

const slotSchema = z.object({
  start: z.string().openapi({ example: "2026-03-08T12:00:00Z" }),
  end: z.string().openapi({ example: "2026-03-08T13:00:00Z" }),
  local_start: z.string().openapi({ description: "The salon's wall clock", example: "2026-03-08T09:00:00" }),
  offset: z.string().openapi({ description: "The salon's UTC offset at the start", example: "-03:00" }),
  professional_id: z.uuid().openapi({ description: "Who is offered: with any professional, the least booked one" }),
  available_count: z.number().int().openapi({ description: "How many professionals are free at this start" }),
}).openapi("Slot");

const slotsSchema = z.object({
  salon_id: z.uuid(),
  service_id: z.uuid(),
  variation_id: z.uuid().nullable(),
  time_zone: z.string(),
  duration_minutes: z.number().int(),
  from: z.string(),
  to: z.string(),
  professionals: z.array(z.object({ id: z.uuid(), display_name: z.string() })),
  data: z.array(slotSchema),
}).openapi("Slots");

const responses = {
  200: { description: "Free slots, sorted by start", ...json(slotsSchema) },
  401: problem401,
  ...errorResponses,
};

const professionalSlots = createRoute({
  method: "get",
  path: "/api/v1/scheduling/professionals/{id}/slots",
  operationId: "listProfessionalSlots",
  summary: "Free start times of one professional for a service",
  tags,
  security: optionalBearer,
  middleware: [optionalUser] as const,
  request: { params: z.object({ id: z.uuid() }), query: slotQuery },
  responses,
});

const salonSlots = createRoute({
  method: "get",
  path: "/api/v1/scheduling/salons/{id}/slots",
  operationId: "listSalonSlots",
  summary: "Free start times for a service with any professional: one slot per start, naming who is offered",
  tags,
  security: optionalBearer,
  middleware: [optionalUser] as const,
  request: { params: z.object({ id: z.uuid() }), query: slotQuery },
  responses,
});

function invalidQuery(path: string, message: string): ApiError {
  return new ApiError("validation", `Invalid query: ${path} ${message}`, {
    errors: [{ path: `query.${path}`, message }],
  });
}

/** An instant, or the first moment of a date in the zone (`endOfDate`: of the next date). */
function toInstant(value: string, timeZone: string, endOfDate: boolean): number {
  if (value.includes("T")) return Date.parse(value);
  const date = Temporal.PlainDate.from(value).add({ days: endOfDate ? 1 : 0 });
  return date.toZonedDateTime({ timeZone }).epochMilliseconds;
}

function localDate(ms: number, timeZone: string): string {
  return Temporal.Instant.fromEpochMilliseconds(ms).toZonedDateTimeISO(timeZone).toPlainDate().toString();
}

/**
 * Free slots of the offer's professionals in [from, to): one per start, from the least booked
 * professional. `excludeBookingId` leaves a booking's own time out (rescheduling it);
 * `ignoreBusy` answers whether the time would be a slot if nobody were booked.
 */
export async function searchSlots(
  db: Db,
  offer: Offer,
  options: {
    from: number;
    to: number;
    now: number;
    excludeBookingId?: string;
    ignoreBusy?: boolean;
    /** The range whose booked time decides who is offered (default: [from, to)). */
    balance?: { from: number; to: number };
  },
): Promise<AnyProfessionalSlot[]> {
  const { from, to, now } = options;
  const { salon, service, variation } = offer;
  const durationMinutes = variation?.durationMinutes ?? service.durationMinutes;
  const professionals = offer.professionals;
  let slots: AnyProfessionalSlot[] = [];
  if (professionals.length > 0) {
    const reach = (durationMinutes + service.bufferBeforeMinutes + service.bufferAfterMinutes) * MINUTE_MS;
    const schedule = await loadSchedule(db, {
      salonId: salon.id,
      professionalIds: professionals.map((p) => p.id),
      // One date of margin on each side: the engine reads windows that run across the range's edges.
      fromDate: Temporal.PlainDate.from(localDate(from, salon.timeZone)).subtract({ days: 1 }).toString(),
      toDate: Temporal.PlainDate.from(localDate(to, salon.timeZone)).add({ days: 1 }).toString(),
      busyFrom: new Date(Math.min(from, options.balance?.from ?? from) - reach),
      busyTo: new Date(Math.max(to, options.balance?.to ?? to) + reach),
      now: new Date(now),
      excludeBookingId: options.excludeBookingId,
    });
    slots = anyProfessionalSlots(professionals.map(({ id }) => {
      const busy = options.ignoreBusy ? [] : schedule.busy.filter((b) => b.professionalId === id)
        .map((b) => ({ start: b.startsAt.getTime(), end: b.endsAt.getTime() }));
      return {
        professionalId: id,
        busyMinutes: busyMinutesWithin(busy, options.balance?.from ?? from, options.balance?.to ?? to),
        slots: computeSlots({
          timeZone: salon.timeZone,
          rules: schedule.rules.filter((r) => r.professionalId === id)
            .map((r) => ({ dayOfWeek: r.dayOfWeek, start: r.startTime, end: r.endTime })),
          overrides: schedule.overrides.filter((o) => o.professionalId === id).map((o) =>
            o.kind === "CLOSED"
              ? { date: o.date, kind: "CLOSED" as const }
              : { date: o.date, kind: "OPEN" as const, start: o.startTime!, end: o.endTime! }
          ),
          closures: schedule.closures,
          busy,
          durationMinutes,
          bufferBeforeMinutes: service.bufferBeforeMinutes,
          bufferAfterMinutes: service.bufferAfterMinutes,
          slotStepMinutes: salon.slotStepMinutes,
          minimumNoticeMinutes: salon.minimumNoticeMinutes,
          bookingHorizonDays: salon.bookingHorizonDays,
          from,
          to,
          now,
        }),
      };
    }));
  }
  return slots;
}

async function slotsFor(c: Context<AppEnv>, offer: Offer, query: z.infer<typeof slotQuery>) {
  const { database, now: clock } = c.var.services;
  const now = clock().getTime();
  const { salon, service, variation } = offer;
  const from = query.from ? toInstant(query.from, salon.timeZone, false) : now;
  const to = query.to ? toInstant(query.to, salon.timeZone, true) : from + DEFAULT_RANGE_DAYS * DAY_MS;
  if (to <= from) throw invalidQuery("to", "must be after from");
  if (to - from > MAX_RANGE_DAYS * DAY_MS) {
    throw invalidQuery("to", `must be at most ${MAX_RANGE_DAYS} days after from`);
  }

  const durationMinutes = variation?.durationMinutes ?? service.durationMinutes;
  const professionals = offer.professionals;
  const slots = await searchSlots(database.db, offer, { from, to, now });
  return {
    salon_id: salon.id,
    service_id: service.id,
    variation_id: variation?.id ?? null,
    time_zone: salon.timeZone,
    duration_minutes: durationMinutes,
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    professionals: professionals.map((p) => ({ id: p.id, display_name: p.displayName })),
    data: slots.map((slot) => ({
      start: slot.start,
      end: slot.end,
      local_start: slot.localStart,
      offset: slot.offset,
      professional_id: slot.professionalId,
      available_count: slot.availableCount,
    })),
  };
}

function offerOrProblem(offer: Awaited<ReturnType<typeof loadOffer>>): Offer {
  if (!offer || "missing" in offer) {
    const missing = offer?.missing ?? "service";
    throw invalidQuery(
      missing,
      missing === "service" ? "is not a bookable service here" : "is not a variation of the service",
    );
  }
  return offer;
}

/** Registers the slot routes. */
export function registerScheduling(app: App): void {
  app.openapi(professionalSlots, async (c) => {
    const { id } = c.req.valid("param");
    const query = c.req.valid("query");
    const db = c.var.services.database.db;
    const record = await findProfessional(db, id);
    if (!record || !record.professional.active || !record.salon.active) throw notFound("professional");
    const offer = offerOrProblem(
      await loadOffer(db, {
        serviceId: query.service,
        variationId: query.variation,
        salonId: record.salon.id,
        professionalId: id,
      }),
    );
    if (offer.professionals.length === 0) throw invalidQuery("service", "is not performed by this professional");
    return c.json(await slotsFor(c, offer, query), 200);
  });

  app.openapi(salonSlots, async (c) => {
    const { id } = c.req.valid("param");
    const query = c.req.valid("query");
    const db = c.var.services.database.db;
    const offer = await loadOffer(db, { serviceId: query.service, variationId: query.variation, salonId: id });
    if (offer && "missing" in offer && offer.missing === "service") {
      const salon = await findSalon(db, id);
      if (!salon || !salon.active) throw notFound("salon");
    }
    return c.json(await slotsFor(c, offerOrProblem(offer), query), 200);
  });
}
