/** Salons: owners create and edit their own; anyone finds and reads active ones. */
import { createRoute, z } from "@hono/zod-openapi";
import { isUniqueViolation } from "../db/errors.ts";
import { findSalon, insertSalon, type SalonChanges, type SalonRow, searchSalons, updateSalon } from "../db/salons.ts";
import type { App } from "./app.ts";
import { auditContext, json, optionalUser, phoneSchema, problem401, requireUser, unauthorized } from "./auth.ts";
import { ApiError, bodyErrorResponses, errorResponses, notFound, problem403, problem409 } from "./errors.ts";
import { managedSalon, managesSalon, requirePermission } from "./ownership.ts";
import { decodeCursor, encodeCursor, listSchema, pageQuery } from "./pagination.ts";
import { booleanQuery, currencySchema, emailSchema, idParam, timeZoneSchema } from "./schemas.ts";

const tags = ["Salons"];
/** Public routes that show more to a signed-in caller: the token is optional. */
export const optionalBearer: Record<string, string[]>[] = [{}, { bearerAuth: [] }];

const addressSchema = z.object({
  line: z.string().trim().min(1).max(300).nullable().optional(),
  city: z.string().trim().min(1).max(120).nullable().optional(),
  region: z.string().trim().min(1).max(120).nullable().optional(),
  postal_code: z.string().trim().min(1).max(20).nullable().optional(),
  country_code: z.string().regex(/^[A-Z]{2}$/, "must be an ISO 3166-1 alpha-2 code").nullable().optional(),
}).strict();

const editableFields = {
  name: z.string().trim().min(1).max(200),
  description: z.string().trim().max(4000).nullable(),
  tax_id: z.string().trim().min(1).max(40).nullable(),
  phone: phoneSchema.nullable(),
  email: emailSchema.nullable(),
  address: addressSchema,
  latitude: z.number().min(-90).max(90).nullable(),
  longitude: z.number().min(-180).max(180).nullable(),
  time_zone: timeZoneSchema,
  currency: currencySchema,
  slot_step_minutes: z.number().int().min(5).max(240),
  minimum_notice_minutes: z.number().int().min(0).max(60 * 24 * 30),
  booking_horizon_days: z.number().int().min(1).max(730),
  hold_minutes: z.number().int().min(5).max(120),
  no_show_tolerance_minutes: z.number().int().min(0).max(240),
  reminder_hours: z.array(z.number().int().min(1).max(168)).max(3)
    .refine((hours) => new Set(hours).size === hours.length, "must not repeat an hour")
    .openapi({ description: "Hours before a confirmed booking at which the client is reminded", example: [24, 2] }),
  max_open_holds_per_client: z.number().int().min(1).max(100).openapi({
    description: "Unpaid holds (PENDING bookings whose hold has not lapsed) one client may keep at this salon at once",
    example: 2,
  }),
  max_future_bookings_per_client: z.number().int().min(1).max(500).openapi({
    description: "Upcoming bookings (open holds and CONFIRMED ones starting later) one client may have at this salon",
    example: 10,
  }),
};

const bothOrNeither = (body: { latitude?: number | null; longitude?: number | null }) =>
  (body.latitude === undefined) === (body.longitude === undefined) &&
  (body.latitude === null) === (body.longitude === null);
const locationMessage = { message: "latitude and longitude go together", path: ["longitude"] };

const createBody = z.object({
  ...editableFields,
  description: editableFields.description.optional(),
  tax_id: editableFields.tax_id.optional(),
  phone: editableFields.phone.optional(),
  email: editableFields.email.optional(),
  address: addressSchema.optional(),
  latitude: editableFields.latitude.optional(),
  longitude: editableFields.longitude.optional(),
  slot_step_minutes: editableFields.slot_step_minutes.default(15),
  minimum_notice_minutes: editableFields.minimum_notice_minutes.default(60),
  booking_horizon_days: editableFields.booking_horizon_days.default(60),
  hold_minutes: editableFields.hold_minutes.default(15),
  no_show_tolerance_minutes: editableFields.no_show_tolerance_minutes.default(15),
  reminder_hours: editableFields.reminder_hours.default([24, 2]),
  max_open_holds_per_client: editableFields.max_open_holds_per_client.default(2),
  max_future_bookings_per_client: editableFields.max_future_bookings_per_client.default(10),
}).strict().refine(bothOrNeither, locationMessage).openapi("SalonCreate");

