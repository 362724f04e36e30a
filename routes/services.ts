/**
 * Services: a salon's owner (or an admin) creates and edits them with their variations and the
 * professionals who perform them; anyone finds and reads active ones. Nothing is deleted: services
 * and variations are deactivated, because bookings keep pointing at them.
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { Db } from "../db/client.ts";
import { depositKind } from "../db/schema.ts";
import {
  activeProfessionalsOf,
  findService,
  findVariation,
  insertService,
  insertVariation,
  replaceServiceProfessionals,
  searchServices,
  type ServiceChanges,
  type ServiceDetails,
  type ServiceRecord,
  updateService,
  updateVariation,
  type VariationChanges,
  type VariationRow,
  withDetails,
} from "../db/services.ts";
import type { App, AppEnv } from "./app.ts";
import { auditContext, json, optionalUser, problem401, requireUser, unauthorized } from "./auth.ts";
import {
  ApiError,
  bodyErrorResponses,
  errorResponses,
  type FieldError,
  notFound,
  problem403,
  problem409,
} from "./errors.ts";
import { isCheckViolation } from "../db/errors.ts";
import { managedSalon, managesSalon, requirePermission } from "./ownership.ts";
import { decodeCursor, encodeCursor, listSchema, pageQuery } from "./pagination.ts";
import { optionalBearer } from "./salons.ts";
import { booleanQuery, idParam, moneySchema } from "./schemas.ts";

const tags = ["Services"];

/** 100% in basis points. */
const WHOLE_PRICE_BASIS_POINTS = 10_000;

const depositSchema = z.object({
  kind: z.enum(depositKind.enumValues),
  value: z.number().int().min(0).max(1_000_000_000_00),
}).strict().openapi("ServiceDeposit", {
  description: "NONE: value 0. PERCENTAGE: basis points of the price (0..10000). FIXED: minor units, " +
    "not above the price.",
  example: { kind: "PERCENTAGE", value: 3000 },
});
type Deposit = z.infer<typeof depositSchema>;

/** Says what is wrong with a deposit for this price, or null when it fits. */
function depositProblem(deposit: Deposit, price: number): string | null {
  switch (deposit.kind) {
    case "NONE":
      return deposit.value === 0 ? null : "must be 0 when kind is NONE";
    case "PERCENTAGE":
      return deposit.value <= WHOLE_PRICE_BASIS_POINTS ? null : "must be basis points from 0 to 10000";
    case "FIXED":
      return deposit.value <= price ? null : `must not be above the price (${price})`;
  }
}

/** Professional ids, lower-cased so duplicates and lookups compare as Postgres does. */
const professionalIdsSchema = z.array(z.uuid().toLowerCase()).max(100).superRefine((ids, ctx) => {
  ids.forEach((id, index) => {
    if (ids.indexOf(id) !== index) ctx.addIssue({ code: "custom", path: [index], message: "is listed twice" });
  });
}).openapi({ description: "Active professionals of the service's salon" });

const variationFields = {
  name: z.string().trim().min(1).max(200),
  duration_minutes: z.number().int().min(5).max(1440),
  price_amount: moneySchema,
};

const variationCreateBody = z.object(variationFields).strict().openapi("ServiceVariationCreate");

const variationUpdateBody = z.object({
  name: variationFields.name.optional(),
  duration_minutes: variationFields.duration_minutes.optional(),
  price_amount: variationFields.price_amount.optional(),
  active: z.boolean().optional(),
}).strict().refine((body) => Object.keys(body).length > 0, { message: "must change at least one field" })
  .openapi("ServiceVariationUpdate");

const editableFields = {
  name: z.string().trim().min(1).max(200),
  description: z.string().trim().max(4000).nullable(),
  category: z.string().trim().min(1).max(60),
  duration_minutes: z.number().int().min(5).max(1440),
  price_amount: moneySchema,
  deposit: depositSchema,
  buffer_before_minutes: z.number().int().min(0).max(240),
  buffer_after_minutes: z.number().int().min(0).max(240),
};

