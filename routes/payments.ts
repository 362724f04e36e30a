/**
 * Payments: deposits for bookings, the provider's webhook (`POST /webhooks/stripe`), and scoped
 * reads. The webhook verifies Stripe's signature over the raw body with the SDK (300 s tolerance),
 * records the event id in the same batch as its effect (redeliveries act once), and only moves a
 * payment forward (domain/payments.ts), so out-of-order events end in the right state.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { and, eq, notInArray } from "drizzle-orm";
import Stripe from "stripe";
import { MockPaymentProvider } from "../adapters/payments_mock.ts";
import { PaymentProviderError } from "../adapters/payments.ts";
import { confirmPaidStatement } from "../db/booking_sweeps.ts";
import { isUniqueViolation, pgErrorOf } from "../db/errors.ts";
import {
  findPayment,
  findPaymentByProviderId,
  listPayments,
  logPayment,
  onceForEvent,
  type PaymentRow,
  refundCallAnswered,
} from "../db/payments.ts";
import { bookings, outbox, payments, refunds } from "../db/schema.ts";
import {
  findRefund,
  findRefundByProviderId,
  refundState,
  refundStatusOf,
  settleRefund,
  syncRefunded,
} from "../db/refunds.ts";
import { can } from "../domain/access.ts";
import { type AttemptStatus, isCaptured, nextPaymentStatus, PAYMENT_STATUSES, refundable } from "../domain/payments.ts";
import type { App, AppEnv } from "./app.ts";
import { json, problem401, requireUser } from "./auth.ts";
import { ApiError, bodyErrorResponses, errorResponses, notFound, problem403, problem409 } from "./errors.ts";
import { idempotencyHeaders, idempotent } from "./idempotency.ts";
import { requestRefund, requestRelay } from "../jobs/handlers.ts";
import { idParam } from "./schemas.ts";

const money = z.object({ amount: z.number().int(), currency: z.string() });

export const paymentSchema = z.object({
  id: z.uuid(),
  booking_id: z.uuid(),
  provider: z.enum(["STRIPE", "MOCK"]),
  provider_payment_id: z.string().nullable(),
  status: z.string(),
  amount: money,
  refunded: money,
  failure_code: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
}).openapi("Payment");

export function toPayment(row: PaymentRow): z.infer<typeof paymentSchema> {
  return {
    id: row.id,
    booking_id: row.bookingId,
    provider: row.provider,
    provider_payment_id: row.providerPaymentId,
    status: row.status,
    amount: { amount: row.amount, currency: row.currency },
    refunded: { amount: row.refundedAmount, currency: row.currency },
    failure_code: row.failureCode,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

const ATTEMPTS: Record<string, AttemptStatus> = {
  "payment_intent.succeeded": "SUCCEEDED",
  "payment_intent.payment_failed": "FAILED",
  "payment_intent.requires_action": "REQUIRES_ACTION",
  "payment_intent.processing": "PROCESSING",
  "payment_intent.canceled": "CANCELLED",
};

// The SDK only verifies here; it never calls Stripe, so any key will do when none is configured.
const verifier = new Stripe("sk_webhook_verification_only", { httpClient: Stripe.createFetchHttpClient() });
const cryptoProvider = Stripe.createSubtleCryptoProvider();

const webhook = createRoute({
  method: "post",
  path: "/webhooks/stripe",
  operationId: "stripeWebhook",
  summary: "Stripe's events (signed with `Stripe-Signature`)",
  tags: ["Webhooks"],
  security: [],
  responses: {
    200: { description: "Acknowledged", ...json(z.object({ received: z.literal(true), outcome: z.string() })) },
    ...errorResponses,
  },
});

const list = createRoute({
  method: "get",
  path: "/api/v1/payments",
  operationId: "listPayments",
  summary: "Payments you may see (client: yours; owner: your salons'; admin: all), newest first",
  tags: ["Payments"],
  middleware: [requireUser] as const,
  request: { query: z.object({ limit: z.coerce.number().int().min(1).max(100).default(50) }) },
  responses: {
    200: { description: "Payments", ...json(z.object({ data: z.array(paymentSchema) })) },
    401: problem401,
    ...errorResponses,
  },
});

const read = createRoute({
  method: "get",
  path: "/api/v1/payments/{id}",
  operationId: "getPayment",
  summary: "A payment you may see",
  tags: ["Payments"],
  middleware: [requireUser] as const,
  request: { params: idParam },
  responses: { 200: { description: "The payment", ...json(paymentSchema) }, 401: problem401, ...errorResponses },
});

const refundBody = z.object({
  payment_id: z.uuid(),
  amount: z.number().int().positive().openapi({ description: "Minor units; at most what is still refundable" }),
  reason: z.string().trim().min(1).max(300),
}).strict().openapi("RefundCreate");

const refundSchema = z.object({
  id: z.uuid(),
  payment_id: z.uuid(),
  amount: money,
  status: z.enum(["PENDING", "SUCCEEDED", "FAILED", "CANCELLED"]),
  reason: z.string().nullable(),
  created_at: z.string(),
}).openapi("Refund");

const createRefund = createRoute({
  method: "post",
  path: "/api/v1/refunds",
  operationId: "createRefund",
  summary: "Refund part or all of a captured payment (the salon's owner or an admin); the provider's events settle it",
  tags: ["Payments"],
  middleware: [requireUser] as const,
  request: { headers: idempotencyHeaders, body: { required: true, ...json(refundBody) } },
  responses: {
    201: { description: "Recorded (PENDING until the provider confirms)", ...json(refundSchema) },
    401: problem401,
    403: problem403,
    409: problem409,
    422: { description: "More than is still refundable, or nothing captured", content: problem409.content },
    ...bodyErrorResponses,
  },
});

const mockConfirm = createRoute({
  method: "post",
  path: "/api/v1/payments/{id}/mock-confirm",
  operationId: "mockConfirmPayment",
  summary:
    "Mock provider only: pay with a test card (4242… succeeds, 4000…0002 declines, 4000 0025 0000 3155 needs action)",
  tags: ["Payments"],
  middleware: [requireUser] as const,
  request: {
    params: idParam,
    body: { required: true, ...json(z.object({ card_number: z.string().regex(/^[0-9 ]{12,23}$/) }).strict()) },
  },
  responses: {
    202: { description: "Submitted: the outcome arrives as a webhook" },
    401: problem401,
    ...bodyErrorResponses,
  },
});

/** What event handling needs: the services, and the request id its audit events carry. */
export interface EventScope {
  services: AppEnv["Variables"]["services"];
  requestId: string;
}

