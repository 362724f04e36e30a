/**
 * Availability: a professional's weekly rules and date overrides (wall-clock time in the salon's
 * zone), their time off (instants), and salon closures (dates). A professional edits their own;
 * the salon's owner (and admins) edit their salon's; anyone reads what the slot search uses,
 * except time off, whose reasons are private.
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import {
  deleteClosure,
  deleteTimeOff,
  insertClosure,
  insertTimeOff,
  listClosures,
  listOverrides,
  listRules,
  listTimeOff,
  replaceRules,
  setOverride,
  type TimeOffRow,
} from "../db/availability.ts";
import { findProfessional, type ProfessionalRecord } from "../db/professionals.ts";
import { findSalon } from "../db/salons.ts";
import { describeWeekly, shortTime, windowProblems } from "../domain/availability.ts";
import { can } from "../domain/access.ts";
import type { App, AppEnv } from "./app.ts";
import { auditContext, json, optionalUser, problem401, requireUser } from "./auth.ts";
import { ApiError, bodyErrorResponses, errorResponses, forbidden, notFound, problem403 } from "./errors.ts";
import { managedSalon, managesSalon } from "./ownership.ts";
import { visibleProfessional } from "./professionals.ts";
import { optionalBearer } from "./salons.ts";
import { instantSchema, plainDateSchema, wallTimeSchema } from "./schemas.ts";

const tags = ["Availability"];
const MAX_RANGE_DAYS = 366;
const DAY_MS = 24 * 60 * 60 * 1000;

const windowSchema = z.object({ start: wallTimeSchema, end: wallTimeSchema }).strict()
  .refine((w) => w.start !== "24:00", { message: "must be before 24:00", path: ["start"] });
const ruleSchema = z.object({
  day_of_week: z.number().int().min(1).max(7).openapi({ description: "ISO: 1 = Monday … 7 = Sunday" }),
  start: wallTimeSchema,
  end: wallTimeSchema,
}).strict().openapi("WeeklyRule");
const rulesBody = z.object({ rules: z.array(ruleSchema).max(70) }).strict().openapi("WeeklyRules");
const rulesSchema = z.object({ professional_id: z.uuid(), time_zone: z.string(), rules: z.array(ruleSchema) })
  .openapi("WeeklyRuleSet");

const overrideBody = z.union([
  z.object({ closed: z.literal(true) }).strict(),
  z.object({ windows: z.array(windowSchema).min(1).max(12) }).strict(),
]).openapi("DateOverrideSet", { description: "`{closed: true}`, or the windows that replace the weekly rules" });
const overrideSchema = z.object({
  date: z.string(),
  closed: z.boolean(),
  windows: z.array(z.object({ start: z.string(), end: z.string() })),
}).openapi("DateOverride");

const timeOffBody = z.object({
  starts_at: instantSchema,
  ends_at: instantSchema,
  reason: z.string().trim().max(500).nullable().optional(),
}).strict().openapi("TimeOffCreate");
const timeOffSchema = z.object({
  id: z.uuid(),
  professional_id: z.uuid(),
  starts_at: z.string(),
  ends_at: z.string(),
  reason: z.string().nullable(),
}).openapi("TimeOff");

const closureBody = z.object({
  start_date: plainDateSchema,
  end_date: plainDateSchema,
  reason: z.string().trim().max(500).nullable().optional(),
}).strict().openapi("SalonClosureCreate");
const closureSchema = z.object({
  id: z.uuid(),
  salon_id: z.uuid(),
  start_date: z.string(),
  end_date: z.string(),
  reason: z.string().nullable(),
}).openapi("SalonClosure");

const professionalParam = z.object({ id: z.uuid() });
const dateRangeQuery = z.object({
  from: plainDateSchema.optional().openapi({ description: "First date (default: today in the salon)" }),
  to: plainDateSchema.optional().openapi({ description: "Last date (default: 90 days after `from`)" }),
});
const instantRangeQuery = z.object({
  from: instantSchema.optional().openapi({ description: "Default: now" }),
  to: instantSchema.optional().openapi({ description: "Default: 90 days after `from`" }),
});

function toTimeOff(row: TimeOffRow): z.infer<typeof timeOffSchema> {
  return {
    id: row.id,
    professional_id: row.professionalId,
    starts_at: row.startsAt.toISOString(),
    ends_at: row.endsAt.toISOString(),
    reason: row.reason,
  };
}

/**
 * Loads a professional whose availability the caller may change: their own (a professional), or
 * one of a salon they manage. A role that can do neither gets 403; anyone else's, 404.
 */
