/**
 * Cancellation policies: a salon's owner (or an admin) writes tiers of fees by hours before the
 * start; anyone reads the active ones. A salon has one active policy, which bookings copy into their
 * `policySnapshot` when they are made: editing a policy never changes an existing booking's terms.
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { Db } from "../db/client.ts";
import {
  findPolicy,
  insertPolicy,
  listPolicies,
  type PolicyRecord,
  type PolicyRow,
  ruleOf,
  type TierFields,
  type TierRow,
  updatePolicy,
} from "../db/policies.ts";
import { transition } from "../domain/bookings.ts";
import { quoteCancellation, RESCHEDULE_RULES, tierProblems } from "../domain/cancellation.ts";
import { isUniqueViolation } from "../db/errors.ts";
import { findBooking, paidOf } from "../db/bookings.ts";
import type { App, AppEnv } from "./app.ts";
import { auditContext, json, optionalUser, problem401, requireUser, unauthorized } from "./auth.ts";
import { ApiError, bodyErrorResponses, errorResponses, notFound, problem403, problem409 } from "./errors.ts";
import { managedSalon, managesSalon, requirePermission, seesBooking } from "./ownership.ts";
import { decodeCursor, encodeCursor, listSchema, pageQuery } from "./pagination.ts";
import { optionalBearer } from "./salons.ts";
import { booleanQuery, idParam, moneySchema } from "./schemas.ts";

const tags = ["Cancellation policies"];

/** Tier edges beyond the longest booking horizon (730 days) could never apply. */
const MAX_HOURS_BEFORE = 730 * 24;

const tierBody = z.object({
  hours_before_min: z.number().int().min(0).max(MAX_HOURS_BEFORE)
    .openapi({ description: "The tier applies from this many hours before the start…", example: 24 }),
  hours_before_max: z.number().int().min(1).max(MAX_HOURS_BEFORE).nullable()
    .openapi({ description: "…up to (not including) this many; null on the last tier: no upper bound", example: 48 }),
  fee_percent: z.number().min(0).max(100).multipleOf(0.01)
    .openapi({ description: "Share of the price charged, in percent with up to two decimals", example: 50 }),
  fee_fixed_amount: moneySchema.default(0)
    .openapi({ description: "Charged on top of the share, in minor units; the fee never exceeds the price" }),
}).strict().openapi("CancellationPolicyTierInput");

const tiersBody = z.array(tierBody).min(1).max(10).openapi({
  description: "Must cover every moment before the start exactly once: sorted by `hours_before_min`, the first " +
    "starts at 0, each next starts where the previous ends, and only the last is open-ended (max null). " +
    "Any order is accepted; problems name the tier by its position in this list.",
});

const rescheduleRule = z.enum(RESCHEDULE_RULES).openapi({
  description: "What a client's reschedule does while a tier with a fee applies: CHARGE carries that fee onto the " +
    "booking (cancelling later costs at least it, whatever the new time), REFUSE refuses the move. The salon's own " +
    "reschedules are always free. A client can never reschedule at or after the start.",
  example: "CHARGE",
});

const createBody = z.object({
  salon_id: z.uuid(),
  name: z.string().trim().min(1).max(200),
  tiers: tiersBody,
  reschedule_in_fee_window: rescheduleRule.default("CHARGE"),
  active: z.boolean().default(true)
    .openapi({ description: "An active policy replaces the salon's active one (a salon has one active policy)" }),
}).strict().openapi("CancellationPolicyCreate");

const updateBody = z.object({
  name: createBody.shape.name.optional(),
  active: z.boolean().optional()
    .openapi({ description: "Activating it deactivates the salon's other active policy" }),
  tiers: tiersBody.optional().openapi({ description: "Replaces every tier" }),
  reschedule_in_fee_window: rescheduleRule.optional(),
}).strict().refine((body) => Object.keys(body).length > 0, { message: "must change at least one field" })
  .openapi("CancellationPolicyUpdate", {
    description: "Existing bookings keep the terms they were made under: they carry a copy of the policy",
  });

const tierSchema = z.object({
  hours_before_min: z.number().int(),
  hours_before_max: z.number().int().nullable(),
  fee_percent: z.number(),
  fee_fixed_amount: z.number().int(),
}).openapi("CancellationPolicyTier");