/** Provider ids as Stripe writes them; anything else never reaches a query. */
const providerId = z.string().regex(/^[A-Za-z0-9_]{1,255}$/);

const eventSchema = z.looseObject({
  // Stripe's `evt_…`, or the id reconciliation gives the event it rebuilds (`reconcile:pi_…:status`).
  id: z.string().regex(/^[A-Za-z0-9_:.-]{1,255}$/),
  type: z.string().regex(/^[a-z0-9_.]{1,100}$/),
  data: z.looseObject({ object: z.looseObject({}) }),
});

const intentEventObject = z.looseObject({
  id: providerId,
  last_payment_error: z.looseObject({ code: z.string().max(100).optional().catch(undefined) }).nullish().catch(null),
});

const refundEventObject = z.looseObject({
  id: providerId,
  payment_intent: providerId,
  amount: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  status: z.string().max(40),
  // Why a refund failed, when the provider says (Stripe: `failure_reason`); shown to the salon and admins.
  failure_reason: z.string().max(100).nullish().catch(null),
  // Our own id when we made the refund; a value that is not one of ours is ignored, not trusted.
  metadata: z.looseObject({ refund_id: z.uuid().optional().catch(undefined) }).nullish().catch(null),
});

const REFUND_EVENTS = new Set(["refund.updated", "refund.created", "refund.failed"]);