async function editableProfessional(c: Context<AppEnv>, id: string): Promise<ProfessionalRecord> {
  const auth = c.var.auth!;
  if (!can(auth.role, "availability:manage:own")) throw forbidden();
  const record = await findProfessional(c.var.services.database.db, id);
  if (!record) throw notFound("professional");
  const own = record.professional.userId === auth.userId;
  const salonManager = can(auth.role, "availability:manage:salon") && managesSalon(auth, record.salon);
  if (!own && !salonManager) throw notFound("professional");
  return record;
}

function invalid(detail: string, errors: { path: string; message: string }[]): ApiError {
  return new ApiError("validation", detail, { errors });
}

/** Resolves a date range, defaulting to 90 days from today in the zone; at most a year. */
function dateRange(query: { from?: string; to?: string }, timeZone: string, now: Date) {
  const from = query.from ?? Temporal.Instant.fromEpochMilliseconds(now.getTime()).toZonedDateTimeISO(timeZone)
    .toPlainDate().toString();
  const to = query.to ?? Temporal.PlainDate.from(from).add({ days: 90 }).toString();
  const days = Temporal.PlainDate.compare(from, to) > 0
    ? -1
    : Temporal.PlainDate.from(from).until(to, { largestUnit: "days" }).days;
  if (days < 0) {
    throw invalid("Invalid query: to is before from", [{ path: "query.to", message: "must not be before from" }]);
  }
  if (days > MAX_RANGE_DAYS) {
    throw invalid(`Invalid query: at most ${MAX_RANGE_DAYS} days`, [
      { path: "query.to", message: `must be at most ${MAX_RANGE_DAYS} days after from` },
    ]);
  }
  return { from, to };
}

const who = { 401: problem401, 403: problem403 };

const getRules = createRoute({
  method: "get",
  path: "/api/v1/professionals/{id}/availability/rules",
  operationId: "getWeeklyRules",
  summary: "A professional's weekly hours, in the salon's wall-clock time",
  tags,
  security: optionalBearer,
  middleware: [optionalUser] as const,
  request: { params: professionalParam },
  responses: { 200: { description: "The weekly rules", ...json(rulesSchema) }, 401: problem401, ...errorResponses },
});

const putRules = createRoute({
  method: "put",
  path: "/api/v1/professionals/{id}/availability/rules",
  operationId: "replaceWeeklyRules",
  summary: "Replace a professional's weekly hours; windows of a day may touch but not overlap",
  tags,
  middleware: [requireUser] as const,
  request: { params: professionalParam, body: { required: true, ...json(rulesBody) } },
  responses: { 200: { description: "The new weekly rules", ...json(rulesSchema) }, ...who, ...bodyErrorResponses },
});

const listDateOverrides = createRoute({
  method: "get",
  path: "/api/v1/professionals/{id}/availability/overrides",
  operationId: "listDateOverrides",
  summary: "Dates on which a professional is closed or keeps other hours",
  tags,
  security: optionalBearer,
  middleware: [optionalUser] as const,
  request: { params: professionalParam, query: dateRangeQuery },
  responses: {
    200: { description: "Overrides by date", ...json(z.object({ data: z.array(overrideSchema) })) },
    401: problem401,
    ...errorResponses,
  },
});

