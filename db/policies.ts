/**
 * Cancellation policy queries. A policy and its tiers are written in one batch with their audit
 * event; activating a policy deactivates the salon's other active ones in the same batch, so a salon
 * has one active policy. Tiers are never edited one by one: the whole set is replaced.
 */
import { and, asc, desc, eq, inArray, type SQL, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { type AuditContext, auditInsert } from "./audit.ts";
import type { Db } from "./client.ts";
import type { PolicyTier, RescheduleRule } from "../domain/cancellation.ts";
import { auditEvents, cancellationPolicies, cancellationPolicyTiers, salons } from "./schema.ts";

export type PolicyRow = typeof cancellationPolicies.$inferSelect;
export type TierRow = typeof cancellationPolicyTiers.$inferSelect;
export type TierFields = Pick<TierRow, "hoursBeforeMin" | "hoursBeforeMax" | "feeBasisPoints" | "feeFixedAmount">;

/** A policy with its tiers (by hours before the start) and what ownership checks need from its salon. */
export interface PolicyRecord {
  policy: PolicyRow;
  tiers: TierRow[];
  salon: { id: string; ownerId: string; active: boolean; currency: string };
}

function stateOf(active: boolean): string {
  return active ? "active" : "inactive";
}

function tiersOf(db: Db, policyIds: string[]): Promise<TierRow[]> {
  return db.select().from(cancellationPolicyTiers).where(inArray(cancellationPolicyTiers.policyId, policyIds))
    .orderBy(asc(cancellationPolicyTiers.hoursBeforeMin), asc(cancellationPolicyTiers.id));
}

/** Returns the policy with its tiers and salon, active or not. */
export async function findPolicy(db: Db, id: string): Promise<PolicyRecord | undefined> {
  const [[row], tiers] = await Promise.all([
    db.select({
      policy: cancellationPolicies,
      salon: { id: salons.id, ownerId: salons.ownerId, active: salons.active, currency: salons.currency },
    }).from(cancellationPolicies).innerJoin(salons, eq(salons.id, cancellationPolicies.salonId))
      .where(eq(cancellationPolicies.id, id)).limit(1),
    tiersOf(db, [id]),
  ]);
  return row ? { ...row, tiers } : undefined;
}

/** The salon's active policy with its tiers; the newest when, against the rule, several are active. */
export async function findActivePolicy(
  db: Db,
  salonId: string,
): Promise<{ policy: PolicyRow; tiers: TierRow[] } | undefined> {
  const [policy] = await db.select().from(cancellationPolicies)
    .where(and(eq(cancellationPolicies.salonId, salonId), eq(cancellationPolicies.active, true)))
    .orderBy(desc(cancellationPolicies.createdAt), desc(cancellationPolicies.id)).limit(1);
  return policy ? { policy, tiers: await tiersOf(db, [policy.id]) } : undefined;
}

export interface PolicyPosition {
  name: string;
  id: string;
}

/**
 * The salon's policies, with the salon's currency, ordered by name then id, so pages never repeat or skip one: active ones of an
 * active salon, or all of them with `includeInactive` (for the salon's managers).
 */
export async function listPolicies(
  db: Db,
  filter: { salonId: string; includeInactive: boolean },
  page: { limit: number; after?: PolicyPosition },
): Promise<{ policy: PolicyRow; tiers: TierRow[]; currency: string }[]> {
  const conditions: SQL[] = [eq(cancellationPolicies.salonId, filter.salonId)];
  if (!filter.includeInactive) conditions.push(eq(cancellationPolicies.active, true), eq(salons.active, true));
  if (page.after) {
    conditions.push(
      sql`(${cancellationPolicies.name}, ${cancellationPolicies.id}) > (${page.after.name}, ${page.after.id}::uuid)`,
    );
  }
  const rows = await db.select({ policy: cancellationPolicies, currency: salons.currency }).from(cancellationPolicies)
    .innerJoin(salons, eq(salons.id, cancellationPolicies.salonId))
    .where(and(...conditions)).orderBy(cancellationPolicies.name, cancellationPolicies.id).limit(page.limit);
  if (rows.length === 0) return [];
  const tiers = await tiersOf(db, rows.map((row) => row.policy.id));
  return rows.map(({ policy, currency }) => ({
    policy,
    tiers: tiers.filter((tier) => tier.policyId === policy.id),
    currency,
  }));
}

/**
 * Deactivates the salon's active policies other than `keepId` and audits each one it changed, in one
 * statement: the audit rows come from what the update returns, so none is missed or invented.
 */
function deactivateOthers(
  db: Db,
  options: { salonId: string; keepId: string; actorId: string; now: Date },
  context: AuditContext,
) {
  const data = JSON.stringify({
    user_agent: context.userAgent,
    salon_id: options.salonId,
    replaced_by: options.keepId,
  });
  return db.execute(sql`
    WITH deactivated AS (
      UPDATE ${cancellationPolicies} SET active = false, updated_at = ${options.now.toISOString()}::timestamptz
      WHERE salon_id = ${options.salonId}::uuid AND active AND id <> ${options.keepId}::uuid
      RETURNING id
    )
    INSERT INTO ${auditEvents} (actor_id, action, entity_type, entity_id, from_state, to_state, ip, request_id, data)
    SELECT ${options.actorId}::uuid, 'cancellation_policy.deactivate', 'cancellation_policy', id, 'active',
      'inactive', ${context.ip}::text, ${context.requestId}::text, ${data}::jsonb
    FROM deactivated`);
}

/** Creates a policy with its tiers, audited, in one batch; an active one replaces the salon's active policy. */
export async function insertPolicy(
  db: Db,
  values: { salonId: string; name: string; active: boolean; rescheduleInFeeWindow?: RescheduleRule },
  tiers: TierFields[],
  actorId: string,
  context: AuditContext & { now: Date },
): Promise<{ policy: PolicyRow; tiers: TierRow[] }> {
  const id = crypto.randomUUID();
  const insert = db.insert(cancellationPolicies).values({ ...values, id }).returning();
  const insertTiers = db.insert(cancellationPolicyTiers).values(tiers.map((tier) => ({ ...tier, policyId: id })))
    .returning();
  // The salon's other active policy steps down first: one active policy per salon is a unique index.
  const before: BatchItem<"pg">[] = values.active
    ? [deactivateOthers(db, { salonId: values.salonId, keepId: id, actorId, now: context.now }, context)]
    : [];
  const statements: BatchItem<"pg">[] = [];
  statements.push(auditInsert(db, context, {
    actorId,
    action: "cancellation_policy.create",
    entityType: "cancellation_policy",
    entityId: id,
    toState: stateOf(values.active),
    data: {
      salon_id: values.salonId,
      name: values.name,
      tiers,
      reschedule_in_fee_window: values.rescheduleInFeeWindow ?? "CHARGE",
    },
  }));
  const [first, ...rest] = [...before, insert, insertTiers, ...statements];
  const results = await db.batch([first, ...rest]);
  const [policy] = results[before.length] as PolicyRow[];
  const tierRows = results[before.length + 1] as TierRow[];
  return { policy, tiers: sortTiers(tierRows) };
}

/**
 * Renames, (de)activates or replaces the tiers of a policy, audited, in one batch. Activating it
 * deactivates the salon's other active policies. Bookings keep the snapshot taken when they were
 * made, so no booking's terms change here.
 */
export async function updatePolicy(
  db: Db,
  policy: PolicyRow,
  changes: { name?: string; active?: boolean; tiers?: TierFields[]; rescheduleInFeeWindow?: RescheduleRule },
  actorId: string,
  context: AuditContext & { now: Date },
): Promise<{ policy: PolicyRow; tiers: TierRow[] }> {
  const activeChanged = changes.active !== undefined && changes.active !== policy.active;
  const columns = {
    ...(changes.name !== undefined ? { name: changes.name } : {}),
    ...(changes.active !== undefined ? { active: changes.active } : {}),
    ...(changes.rescheduleInFeeWindow !== undefined ? { rescheduleInFeeWindow: changes.rescheduleInFeeWindow } : {}),
    updatedAt: context.now,
  };
  const update = db.update(cancellationPolicies).set(columns).where(eq(cancellationPolicies.id, policy.id))
    .returning();
  const before: BatchItem<"pg">[] = changes.active === true
    ? [deactivateOthers(db, { salonId: policy.salonId, keepId: policy.id, actorId, now: context.now }, context)]
    : [];
  const statements: BatchItem<"pg">[] = [];
  if (changes.tiers) {
    statements.push(
      db.delete(cancellationPolicyTiers).where(eq(cancellationPolicyTiers.policyId, policy.id)),
      db.insert(cancellationPolicyTiers).values(changes.tiers.map((tier) => ({ ...tier, policyId: policy.id }))),
    );
  }
  statements.push(auditInsert(db, context, {
    actorId,
    action: activeChanged
      ? (changes.active ? "cancellation_policy.activate" : "cancellation_policy.deactivate")
      : "cancellation_policy.update",
    entityType: "cancellation_policy",
    entityId: policy.id,
    fromState: activeChanged ? stateOf(policy.active) : null,
    toState: activeChanged ? stateOf(changes.active!) : null,
    data: {
      fields: Object.keys(changes),
      ...(changes.tiers ? { tiers: changes.tiers } : {}),
      ...(changes.rescheduleInFeeWindow ? { reschedule_in_fee_window: changes.rescheduleInFeeWindow } : {}),
    },
  }));
  const [first, ...rest] = [...before, update, ...statements];
  const results = await db.batch([first, ...rest]);
  const [row] = results[before.length] as PolicyRow[];
  return { policy: row, tiers: await tiersOf(db, [policy.id]) };
}

function sortTiers(tiers: TierRow[]): TierRow[] {
  return [...tiers].sort((a, b) => a.hoursBeforeMin - b.hoursBeforeMin || a.id.localeCompare(b.id));
}

/** A stored tier as the fee rules read it. */
export function toPolicyTier(row: TierFields): PolicyTier {
  return {
    hoursBeforeMin: row.hoursBeforeMin,
    hoursBeforeMax: row.hoursBeforeMax,
    feeBasisPoints: row.feeBasisPoints,
    feeFixedAmount: row.feeFixedAmount,
  };
}

/** A stored reschedule rule (the column's CHECK allows only the two). */
export function ruleOf(value: string): RescheduleRule {
  return value === "REFUSE" ? "REFUSE" : "CHARGE";
}

/** The salon's active policy as new bookings copy it, or null when it has none. */
export async function loadActivePolicyTiers(
  db: Db,
  salonId: string,
): Promise<{ policyId: string; name: string; tiers: PolicyTier[]; rescheduleInFeeWindow: RescheduleRule } | null> {
  const active = await findActivePolicy(db, salonId);
  if (!active) return null;
  return {
    policyId: active.policy.id,
    name: active.policy.name,
    tiers: active.tiers.map(toPolicyTier),
    rescheduleInFeeWindow: ruleOf(active.policy.rescheduleInFeeWindow),
  };
}