const policySchema = z.object({
  id: z.uuid(),
  salon_id: z.uuid(),
  name: z.string(),
  active: z.boolean(),
  currency: z.string().openapi({ description: "The salon's: fixed fees are minor units of it" }),
  tiers: z.array(tierSchema).openapi({ description: "By hours before the start, nearest first" }),
  reschedule_in_fee_window: z.enum(RESCHEDULE_RULES),
  created_at: z.string(),
  updated_at: z.string(),
}).openapi("CancellationPolicy");

const amountSchema = z.object({ amount: z.number().int(), currency: z.string() }).openapi("CancellationAmount", {
  example: { amount: 4000, currency: "BRL" },
});

const quoteSchema = z.object({
  booking_id: z.uuid(),
  policy_id: z.uuid().nullable()
    .openapi({ description: "The policy the booking was made under; null: none, so cancelling costs nothing" }),
  hours_before: z.number().openapi({ description: "Hours left until the start, rounded down to hundredths" }),
  allowed: z.boolean(),
  reason: z.string().optional().openapi({ description: "Why the client cannot cancel now" }),
  fee: amountSchema.openapi({ description: "The tier's fee now, but at least the carried fee; at most the price" }),
  refund: amountSchema,
  carried_fee: amountSchema.openapi({
    description: "The least cancelling costs, carried by the client's reschedules inside a fee tier",
  }),
  tier_index: z.number().int().nullable()
    .openapi({ description: "The tier that applies, by position in the booking's copy of the policy" }),
}).openapi("CancellationQuote");

/** The copy of a policy a booking keeps, in `bookings.policySnapshot`; null there means no policy. */
export const policySnapshotSchema = z.object({
  policy_id: z.uuid(),
  name: z.string(),
  tiers: z.array(z.object({
    hoursBeforeMin: z.number().int(),
    hoursBeforeMax: z.number().int().nullable(),
    feeBasisPoints: z.number().int(),
    feeFixedAmount: z.number().int(),
  })),
  /** Copies made before the rule existed have none: they mean CHARGE. */
  reschedule_in_fee_window: z.enum(RESCHEDULE_RULES).optional(),
});
export type PolicySnapshot = z.infer<typeof policySnapshotSchema>;

function toTier(row: TierRow): z.infer<typeof tierSchema> {
  return {
    hours_before_min: row.hoursBeforeMin,
    hours_before_max: row.hoursBeforeMax,
    fee_percent: row.feeBasisPoints / 100,
    fee_fixed_amount: row.feeFixedAmount,
  };
}

function toPolicy(policy: PolicyRow, tiers: TierRow[], currency: string): z.infer<typeof policySchema> {
  return {
    id: policy.id,
    salon_id: policy.salonId,
    name: policy.name,
    active: policy.active,
    currency,
    tiers: tiers.map(toTier),
    reschedule_in_fee_window: ruleOf(policy.rescheduleInFeeWindow),
    created_at: policy.createdAt.toISOString(),
    updated_at: policy.updatedAt.toISOString(),
  };
}

function toTierFields(tier: z.infer<typeof tierBody>): TierFields {
  return {
    hoursBeforeMin: tier.hours_before_min,
    hoursBeforeMax: tier.hours_before_max,
    // Rounding only removes float noise: the schema allows at most two decimals.
    feeBasisPoints: Math.round(tier.fee_percent * 100),
    feeFixedAmount: tier.fee_fixed_amount,
  };
}

/** Checks that the tiers cover every moment before the start once; 400 naming each offending tier. */
function validTiers(tiers: z.infer<typeof tierBody>[]): TierFields[] {
  const fields = tiers.map(toTierFields);
  const problems = tierProblems(fields);
  if (problems.length > 0) {
    const errors = problems.map((problem) => ({ path: problem.path, message: problem.message }));
    throw new ApiError("validation", `Invalid json: ${errors.map((e) => e.path).join(", ")}`, { errors });
  }
  return fields;
}

/** Loads a policy the caller manages; a policy of someone else's salon is answered as not found. */
async function managedPolicy(c: Context<AppEnv>, db: Db, id: string): Promise<PolicyRecord> {
  const auth = requirePermission(c, "policies:manage");
  const record = await findPolicy(db, id);
  if (!record || !managesSalon(auth, record.salon)) throw notFound("cancellation policy");
  return record;
}

const positionSchema = z.object({ name: z.string().max(200), id: z.uuid() }).strict();

