/** Admins: jobs that reached the dead letter, and re-driving them. */
import { createRoute, z } from "@hono/zod-openapi";
import { desc, eq } from "drizzle-orm";
import { jobs } from "../db/schema.ts";
import { redrive } from "../jobs/dispatcher.ts";
import type { App } from "./app.ts";
import { auditContext, json, problem401, requireUser } from "./auth.ts";
import { errorResponses, notFound, problem403 } from "./errors.ts";
import { requirePermission } from "./ownership.ts";

const tags = ["Admin"];

const jobSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  payload: z.record(z.string(), z.unknown()),
  status: z.enum(["PENDING", "DELIVERED", "DEAD"]),
  attempts: z.number().int(),
  last_error: z.string().nullable(),
  not_before: z.string(),
  updated_at: z.string(),
}).openapi("Job");

const list = createRoute({
  method: "get",
  path: "/api/v1/admin/jobs",
  operationId: "listJobs",
  summary: "Jobs of the embedded dispatcher by status (default: the dead letter), newest first",
  tags,
  middleware: [requireUser] as const,
  request: {
    query: z.object({
      status: z.enum(["PENDING", "DELIVERED", "DEAD"]).default("DEAD"),
      limit: z.coerce.number().int().min(1).max(100).default(50),
    }),
  },
  responses: {
    200: { description: "Jobs", ...json(z.object({ data: z.array(jobSchema) })) },
    401: problem401,
    403: problem403,
    ...errorResponses,
  },
});

const redriveRoute = createRoute({
  method: "post",
  path: "/api/v1/admin/jobs/{id}/redrive",
  operationId: "redriveJob",
  summary: "Queue a dead job again with fresh attempts",
  tags,
  middleware: [requireUser] as const,
  request: { params: z.object({ id: z.uuid() }) },
  responses: {
    202: { description: "Queued again" },
    401: problem401,
    403: problem403,
    ...errorResponses,
  },
});

/** Registers the admin job routes. */
export function registerAdminJobs(app: App): void {
  app.openapi(list, async (c) => {
    requirePermission(c, "jobs:manage");
    const query = c.req.valid("query");
    const rows = await c.var.services.database.db.select().from(jobs).where(eq(jobs.status, query.status))
      .orderBy(desc(jobs.updatedAt)).limit(query.limit);
    return c.json({
      data: rows.map((row) => ({
        id: row.id,
        name: row.name,
        payload: row.payload as Record<string, unknown>,
        status: row.status,
        attempts: row.attempts,
        last_error: row.lastError,
        not_before: row.notBefore.toISOString(),
        updated_at: row.updatedAt.toISOString(),
      })),
    }, 200);
  });

  app.openapi(redriveRoute, async (c) => {
    const auth = requirePermission(c, "jobs:manage");
    const { id } = c.req.valid("param");
    const redriven = await redrive(c.var.services.database.db, id, c.var.services.now(), {
      actorId: auth.userId,
      context: auditContext(c),
    });
    if (!redriven) throw notFound("dead job");
    return c.body(null, 202);
  });
}
