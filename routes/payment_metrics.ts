/**
 * Payment metrics (`GET /api/v1/payments/metrics`): what was captured, refunded, kept as penalties
 * and still pending, per currency, over a range of payment creation instants. Owners read their own
 * salon; admins may also read the whole platform. Register before `/api/v1/payments/{id}`, which
 * would otherwise take "metrics" for an id.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { paymentMetrics } from "../db/payment_metrics.ts";
import { can } from "../domain/access.ts";
import type { App } from "./app.ts";
import { json, problem401, requireUser } from "./auth.ts";
import { ApiError, errorResponses, problem403 } from "./errors.ts";
import { managedSalon, requirePermission } from "./ownership.ts";
import { instantSchema } from "./schemas.ts";

const DAY_MS = 86_400_000;
const DEFAULT_RANGE_DAYS = 30;
const MAX_RANGE_DAYS = 366;

const currencyMetricsSchema = z.object({
  currency: z.string(),
  captured: z.number().int().openapi({ description: "Amount of captured payments (refunded ones included)" }),
  refunded: z.number().int(),
  net: z.number().int().openapi({ description: "captured - refunded" }),
  fees_kept: z.number().int().openapi({
    description: "Cancellation and no-show fees kept on bookings whose deposit was captured",
  }),
  platform_fees: z.number().int().openapi({ description: "The platform's share of captured payments" }),
  pending_deposits: z.number().int().openapi({ description: "Amount of payments not settled yet" }),
  attempts: z.number().int().openapi({ description: "Payments created in the range" }),
  failed: z.number().int(),
  failure_rate: z.number().openapi({ description: "failed / attempts, 4 decimals; 0 without attempts" }),
}).openapi("CurrencyPaymentMetrics");

const paymentMetricsSchema = z.object({
  salon_id: z.uuid().nullable().openapi({ description: "null: the whole platform" }),
  from: z.string(),
  to: z.string(),
  currencies: z.array(currencyMetricsSchema),
}).openapi("PaymentMetrics");

const metrics = createRoute({
  method: "get",
  path: "/api/v1/payments/metrics",
  operationId: "getPaymentMetrics",
  summary: "Payment figures per currency for a salon you manage (admins: any salon, or all without salon_id)",
  tags: ["Payments"],
  middleware: [requireUser] as const,
  request: {
    query: z.object({
      salon_id: z.uuid().optional().openapi({ description: "Required unless you are an admin" }),
      from: instantSchema.optional().openapi({
        description: "Payments created at or after; default: 30 days before to",
      }),
      to: instantSchema.optional().openapi({ description: "Payments created before; default: now" }),
    }),
  },
  responses: {
    200: { description: "The figures, one entry per currency with payments", ...json(paymentMetricsSchema) },
    401: problem401,
    403: problem403,
    ...errorResponses,
  },
});

function invalidQuery(path: string, message: string): ApiError {
  return new ApiError("validation", `Invalid query: ${path}`, { errors: [{ path: `query.${path}`, message }] });
}

/** Registers the payment metrics route; call it before `registerPayments`. */
export function registerPaymentMetrics(app: App): void {
  app.openapi(metrics, async (c) => {
    const query = c.req.valid("query");
    const db = c.var.services.database.db;
    let salonId: string | null = null;
    if (query.salon_id) {
      salonId = (await managedSalon(c, db, query.salon_id, "payments:read:salon")).id;
    } else if (!can(c.var.auth!.role, "payments:read:any")) {
      // Only the platform's staff may see every salon at once; owners must name their salon.
      requirePermission(c, "payments:read:salon");
      throw invalidQuery("salon_id", "is required unless you are an admin");
    }
    const to = query.to ? new Date(query.to) : c.var.services.now();
    const from = query.from ? new Date(query.from) : new Date(to.getTime() - DEFAULT_RANGE_DAYS * DAY_MS);
    if (to <= from) throw invalidQuery("to", "must be after from");
    if (to.getTime() - from.getTime() > MAX_RANGE_DAYS * DAY_MS) {
      throw invalidQuery("to", `must be at most ${MAX_RANGE_DAYS} days after from`);
    }

    const rows = await paymentMetrics(db, { salonId, from, to });
    return c.json({
      salon_id: salonId,
      from: from.toISOString(),
      to: to.toISOString(),
      currencies: rows.map((row) => ({
        currency: row.currency,
        captured: row.captured,
        refunded: row.refunded,
        net: row.captured - row.refunded,
        fees_kept: row.feesKept,
        platform_fees: row.platformFees,
        pending_deposits: row.pendingDeposits,
        attempts: row.attempts,
        failed: row.failed,
        failure_rate: row.attempts === 0 ? 0 : Math.round((row.failed / row.attempts) * 10_000) / 10_000,
      })),
    }, 200);
  });
}