/**
 * Acts on a verified event (or one reconciliation rebuilt). An event whose shape we cannot use
 * (no `data`, a refund without a payment intent, a malformed id) is acknowledged and logged, never
 * a 500 that Stripe would retry for days.
 */
export async function handleEvent(scope: EventScope, event: Stripe.Event): Promise<string> {
  const { database, now: clock, logger } = scope.services;
  const db = database.db;
  const envelope = eventSchema.safeParse(event);
  const shaped = envelope.success
    ? (REFUND_EVENTS.has(envelope.data.type) ? refundEventObject : intentEventObject).safeParse(
      envelope.data.data.object,
    )
    : null;
  if (!envelope.success || !shaped?.success) {
    const issues = (envelope.success ? shaped!.error! : envelope.error).issues;
    logger.warn("stripe event unusable: acknowledged, not acted on", {
      event_id: envelope.success ? envelope.data.id : null,
      type: envelope.success ? envelope.data.type : null,
      fields: issues.map((issue) => issue.path.join(".")).slice(0, 10),
    });
    return "unusable";
  }
  const { id: eventId, type } = envelope.data;
  if (REFUND_EVENTS.has(type)) {
    return await handleRefundEvent(scope, { id: eventId, type }, shaped.data as z.infer<typeof refundEventObject>);
  }
  const attempt = ATTEMPTS[type];
  if (!attempt) {
    logger.info("stripe event ignored", { type, event_id: eventId });
    return "ignored";
  }
  const intent = shaped.data as z.infer<typeof intentEventObject>;
  const payment = await findPaymentByProviderId(db, intent.id);
  if (!payment) {
    logger.warn("stripe event for an unknown payment", { type: event.type, event_id: event.id });
    return "unknown_payment";
  }
  const now = clock();
  const next = nextPaymentStatus(payment.status, attempt);
  const newlyCaptured = next === "SUCCEEDED" && !isCaptured(payment.status);
  // The failure code describes the payment's state, so it is written only when that state becomes
  // FAILED: a late failure of an attempt that was superseded (a success came first) leaves it alone.
  const updatePayment = db.update(payments).set({
    status: next,
    ...(next === "FAILED" ? { failureCode: intent.last_payment_error?.code ?? "failed" } : {}),
    updatedAt: now,
  }).where(and(
    eq(payments.id, payment.id),
    // An event that does not capture never touches a captured payment, also one captured by a
    // concurrent event after this handler read it (its refunds decide from then on).
    newlyCaptured ? undefined : notInArray(payments.status, PAYMENT_STATUSES.filter(isCaptured)),
  ));
  const log = logPayment(db, {
    paymentId: payment.id,
    kind: `webhook:${event.type}`,
    provider: payment.provider,
    objectId: intent.id,
    status: next,
  });
  if (!newlyCaptured) return (await onceForEvent(db, event.id, [updatePayment, log])) ? "applied" : "duplicate";

  // The deposit is in: confirm the booking if its time can still be held (a lapsed hold whose
  // slot is still free counts; the exclusion constraint decides).
  const confirm = db.execute(confirmPaidStatement(payment.bookingId, now, scope.requestId));
  try {
    const applied = await onceForEvent(db, event.id, [updatePayment, log, confirm]);
    if (!applied) return "duplicate";
  } catch (error) {
    if (pgErrorOf(error)?.code !== "23P01") throw error;
    // The slot went to someone else after the hold lapsed: keep the payment's truth, give the money back.
    const applied = await onceForEvent(db, event.id, [updatePayment, log]);
    if (!applied) return "duplicate";
  }
  // A refund event that arrived before this success now counts.
  await syncRefunded(db, payment.id, now);
  const [booking] = await db.select().from(bookings).where(eq(bookings.id, payment.bookingId));
  if (booking.status === "CONFIRMED" && !booking.approvalRequired) return "confirmed";
  await refundInFull(scope, payment, "the booking could not be kept when the deposit arrived");
  return "refunded";
}

