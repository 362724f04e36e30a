/** Availability queries: weekly rules, date overrides, time off and salon closures. */
import { and, asc, eq, gt, gte, lt, lte, type SQL, sql } from "drizzle-orm";
import { type AuditContext, auditInsert } from "./audit.ts";
import type { Db } from "./client.ts";
import { auditEvents, availabilityOverrides, availabilityRules, salonClosures, timeOff } from "./schema.ts";

export type RuleRow = typeof availabilityRules.$inferSelect;
export type OverrideRow = typeof availabilityOverrides.$inferSelect;
export type TimeOffRow = typeof timeOff.$inferSelect;
export type ClosureRow = typeof salonClosures.$inferSelect;

interface Actor {
  actorId: string;
  context: AuditContext;
}

/** The professional's weekly rules, by day then start. */
export function listRules(db: Db, professionalId: string): Promise<RuleRow[]> {
  return db.select().from(availabilityRules).where(eq(availabilityRules.professionalId, professionalId))
    .orderBy(asc(availabilityRules.dayOfWeek), asc(availabilityRules.startTime));
}

/** Replaces the professional's whole weekly set in one batch, audited. */
export async function replaceRules(
  db: Db,
  professionalId: string,
  rules: { dayOfWeek: number; start: string; end: string }[],
  { actorId, context }: Actor,
): Promise<void> {
  const remove = db.delete(availabilityRules).where(eq(availabilityRules.professionalId, professionalId));
  const audit = auditInsert(db, context, {
    actorId,
    action: "availability.rules_replaced",
    entityType: "professional",
    entityId: professionalId,
    data: { rules: rules.length },
  });
  if (rules.length === 0) {
    await db.batch([remove, audit]);
    return;
  }
  await db.batch([
    remove,
    db.insert(availabilityRules).values(
      rules.map((rule) => ({ professionalId, dayOfWeek: rule.dayOfWeek, startTime: rule.start, endTime: rule.end })),
    ),
    audit,
  ]);
}

/** Overrides of the professional between two dates, inclusive. */
export function listOverrides(db: Db, professionalId: string, from: string, to: string): Promise<OverrideRow[]> {
  return db.select().from(availabilityOverrides).where(and(
    eq(availabilityOverrides.professionalId, professionalId),
    gte(availabilityOverrides.date, from),
    lte(availabilityOverrides.date, to),
  )).orderBy(asc(availabilityOverrides.date), asc(availabilityOverrides.startTime));
}

/**
 * Sets what one date looks like: closed, or these windows instead of the weekly rules; `null`
 * removes the override so the weekly rules apply again. One batch, audited.
 */
export async function setOverride(
  db: Db,
  professionalId: string,
  date: string,
  day: { closed: true } | { windows: { start: string; end: string }[] } | null,
  { actorId, context }: Actor,
): Promise<void> {
  const remove = db.delete(availabilityOverrides).where(
    and(eq(availabilityOverrides.professionalId, professionalId), eq(availabilityOverrides.date, date)),
  );
  const audit = auditInsert(db, context, {
    actorId,
    action: day === null ? "availability.override_removed" : "availability.override_set",
    entityType: "professional",
    entityId: professionalId,
    data: { date, closed: day !== null && "closed" in day },
  });
  if (day === null) {
    await db.batch([remove, audit]);
    return;
  }
  const rows = "closed" in day
    ? [{ professionalId, date, kind: "CLOSED" as const, startTime: null, endTime: null }]
    : day.windows.map((w) => ({ professionalId, date, kind: "OPEN" as const, startTime: w.start, endTime: w.end }));
  await db.batch([remove, db.insert(availabilityOverrides).values(rows), audit]);
}

/** Time off of the professional that overlaps [from, to). */
export function listTimeOff(db: Db, professionalId: string, from: Date, to: Date): Promise<TimeOffRow[]> {
  return db.select().from(timeOff).where(and(
    eq(timeOff.professionalId, professionalId),
    lt(timeOff.startsAt, to),
    gt(timeOff.endsAt, from),
  )).orderBy(asc(timeOff.startsAt));
}

/** Records time off, audited. */
export async function insertTimeOff(
  db: Db,
  values: { professionalId: string; startsAt: Date; endsAt: Date; reason: string | null },
  { actorId, context }: Actor,
): Promise<TimeOffRow> {
  const id = crypto.randomUUID();
  const [[row]] = await db.batch([
    db.insert(timeOff).values({ ...values, id }).returning(),
    auditInsert(db, context, {
      actorId,
      action: "availability.time_off_added",
      entityType: "professional",
      entityId: values.professionalId,
      data: { time_off_id: id },
    }),
  ]);
  return row;
}

/**
 * Deletes one row and audits the deletion in one statement, so that a missing row writes no event.
 * Returns false when there was nothing to delete.
 */
async function deleteAudited(
  db: Db,
  deletion: SQL,
  event: { action: string; entityType: string; entityId: string; data: Record<string, unknown> },
  { actorId, context }: Actor,
): Promise<boolean> {
  const data = JSON.stringify({ user_agent: context.userAgent, ...event.data });
  const result = await db.execute(sql`
    WITH removed AS (${deletion} RETURNING 1)
    INSERT INTO ${auditEvents} (actor_id, action, entity_type, entity_id, ip, request_id, data)
    SELECT ${actorId}, ${event.action}, ${event.entityType}, ${event.entityId}, ${context.ip}, ${context.requestId},
      ${data}::jsonb
    FROM removed RETURNING 1`);
  return result.rows.length === 1;
}

/** Removes time off of this professional; false when there is no such entry. */
export function deleteTimeOff(db: Db, professionalId: string, timeOffId: string, actor: Actor): Promise<boolean> {
  return deleteAudited(
    db,
    sql`DELETE FROM ${timeOff} WHERE ${timeOff.id} = ${timeOffId} AND ${timeOff.professionalId} = ${professionalId}`,
    {
      action: "availability.time_off_removed",
      entityType: "professional",
      entityId: professionalId,
      data: { time_off_id: timeOffId },
    },
    actor,
  );
}

/** Closures of the salon that touch [from, to] (dates, inclusive). */
export function listClosures(db: Db, salonId: string, from: string, to: string): Promise<ClosureRow[]> {
  return db.select().from(salonClosures).where(and(
    eq(salonClosures.salonId, salonId),
    lte(salonClosures.startDate, to),
    gte(salonClosures.endDate, from),
  )).orderBy(asc(salonClosures.startDate));
}

/** Records a salon closure, audited. */
export async function insertClosure(
  db: Db,
  values: { salonId: string; startDate: string; endDate: string; reason: string | null },
  { actorId, context }: Actor,
): Promise<ClosureRow> {
  const id = crypto.randomUUID();
  const [[row]] = await db.batch([
    db.insert(salonClosures).values({ ...values, id }).returning(),
    auditInsert(db, context, {
      actorId,
      action: "salon.closure_added",
      entityType: "salon",
      entityId: values.salonId,
      data: { closure_id: id, start_date: values.startDate, end_date: values.endDate },
    }),
  ]);
  return row;
}

/** Removes a closure of this salon; false when there is no such closure. */
export function deleteClosure(db: Db, salonId: string, closureId: string, actor: Actor): Promise<boolean> {
  return deleteAudited(
    db,
    sql`DELETE FROM ${salonClosures} WHERE ${salonClosures.id} = ${closureId} AND ${salonClosures.salonId} = ${salonId}`,
    { action: "salon.closure_removed", entityType: "salon", entityId: salonId, data: { closure_id: closureId } },
    actor,
  );
}
