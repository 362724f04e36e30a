/** Health probes, named as in the eSalão source. They answer without authentication. */
import { createRoute, z } from "@hono/zod-openapi";
import { migrationStatus } from "../db/migrate.ts";
import type { App, AppDeps } from "./app.ts";
import { errorResponses } from "./errors.ts";

const checkSchema = z.object({
  status: z.enum(["up", "down"]),
  latency_ms: z.number().optional(),
  error: z.string().optional().openapi({
    description: "Why it is down: the error class, or `timeout` when it did not answer within the check's deadline",
  }),
}).openapi("HealthCheck");

const databaseCheckSchema = checkSchema.extend({
  kind: z.enum(["pglite", "postgres", "neon"]).openapi({ description: "Which database answers" }),
}).openapi("DatabaseHealth");

const redisCheckSchema = checkSchema.extend({
  kind: z.enum(["upstash", "embedded"]).openapi({ description: "`embedded` where no Redis is configured" }),
}).openapi("RedisHealth");

const readinessSchema = z.object({
  status: z.enum(["ready", "not_ready"]),
  database: checkSchema,
  store: redisCheckSchema,
  migrations: z.object({ applied: z.number().int(), pending: z.array(z.string()) }),
}).openapi("Readiness");

const healthSchema = z.object({
  status: z.enum(["ok", "degraded"]),
  checks: z.object({ database: databaseCheckSchema, redis: redisCheckSchema }),
}).openapi("Health");

const liveSchema = z.object({ status: z.literal("ok") }).openapi("Liveness");

type Check = z.infer<typeof checkSchema>;

const TIMED_OUT = Symbol("timed out");

/**
 * Runs one probe under its own deadline: a dependency that does not answer (a silent Redis, a
 * database whose packets are swallowed) is reported down as `timeout` instead of holding the probe,
 * so the answer always comes within the deadline and names what is late. The probe itself is left
 * to its own client's deadline.
 */
async function timed(probe: () => Promise<unknown>, deadlineMs: number): Promise<Check> {
  const started = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<typeof TIMED_OUT>((resolve) => (timer = setTimeout(() => resolve(TIMED_OUT), deadlineMs)));
  try {
    const outcome = await Promise.race([probe(), late]);
    if (outcome === TIMED_OUT) return { status: "down", error: "timeout", latency_ms: deadlineMs };
    return { status: "up", latency_ms: Math.round((performance.now() - started) * 100) / 100 };
  } catch (error) {
    // The error class only: driver messages can carry hosts or credentials.
    return { status: "down", error: error instanceof Error ? error.name : "unknown error" };
  } finally {
    clearTimeout(timer);
  }
}

async function checkDatabase(deps: AppDeps) {
  const deadline = deps.config.HEALTH_CHECK_TIMEOUT_MS;
  return { kind: deps.database.kind, ...(await timed(() => deps.database.sql.query("SELECT 1"), deadline)) };
}

async function checkRedis(deps: AppDeps) {
  return { kind: deps.store.kind, ...(await timed(() => deps.store.ping(), deps.config.HEALTH_CHECK_TIMEOUT_MS)) };
}

const tags = ["Health"];
const security: Record<string, string[]>[] = [];

const health = createRoute({
  method: "get",
  path: "/health",
  operationId: "getHealth",
  summary: "Overall health: the database and the Redis store",
  tags,
  security,
  responses: {
    200: { description: "Every dependency answers", content: { "application/json": { schema: healthSchema } } },
    503: { description: "A dependency is down", content: { "application/json": { schema: healthSchema } } },
    500: errorResponses[500],
  },
});

const live = createRoute({
  method: "get",
  path: "/health/live",
  operationId: "getLiveness",
  summary: "Liveness: the process answers",
  tags,
  security,
  responses: {
    200: { description: "Alive", content: { "application/json": { schema: liveSchema } } },
    500: errorResponses[500],
  },
});

const ready = createRoute({
  method: "get",
  path: "/health/ready",
  operationId: "getReadiness",
  summary: "Readiness: the database and the store answer and every migration is applied",
  description: "Each dependency is checked under its own deadline (`HEALTH_CHECK_TIMEOUT_MS`): the answer comes " +
    "within it whatever is down, and names each dependency's state.",
  tags,
  security,
  responses: {
    200: { description: "Ready for traffic", content: { "application/json": { schema: readinessSchema } } },
    503: { description: "Not ready", content: { "application/json": { schema: readinessSchema } } },
    500: errorResponses[500],
  },
});

const db = createRoute({
  method: "get",
  path: "/health/db",
  operationId: "getDatabaseHealth",
  summary: "Database health",
  tags,
  security,
  responses: {
    200: { description: "The database answers", content: { "application/json": { schema: databaseCheckSchema } } },
    503: { description: "The database is down", content: { "application/json": { schema: databaseCheckSchema } } },
    500: errorResponses[500],
  },
});

const redis = createRoute({
  method: "get",
  path: "/health/redis",
  operationId: "getRedisHealth",
  summary: "Redis store health",
  tags,
  security,
  responses: {
    200: { description: "The store answers", content: { "application/json": { schema: redisCheckSchema } } },
    503: { description: "The store is down", content: { "application/json": { schema: redisCheckSchema } } },
    500: errorResponses[500],
  },
});

/** Registers the health probes. */
export function registerHealth(app: App): void {
  app.openapi(health, async (c) => {
    const deps = c.var.services;
    const [database, redis] = await Promise.all([checkDatabase(deps), checkRedis(deps)]);
    const up = database.status === "up" && redis.status === "up";
    return c.json({ status: up ? "ok" as const : "degraded" as const, checks: { database, redis } }, up ? 200 : 503);
  });

  app.openapi(live, (c) => c.json({ status: "ok" as const }, 200));

  app.openapi(ready, async (c) => {
    const deps = c.var.services;
    let pending: string[] = [];
    let applied = 0;
    const [database, store] = await Promise.all([
      timed(async () => {
        const status = await migrationStatus(deps.database.sql);
        pending = status.pending;
        applied = status.applied.length;
      }, deps.config.HEALTH_CHECK_TIMEOUT_MS),
      checkRedis(deps),
    ]);
    const isReady = database.status === "up" && store.status === "up" && pending.length === 0;
    return c.json(
      {
        status: isReady ? "ready" as const : "not_ready" as const,
        database,
        store,
        migrations: { applied, pending },
      },
      isReady ? 200 : 503,
    );
  });

  app.openapi(db, async (c) => {
    const check = await checkDatabase(c.var.services);
    return c.json(check, check.status === "up" ? 200 : 503);
  });

  app.openapi(redis, async (c) => {
    const check = await checkRedis(c.var.services);
    return c.json(check, check.status === "up" ? 200 : 503);
  });
}