/** A refund's status from the provider: settles ours, or records one made elsewhere (the dashboard). */
async function handleRefundEvent(
  scope: EventScope,
  event: { id: string; type: string },
  object: z.infer<typeof refundEventObject>,
): Promise<string> {
  const { database, now } = scope.services;
  const db = database.db;
  const payment = await findPaymentByProviderId(db, object.payment_intent);
  if (!payment) return "unknown_payment";
  const fresh = await onceForEvent(db, event.id, [
    logPayment(db, {
      paymentId: payment.id,
      kind: `webhook:${event.type}`,
      provider: payment.provider,
      objectId: object.id,
      status: object.status,
    }),
  ]);
  if (!fresh) return "duplicate";
  // The event may arrive before the refund call has returned: our id in its metadata finds the record.
  const byProviderId = await findRefundByProviderId(db, object.id);
  let refund = byProviderId ??
    (object.metadata?.refund_id ? await findRefund(db, object.metadata.refund_id) : undefined);
  if (refund && refund.paymentId !== payment.id) refund = undefined;
  // A refund retried after a refusal is a new attempt at the provider (a new provider refund):
  // a late event about an earlier attempt's provider refund must not settle the current one.
  if (
    refund && !byProviderId &&
    (refund.providerRefundId !== null
      ? refund.providerRefundId !== object.id
      : await refundCallAnswered(db, refund.id, object.id))
  ) {
    scope.services.logger.info("refund event for an earlier attempt: recorded, not applied", {
      event_id: event.id,
      refund_id: refund.id,
    });
    return "earlier_attempt";
  }
  if (!refund) {
    const state = await refundState(db, payment.id);
    [refund] = await db.insert(refunds).values({
      paymentId: payment.id,
      providerRefundId: object.id,
      amount: object.amount,
      status: "PENDING",
      reason: "made at the provider",
      sequence: state.nextSequence,
    }).returning();
  }
  const status = refundStatusOf(object.status);
  await settleRefund(db, refund, {
    providerRefundId: object.id,
    status,
    now: now(),
    failureReason: object.failure_reason ?? object.status,
  });
  // A refused refund is told to the salon, the admins and the client now rather than at the next sweep.
  if (status === "FAILED") await requestRelay(scope.services.jobs).catch(() => {});
  return "applied";
}

/**
 * Gives what remains of a deposit back the way every refund goes: recorded PENDING with an outbox
 * row that tells the client (and republishes the refund if the prompt request is lost), then made
 * by the `create-refund` job with its deterministic key.
 */
async function refundInFull(scope: EventScope, payment: PaymentRow, reason: string): Promise<void> {
  const { database, jobs } = scope.services;
  const db = database.db;
  const state = await refundState(db, payment.id);
  const amount = refundable(payment.amount, payment.refundedAmount, state.pending);
  if (amount === 0) return;
  const id = crypto.randomUUID();
  await db.batch([
    db.insert(refunds).values({
      id,
      paymentId: payment.id,
      amount,
      status: "PENDING",
      reason,
      sequence: state.nextSequence,
    }),
    db.insert(outbox).values({
      topic: "booking.cancel",
      payload: { booking_id: payment.bookingId, fee: 0, refund: amount, by: "SYSTEM", refund_id: id },
      deduplicationId: `payment.auto_refund:${payment.id}`,
    }).onConflictDoNothing(),
  ]);
  await requestRefund(jobs, id).catch(() => {});
}

