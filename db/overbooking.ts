/**
 * Overbooking rules and the overbooked insert. The count of places taken and the insert happen in
 * one batch transaction behind an advisory lock on the rule's scope (and the client's lock of the
 * booking limits), so two requests can never both take the last extra place.
 */
import { and, count, eq, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { type AuditContext, auditInsert } from "./audit.ts";
import type { LimitCheck } from "../domain/booking_limits.ts";
import {
  type BookingInsert,
  type DepositRecord,
  type LimitedInsert,
  limitedInsertResult,
  limitedInsertSql,
  lockClient,
  onlyIfBooked,
} from "./bookings.ts";
import type { Db } from "./client.ts";
import { bookings, overbookingConfigs, professionals } from "./schema.ts";

export type OverbookingRow = typeof overbookingConfigs.$inferSelect;

export interface ApplicableRule {
  row: OverbookingRow;
  /** 1 for a professional's own rule; the salon's active professionals for a salon rule. */
  capacity: number;
}

/** The professional's own active rule, else the salon's active rule, else null. */
export async function applicableRule(db: Db, salonId: string, professionalId: string): Promise<ApplicableRule | null> {
  const rows = await db.select().from(overbookingConfigs).where(and(
    eq(overbookingConfigs.salonId, salonId),
    eq(overbookingConfigs.active, true),
    sql`(${overbookingConfigs.professionalId} = ${professionalId} or ${overbookingConfigs.professionalId} is null)`,
  ));
  const own = rows.find((r) => r.professionalId === professionalId);
  if (own) return { row: own, capacity: 1 };
  const salonWide = rows.find((r) => r.professionalId === null);
  if (!salonWide) return null;
  const [{ value }] = await db.select({ value: count() }).from(professionals)
    .where(and(eq(professionals.salonId, salonId), eq(professionals.active, true)));
  return { row: salonWide, capacity: value };
}

/** True when the client has completed a booking at the salon before. */
export async function isReturningClient(db: Db, clientId: string, salonId: string): Promise<boolean> {
  const [row] = await db.select({ id: bookings.id }).from(bookings).where(and(
    eq(bookings.clientId, clientId),
    eq(bookings.salonId, salonId),
    eq(bookings.status, "COMPLETED"),
  )).limit(1);
  return row !== undefined;
}

/**
 * Inserts an overbooked booking if fewer than `limit` overbooked bookings that hold time overlap
 * it within the rule's scope (the professional, or the whole salon), and if the client stays within
 * the booking limits, as `insertBooking` does. Answers `full` when the overbooking places are taken,
 * else whether it inserted and the client's counts it decided on.
 */
export async function insertOverbooked(
  db: Db,
  values: BookingInsert,
  options: {
    limit: number;
    scope: { professionalId: string } | { salonId: string };
    limits: readonly LimitCheck[];
    actorId: string;
    now: Date;
    context: AuditContext;
    remember?: BatchItem<"pg"> | null;
    deposit?: DepositRecord | null;
  },
): Promise<LimitedInsert & { full: boolean }> {
  const now = options.now.toISOString();
  const scopeKey = "professionalId" in options.scope
    ? `overbooking:professional:${options.scope.professionalId}`
    : `overbooking:salon:${options.scope.salonId}`;
  const inScope = "professionalId" in options.scope
    ? sql`professional_id = ${options.scope.professionalId}`
    : sql`salon_id = ${options.scope.salonId}`;
  const iso = (d: Date | null | undefined) => d ? d.toISOString() : null;
  const placesTaken = sql`(
      SELECT count(*) FROM ${bookings}
      WHERE ${inScope} AND overbooked
        AND (status = 'CONFIRMED' OR (status = 'PENDING' AND hold_expires_at > ${now}))
        AND tstzrange(block_starts_at, block_ends_at, '[)')
          && tstzrange(${iso(values.blockStartsAt)}::timestamptz, ${iso(values.blockEndsAt)}::timestamptz, '[)')
    )`;
  const results = await db.batch([
    // The client first, then the scope, always in this order: two requests never wait on each other in a circle.
    lockClient(db, values.clientId),
    db.execute(sql`SELECT pg_advisory_xact_lock(hashtextextended(${scopeKey}, 0))`),
    db.execute(limitedInsertSql(values, {
      limits: options.limits,
      extra: sql`${placesTaken} < ${options.limit}`,
      overbooked: true,
      actorId: options.actorId,
      now: options.now,
      context: options.context,
      deposit: options.deposit,
    })),
    // Tells a full scope from a limit: counted after the insert, under the scope's lock.
    db.execute(sql`SELECT ${placesTaken} AS taken`),
    ...(options.remember ? [db.execute(onlyIfBooked(options.remember, values.id))] : []),
  ]);
  const outcome = limitedInsertResult(results[2]);
  const [{ taken }] = (results[3] as unknown as { rows: { taken: unknown }[] }).rows;
  return { ...outcome, full: !outcome.inserted && Number(taken) >= options.limit };
}

/** Creates or replaces the rule of a salon (professionalId null) or of one professional, audited. */
export async function upsertRule(
  db: Db,
  values: {
    salonId: string;
    professionalId: string | null;
    maxOverbookingPercent: number;
    autoAccept: boolean;
    vipPriority: boolean;
    active: boolean;
  },
  actorId: string,
  context: AuditContext & { now: Date },
): Promise<OverbookingRow> {
  const [[row]] = await db.batch([
    db.insert(overbookingConfigs).values(values).onConflictDoUpdate({
      target: [overbookingConfigs.salonId, overbookingConfigs.professionalId],
      set: {
        maxOverbookingPercent: values.maxOverbookingPercent,
        autoAccept: values.autoAccept,
        vipPriority: values.vipPriority,
        active: values.active,
        updatedAt: context.now,
      },
    }).returning(),
    auditInsert(db, context, {
      actorId,
      action: "overbooking.set",
      entityType: values.professionalId ? "professional" : "salon",
      entityId: values.professionalId ?? values.salonId,
      data: { ...values },
    }),
  ]);
  return row;
}

/** The salon's rules: its own and its professionals'. */
export function listRules(db: Db, salonId: string): Promise<OverbookingRow[]> {
  return db.select().from(overbookingConfigs).where(eq(overbookingConfigs.salonId, salonId))
    .orderBy(sql`${overbookingConfigs.professionalId} nulls first`);
}