const create = createRoute({
  method: "post",
  path: "/api/v1/cancellation-policies",
  operationId: "createCancellationPolicy",
  summary: "Add a cancellation policy to your salon; an active one replaces the salon's active policy",
  description: "A salon has one active policy: creating an active policy deactivates the salon's other active " +
    "policies in the same change. Bookings copy the active policy when they are made.",
  tags,
  middleware: [requireUser] as const,
  request: { body: { required: true, ...json(createBody) } },
  responses: {
    201: { description: "Created; `Location` names it", ...json(policySchema) },
    401: problem401,
    403: problem403,
    409: problem409,
    ...bodyErrorResponses,
  },
});

const list = createRoute({
  method: "get",
  path: "/api/v1/cancellation-policies",
  operationId: "listCancellationPolicies",
  summary: "A salon's active cancellation policy (its managers may ask for inactive ones too)",
  tags,
  security: optionalBearer,
  middleware: [optionalUser] as const,
  request: {
    query: z.object({
      salon_id: z.uuid(),
      include_inactive: booleanQuery.optional()
        .openapi({ description: "For the salon's managers: inactive policies too" }),
      ...pageQuery,
    }),
  },
  responses: {
    200: { description: "A page of policies", ...json(listSchema(policySchema, "CancellationPolicyList")) },
    401: problem401,
    403: problem403,
    ...errorResponses,
  },
});

const read = createRoute({
  method: "get",
  path: "/api/v1/cancellation-policies/{id}",
  operationId: "getCancellationPolicy",
  summary: "A cancellation policy (inactive ones only for its salon's managers)",
  tags,
  security: optionalBearer,
  middleware: [optionalUser] as const,
  request: { params: idParam },
  responses: { 200: { description: "The policy", ...json(policySchema) }, 401: problem401, ...errorResponses },
});

const update = createRoute({
  method: "patch",
  path: "/api/v1/cancellation-policies/{id}",
  operationId: "updateCancellationPolicy",
  summary: "Rename, (de)activate or replace the tiers of a policy of your salon",
  description: "Existing bookings are unaffected: each keeps the copy of the policy it was made under.",
  tags,
  middleware: [requireUser] as const,
  request: { params: idParam, body: { required: true, ...json(updateBody) } },
  responses: {
    200: { description: "Updated", ...json(policySchema) },
    401: problem401,
    403: problem403,
    409: problem409,
    ...bodyErrorResponses,
  },
});

const quote = createRoute({
  method: "get",
  path: "/api/v1/cancellation-policies/{id}/quote",
  operationId: "quoteCancellation",
  summary: "What cancelling a booking now would cost its client",
  description: "Uses the copy of the policy the booking was made under, never the policy as edited since; " +
    "`{id}` is a policy of the booking's salon or the one the booking was made under. The fee is at least what " +
    "the client's reschedules inside a fee tier carried (`carried_fee`); the refund is what was paid and not yet " +
    "given back, minus the fee, as cancelling would do. For the booking's client, its professional, the salon's " +
    "managers and admins; the booking is not found for anyone else.",
  tags,
  middleware: [requireUser] as const,
  request: { params: idParam, query: z.object({ booking: z.uuid().openapi({ description: "The booking" }) }) },
  responses: {
    200: { description: "The fee and refund if the client cancelled now", ...json(quoteSchema) },
    401: problem401,
    ...errorResponses,
  },
});

/** Two activations in one salon at the same moment: the database keeps one, the other gets 409. */
async function oneActiveAtATime<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (isUniqueViolation(error, "cancellation_policies_one_active_key")) {
      throw new ApiError("conflict", "Another policy of this salon was activated at the same moment: read and retry");
    }
    throw error;
  }
}