const createBody = z.object({
  salon_id: z.uuid(),
  ...editableFields,
  description: editableFields.description.optional(),
  deposit: depositSchema.default({ kind: "NONE", value: 0 }),
  buffer_before_minutes: editableFields.buffer_before_minutes.default(0),
  buffer_after_minutes: editableFields.buffer_after_minutes.default(0),
  variations: z.array(variationCreateBody).max(20).optional(),
  professional_ids: professionalIdsSchema.optional(),
}).strict().superRefine((body, ctx) => {
  const problem = depositProblem(body.deposit, body.price_amount);
  if (problem) ctx.addIssue({ code: "custom", path: ["deposit", "value"], message: problem });
}).openapi("ServiceCreate", {
  description: "The currency is the salon's; without `deposit` no deposit is taken (NONE, 0)",
});

const updateBody = z.object({
  ...Object.fromEntries(Object.entries(editableFields).map(([key, schema]) => [key, schema.optional()])) as {
    [K in keyof typeof editableFields]: z.ZodOptional<typeof editableFields[K]>;
  },
  active: z.boolean().optional(),
}).strict().refine((body) => Object.keys(body).length > 0, { message: "must change at least one field" })
  .openapi("ServiceUpdate", { description: "The salon and the currency never change" });

const professionalsBody = z.object({ professional_ids: professionalIdsSchema }).strict()
  .openapi("ServiceProfessionals");

const priceSchema = z.object({ amount: z.number().int(), currency: z.string() }).openapi("ServicePrice", {
  example: { amount: 8000, currency: "BRL" },
});

const variationSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  duration_minutes: z.number().int(),
  price: priceSchema,
  active: z.boolean(),
}).openapi("ServiceVariation");

export const serviceSchema = z.object({
  id: z.uuid(),
  salon_id: z.uuid(),
  name: z.string(),
  description: z.string().nullable(),
  category: z.string(),
  duration_minutes: z.number().int(),
  price: priceSchema,
  deposit: z.object({ kind: z.enum(depositKind.enumValues), value: z.number().int() }),
  buffer_before_minutes: z.number().int(),
  buffer_after_minutes: z.number().int(),
  active: z.boolean(),
  variations: z.array(variationSchema)
    .openapi({ description: "Active ones; the salon's managers see inactive ones too" }),
  professional_ids: z.array(z.uuid()).openapi({ description: "Active professionals who perform it" }),
  created_at: z.string(),
  updated_at: z.string(),
}).openapi("Service");

function toVariation(row: VariationRow, currency: string): z.infer<typeof variationSchema> {
  return {
    id: row.id,
    name: row.name,
    duration_minutes: row.durationMinutes,
    price: { amount: row.priceAmount, currency },
    active: row.active,
  };
}

/** Shapes a service with its variations and professionals for the API. */
export function toService({ service, variations, professionalIds }: ServiceDetails): z.infer<typeof serviceSchema> {
  return {
    id: service.id,
    salon_id: service.salonId,
    name: service.name,
    description: service.description,
    category: service.category,
    duration_minutes: service.durationMinutes,
    price: { amount: service.priceAmount, currency: service.currency },
    deposit: { kind: service.depositKind, value: service.depositValue },
    buffer_before_minutes: service.bufferBeforeMinutes,
    buffer_after_minutes: service.bufferAfterMinutes,
    active: service.active,
    variations: variations.map((variation) => toVariation(variation, service.currency)),
    professional_ids: professionalIds,
    created_at: service.createdAt.toISOString(),
    updated_at: service.updatedAt.toISOString(),
  };
}

type EditableBody = Partial<z.infer<typeof updateBody>>;