const dateParam = z.object({ id: z.uuid(), date: plainDateSchema });

const putDateOverride = createRoute({
  method: "put",
  path: "/api/v1/professionals/{id}/availability/overrides/{date}",
  operationId: "setDateOverride",
  summary: "Close a date, or give it other hours than the weekly rules",
  tags,
  middleware: [requireUser] as const,
  request: { params: dateParam, body: { required: true, ...json(overrideBody) } },
  responses: { 200: { description: "The date's override", ...json(overrideSchema) }, ...who, ...bodyErrorResponses },
});

const deleteDateOverride = createRoute({
  method: "delete",
  path: "/api/v1/professionals/{id}/availability/overrides/{date}",
  operationId: "removeDateOverride",
  summary: "Remove a date's override: the weekly rules apply again",
  tags,
  middleware: [requireUser] as const,
  request: { params: dateParam },
  responses: { 204: { description: "Removed (or there was none)" }, ...who, ...errorResponses },
});

const listProfessionalTimeOff = createRoute({
  method: "get",
  path: "/api/v1/professionals/{id}/time-off",
  operationId: "listTimeOff",
  summary: "A professional's time off (the professional and the salon's managers)",
  tags,
  middleware: [requireUser] as const,
  request: { params: professionalParam, query: instantRangeQuery },
  responses: {
    200: { description: "Time off overlapping the range", ...json(z.object({ data: z.array(timeOffSchema) })) },
    ...who,
    ...errorResponses,
  },
});

const createTimeOff = createRoute({
  method: "post",
  path: "/api/v1/professionals/{id}/time-off",
  operationId: "addTimeOff",
  summary: "Take time off: no slot is offered inside it",
  tags,
  middleware: [requireUser] as const,
  request: { params: professionalParam, body: { required: true, ...json(timeOffBody) } },
  responses: {
    201: { description: "Recorded; `Location` names it", ...json(timeOffSchema) },
    ...who,
    ...bodyErrorResponses,
  },
});

const removeTimeOff = createRoute({
  method: "delete",
  path: "/api/v1/professionals/{id}/time-off/{timeOffId}",
  operationId: "removeTimeOff",
  summary: "Cancel time off",
  tags,
  middleware: [requireUser] as const,
  request: { params: z.object({ id: z.uuid(), timeOffId: z.uuid() }) },
  responses: { 204: { description: "Removed" }, ...who, ...errorResponses },
});

const getClosures = createRoute({
  method: "get",
  path: "/api/v1/salons/{id}/closures",
  operationId: "listSalonClosures",
  summary: "Dates the salon is closed (holidays) for all its professionals",
  tags,
  security: optionalBearer,
  middleware: [optionalUser] as const,
  request: { params: z.object({ id: z.uuid() }), query: dateRangeQuery },
  responses: {
    200: { description: "Closures touching the range", ...json(z.object({ data: z.array(closureSchema) })) },
    401: problem401,
    ...errorResponses,
  },
});

const createClosure = createRoute({
  method: "post",
  path: "/api/v1/salons/{id}/closures",
  operationId: "addSalonClosure",
  summary: "Close the salon from one date to another, inclusive",
  tags,
  middleware: [requireUser] as const,
  request: { params: z.object({ id: z.uuid() }), body: { required: true, ...json(closureBody) } },
  responses: {
    201: { description: "Recorded; `Location` names it", ...json(closureSchema) },
    ...who,
    ...bodyErrorResponses,
  },
});

const removeClosure = createRoute({
  method: "delete",
  path: "/api/v1/salons/{id}/closures/{closureId}",
  operationId: "removeSalonClosure",
  summary: "Reopen: remove a closure",
  tags,
  middleware: [requireUser] as const,
  request: { params: z.object({ id: z.uuid(), closureId: z.uuid() }) },
  responses: { 204: { description: "Removed" }, ...who, ...errorResponses },
});