/** Registers the cancellation policy routes. */
export function registerCancellationPolicies(app: App): void {
  app.openapi(create, async (c) => {
    const body = c.req.valid("json");
    const { database, now } = c.var.services;
    const salon = await managedSalon(c, database.db, body.salon_id, "policies:manage");
    const tiers = validTiers(body.tiers);
    const created = await oneActiveAtATime(() =>
      insertPolicy(
        database.db,
        {
          salonId: salon.id,
          name: body.name,
          active: body.active,
          rescheduleInFeeWindow: body.reschedule_in_fee_window,
        },
        tiers,
        c.var.auth!.userId,
        { ...auditContext(c), now: now() },
      )
    );
    c.header("Location", `/api/v1/cancellation-policies/${created.policy.id}`);
    return c.json(toPolicy(created.policy, created.tiers, salon.currency), 201);
  });

  app.openapi(list, async (c) => {
    const query = c.req.valid("query");
    const db = c.var.services.database.db;
    if (query.include_inactive) {
      if (!c.var.auth) throw unauthorized();
      await managedSalon(c, db, query.salon_id, "policies:manage");
    }
    const after = decodeCursor(query.cursor, positionSchema);
    const rows = await listPolicies(db, { salonId: query.salon_id, includeInactive: query.include_inactive === true }, {
      limit: query.limit + 1,
      after,
    });
    const page = rows.slice(0, query.limit);
    const last = page.at(-1);
    const next = rows.length > query.limit && last
      ? encodeCursor({ name: last.policy.name, id: last.policy.id })
      : null;
    return c.json({
      data: page.map((row) => toPolicy(row.policy, row.tiers, row.currency)),
      next_cursor: next,
    }, 200);
  });

  app.openapi(read, async (c) => {
    const { id } = c.req.valid("param");
    const record = await findPolicy(c.var.services.database.db, id);
    const visible = record !== undefined &&
      ((record.policy.active && record.salon.active) || managesSalon(c.var.auth, record.salon));
    if (!visible) throw notFound("cancellation policy");
    return c.json(toPolicy(record.policy, record.tiers, record.salon.currency), 200);
  });

  app.openapi(update, async (c) => {
    const { id } = c.req.valid("param");
    const body = c.req.valid("json");
    const { database, now } = c.var.services;
    const record = await managedPolicy(c, database.db, id);
    const tiers = body.tiers ? validTiers(body.tiers) : undefined;
    const updated = await oneActiveAtATime(() =>
      updatePolicy(
        database.db,
        record.policy,
        {
          ...(body.name !== undefined ? { name: body.name } : {}),
          ...(body.active !== undefined ? { active: body.active } : {}),
          ...(tiers ? { tiers } : {}),
          ...(body.reschedule_in_fee_window !== undefined
            ? { rescheduleInFeeWindow: body.reschedule_in_fee_window }
            : {}),
        },
        c.var.auth!.userId,
        { ...auditContext(c), now: now() },
      )
    );
    return c.json(toPolicy(updated.policy, updated.tiers, record.salon.currency), 200);
  });

  app.openapi(quote, async (c) => {
    const { id } = c.req.valid("param");
    const { booking: bookingId } = c.req.valid("query");
    const { database, now } = c.var.services;
    const parties = await findBooking(database.db, bookingId);
    if (!parties || !seesBooking(c.var.auth, parties)) throw notFound("booking");
    const { booking } = parties;
    const snapshot = booking.policySnapshot === null ? null : policySnapshotSchema.parse(booking.policySnapshot);
    const record = await findPolicy(database.db, id);
    if (!record || (record.policy.salonId !== booking.salonId && record.policy.id !== snapshot?.policy_id)) {
      throw notFound("cancellation policy");
    }
    const at = now().getTime();
    const startsAt = booking.startsAt.getTime();
    const cancel = transition(booking.status, "cancel");
    const result = cancel.ok
      ? quoteCancellation({
        tiers: snapshot?.tiers ?? null,
        price: booking.priceAmount,
        // What cancelling would refund from: the captured deposit not yet given back.
        paid: (await paidOf(database.db, booking.id)).paid,
        startsAt,
        now: at,
        by: "CLIENT",
        carriedFee: booking.carriedFeeAmount,
      })
      : {
        allowed: false,
        reason: cancel.reason,
        tierIndex: null,
        fee: 0,
        refund: 0,
      };
    const money = (amount: number) => ({ amount, currency: booking.currency });
    return c.json({
      booking_id: booking.id,
      policy_id: snapshot?.policy_id ?? null,
      // Hundredths of an hour, rounded down from milliseconds: never on the wrong side of a whole-hour tier edge.
      hours_before: Math.floor((startsAt - at) / 36_000) / 100,
      allowed: result.allowed,
      ...(result.reason !== undefined ? { reason: result.reason } : {}),
      fee: money(result.fee),
      refund: money(result.refund),
      carried_fee: money(booking.carriedFeeAmount),
      tier_index: result.tierIndex,
    }, 200);
  });
}
