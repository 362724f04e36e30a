/**
 * Overbooking rules and the overbooked insert. The count of places taken and the insert happen in
 * one batch transaction behind an advisory lock on the rule's scope, so two requests can never
 * both take the last extra place.
 */
import { and, count, eq, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { type AuditContext, auditInsert } from "./audit.ts";
import type { BookingInsert } from "./bookings.ts";
import type { Db } from "./client.ts";
import { auditEvents, bookings, outbox, overbookingConfigs, professionals } from "./schema.ts";

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
 * it within the rule's scope (the professional, or the whole salon). Returns false when full.
 */
export async function insertOverbooked(
  db: Db,
  values: BookingInsert,
  options: {
    limit: number;
    scope: { professionalId: string } | { salonId: string };
    actorId: string;
    now: Date;
    context: AuditContext;
    remember?: BatchItem<"pg"> | null;
  },
): Promise<boolean> {
  const now = options.now.toISOString();
  const scopeKey = "professionalId" in options.scope
    ? `overbooking:professional:${options.scope.professionalId}`
    : `overbooking:salon:${options.scope.salonId}`;
  const inScope = "professionalId" in options.scope
    ? sql`professional_id = ${options.scope.professionalId}`
    : sql`salon_id = ${options.scope.salonId}`;
  const iso = (d: Date | null | undefined) => d ? d.toISOString() : null;
  const audit = JSON.stringify({ user_agent: options.context.userAgent, overbooked: true });
  const [, inserted] = await db.batch([
    // Serialises overbooked inserts of one scope for the rest of this transaction.
    db.execute(sql`SELECT pg_advisory_xact_lock(hashtextextended(${scopeKey}, 0))`),
    db.execute(sql`
      WITH inserted AS (
        INSERT INTO ${bookings} (id, salon_id, client_id, professional_id, service_id, variation_id, starts_at, ends_at,
          block_starts_at, block_ends_at, status, hold_expires_at, price_amount, deposit_amount, fee_amount, currency,
          policy_snapshot, notes, overbooked, approval_required, created_at, updated_at)
        SELECT ${values.id}, ${values.salonId}, ${values.clientId}, ${values.professionalId}, ${values.serviceId},
          ${values.variationId ?? null}, ${iso(values.startsAt)}, ${iso(values.endsAt)}, ${iso(values.blockStartsAt)},
          ${iso(values.blockEndsAt)}, ${values.status}, ${iso(values.holdExpiresAt)}, ${values.priceAmount},
          ${values.depositAmount ?? 0}, 0, ${values.currency},
          ${
      values.policySnapshot === null || values.policySnapshot === undefined
        ? null
        : JSON.stringify(values.policySnapshot)
    }::jsonb,
          ${values.notes ?? null}, true, ${values.approvalRequired ?? false}, ${now}, ${now}
        WHERE (
          SELECT count(*) FROM ${bookings}
          WHERE ${inScope} AND overbooked
            AND (status = 'CONFIRMED' OR (status = 'PENDING' AND hold_expires_at > ${now}))
            AND tstzrange(block_starts_at, block_ends_at, '[)')
              && tstzrange(${iso(values.blockStartsAt)}::timestamptz, ${iso(values.blockEndsAt)}::timestamptz, '[)')
        ) < ${options.limit}
        RETURNING id, status
      ), audited AS (
        INSERT INTO ${auditEvents} (actor_id, action, entity_type, entity_id, to_state, ip, request_id, data)
        SELECT ${options.actorId}, 'booking.create', 'booking', id, status, ${options.context.ip},
          ${options.context.requestId}, ${audit}::jsonb
        FROM inserted RETURNING 1
      ), queued AS (
        INSERT INTO ${outbox} (topic, payload, deduplication_id)
        SELECT 'booking.created', json_build_object('booking_id', id, 'status', status, 'overbooked', true)::jsonb,
          'booking.created:' || id
        FROM inserted RETURNING 1
      )
      SELECT id FROM inserted`),
    ...(options.remember ? [options.remember] : []),
  ]);
  return (inserted as { rows: unknown[] }).rows.length === 1;
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
