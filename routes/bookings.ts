/**
 * Bookings: create on a slot the engine offers (idempotently, within the client's booking limits),
 * read within your scope, and move through the lifecycle in domain/bookings.ts: cancel (with the
 * policy's fee), no-show, complete, reschedule (a client's move inside a fee tier carries that fee, or
 * is refused, as the policy says). The database refuses double bookings by itself (exclusion
 * constraint) and counts a client's bookings under a lock on the client.
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import {
  type BookingRecord,
  type BookingRow,
  clientCounts,
  type DepositRecord,
  findBooking,
  insertBooking,
  type LimitedInsert,
  listBookings,
  paidOf,
  positionOf,
  transitionBooking,
} from "../db/bookings.ts";
import { pgErrorOf } from "../db/errors.ts";
import { logPayment } from "../db/payments.ts";
import { PaymentProviderError } from "../adapters/payments.ts";
import { findSalon, type SalonRow } from "../db/salons.ts";
import { requestRefund } from "../jobs/handlers.ts";
import { applicableRule, insertOverbooked, isReturningClient } from "../db/overbooking.ts";
import { loadOffer, type Offer } from "../db/scheduling.ts";
import { overbookingDecision } from "../domain/overbooking.ts";
import { can } from "../domain/access.ts";
import {
  BOOKING_STATUSES,
  type BookingEvent,
  checkInProblem,
  initialStatus,
  timingProblem,
  transition,
} from "../domain/bookings.ts";
import { decideReschedule, quoteCancellation, RESCHEDULE_RULES } from "../domain/cancellation.ts";
import { applicableLimits, bookingLimitHit, type BookingLimits } from "../domain/booking_limits.ts";
import { depositFor, shareOf } from "../domain/pricing.ts";
import type { App, AppEnv } from "./app.ts";
import { auditContext, json, problem401, requireUser } from "./auth.ts";
import { type PolicySnapshot } from "./cancellation_policies.ts";
import { loadActivePolicyTiers } from "../db/policies.ts";
import { ApiError, bodyErrorResponses, errorResponses, notFound, problem403, problem409 } from "./errors.ts";
import { idempotencyHeaders, idempotent } from "./idempotency.ts";
import { seesBooking } from "./ownership.ts";
import { decodeCursor, encodeCursor, listSchema, pageQuery } from "./pagination.ts";
import { searchSlots } from "./scheduling.ts";
import { idParam, instantSchema } from "./schemas.ts";

const tags = ["Bookings"];
const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;

const money = z.object({ amount: z.number().int(), currency: z.string() });

export const bookingSchema = z.object({
  id: z.uuid(),
  status: z.enum(BOOKING_STATUSES),
  salon_id: z.uuid(),
  client_id: z.uuid(),
  professional_id: z.uuid(),
  service_id: z.uuid(),
  variation_id: z.uuid().nullable(),
  starts_at: z.string(),
  ends_at: z.string(),
  hold_expires_at: z.string().nullable().openapi({ description: "PENDING only: the slot is held until then" }),
  price: money,
  deposit: money,
  fee: money.openapi({ description: "Cancellation fee charged, if any" }),
  carried_fee: money.openapi({
    description: "The least a client's cancellation costs from now on: the fee of the tier a client's reschedule " +
      "happened in (the highest of them), at most the price",
  }),
  policy: z.object({
    policy_id: z.uuid(),
    name: z.string(),
    tiers: z.array(z.object({
      hours_before_min: z.number(),
      hours_before_max: z.number().nullable(),
      fee_basis_points: z.number().int(),
      fee_fixed_amount: z.number().int(),
    })),
    reschedule_in_fee_window: z.enum(RESCHEDULE_RULES).openapi({
      description: "What a client's reschedule does while a fee applies: CHARGE carries the fee, REFUSE refuses",
    }),
  }).nullable().openapi({ description: "The cancellation policy as it was when booked" }),
  notes: z.string().nullable(),
  overbooked: z.boolean().openapi({
    description: "Beyond the time range's capacity, under the salon's overbooking rule",
  }),
  approval_required: z.boolean().openapi({ description: "Overbooked and waiting for the salon's approval" }),
  checked_in_at: z.string().nullable().openapi({ description: "When the client arrived" }),
  cancelled_at: z.string().nullable(),
  cancelled_by: z.enum(["CLIENT", "SALON", "SYSTEM"]).nullable(),
  cancellation_reason: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
  payment: z.object({
    id: z.uuid(),
    provider: z.enum(["stripe", "mock"]),
    client_secret: z.string().nullable().openapi({ description: "For the payment form (Stripe.js, or the mock)" }),
    amount: money,
  }).optional().openapi({ description: "On creation, when a deposit is due: how to pay it" }),
}).openapi("Booking");

const iso = (d: Date | null) => d?.toISOString() ?? null;

/** The copy's reschedule rule; copies made before the rule existed mean CHARGE. */
function rescheduleRuleOf(snapshot: PolicySnapshot | null) {
  return snapshot?.reschedule_in_fee_window ?? "CHARGE";
}