function toColumns(body: EditableBody): ServiceChanges {
  const columns: ServiceChanges = {};
  const set = <K extends keyof ServiceChanges>(key: K, value: ServiceChanges[K] | undefined) => {
    if (value !== undefined) columns[key] = value;
  };
  set("name", body.name);
  set("description", body.description);
  set("category", body.category);
  set("durationMinutes", body.duration_minutes);
  set("priceAmount", body.price_amount);
  set("depositKind", body.deposit?.kind);
  set("depositValue", body.deposit?.value);
  set("bufferBeforeMinutes", body.buffer_before_minutes);
  set("bufferAfterMinutes", body.buffer_after_minutes);
  set("active", body.active);
  return columns;
}

function invalidBody(errors: FieldError[]): ApiError {
  return new ApiError("validation", `Invalid json: ${errors.map((e) => e.path).join(", ")}`, { errors });
}

/** Throws 400 naming each id that is not an active professional of the salon. */
async function requireActiveProfessionals(db: Db, salonId: string, ids: string[]): Promise<void> {
  const active = await activeProfessionalsOf(db, salonId, ids);
  const errors = ids.flatMap((id, index) =>
    active.has(id)
      ? []
      : [{ path: `professional_ids.${index}`, message: "is not an active professional of this salon" }]
  );
  if (errors.length > 0) throw invalidBody(errors);
}

/** Loads a service the caller manages; a service of someone else's salon is answered as not found. */
async function managedService(c: Context<AppEnv>, db: Db, id: string): Promise<ServiceRecord> {
  const auth = requirePermission(c, "services:manage");
  const record = await findService(db, id);
  if (!record || !managesSalon(auth, record.salon)) throw notFound("service");
  return record;
}

/** The service as its managers see it: inactive variations included. */
async function managerView(db: Db, record: Pick<ServiceRecord, "service">) {
  const [details] = await withDetails(db, [record.service], { inactiveVariations: true });
  return toService(details);
}

const positionSchema = z.object({ name: z.string().max(200), id: z.uuid() }).strict();
const serviceVariationParams = z.object({ id: z.uuid(), variationId: z.uuid() });

const create = createRoute({
  method: "post",
  path: "/api/v1/services",
  operationId: "createService",
  summary: "Add a service to your salon, with its variations and professionals",
  tags,
  middleware: [requireUser] as const,
  request: { body: { required: true, ...json(createBody) } },
  responses: {
    201: { description: "Created; `Location` names it", ...json(serviceSchema) },
    401: problem401,
    403: problem403,
    ...bodyErrorResponses,
  },
});

const list = createRoute({
  method: "get",
  path: "/api/v1/services",
  operationId: "listServices",
  summary: "Find active services by salon, category, text, price or professional",
  tags,
  security: optionalBearer,
  middleware: [optionalUser] as const,
  request: {
    query: z.object({
      salon_id: z.uuid().optional(),
      category: z.string().trim().min(1).max(60).optional().openapi({ description: "Any letter case" }),
      q: z.string().trim().min(1).max(100).optional().openapi({ description: "Part of the name or description" }),
      min_price: z.coerce.number().int().min(0).optional().openapi({ description: "Minor units" }),
      max_price: z.coerce.number().int().min(0).optional().openapi({ description: "Minor units" }),
      professional_id: z.uuid().optional().openapi({ description: "Only services this professional performs" }),
      include_inactive: booleanQuery.optional()
        .openapi({ description: "With `salon_id`, for the salon's managers: inactive services too" }),
      ...pageQuery,
    }),
  },
  responses: {
    200: { description: "A page of services", ...json(listSchema(serviceSchema, "ServiceList")) },
    401: problem401,
    403: problem403,
    ...errorResponses,
  },
});

const read = createRoute({
  method: "get",
  path: "/api/v1/services/{id}",
  operationId: "getService",
  summary: "A service (inactive ones only for its salon's managers)",
  tags,
  security: optionalBearer,
  middleware: [optionalUser] as const,
  request: { params: idParam },
  responses: { 200: { description: "The service", ...json(serviceSchema) }, 401: problem401, ...errorResponses },
});