/** Registers the availability routes. */
export function registerAvailability(app: App): void {
  const actor = (c: Context<AppEnv>) => ({ actorId: c.var.auth!.userId, context: auditContext(c) });

  async function rulesOf(c: Context<AppEnv>, record: ProfessionalRecord) {
    const rows = await listRules(c.var.services.database.db, record.professional.id);
    return {
      professional_id: record.professional.id,
      time_zone: record.salon.timeZone,
      rules: rows.map((r) => ({ day_of_week: r.dayOfWeek, start: shortTime(r.startTime), end: shortTime(r.endTime) })),
    };
  }

  app.openapi(getRules, async (c) => {
    const record = await visibleProfessional(c, c.req.valid("param").id);
    return c.json(await rulesOf(c, record), 200);
  });

  app.openapi(putRules, async (c) => {
    const record = await editableProfessional(c, c.req.valid("param").id);
    const rules = c.req.valid("json").rules.map((r) => ({ dayOfWeek: r.day_of_week, start: r.start, end: r.end }));
    const problems = windowProblems(rules, (r) => r.dayOfWeek, describeWeekly);
    if (problems.length > 0) {
      throw invalid(
        "Weekly rules overlap or are empty: see errors",
        problems.map((p) => ({
          path: `rules.${p.index}`,
          message: p.message,
        })),
      );
    }
    await replaceRules(c.var.services.database.db, record.professional.id, rules, actor(c));
    return c.json(await rulesOf(c, record), 200);
  });

  app.openapi(listDateOverrides, async (c) => {
    const record = await visibleProfessional(c, c.req.valid("param").id);
    const range = dateRange(c.req.valid("query"), record.salon.timeZone, c.var.services.now());
    const rows = await listOverrides(c.var.services.database.db, record.professional.id, range.from, range.to);
    const byDate = new Map<string, z.infer<typeof overrideSchema>>();
    for (const row of rows) {
      const day = byDate.get(row.date) ?? { date: row.date, closed: false, windows: [] };
      if (row.kind === "CLOSED") day.closed = true;
      else day.windows.push({ start: shortTime(row.startTime!), end: shortTime(row.endTime!) });
      byDate.set(row.date, day);
    }
    return c.json({ data: [...byDate.values()] }, 200);
  });

  app.openapi(putDateOverride, async (c) => {
    const { id, date } = c.req.valid("param");
    const body = c.req.valid("json");
    const record = await editableProfessional(c, id);
    if ("windows" in body) {
      const problems = windowProblems(body.windows, () => 0, (w) => `${w.start}–${w.end}`);
      if (problems.length > 0) {
        throw invalid(
          "Windows overlap or are empty: see errors",
          problems.map((p) => ({
            path: `windows.${p.index}`,
            message: p.message,
          })),
        );
      }
    }
    await setOverride(c.var.services.database.db, record.professional.id, date, body, actor(c));
    const windows = "windows" in body ? [...body.windows].sort((a, b) => a.start.localeCompare(b.start)) : [];
    return c.json({ date, closed: "closed" in body, windows }, 200);
  });

  app.openapi(deleteDateOverride, async (c) => {
    const { id, date } = c.req.valid("param");
    const record = await editableProfessional(c, id);
    await setOverride(c.var.services.database.db, record.professional.id, date, null, actor(c));
    return c.body(null, 204);
  });

  app.openapi(listProfessionalTimeOff, async (c) => {
    const record = await editableProfessional(c, c.req.valid("param").id);
    const query = c.req.valid("query");
    const from = query.from ? new Date(query.from) : c.var.services.now();
    const to = query.to ? new Date(query.to) : new Date(from.getTime() + 90 * DAY_MS);
    if (to <= from) throw invalid("Invalid query: to", [{ path: "query.to", message: "must be after from" }]);
    if (to.getTime() - from.getTime() > MAX_RANGE_DAYS * DAY_MS) {
      throw invalid("Invalid query: to", [{
        path: "query.to",
        message: `must be at most ${MAX_RANGE_DAYS} days after from`,
      }]);
    }
    const rows = await listTimeOff(c.var.services.database.db, record.professional.id, from, to);
    return c.json({ data: rows.map(toTimeOff) }, 200);
  });

  app.openapi(createTimeOff, async (c) => {
    const record = await editableProfessional(c, c.req.valid("param").id);
    const body = c.req.valid("json");
    const startsAt = new Date(body.starts_at);
    const endsAt = new Date(body.ends_at);
    if (endsAt <= startsAt) {
      throw invalid("Time off must end after it starts", [{ path: "ends_at", message: "must be after starts_at" }]);
    }
    if (endsAt.getTime() - startsAt.getTime() > MAX_RANGE_DAYS * DAY_MS) {
      throw invalid("Time off is too long", [{
        path: "ends_at",
        message: `must be at most ${MAX_RANGE_DAYS} days after starts_at`,
      }]);
    }
    const row = await insertTimeOff(c.var.services.database.db, {
      professionalId: record.professional.id,
      startsAt,
      endsAt,
      reason: body.reason ?? null,
    }, actor(c));
    c.header("Location", `/api/v1/professionals/${record.professional.id}/time-off/${row.id}`);
    return c.json(toTimeOff(row), 201);
  });

  app.openapi(removeTimeOff, async (c) => {
    const { id, timeOffId } = c.req.valid("param");
    const record = await editableProfessional(c, id);
    const removed = await deleteTimeOff(c.var.services.database.db, record.professional.id, timeOffId, actor(c));
    if (!removed) throw notFound("time off");
    return c.body(null, 204);
  });

  app.openapi(getClosures, async (c) => {
    const { id } = c.req.valid("param");
    const salon = await findSalon(c.var.services.database.db, id);
    if (!salon || (!salon.active && !managesSalon(c.var.auth, salon))) throw notFound("salon");
    const range = dateRange(c.req.valid("query"), salon.timeZone, c.var.services.now());
    const rows = await listClosures(c.var.services.database.db, salon.id, range.from, range.to);
    return c.json({
      data: rows.map((r) => ({
        id: r.id,
        salon_id: r.salonId,
        start_date: r.startDate,
        end_date: r.endDate,
        reason: r.reason,
      })),
    }, 200);
  });

  app.openapi(createClosure, async (c) => {
    const { id } = c.req.valid("param");
    const body = c.req.valid("json");
    const db = c.var.services.database.db;
    const salon = await managedSalon(c, db, id, "availability:manage:salon");
    const days = Temporal.PlainDate.compare(body.start_date, body.end_date) > 0
      ? -1
      : Temporal.PlainDate.from(body.start_date).until(body.end_date, { largestUnit: "days" }).days;
    if (days < 0) {
      throw invalid("A closure must end on or after its first day", [{
        path: "end_date",
        message: "must not be before start_date",
      }]);
    }
    if (days > MAX_RANGE_DAYS) {
      throw invalid("A closure is too long", [{
        path: "end_date",
        message: `must be at most ${MAX_RANGE_DAYS} days after start_date`,
      }]);
    }
    const row = await insertClosure(db, {
      salonId: salon.id,
      startDate: body.start_date,
      endDate: body.end_date,
      reason: body.reason ?? null,
    }, actor(c));
    c.header("Location", `/api/v1/salons/${salon.id}/closures/${row.id}`);
    return c.json({
      id: row.id,
      salon_id: row.salonId,
      start_date: row.startDate,
      end_date: row.endDate,
      reason: row.reason,
    }, 201);
  });

  app.openapi(removeClosure, async (c) => {
    const { id, closureId } = c.req.valid("param");
    const db = c.var.services.database.db;
    const salon = await managedSalon(c, db, id, "availability:manage:salon");
    if (!(await deleteClosure(db, salon.id, closureId, actor(c)))) throw notFound("closure");
    return c.body(null, 204);
  });
}
