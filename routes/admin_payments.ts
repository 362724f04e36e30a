/**
 * Admins: reconcile payments with the provider now, read past runs and their mismatches; list the
 * refunds the provider refused and retry them.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { desc } from "drizzle-orm";
import { isUniqueViolation } from "../db/errors.ts";
import { listRefunds, retryRefund } from "../db/refunds.ts";
import { paymentReconciliations } from "../db/schema.ts";
import { requestRefund } from "../jobs/handlers.ts";
import { reconcilePayments } from "../jobs/reconcile.ts";
import type { App } from "./app.ts";
import { auditContext, json, problem401, requireUser } from "./auth.ts";
import { ApiError, errorResponses, notFound, problem403, problem409 } from "./errors.ts";
import { requirePermission } from "./ownership.ts";
import { decodeCursor, encodeCursor, listSchema, pageQuery } from "./pagination.ts";
import { idParam } from "./schemas.ts";

const tags = ["Admin"];

const runSchema = z.object({
  id: z.uuid(),
  since: z.string(),
  started_at: z.string(),
  finished_at: z.string().nullable(),
  checked: z.number().int(),
  repaired: z.number().int(),
  mismatches: z.array(z.object({
    kind: z.string(),
    provider_id: z.string(),
    ours: z.unknown().optional(),
    theirs: z.unknown().optional(),
    repaired: z.boolean(),
  })),
}).openapi("ReconciliationRun");

type RunRow = typeof paymentReconciliations.$inferSelect;

function toRun(row: RunRow): z.infer<typeof runSchema> {
  return {
    id: row.id,
    since: row.since.toISOString(),
    started_at: row.startedAt.toISOString(),
    finished_at: row.finishedAt?.toISOString() ?? null,
    checked: row.checked,
    repaired: row.repaired,
    mismatches: row.mismatches as z.infer<typeof runSchema>["mismatches"],
  };
}

const reconcile = createRoute({
  method: "post",
  path: "/api/v1/admin/payments/reconcile",
  operationId: "reconcilePayments",
  summary: "Compare payments and refunds with the provider since the last run, repairing missed events",
  tags,
  middleware: [requireUser] as const,
  responses: {
    200: { description: "The run", ...json(runSchema) },
    401: problem401,
    403: problem403,
    ...errorResponses,
  },
});

const runs = createRoute({
  method: "get",
  path: "/api/v1/admin/payments/reconciliation",
  operationId: "listReconciliations",
  summary: "Recent reconciliation runs with their mismatches, newest first",
  tags,
  middleware: [requireUser] as const,
  responses: {
    200: { description: "Runs", ...json(z.object({ data: z.array(runSchema) })) },
    401: problem401,
    403: problem403,
    ...errorResponses,
  },
});

const REFUND_STATUSES = ["PENDING", "SUCCEEDED", "FAILED", "CANCELLED"] as const;

const adminRefundSchema = z.object({
  id: z.uuid(),
  payment_id: z.uuid(),
  booking_id: z.uuid(),
  salon_id: z.uuid(),
  amount: z.object({ amount: z.number().int(), currency: z.string() }),
  status: z.enum(REFUND_STATUSES),
  reason: z.string().nullable(),
  failure_reason: z.string().nullable().openapi({
    description: "Why the provider refused it (its error code or reported reason), while FAILED",
  }),
  attempt: z.number().int().openapi({
    description: "The attempt's sequence among the payment's refunds; its idempotency key is `booking:{id}:refund:{n}`",
  }),
  provider_refund_id: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
}).openapi("AdminRefund");

type RefundListingRow = Awaited<ReturnType<typeof listRefunds>>[number];

function toAdminRefund(row: Omit<RefundListingRow, "at">): z.infer<typeof adminRefundSchema> {
  const refund = row.refund;
  return {
    id: refund.id,
    payment_id: refund.paymentId,
    booking_id: row.bookingId,
    salon_id: row.salonId,
    amount: { amount: refund.amount, currency: row.currency },
    status: refund.status,
    reason: refund.reason,
    failure_reason: refund.failureReason,
    attempt: refund.sequence,
    provider_refund_id: refund.providerRefundId,
    created_at: refund.createdAt.toISOString(),
    updated_at: refund.updatedAt.toISOString(),
  };
}

const refundCursor = z.object({ u: z.string(), i: z.uuid() });

const refundList = createRoute({
  method: "get",
  path: "/api/v1/admin/refunds",
  operationId: "listAdminRefunds",
  summary: "Refunds by status (e.g. FAILED: refused by the provider for good), most recently changed first",
  tags,
  middleware: [requireUser] as const,
  request: { query: z.object({ status: z.enum(REFUND_STATUSES).optional(), ...pageQuery }) },
  responses: {
    200: { description: "A page", ...json(listSchema(adminRefundSchema, "AdminRefundList")) },
    401: problem401,
    403: problem403,
    ...errorResponses,
  },
});

const refundRetry = createRoute({
  method: "post",
  path: "/api/v1/admin/refunds/{id}/retry",
  operationId: "retryRefund",
  summary: "Ask the provider again for a FAILED refund, as a new attempt with a new idempotency key",
  description: "Audited (`refund.retry`). The refund is PENDING again and made by the `create-refund` job; " +
    "if the provider refuses it again it is FAILED again and the salon, the admins and the client are told again.",
  tags,
  middleware: [requireUser] as const,
  request: { params: idParam },
  responses: {
    202: { description: "Retrying: the refund as it now stands", ...json(adminRefundSchema) },
    401: problem401,
    403: problem403,
    409: { ...problem409, description: "The refund is not FAILED, or what is left of the payment no longer covers it" },
    ...errorResponses,
  },
});

/** Registers the admin payment routes. */
export function registerAdminPayments(app: App): void {
  app.openapi(reconcile, async (c) => {
    requirePermission(c, "payments:reconcile");
    const run = await reconcilePayments({ services: c.var.services, requestId: c.var.requestId });
    return c.json(toRun(run), 200);
  });

  // Retrying a refused refund is part of reconciling our payments with the provider: the same admins.
  app.openapi(refundList, async (c) => {
    requirePermission(c, "payments:reconcile");
    const query = c.req.valid("query");
    const after = decodeCursor(query.cursor, refundCursor);
    const rows = await listRefunds(c.var.services.database.db, {
      status: query.status,
      limit: query.limit + 1,
      after: after ? { updatedAt: after.u, id: after.i } : undefined,
    });
    const page = rows.slice(0, query.limit);
    const last = page.at(-1);
    return c.json({
      data: page.map(toAdminRefund),
      next_cursor: rows.length > query.limit && last ? encodeCursor({ u: last.at, i: last.refund.id }) : null,
    }, 200);
  });

  app.openapi(refundRetry, async (c) => {
    const auth = requirePermission(c, "payments:reconcile");
    const { database, jobs, now } = c.var.services;
    const db = database.db;
    const id = c.req.valid("param").id;
    let outcome;
    try {
      outcome = await retryRefund(db, id, { actorId: auth.userId, now: now(), context: auditContext(c) });
    } catch (error) {
      // Another refund of this payment took the next sequence at the same moment.
      if (isUniqueViolation(error, "refunds_payment_sequence_key")) {
        throw new ApiError("conflict", "Another refund of this payment was just recorded: read it and retry");
      }
      throw error;
    }
    if ("refused" in outcome) {
      if (outcome.refused === "not_found") throw notFound("refund");
      throw new ApiError(
        "conflict",
        outcome.refused === "not_failed"
          ? "Only a FAILED refund can be retried"
          : "What is left of the payment no longer covers this refund",
      );
    }
    const refund = outcome.retried;
    // The outbox row written with the retry asks again if this request is lost.
    await requestRefund(jobs, refund.id, refund.sequence).catch((error) =>
      c.var.services.logger.warn("refund retry not requested now; the outbox relay will", { error: String(error) })
    );
    const [listed] = await listRefunds(db, { id: refund.id, limit: 1 });
    return c.json(toAdminRefund(listed), 202);
  });

  app.openapi(runs, async (c) => {
    requirePermission(c, "payments:reconcile");
    const rows = await c.var.services.database.db.select().from(paymentReconciliations)
      .orderBy(desc(paymentReconciliations.startedAt)).limit(20);
    return c.json({ data: rows.map(toRun) }, 200);
  });
}