const update = createRoute({
  method: "patch",
  path: "/api/v1/services/{id}",
  operationId: "updateService",
  summary: "Edit or (de)activate a service of your salon",
  tags,
  middleware: [requireUser] as const,
  request: { params: idParam, body: { required: true, ...json(updateBody) } },
  responses: {
    200: { description: "Updated", ...json(serviceSchema) },
    401: problem401,
    403: problem403,
    409: problem409,
    ...bodyErrorResponses,
  },
});

const createVariation = createRoute({
  method: "post",
  path: "/api/v1/services/{id}/variations",
  operationId: "createServiceVariation",
  summary: "Add a variation (another length or price) to a service of your salon",
  tags,
  middleware: [requireUser] as const,
  request: { params: idParam, body: { required: true, ...json(variationCreateBody) } },
  responses: {
    201: { description: "Created; `Location` names it", ...json(variationSchema) },
    401: problem401,
    403: problem403,
    ...bodyErrorResponses,
  },
});

const patchVariation = createRoute({
  method: "patch",
  path: "/api/v1/services/{id}/variations/{variationId}",
  operationId: "updateServiceVariation",
  summary: "Edit or (de)activate a variation of a service of your salon",
  tags,
  middleware: [requireUser] as const,
  request: { params: serviceVariationParams, body: { required: true, ...json(variationUpdateBody) } },
  responses: {
    200: { description: "Updated", ...json(variationSchema) },
    401: problem401,
    403: problem403,
    ...bodyErrorResponses,
  },
});

const setProfessionals = createRoute({
  method: "put",
  path: "/api/v1/services/{id}/professionals",
  operationId: "setServiceProfessionals",
  summary: "Replace the set of professionals who perform a service of your salon",
  tags,
  middleware: [requireUser] as const,
  request: { params: idParam, body: { required: true, ...json(professionalsBody) } },
  responses: {
    200: { description: "The service with its new professionals", ...json(serviceSchema) },
    401: problem401,
    403: problem403,
    ...bodyErrorResponses,
  },
});

