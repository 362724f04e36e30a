/** Admins: reconcile payments with the provider now, and read past runs and their mismatches. */
import { createRoute, z } from "@hono/zod-openapi";
import { desc } from "drizzle-orm";
import { paymentReconciliations } from "../db/schema.ts";
import { reconcilePayments } from "../jobs/reconcile.ts";
import type { App } from "./app.ts";
import { json, problem401, requireUser } from "./auth.ts";
import { errorResponses, problem403 } from "./errors.ts";
import { requirePermission } from "./ownership.ts";

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

/** Registers the admin payment routes. */
export function registerAdminPayments(app: App): void {
  app.openapi(reconcile, async (c) => {
    requirePermission(c, "payments:reconcile");
    const run = await reconcilePayments({ services: c.var.services, requestId: c.var.requestId });
    return c.json(toRun(run), 200);
  });

  app.openapi(runs, async (c) => {
    requirePermission(c, "payments:reconcile");
    const rows = await c.var.services.database.db.select().from(paymentReconciliations)
      .orderBy(desc(paymentReconciliations.startedAt)).limit(20);
    return c.json({ data: rows.map(toRun) }, 200);
  });
}