/** Registers the payment routes. */
export function registerPayments(app: App): void {
  app.openapi(webhook, async (c) => {
    const raw = await c.req.text();
    const signature = c.req.header("stripe-signature");
    let event: Stripe.Event;
    try {
      if (!signature) throw new Error("missing");
      event = await verifier.webhooks.constructEventAsync(
        raw,
        signature,
        c.var.services.stripeWebhookSecret,
        300,
        cryptoProvider,
      );
    } catch {
      throw new ApiError("bad_request", "Missing or invalid Stripe-Signature");
    }
    const outcome = await handleEvent({ services: c.var.services, requestId: c.var.requestId }, event);
    return c.json({ received: true as const, outcome }, 200);
  });

  app.openapi(list, async (c) => {
    const auth = c.var.auth!;
    const rows = await listPayments(
      c.var.services.database.db,
      can(auth.role, "payments:read:any") ? null : auth.userId,
      c.req.valid("query").limit,
    );
    return c.json({ data: rows.map(toPayment) }, 200);
  });

  app.openapi(read, async (c) => {
    const auth = c.var.auth!;
    const record = await findPayment(c.var.services.database.db, c.req.valid("param").id);
    if (
      !record ||
      !(can(auth.role, "payments:read:any") || record.clientId === auth.userId || record.salonOwnerId === auth.userId)
    ) throw notFound("payment");
    return c.json(toPayment(record.payment), 200);
  });

  app.openapi(createRefund, async (c) => {
    const auth = c.var.auth!;
    if (!can(auth.role, "refunds:create")) {
      throw new ApiError("forbidden", "Only a salon's owner or an admin can refund");
    }
    const body = c.req.valid("json");
    const { database, now } = c.var.services;
    const db = database.db;
    return (await idempotent(c, body, async (remember) => {
      const record = await findPayment(db, body.payment_id);
      if (!record || !(can(auth.role, "payments:read:any") || record.salonOwnerId === auth.userId)) {
        throw notFound("payment");
      }
      const payment = record.payment;
      if (!isCaptured(payment.status)) {
        throw new ApiError("unprocessable", "Nothing was captured on this payment", {
          errors: [{ path: "payment_id", message: `is ${payment.status}` }],
        });
      }
      const state = await refundState(db, payment.id);
      const left = refundable(payment.amount, payment.refundedAmount, state.pending);
      if (body.amount > left) {
        throw new ApiError("unprocessable", `At most ${left} can still be refunded`, {
          errors: [{ path: "amount", message: `must be at most ${left}` }],
        });
      }
      const id = crypto.randomUUID();
      const at = now();
      const answer = {
        status: 201,
        body: {
          id,
          payment_id: payment.id,
          amount: { amount: body.amount, currency: payment.currency },
          status: "PENDING" as const,
          reason: body.reason,
          created_at: at.toISOString(),
        },
        location: `/api/v1/refunds/${id}`,
      };
      try {
        await db.batch([
          db.insert(refunds).values({
            id,
            paymentId: payment.id,
            amount: body.amount,
            status: "PENDING",
            reason: body.reason,
            requestedBy: auth.userId,
            sequence: state.nextSequence,
            createdAt: at,
            updatedAt: at,
          }),
          // The relay makes the refund even if the request below is lost.
          db.insert(outbox).values({
            topic: "payment.refund_requested",
            payload: { refund_id: id, payment_id: payment.id, amount: body.amount },
            deduplicationId: `payment.refund_requested:${id}`,
          }),
          ...(remember ? [remember(answer)] : []),
        ]);
      } catch (error) {
        // Two refunds raced for the same sequence: the caller retries and sees what remains.
        if (isUniqueViolation(error, "refunds_payment_sequence_key")) {
          throw new ApiError("conflict", "Another refund of this payment was just recorded: read it and retry");
        }
        throw error;
      }
      await requestRefund(c.var.services.jobs, id).catch(() => {});
      return answer;
    })) as never;
  });

  app.openapi(mockConfirm, async (c) => {
    const provider = c.var.services.payments;
    if (!(provider instanceof MockPaymentProvider)) throw notFound("route");
    const record = await findPayment(c.var.services.database.db, c.req.valid("param").id);
    if (!record || record.clientId !== c.var.auth!.userId) throw notFound("payment");
    try {
      await provider.confirm(record.payment.providerPaymentId!, c.req.valid("json").card_number);
    } catch (error) {
      if (error instanceof PaymentProviderError) throw new ApiError("conflict", error.message);
      throw error;
    }
    return c.body(null, 202);
  });
}