/** Registers the service routes. */
export function registerServices(app: App): void {
  app.openapi(create, async (c) => {
    const body = c.req.valid("json");
    const db = c.var.services.database.db;
    const salon = await managedSalon(c, db, body.salon_id, "services:manage");
    const professionalIds = body.professional_ids ?? [];
    await requireActiveProfessionals(db, salon.id, professionalIds);
    const row = await insertService(
      db,
      {
        ...toColumns(body),
        name: body.name,
        category: body.category,
        durationMinutes: body.duration_minutes,
        priceAmount: body.price_amount,
        salonId: salon.id,
        currency: salon.currency,
      },
      {
        variations: (body.variations ?? []).map((variation) => ({
          name: variation.name,
          durationMinutes: variation.duration_minutes,
          priceAmount: variation.price_amount,
        })),
        professionalIds,
      },
      c.var.auth!.userId,
      auditContext(c),
    );
    c.header("Location", `/api/v1/services/${row.id}`);
    return c.json(await managerView(db, { service: row }), 201);
  });

  app.openapi(list, async (c) => {
    const query = c.req.valid("query");
    const db = c.var.services.database.db;
    if (query.include_inactive) {
      if (!c.var.auth) throw unauthorized();
      requirePermission(c, "services:manage");
      if (!query.salon_id) {
        throw new ApiError("validation", "Invalid query: include_inactive needs salon_id", {
          errors: [{ path: "query.salon_id", message: "is required with include_inactive" }],
        });
      }
      await managedSalon(c, db, query.salon_id, "services:manage");
    }
    if (query.min_price !== undefined && query.max_price !== undefined && query.min_price > query.max_price) {
      throw new ApiError("validation", "Invalid query: min_price", {
        errors: [{ path: "query.min_price", message: "must not be above max_price" }],
      });
    }
    const after = decodeCursor(query.cursor, positionSchema);
    const rows = await searchServices(db, {
      salonId: query.salon_id,
      category: query.category,
      q: query.q,
      minPrice: query.min_price,
      maxPrice: query.max_price,
      professionalId: query.professional_id,
      includeInactive: query.include_inactive,
    }, { limit: query.limit + 1, after });
    const page = rows.slice(0, query.limit);
    const last = page.at(-1);
    const next = rows.length > query.limit && last ? encodeCursor({ name: last.name, id: last.id }) : null;
    const details = await withDetails(db, page, { inactiveVariations: query.include_inactive === true });
    return c.json({ data: details.map(toService), next_cursor: next }, 200);
  });

  app.openapi(read, async (c) => {
    const { id } = c.req.valid("param");
    const db = c.var.services.database.db;
    const record = await findService(db, id);
    const manager = record !== undefined && managesSalon(c.var.auth, record.salon);
    if (!record || (!manager && !(record.service.active && record.salon.active))) throw notFound("service");
    const [details] = await withDetails(db, [record.service], { inactiveVariations: manager });
    return c.json(toService(details), 200);
  });

  app.openapi(update, async (c) => {
    const { id } = c.req.valid("param");
    const body = c.req.valid("json");
    const { database, now } = c.var.services;
    const { service } = await managedService(c, database.db, id);
    const price = body.price_amount ?? service.priceAmount;
    const deposit = body.deposit ?? { kind: service.depositKind, value: service.depositValue };
    const problem = depositProblem(deposit, price);
    if (problem) {
      // Naming the field the caller sent: a new price can undercut the fixed deposit already set.
      throw invalidBody([
        body.deposit
          ? { path: "deposit.value", message: problem }
          : { path: "price_amount", message: `must not be below the fixed deposit (${deposit.value})` },
      ]);
    }
    let row;
    try {
      row = await updateService(database.db, service, toColumns(body), c.var.auth!.userId, {
        ...auditContext(c),
        now: now(),
      });
    } catch (error) {
      // Another edit changed the price or deposit between the check above and this write.
      if (isCheckViolation(error, "services_deposit_rule")) {
        throw new ApiError("conflict", "The service changed meanwhile: read it again and retry");
      }
      throw error;
    }
    return c.json(await managerView(database.db, { service: row }), 200);
  });

  app.openapi(createVariation, async (c) => {
    const { id } = c.req.valid("param");
    const body = c.req.valid("json");
    const db = c.var.services.database.db;
    const { service } = await managedService(c, db, id);
    const row = await insertVariation(
      db,
      service,
      {
        name: body.name,
        durationMinutes: body.duration_minutes,
        priceAmount: body.price_amount,
      },
      c.var.auth!.userId,
      auditContext(c),
    );
    c.header("Location", `/api/v1/services/${service.id}/variations/${row.id}`);
    return c.json(toVariation(row, service.currency), 201);
  });

  app.openapi(patchVariation, async (c) => {
    const { id, variationId } = c.req.valid("param");
    const body = c.req.valid("json");
    const { database, now } = c.var.services;
    const { service } = await managedService(c, database.db, id);
    const variation = await findVariation(database.db, service.id, variationId);
    if (!variation) throw notFound("variation");
    const changes: VariationChanges = {
      ...(body.name !== undefined ? { name: body.name } : {}),
      ...(body.duration_minutes !== undefined ? { durationMinutes: body.duration_minutes } : {}),
      ...(body.price_amount !== undefined ? { priceAmount: body.price_amount } : {}),
      ...(body.active !== undefined ? { active: body.active } : {}),
    };
    const row = await updateVariation(database.db, variation, changes, c.var.auth!.userId, {
      ...auditContext(c),
      now: now(),
    });
    return c.json(toVariation(row, service.currency), 200);
  });

  app.openapi(setProfessionals, async (c) => {
    const { id } = c.req.valid("param");
    const body = c.req.valid("json");
    const db = c.var.services.database.db;
    const { service } = await managedService(c, db, id);
    await requireActiveProfessionals(db, service.salonId, body.professional_ids);
    await replaceServiceProfessionals(db, service, body.professional_ids, c.var.auth!.userId, auditContext(c));
    return c.json(await managerView(db, { service }), 200);
  });
}