const updateBody = z.object({
  ...Object.fromEntries(Object.entries(editableFields).map(([key, schema]) => [key, schema.optional()])) as {
    [K in keyof typeof editableFields]: z.ZodOptional<typeof editableFields[K]>;
  },
  active: z.boolean().optional(),
}).strict().refine(bothOrNeither, locationMessage)
  .refine((body) => Object.keys(body).length > 0, { message: "must change at least one field" })
  .openapi("SalonUpdate");

export const salonSchema = z.object({
  id: z.uuid(),
  owner_id: z.uuid(),
  name: z.string(),
  description: z.string().nullable(),
  tax_id: z.string().nullable(),
  phone: z.string().nullable(),
  email: z.string().nullable(),
  address: z.object({
    line: z.string().nullable(),
    city: z.string().nullable(),
    region: z.string().nullable(),
    postal_code: z.string().nullable(),
    country_code: z.string().nullable(),
  }),
  latitude: z.number().nullable(),
  longitude: z.number().nullable(),
  time_zone: z.string(),
  currency: z.string(),
  slot_step_minutes: z.number().int(),
  minimum_notice_minutes: z.number().int(),
  booking_horizon_days: z.number().int(),
  hold_minutes: z.number().int(),
  no_show_tolerance_minutes: z.number().int().openapi({ description: "How late a client may arrive before a no-show" }),
  reminder_hours: z.array(z.number().int()),
  max_open_holds_per_client: z.number().int().openapi({ description: "Unpaid holds one client may keep here at once" }),
  max_future_bookings_per_client: z.number().int()
    .openapi({ description: "Upcoming bookings one client may have here" }),
  active: z.boolean(),
  distance_km: z.number().nullable().optional().openapi({ description: "Only when searching near a point" }),
  created_at: z.string(),
  updated_at: z.string(),
}).openapi("Salon");