export function toBooking(row: BookingRow): z.infer<typeof bookingSchema> {
  const snapshot = row.policySnapshot as PolicySnapshot | null;
  return {
    id: row.id,
    status: row.status,
    salon_id: row.salonId,
    client_id: row.clientId,
    professional_id: row.professionalId,
    service_id: row.serviceId,
    variation_id: row.variationId,
    starts_at: row.startsAt.toISOString(),
    ends_at: row.endsAt.toISOString(),
    hold_expires_at: row.status === "PENDING" ? iso(row.holdExpiresAt) : null,
    price: { amount: row.priceAmount, currency: row.currency },
    deposit: { amount: row.depositAmount, currency: row.currency },
    fee: { amount: row.feeAmount, currency: row.currency },
    carried_fee: { amount: row.carriedFeeAmount, currency: row.currency },
    policy: snapshot
      ? {
        policy_id: snapshot.policy_id,
        name: snapshot.name,
        tiers: snapshot.tiers.map((t) => ({
          hours_before_min: t.hoursBeforeMin,
          hours_before_max: t.hoursBeforeMax,
          fee_basis_points: t.feeBasisPoints,
          fee_fixed_amount: t.feeFixedAmount,
        })),
        reschedule_in_fee_window: rescheduleRuleOf(snapshot),
      }
      : null,
    notes: row.notes,
    overbooked: row.overbooked,
    approval_required: row.approvalRequired,
    checked_in_at: iso(row.checkedInAt),
    cancelled_at: iso(row.cancelledAt),
    cancelled_by: row.cancelledBy,
    cancellation_reason: row.cancellationReason,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

const createBody = z.object({
  service_id: z.uuid(),
  variation_id: z.uuid().optional(),
  professional_id: z.uuid().optional().openapi({ description: "Leave out for any professional who performs it" }),
  starts_at: instantSchema,
  notes: z.string().trim().max(1000).optional(),
}).strict().openapi("BookingCreate");

const cancelBody = z.object({ reason: z.string().trim().max(500).optional() }).strict().openapi("BookingCancel");
const rescheduleBody = z.object({
  starts_at: instantSchema,
  professional_id: z.uuid().optional().openapi({ description: "Default: the same professional" }),
}).strict().openapi("BookingReschedule");

const cancelResult = bookingSchema.extend({
  refund: money.openapi({ description: "What goes back to the client of what was paid" }),
}).openapi("CancelledBooking");

const create = createRoute({
  method: "post",
  path: "/api/v1/bookings",
  operationId: "createBooking",
  summary: "Book a slot: PENDING with a hold when a deposit is due, else CONFIRMED",
  tags,
  middleware: [requireUser] as const,
  request: { headers: idempotencyHeaders, body: { required: true, ...json(createBody) } },
  responses: {
    201: { description: "Booked; `Location` names it", ...json(bookingSchema) },
    401: problem401,
    409: { description: "The slot is taken, or the idempotency key is in use", content: problem409.content },
    422: {
      description: "Not a slot the salon offers, or the idempotency key was used with another body",
      content: problem409.content,
    },
    ...bodyErrorResponses,
    429: {
      description: "A booking limit of the client was reached (code `rate_limited`; nothing was booked): `detail` " +
        "names the limit and its value, `errors[0].path` the limit: `unverified.max_open_bookings` (an account " +
        "without a verified email or phone has at most 1 open booking), `salon.max_open_holds_per_client` and " +
        "`salon.max_future_bookings_per_client` (the salon's), `platform.max_open_holds_per_client` and " +
        "`platform.max_future_bookings_per_client` (across all salons). An open hold is a PENDING booking whose " +
        "hold has not lapsed; a future booking is an open hold or a CONFIRMED booking starting later. Also the " +
        "API's request rate limit.",
      content: problem409.content,
    },
    503: {
      description: "The payment provider did not create the deposit: nothing was booked, retry shortly",
      content: problem409.content,
    },
  },
});

const list = createRoute({
  method: "get",
  path: "/api/v1/bookings",
  operationId: "listBookings",
  summary: "Bookings you may see (client: yours; professional: your schedule; owner: your salons; admin: all)",
  tags,
  middleware: [requireUser] as const,
  request: {
    query: z.object({
      status: z.enum(BOOKING_STATUSES).optional(),
      from: instantSchema.optional().openapi({ description: "Starting at or after" }),
      to: instantSchema.optional().openapi({ description: "Starting before" }),
      professional_id: z.uuid().optional(),
      salon_id: z.uuid().optional(),
      ...pageQuery,
    }),
  },
  responses: {
    200: { description: "A page of bookings, by start time", ...json(listSchema(bookingSchema, "BookingList")) },
    401: problem401,
    ...errorResponses,
  },
});

const read = createRoute({
  method: "get",
  path: "/api/v1/bookings/{id}",
  operationId: "getBooking",
  summary: "A booking you may see",
  tags,
  middleware: [requireUser] as const,
  request: { params: idParam },
  responses: { 200: { description: "The booking", ...json(bookingSchema) }, 401: problem401, ...errorResponses },
});

const transitionResponses = {
  401: problem401,
  403: problem403,
  409: {
    description: "Not allowed from the booking's current status (named in the problem)",
    content: problem409.content,
  },
  ...bodyErrorResponses,
};

const cancel = createRoute({
  method: "patch",
  path: "/api/v1/bookings/{id}/cancel",
  operationId: "cancelBooking",
  summary: "Cancel: the client pays the policy's fee for the hours left; the salon cancels without fee",
  tags,
  middleware: [requireUser] as const,
  request: { params: idParam, body: { required: false, ...json(cancelBody) } },
  responses: {
    200: { description: "Cancelled, with the fee and the refund", ...json(cancelResult) },
    ...transitionResponses,
  },
});

const noShow = createRoute({
  method: "patch",
  path: "/api/v1/bookings/{id}/no-show",
  operationId: "markNoShow",
  summary: "The client did not come (the professional or the salon, once the booking has started)",
  tags,
  middleware: [requireUser] as const,
  request: { params: idParam },
  responses: { 200: { description: "Marked", ...json(bookingSchema) }, ...transitionResponses },
});

const complete = createRoute({
  method: "patch",
  path: "/api/v1/bookings/{id}/complete",
  operationId: "completeBooking",
  summary: "The service was done (the professional or the salon, once the booking has started)",
  tags,
  middleware: [requireUser] as const,
  request: { params: idParam },
  responses: { 200: { description: "Completed", ...json(bookingSchema) }, ...transitionResponses },
});

const approve = createRoute({
  method: "patch",
  path: "/api/v1/bookings/{id}/approve",
  operationId: "approveOverbooking",
  summary:
    "Accept an overbooked booking that waits for approval (the salon): CONFIRMED, or PENDING while a deposit is due",
  description: "A booking waiting for approval has no deposit yet (a payment made before the salon decides could " +
    "only be given back): approving one with a deposit creates it, starts the usual hold, and answers `payment`.",
  tags,
  middleware: [requireUser] as const,
  request: { params: idParam },
  responses: {
    200: { description: "Approved", ...json(bookingSchema) },
    ...transitionResponses,
    503: {
      description: "The payment provider did not create the deposit: nothing changed, retry shortly",
      content: problem409.content,
    },
  },
});

const checkIn = createRoute({
  method: "patch",
  path: "/api/v1/bookings/{id}/check-in",
  operationId: "checkInBooking",
  summary: "The client has arrived (the professional or the salon): never marked as a no-show",
  tags,
  middleware: [requireUser] as const,
  request: { params: idParam },
  responses: { 200: { description: "Checked in", ...json(bookingSchema) }, ...transitionResponses },
});

const reschedule = createRoute({
  method: "patch",
  path: "/api/v1/bookings/{id}/reschedule",
  operationId: "rescheduleBooking",
  summary: "Move a pending or confirmed booking to another free slot, atomically (or not at all)",
  tags,
  middleware: [requireUser] as const,
  request: { params: idParam, body: { required: true, ...json(rescheduleBody) } },
  responses: {
    200: { description: "Moved", ...json(bookingSchema) },
    ...transitionResponses,
    422: { description: "Not a slot the salon offers", content: problem409.content },
  },
});

function slotTaken(detail = "This time was just taken: pick another slot"): ApiError {
  return new ApiError("slot_taken", detail);
}

/** True for the errors Postgres raises when the exclusion constraint refuses (or a deadlock breaks) an insert. */
function isSlotConflict(error: unknown): boolean {
  const code = pgErrorOf(error)?.code;
  return code === "23P01" || code === "40P01";
}

/**
 * The professional who can take a booking of `offer` at `startMs`: 422 when the salon would not
 * offer that start at all, 409 when it would but the time is taken.
 */
async function offeredAt(
  c: Context<AppEnv>,
  offer: Offer,
  startMs: number,
  excludeBookingId?: string,
): Promise<string> {
  const db = c.var.services.database.db;
  const now = c.var.services.now().getTime();
  const window = { from: startMs, to: startMs + 1, now, excludeBookingId };
  const day = { from: startMs - DAY_MS / 2, to: startMs + DAY_MS / 2 };
  const [slot] = await searchSlots(db, offer, { ...window, balance: day });
  if (slot) return slot.professionalId;
  const [free] = await searchSlots(db, offer, { ...window, ignoreBusy: true });
  if (free) throw slotTaken();
  throw new ApiError(
    "unprocessable",
    "The salon does not offer this start time: search /scheduling/…/slots for free times (opening hours, slot step, minimum notice and booking horizon apply)",
    { errors: [{ path: "starts_at", message: "is not an offered slot" }] },
  );
}

/** Creates the deposit at the provider; returns the payment to store with the booking and what the client needs to pay. */
async function createDeposit(
  c: Context<AppEnv>,
  booking: { id: string; salon: { currency: string; stripeAccountId: string | null }; amount: number },
  nothingDone = "nothing was booked",
): Promise<{ record: DepositRecord; view: NonNullable<z.infer<typeof bookingSchema>["payment"]> }> {
  const { payments: provider, config } = c.var.services;
  // Deposits to a salon with a connected account carry the platform's share.
  const platformFee = booking.salon.stripeAccountId ? shareOf(booking.amount, config.PLATFORM_FEE_BASIS_POINTS) : 0;
  let intent;
  const started = performance.now();
  try {
    intent = await provider.createDeposit({
      bookingId: booking.id,
      amount: booking.amount,
      currency: booking.salon.currency,
      idempotencyKey: `booking:${booking.id}:deposit`,
      connectedAccountId: booking.salon.stripeAccountId,
      platformFeeAmount: platformFee,
    });
  } catch (error) {
    const errorCode = error instanceof PaymentProviderError ? error.code : "unavailable";
    c.var.services.logger.error("deposit not created", { error: String(error), error_code: errorCode });
    // Every provider call is in the payment logs, also one that left no payment behind: no payment
    // id then, and the call's idempotency key (it names the booking) as what it was about.
    try {
      await logPayment(c.var.services.database.db, {
        kind: "create_deposit",
        provider: provider.kind === "stripe" ? "STRIPE" : "MOCK",
        objectId: `booking:${booking.id}:deposit`,
        status: "error",
        latencyMs: Math.round(performance.now() - started),
        errorCode,
      });
    } catch (logError) {
      // The client's answer is the provider's outage either way; a missing log line is logged.
      c.var.services.logger.error("failed deposit call not logged", { error: String(logError) });
    }
    throw new ApiError("unavailable", `Payments are unavailable right now: ${nothingDone}, try again shortly`, {
      headers: { "Retry-After": "5" },
    });
  }
  const paymentId = crypto.randomUUID();
  return {
    record: {
      id: paymentId,
      provider: provider.kind === "stripe" ? "STRIPE" : "MOCK",
      providerPaymentId: intent.id,
      amount: booking.amount,
      currency: booking.salon.currency,
      platformFeeAmount: platformFee,
      log: { status: intent.status, latencyMs: Math.round(performance.now() - started) },
    },
    view: {
      id: paymentId,
      provider: provider.kind,
      client_secret: intent.clientSecret,
      amount: { amount: booking.amount, currency: booking.salon.currency },
    },
  };
}

/**
 * Asks for the hold to be expired the moment it lapses. A failure here loses nothing: the
 * every-minute sweep expires any lapsed hold.
 */
async function scheduleHoldExpiry(c: Context<AppEnv>, bookingId: string, holdExpiresAt: Date | null) {
  if (!holdExpiresAt) return;
  try {
    await c.var.services.jobs.publish({
      name: "expire-hold",
      payload: { booking_id: bookingId },
      notBefore: holdExpiresAt,
      deduplicationId: `expire-hold:${bookingId}:${holdExpiresAt.toISOString()}`,
    });
  } catch (error) {
    c.var.services.logger.warn("hold expiry not scheduled; the sweep will catch it", { error: String(error) });
  }
}

function manages(auth: NonNullable<AppEnv["Variables"]["auth"]>, record: BookingRecord): boolean {
  return can(auth.role, "bookings:read:any") || record.salonOwnerId === auth.userId;
}

/** Loads a booking the caller may see; anyone else's is not found. */
async function visibleBooking(c: Context<AppEnv>, id: string): Promise<BookingRecord> {
  const auth = c.var.auth!;
  const record = await findBooking(c.var.services.database.db, id);
  if (!record || !seesBooking(auth, record)) throw notFound("booking");
  return record;
}

function refused(record: BookingRecord, event: BookingEvent, now: number): BookingRow["status"] {
  const next = transition(record.booking.status, event);
  if (!next.ok) throw new ApiError("conflict", next.reason);
  const timing = timingProblem(event, record.booking.startsAt.getTime(), now);
  if (timing) throw new ApiError("conflict", timing);
  return next.to;
}

function changedMeanwhile(): ApiError {
  return new ApiError("conflict", "The booking changed meanwhile: read it again");
}

/** The salon's limits per client and the platform's across salons (configuration). */
function limitsFor(c: Context<AppEnv>, salon: SalonRow): BookingLimits {
  const { config } = c.var.services;
  return {
    salonMaxOpenHolds: salon.maxOpenHoldsPerClient,
    salonMaxFutureBookings: salon.maxFutureBookingsPerClient,
    platformMaxOpenHolds: config.CLIENT_MAX_OPEN_HOLDS,
    platformMaxFutureBookings: config.CLIENT_MAX_FUTURE_BOOKINGS,
  };
}

/** The 429 naming the limit the client's counts hit, or null when they hit none. */
function limitRefusal(
  counted: Omit<LimitedInsert, "inserted">,
  newIsHold: boolean,
  limits: BookingLimits,
): ApiError | null {
  const hit = bookingLimitHit({ counts: counted.counts, verified: counted.verified, newIsHold, limits });
  if (!hit) return null;
  return new ApiError(
    "rate_limited",
    `Booking limit reached (${hit.name} is ${hit.value}): ${hit.message}. Nothing was booked`,
    { errors: [{ path: hit.name, message: `is ${hit.value}, and you have ${hit.count}` }] },
  );
}

/** The refusal of an insert the database did not make although the counts it returned hit no limit. */
function limitRace(): ApiError {
  return new ApiError("conflict", "Your bookings changed meanwhile: nothing was booked, try again");
}

/** Registers the booking routes. */
export function registerBookings(app: App): void {
  app.openapi(create, async (c) => {
    const body = c.req.valid("json");
    const auth = c.var.auth!;
    const { database, now: clock } = c.var.services;
    const db = database.db;
    // The stored or fresh answer is written as is: its shape is the 201 or problem above.
    return (await idempotent(c, body, async (remember) => {
      const loaded = await loadOffer(db, {
        serviceId: body.service_id,
        variationId: body.variation_id,
        professionalId: body.professional_id,
      });
      if (!loaded || "missing" in loaded) {
        const field = loaded?.missing === "variation" ? "variation_id" : "service_id";
        throw new ApiError("validation", `Invalid body: ${field}`, {
          errors: [{
            path: field,
            message: field === "service_id" ? "is not a bookable service" : "is not a variation of the service",
          }],
        });
      }
      if (loaded.professionals.length === 0) {
        throw new ApiError("validation", "Invalid body: professional_id", {
          errors: [{ path: "professional_id", message: "does not perform this service" }],
        });
      }
      const startMs = Date.parse(body.starts_at);
      let professionalId: string;
      let taken: ApiError | null = null;
      try {
        professionalId = await offeredAt(c, loaded, startMs);
      } catch (error) {
        // A taken time may still have an overbooking place for a chosen professional.
        if (!(error instanceof ApiError && error.code === "slot_taken" && body.professional_id)) throw error;
        professionalId = body.professional_id;
        taken = error;
      }
      const now = clock();
      const { salon, service, variation } = loaded;
      const price = variation?.priceAmount ?? service.priceAmount;
      const duration = (variation?.durationMinutes ?? service.durationMinutes) * MINUTE_MS;
      const deposit = depositFor(price, { kind: service.depositKind, value: service.depositValue });
      const status = initialStatus(deposit);
      const policy = await loadActivePolicyTiers(db, salon.id);
      const id = crypto.randomUUID();
      const values = {
        id,
        salonId: salon.id,
        clientId: auth.userId,
        professionalId,
        serviceId: service.id,
        variationId: variation?.id ?? null,
        startsAt: new Date(startMs),
        endsAt: new Date(startMs + duration),
        blockStartsAt: new Date(startMs - service.bufferBeforeMinutes * MINUTE_MS),
        blockEndsAt: new Date(startMs + duration + service.bufferAfterMinutes * MINUTE_MS),
        status,
        holdExpiresAt: status === "PENDING" ? new Date(now.getTime() + salon.holdMinutes * MINUTE_MS) : null,
        priceAmount: price,
        depositAmount: deposit,
        feeAmount: 0,
        currency: salon.currency,
        policySnapshot: policy
          ? {
            policy_id: policy.policyId,
            name: policy.name,
            tiers: policy.tiers,
            reschedule_in_fee_window: policy.rescheduleInFeeWindow,
          }
          : null,
        notes: body.notes ?? null,
        createdAt: now,
        updatedAt: now,
      };
      const answerFor = (row: typeof values & { overbooked?: boolean; approvalRequired?: boolean }) => ({
        status: 201,
        body: toBooking({ overbooked: false, approvalRequired: false, carriedFeeAmount: 0, ...row } as BookingRow),
        location: `/api/v1/bookings/${id}`,
      });
      const limits = limitsFor(c, salon);
      // An early, unlocked look at the client's counts: a refused client costs no call to the provider.
      const early = limitRefusal(await clientCounts(db, auth.userId, salon.id, now), status === "PENDING", limits);
      if (early) throw early;
      const overbook = async (created: Awaited<ReturnType<typeof createDeposit>> | null) => {
        const rule = await applicableRule(db, salon.id, professionalId);
        const decision = overbookingDecision(
          rule ? rule.row : null,
          rule?.capacity ?? 0,
          { returning: await isReturningClient(db, auth.userId, salon.id) },
        );
        if (!decision.allowed) throw slotTaken(`This time is taken and ${decision.reason}: pick another slot`);
        const row = {
          ...values,
          overbooked: true,
          approvalRequired: decision.needsApproval,
          // Waiting for approval holds the place until the start; a deposit hold is as usual.
          status: decision.needsApproval ? "PENDING" as const : values.status,
          holdExpiresAt: decision.needsApproval ? values.startsAt : values.holdExpiresAt,
        };
        // A deposit is due now unless the salon has yet to approve: it is created at approval, since
        // a payment made before the salon decides could only be given back.
        const depositPayment = !decision.needsApproval && values.depositAmount > 0
          ? created ?? await createDeposit(c, { id, salon, amount: values.depositAmount })
          : null;
        const answer = answerFor(row);
        if (depositPayment) answer.body = { ...answer.body, payment: depositPayment.view };
        const placed = await insertOverbooked(db, row, {
          limit: decision.limit,
          scope: rule!.row.professionalId ? { professionalId } : { salonId: salon.id },
          limits: applicableLimits(limits, row.status === "PENDING"),
          actorId: auth.userId,
          now,
          context: auditContext(c),
          remember: remember ? remember(answer) : null,
          deposit: depositPayment?.record,
        });
        if (!placed.inserted) {
          if (placed.full) {
            throw slotTaken("This time is taken and its overbooking places are full: pick another slot");
          }
          throw limitRefusal(placed, row.status === "PENDING", limits) ?? limitRace();
        }
        await scheduleHoldExpiry(c, id, row.status === "PENDING" ? row.holdExpiresAt : null);
        return answer;
      };
      if (taken) return await overbook(null);
      // The deposit is created at the provider first (idempotent per booking), so the booking and its
      // payment row commit together; a provider outage leaves nothing behind.
      const depositPayment = status === "PENDING"
        ? await createDeposit(c, { id, salon, amount: values.depositAmount })
        : null;
      const answer = answerFor(values);
      if (depositPayment) answer.body = { ...answer.body, payment: depositPayment.view };
      let outcome: LimitedInsert;
      try {
        outcome = await insertBooking(db, values, {
          limits: applicableLimits(limits, status === "PENDING"),
          deposit: depositPayment?.record,
          actorId: auth.userId,
          now,
          context: auditContext(c),
          remember: remember ? remember(answer) : null,
        });
      } catch (error) {
        if (isSlotConflict(error)) {
          if (body.professional_id) return await overbook(depositPayment);
          throw slotTaken();
        }
        throw error;
      }
      if (!outcome.inserted) throw limitRefusal(outcome, status === "PENDING", limits) ?? limitRace();
      await scheduleHoldExpiry(c, id, values.holdExpiresAt);
      return answer;
    })) as never;
  });

  app.openapi(list, async (c) => {
    const query = c.req.valid("query");
    const auth = c.var.auth!;
    const db = c.var.services.database.db;
    const after = decodeCursor(query.cursor, z.object({ startsAt: z.string().max(40), id: z.uuid() }).strict());
    const rows = await listBookings(db, {
      visibleToUserId: can(auth.role, "bookings:read:any") ? undefined : auth.userId,
      status: query.status,
      from: query.from ? new Date(query.from) : undefined,
      to: query.to ? new Date(query.to) : undefined,
      professionalId: query.professional_id,
      salonId: query.salon_id,
    }, { limit: query.limit + 1, after });
    const page = rows.slice(0, query.limit);
    const next = rows.length > query.limit ? encodeCursor(await positionOf(db, page.at(-1)!.id)) : null;
    return c.json({ data: page.map(toBooking), next_cursor: next }, 200);
  });

  app.openapi(read, async (c) => {
    const record = await visibleBooking(c, c.req.valid("param").id);
    return c.json(toBooking(record.booking), 200);
  });

  app.openapi(cancel, async (c) => {
    const record = await visibleBooking(c, c.req.valid("param").id);
    const body = c.req.valid("json") ?? {};
    const auth = c.var.auth!;
    const { database, now: clock } = c.var.services;
    const now = clock();
    const bySalon = manages(auth, record) && can(auth.role, "bookings:cancel:salon");
    const byClient = record.booking.clientId === auth.userId;
    if (!bySalon && !byClient) throw new ApiError("forbidden", "Only the client or the salon can cancel a booking");
    const to = refused(record, "cancel", now.getTime());
    const booking = record.booking;
    const snapshot = booking.policySnapshot as PolicySnapshot | null;
    // What was paid and not yet given back (or on its way back) is what a refund can return.
    const { captured, refundInfo, paid } = await paidOf(database.db, booking.id);
    const quote = quoteCancellation({
      tiers: snapshot?.tiers ?? null,
      price: booking.priceAmount,
      paid,
      startsAt: booking.startsAt.getTime(),
      now: now.getTime(),
      by: bySalon ? "SALON" : "CLIENT",
      // A client's reschedule inside a fee tier made this the least cancelling costs.
      carriedFee: booking.carriedFeeAmount,
    });
    if (!quote.allowed) throw new ApiError("conflict", quote.reason ?? "This booking cannot be cancelled now");
    const refund = captured && refundInfo && quote.refund > 0
      ? {
        id: crypto.randomUUID(),
        paymentId: captured.id,
        amount: quote.refund,
        reason: bySalon ? "cancelled by the salon" : "cancelled by the client",
        sequence: refundInfo.nextSequence,
      }
      : undefined;
    const row = await transitionBooking(database.db, booking, {
      refund,
      to,
      // The fee was priced on this start and this carried fee: a reschedule meanwhile prices it again.
      expect: { startsAt: booking.startsAt, carriedFeeAmount: booking.carriedFeeAmount },
      set: {
        cancelledAt: now,
        cancelledBy: bySalon ? "SALON" : "CLIENT",
        cancellationReason: body.reason ?? null,
        feeAmount: quote.fee,
      },
      actorId: auth.userId,
      action: "booking.cancel",
      reason: body.reason ?? null,
      now,
      context: auditContext(c),
      data: {
        fee: quote.fee,
        refund: quote.refund,
        carried_fee: booking.carriedFeeAmount,
        hours_before: quote.hoursBefore,
        by: bySalon ? "SALON" : "CLIENT",
        ...(refund ? { refund_id: refund.id } : {}),
      },
    });
    if (!row) throw changedMeanwhile();
    if (refund) {
      await requestRefund(c.var.services.jobs, refund.id).catch((error) =>
        c.var.services.logger.warn("refund not requested now; the outbox relay will", { error: String(error) })
      );
    }
    return c.json({ ...toBooking(row), refund: { amount: quote.refund, currency: row.currency } }, 200);
  });

  for (
    const [route, event, action] of [[noShow, "no_show", "booking.no_show"], [
      complete,
      "complete",
      "booking.complete",
    ]] as const
  ) {
    app.openapi(route, async (c) => {
      const record = await visibleBooking(c, c.req.valid("param").id);
      const auth = c.var.auth!;
      const { database, now: clock } = c.var.services;
      const now = clock();
      const assigned = record.professionalUserId === auth.userId && can(auth.role, "bookings:complete");
      if (!assigned && !manages(auth, record)) {
        throw new ApiError("forbidden", "Only the professional or the salon can record how a booking went");
      }
      const to = refused(record, event, now.getTime());
      const row = await transitionBooking(database.db, record.booking, {
        to,
        set: event === "complete" ? { completedAt: now } : { noShowAt: now },
        actorId: auth.userId,
        action,
        now,
        context: auditContext(c),
      });
      if (!row) throw changedMeanwhile();
      return c.json(toBooking(row), 200);
    });
  }

  app.openapi(checkIn, async (c) => {
    const record = await visibleBooking(c, c.req.valid("param").id);
    const auth = c.var.auth!;
    const { database, now: clock } = c.var.services;
    const now = clock();
    const assigned = record.professionalUserId === auth.userId && can(auth.role, "bookings:complete");
    if (!assigned && !manages(auth, record)) {
      throw new ApiError("forbidden", "Only the professional or the salon can check a client in");
    }
    const booking = record.booking;
    const problem = checkInProblem({
      status: booking.status,
      checkedInAt: booking.checkedInAt?.getTime() ?? null,
      startsAt: booking.startsAt.getTime(),
    }, now.getTime());
    if (problem) throw new ApiError("conflict", `Cannot check in: ${problem}`);
    const row = await transitionBooking(database.db, booking, {
      to: "CONFIRMED",
      set: { checkedInAt: now },
      actorId: auth.userId,
      action: "booking.check_in",
      now,
      context: auditContext(c),
    });
    if (!row) throw changedMeanwhile();
    return c.json(toBooking(row), 200);
  });

  app.openapi(approve, async (c) => {
    const record = await visibleBooking(c, c.req.valid("param").id);
    const auth = c.var.auth!;
    const { database, now: clock } = c.var.services;
    const db = database.db;
    const now = clock();
    if (!manages(auth, record)) throw new ApiError("forbidden", "Only the salon can approve an overbooked booking");
    const booking = record.booking;
    if (!booking.approvalRequired || booking.status !== "PENDING") {
      throw new ApiError("conflict", `This booking does not wait for approval (it is ${booking.status})`);
    }
    const salon = await findSalon(db, booking.salonId);
    const depositDue = booking.depositAmount > 0;
    // The deposit is created now, not at booking: a payment made before the salon decides could only
    // be given back. Created at the provider first, it is stored only if the approval applies.
    const depositPayment = depositDue && salon
      ? await createDeposit(c, { id: booking.id, salon, amount: booking.depositAmount }, "nothing changed")
      : null;
    const holdExpiresAt = depositDue ? new Date(now.getTime() + (salon?.holdMinutes ?? 15) * MINUTE_MS) : null;
    const row = await transitionBooking(db, booking, {
      to: depositDue ? "PENDING" : refused(record, "confirm", now.getTime()),
      set: { approvalRequired: false, holdExpiresAt },
      // Two approvals at once: one applies, the other is told the booking changed.
      expect: { approvalRequired: true },
      deposit: depositPayment?.record,
      actorId: auth.userId,
      action: "booking.approve",
      now,
      context: auditContext(c),
      ...(depositPayment ? { data: { payment_id: depositPayment.record.id } } : {}),
    });
    if (!row) throw changedMeanwhile();
    await scheduleHoldExpiry(c, booking.id, holdExpiresAt);
    return c.json({ ...toBooking(row), ...(depositPayment ? { payment: depositPayment.view } : {}) }, 200);
  });

  app.openapi(reschedule, async (c) => {
    const record = await visibleBooking(c, c.req.valid("param").id);
    const body = c.req.valid("json");
    const auth = c.var.auth!;
    const { database, now: clock } = c.var.services;
    const db = database.db;
    const now = clock();
    if (record.booking.clientId !== auth.userId && !manages(auth, record)) {
      throw new ApiError("forbidden", "Only the client or the salon can move a booking");
    }
    const to = refused(record, "reschedule", now.getTime());
    const booking = record.booking;
    const bySalon = manages(auth, record) && can(auth.role, "bookings:cancel:salon");
    const snapshot = booking.policySnapshot as PolicySnapshot | null;
    // The fee is decided now, on the hours left before the current start: moving far away never
    // escapes the tier the booking is in.
    const decision = decideReschedule({
      tiers: snapshot?.tiers ?? null,
      rule: rescheduleRuleOf(snapshot),
      price: booking.priceAmount,
      paid: (await paidOf(db, booking.id)).paid,
      startsAt: booking.startsAt.getTime(),
      now: now.getTime(),
      by: bySalon ? "SALON" : "CLIENT",
      carriedFee: booking.carriedFeeAmount,
    });
    if (!decision.allowed) {
      const policy = snapshot ? `the cancellation policy "${snapshot.name}"` : "the cancellation policy";
      throw new ApiError(
        "conflict",
        decision.feeAtMove > 0
          ? `Cannot reschedule: ${policy} refuses a client's reschedule while a cancellation fee applies ` +
            `(${decision.feeAtMove} ${booking.currency} minor units now): cancel, or ask the salon to move it`
          : `Cannot reschedule: ${decision.reason}`,
      );
    }
    const loaded = await loadOffer(db, {
      serviceId: booking.serviceId,
      variationId: booking.variationId ?? undefined,
      professionalId: body.professional_id ?? booking.professionalId,
    });
    if (!loaded || "missing" in loaded || loaded.professionals.length === 0) {
      throw new ApiError("unprocessable", "The service or professional is no longer bookable", {
        errors: [{ path: "professional_id", message: "cannot take this booking now" }],
      });
    }
    const startMs = Date.parse(body.starts_at);
    const professionalId = await offeredAt(c, loaded, startMs, booking.id);
    const shift = startMs - booking.startsAt.getTime();
    let row;
    try {
      row = await transitionBooking(db, booking, {
        to,
        set: {
          professionalId,
          startsAt: new Date(startMs),
          endsAt: new Date(booking.endsAt.getTime() + shift),
          blockStartsAt: new Date(booking.blockStartsAt.getTime() + shift),
          blockEndsAt: new Date(booking.blockEndsAt.getTime() + shift),
          carriedFeeAmount: decision.carriedFee,
        },
        // Decided on this start and this carried fee: another move meanwhile decides again.
        expect: { startsAt: booking.startsAt, carriedFeeAmount: booking.carriedFeeAmount },
        actorId: auth.userId,
        action: "booking.reschedule",
        now,
        context: auditContext(c),
        data: {
          from_starts_at: booking.startsAt.toISOString(),
          to_starts_at: new Date(startMs).toISOString(),
          by: bySalon ? "SALON" : "CLIENT",
          hours_before: decision.hoursBefore,
          fee_at_move: decision.feeAtMove,
          carried_fee_before: booking.carriedFeeAmount,
          carried_fee: decision.carriedFee,
        },
      });
    } catch (error) {
      if (isSlotConflict(error)) throw slotTaken();
      throw error;
    }
    if (!row) throw changedMeanwhile();
    return c.json(toBooking(row), 200);
  });
}
