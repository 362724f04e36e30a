/**
 * Overbooking rules: a salon's owner lets a taken time range hold a few extra bookings, salon-wide
 * or for one professional (which then replaces the salon's rule for them). See domain/overbooking.ts.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { listRules, type OverbookingRow, upsertRule } from "../db/overbooking.ts";
import { findProfessional } from "../db/professionals.ts";
import type { App } from "./app.ts";
import { auditContext, json, problem401, requireUser } from "./auth.ts";
import { bodyErrorResponses, errorResponses, notFound, problem403 } from "./errors.ts";
import { managedSalon, managesSalon, requirePermission } from "./ownership.ts";

const tags = ["Overbooking"];

const ruleBody = z.object({
  max_overbooking_percent: z.number().int().min(0).max(1000).openapi({
    description:
      "Extra bookings per time range, as a percentage of its capacity (a professional: 1; a salon: its active professionals), rounded down",
    example: 100,
  }),
  auto_accept: z.boolean().default(false).openapi({
    description: "Otherwise an overbooked booking waits for approval",
  }),
  vip_priority: z.boolean().default(false).openapi({
    description: "Only returning clients (a completed booking at the salon) may take an extra place",
  }),
  active: z.boolean().default(true),
}).strict().openapi("OverbookingRuleSet");

const ruleSchema = z.object({
  id: z.uuid(),
  salon_id: z.uuid(),
  professional_id: z.uuid().nullable(),
  max_overbooking_percent: z.number().int(),
  auto_accept: z.boolean(),
  vip_priority: z.boolean(),
  active: z.boolean(),
  updated_at: z.string(),
}).openapi("OverbookingRule");

function toRule(row: OverbookingRow): z.infer<typeof ruleSchema> {
  return {
    id: row.id,
    salon_id: row.salonId,
    professional_id: row.professionalId,
    max_overbooking_percent: row.maxOverbookingPercent,
    auto_accept: row.autoAccept,
    vip_priority: row.vipPriority,
    active: row.active,
    updated_at: row.updatedAt.toISOString(),
  };
}

const writeResponses = { 401: problem401, 403: problem403, ...bodyErrorResponses };

const listRoute = createRoute({
  method: "get",
  path: "/api/v1/overbooking",
  operationId: "listOverbookingRules",
  summary: "A salon's overbooking rules (its managers)",
  tags,
  middleware: [requireUser] as const,
  request: { query: z.object({ salon_id: z.uuid() }) },
  responses: {
    200: { description: "The rules, the salon's first", ...json(z.object({ data: z.array(ruleSchema) })) },
    401: problem401,
    403: problem403,
    ...errorResponses,
  },
});

const salonRoute = createRoute({
  method: "put",
  path: "/api/v1/overbooking/salons/{id}",
  operationId: "setSalonOverbooking",
  summary: "Set the salon-wide overbooking rule",
  tags,
  middleware: [requireUser] as const,
  request: { params: z.object({ id: z.uuid() }), body: { required: true, ...json(ruleBody) } },
  responses: { 200: { description: "The rule", ...json(ruleSchema) }, ...writeResponses },
});

const professionalRoute = createRoute({
  method: "put",
  path: "/api/v1/overbooking/professionals/{id}",
  operationId: "setProfessionalOverbooking",
  summary: "Set one professional's overbooking rule (replaces the salon's for them)",
  tags,
  middleware: [requireUser] as const,
  request: { params: z.object({ id: z.uuid() }), body: { required: true, ...json(ruleBody) } },
  responses: { 200: { description: "The rule", ...json(ruleSchema) }, ...writeResponses },
});

/** Registers the overbooking routes. */
export function registerOverbooking(app: App): void {
  app.openapi(listRoute, async (c) => {
    const db = c.var.services.database.db;
    const salon = await managedSalon(c, db, c.req.valid("query").salon_id, "policies:manage");
    return c.json({ data: (await listRules(db, salon.id)).map(toRule) }, 200);
  });

  app.openapi(salonRoute, async (c) => {
    const db = c.var.services.database.db;
    const salon = await managedSalon(c, db, c.req.valid("param").id, "policies:manage");
    const body = c.req.valid("json");
    const row = await upsertRule(
      db,
      {
        salonId: salon.id,
        professionalId: null,
        maxOverbookingPercent: body.max_overbooking_percent,
        autoAccept: body.auto_accept,
        vipPriority: body.vip_priority,
        active: body.active,
      },
      c.var.auth!.userId,
      { ...auditContext(c), now: c.var.services.now() },
    );
    return c.json(toRule(row), 200);
  });

  app.openapi(professionalRoute, async (c) => {
    const auth = requirePermission(c, "policies:manage");
    const db = c.var.services.database.db;
    const record = await findProfessional(db, c.req.valid("param").id);
    if (!record || !managesSalon(auth, record.salon)) throw notFound("professional");
    const body = c.req.valid("json");
    const row = await upsertRule(
      db,
      {
        salonId: record.salon.id,
        professionalId: record.professional.id,
        maxOverbookingPercent: body.max_overbooking_percent,
        autoAccept: body.auto_accept,
        vipPriority: body.vip_priority,
        active: body.active,
      },
      auth.userId,
      { ...auditContext(c), now: c.var.services.now() },
    );
    return c.json(toRule(row), 200);
  });
}