/** Shapes a salon row for the API. */
export function toSalon(row: SalonRow, distanceKm?: number | null): z.infer<typeof salonSchema> {
  return {
    id: row.id,
    owner_id: row.ownerId,
    name: row.name,
    description: row.description,
    tax_id: row.taxId,
    phone: row.phone,
    email: row.email,
    address: {
      line: row.addressLine,
      city: row.city,
      region: row.region,
      postal_code: row.postalCode,
      country_code: row.countryCode,
    },
    latitude: row.latitude,
    longitude: row.longitude,
    time_zone: row.timeZone,
    currency: row.currency,
    slot_step_minutes: row.slotStepMinutes,
    minimum_notice_minutes: row.minimumNoticeMinutes,
    booking_horizon_days: row.bookingHorizonDays,
    hold_minutes: row.holdMinutes,
    no_show_tolerance_minutes: row.noShowToleranceMinutes,
    reminder_hours: row.reminderHours,
    max_open_holds_per_client: row.maxOpenHoldsPerClient,
    max_future_bookings_per_client: row.maxFutureBookingsPerClient,
    active: row.active,
    ...(distanceKm !== undefined
      ? { distance_km: distanceKm === null ? null : Math.round(distanceKm * 1000) / 1000 }
      : {}),
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

type EditableBody = Partial<z.infer<typeof updateBody>>;

function toColumns(body: EditableBody): SalonChanges {
  const columns: SalonChanges = {};
  const set = <K extends keyof SalonChanges>(key: K, value: SalonChanges[K] | undefined) => {
    if (value !== undefined) columns[key] = value;
  };
  set("name", body.name);
  set("description", body.description);
  set("taxId", body.tax_id);
  set("phone", body.phone);
  set("email", body.email);
  set("addressLine", body.address?.line);
  set("city", body.address?.city);
  set("region", body.address?.region);
  set("postalCode", body.address?.postal_code);
  set("countryCode", body.address?.country_code);
  set("latitude", body.latitude);
  set("longitude", body.longitude);
  set("timeZone", body.time_zone);
  set("currency", body.currency);
  set("slotStepMinutes", body.slot_step_minutes);
  set("minimumNoticeMinutes", body.minimum_notice_minutes);
  set("bookingHorizonDays", body.booking_horizon_days);
  set("holdMinutes", body.hold_minutes);
  set("noShowToleranceMinutes", body.no_show_tolerance_minutes);
  set("reminderHours", body.reminder_hours);
  set("maxOpenHoldsPerClient", body.max_open_holds_per_client);
  set("maxFutureBookingsPerClient", body.max_future_bookings_per_client);
  set("active", body.active);
  return columns;
}

function taxIdTaken(error: unknown): ApiError | unknown {
  if (isUniqueViolation(error, "salons_tax_id_key")) {
    return new ApiError("conflict", "Another salon is registered with this tax id", {
      errors: [{ path: "tax_id", message: "is already registered" }],
    });
  }
  return error;
}

const nearSchema = z.string().transform((value, ctx) => {
  const match = /^(-?\d{1,2}(?:\.\d+)?),(-?\d{1,3}(?:\.\d+)?)$/.exec(value.replaceAll(" ", ""));
  const latitude = match ? Number(match[1]) : NaN;
  const longitude = match ? Number(match[2]) : NaN;
  if (!(Math.abs(latitude) <= 90 && Math.abs(longitude) <= 180)) {
    ctx.addIssue({ code: "custom", message: "must be latitude,longitude in degrees" });
    return z.NEVER;
  }
  return { latitude, longitude };
}).openapi({ type: "string", example: "-23.5614,-46.6559" });

const positionSchema = z.union([
  z.object({ name: z.string().max(200), id: z.uuid() }).strict(),
  z.object({ distance: z.number().min(0), id: z.uuid() }).strict(),
]);

const create = createRoute({
  method: "post",
  path: "/api/v1/salons",
  operationId: "createSalon",
  summary: "Open a salon (owners); you become its owner",
  tags,
  middleware: [requireUser] as const,
  request: { body: { required: true, ...json(createBody) } },
  responses: {
    201: { description: "Created; `Location` names it", ...json(salonSchema) },
    401: problem401,
    403: problem403,
    409: problem409,
    ...bodyErrorResponses,
  },
});

const list = createRoute({
  method: "get",
  path: "/api/v1/salons",
  operationId: "listSalons",
  summary: "Find active salons by text, service category, price and distance",
  tags,
  security: optionalBearer,
  middleware: [optionalUser] as const,
  request: {
    query: z.object({
      q: z.string().trim().min(1).max(100).optional()
        .openapi({ description: "Part of the name, the description or a service name" }),
      category: z.string().trim().min(1).max(60).optional().openapi({ description: "A service category" }),
      min_price: z.coerce.number().int().min(0).optional()
        .openapi({ description: "Some active service costs at least this (minor units)" }),
      max_price: z.coerce.number().int().min(0).optional()
        .openapi({ description: "Some active service costs at most this (minor units)" }),
      near: nearSchema.optional().openapi({ description: "`latitude,longitude`: order by distance from it" }),
      radius_km: z.coerce.number().positive().max(1000).default(25)
        .openapi({ description: "With `near`: how far to look" }),
      mine: booleanQuery.optional().openapi({ description: "Only your own salons, inactive ones included" }),
      ...pageQuery,
    }),
  },
  responses: {
    200: { description: "A page of salons", ...json(listSchema(salonSchema, "SalonList")) },
    401: problem401,
    403: problem403,
    ...errorResponses,
  },
});

const read = createRoute({
  method: "get",
  path: "/api/v1/salons/{id}",
  operationId: "getSalon",
  summary: "A salon (inactive ones only for their owner and admins)",
  tags,
  security: optionalBearer,
  middleware: [optionalUser] as const,
  request: { params: idParam },
  responses: { 200: { description: "The salon", ...json(salonSchema) }, 401: problem401, ...errorResponses },
});

const update = createRoute({
  method: "patch",
  path: "/api/v1/salons/{id}",
  operationId: "updateSalon",
  summary: "Edit or (de)activate your salon",
  tags,
  middleware: [requireUser] as const,
  request: { params: idParam, body: { required: true, ...json(updateBody) } },
  responses: {
    200: { description: "Updated", ...json(salonSchema) },
    401: problem401,
    403: problem403,
    409: problem409,
    ...bodyErrorResponses,
  },
});

/** Registers the salon routes. */
export function registerSalons(app: App): void {
  app.openapi(create, async (c) => {
    const auth = requirePermission(c, "salons:create");
    const body = c.req.valid("json");
    const { database } = c.var.services;
    let salon;
    try {
      salon = await insertSalon(
        database.db,
        { ...toColumns(body), ownerId: auth.userId } as Parameters<typeof insertSalon>[1],
        auditContext(c),
      );
    } catch (error) {
      throw taxIdTaken(error);
    }
    c.header("Location", `/api/v1/salons/${salon.id}`);
    return c.json(toSalon(salon), 201);
  });

  app.openapi(list, async (c) => {
    const query = c.req.valid("query");
    const auth = c.var.auth;
    if (query.mine) {
      if (!auth) throw unauthorized();
      requirePermission(c, "salons:manage:own");
    }
    if (query.min_price !== undefined && query.max_price !== undefined && query.min_price > query.max_price) {
      throw new ApiError("validation", "Invalid query: min_price", {
        errors: [{ path: "query.min_price", message: "must not be above max_price" }],
      });
    }
    const after = decodeCursor(query.cursor, positionSchema);
    if (after && ("distance" in after) !== (query.near !== undefined)) {
      throw new ApiError("validation", "Invalid query: cursor", {
        errors: [{ path: "query.cursor", message: "belongs to a list with other filters" }],
      });
    }
    const hits = await searchSalons(c.var.services.database.db, {
      q: query.q,
      category: query.category,
      minPrice: query.min_price,
      maxPrice: query.max_price,
      near: query.near ? { ...query.near, radiusKm: query.radius_km } : undefined,
      ownerId: query.mine ? auth!.userId : undefined,
    }, { limit: query.limit + 1, after });
    const page = hits.slice(0, query.limit);
    const next = hits.length > query.limit ? encodeCursor(page.at(-1)!.position) : null;
    return c.json({
      data: page.map((hit) => toSalon(hit.salon, query.near ? hit.distanceKm : undefined)),
      next_cursor: next,
    }, 200);
  });

  app.openapi(read, async (c) => {
    const { id } = c.req.valid("param");
    const salon = await findSalon(c.var.services.database.db, id);
    if (!salon || (!salon.active && !managesSalon(c.var.auth, salon))) throw notFound("salon");
    return c.json(toSalon(salon), 200);
  });

  app.openapi(update, async (c) => {
    const { id } = c.req.valid("param");
    const body = c.req.valid("json");
    const { database, now } = c.var.services;
    const salon = await managedSalon(c, database.db, id, "salons:manage:own");
    try {
      const row = await updateSalon(database.db, salon, toColumns(body), c.var.auth!.userId, {
        ...auditContext(c),
        now: now(),
      });
      return c.json(toSalon(row), 200);
    } catch (error) {
      throw taxIdTaken(error);
    }
  });
}
