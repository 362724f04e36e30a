/**
 * Service queries: a service with its variations and professionals is created in one batch, every
 * change is audited in the batch that makes it, and the public search pages by (name, id).
 */
import { and, asc, eq, inArray, notInArray, type SQL, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { type AuditContext, auditInsert } from "./audit.ts";
import type { Db } from "./client.ts";
import { containsPattern } from "./like.ts";
import { professionals, professionalServices, salons, services, serviceVariations } from "./schema.ts";
import type { SalonRow } from "./salons.ts";

export type ServiceRow = typeof services.$inferSelect;
export type VariationRow = typeof serviceVariations.$inferSelect;
export type ServiceInsert = Omit<typeof services.$inferInsert, "id" | "createdAt" | "updatedAt">;
export type ServiceChanges = Partial<Omit<ServiceInsert, "salonId" | "currency">>;
export type VariationFields = Pick<typeof serviceVariations.$inferInsert, "name" | "durationMinutes" | "priceAmount">;
export type VariationChanges = Partial<VariationFields> & { active?: boolean };

/** A service with what ownership checks need from its salon. */
export interface ServiceRecord {
  service: ServiceRow;
  salon: Pick<SalonRow, "id" | "ownerId" | "active">;
}

/** A service with its variations and the active professionals who perform it. */
export interface ServiceDetails {
  service: ServiceRow;
  variations: VariationRow[];
  professionalIds: string[];
}

function stateOf(active: boolean): string {
  return active ? "active" : "inactive";
}

/** Returns the service and its salon's owner, active or not. */
export async function findService(db: Db, id: string): Promise<ServiceRecord | undefined> {
  const [row] = await db.select({
    service: services,
    salon: { id: salons.id, ownerId: salons.ownerId, active: salons.active },
  }).from(services).innerJoin(salons, eq(salons.id, services.salonId)).where(eq(services.id, id)).limit(1);
  return row;
}

/** Returns the variation when it belongs to the service. */
export async function findVariation(db: Db, serviceId: string, id: string): Promise<VariationRow | undefined> {
  const [row] = await db.select().from(serviceVariations)
    .where(and(eq(serviceVariations.id, id), eq(serviceVariations.serviceId, serviceId))).limit(1);
  return row;
}

/** Which of these ids are active professionals of the salon. */
export async function activeProfessionalsOf(db: Db, salonId: string, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db.select({ id: professionals.id }).from(professionals).where(
    and(inArray(professionals.id, ids), eq(professionals.salonId, salonId), eq(professionals.active, true)),
  );
  return new Set(rows.map((row) => row.id));
}

/**
 * Links the professionals to the service, skipping links that exist. The professionals are
 * re-checked inside the statement, so one deactivated since the caller's check is never linked.
 */
function linkProfessionals(db: Db, serviceId: string, salonId: string, ids: string[]) {
  return db.insert(professionalServices).select(
    db.select({
      professionalId: professionals.id,
      serviceId: sql`${serviceId}::uuid`.as("service_id"),
      createdAt: sql`now()`.as("created_at"),
    }).from(professionals).where(
      and(inArray(professionals.id, ids), eq(professionals.salonId, salonId), eq(professionals.active, true)),
    ),
  ).onConflictDoNothing();
}

/** Adds the variations and active professional ids to each service, in two queries. */
export async function withDetails(
  db: Db,
  rows: ServiceRow[],
  options: { inactiveVariations: boolean },
): Promise<ServiceDetails[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((row) => row.id);
  const [variations, links] = await Promise.all([
    db.select().from(serviceVariations).where(
      and(
        inArray(serviceVariations.serviceId, ids),
        options.inactiveVariations ? undefined : eq(serviceVariations.active, true),
      ),
    ).orderBy(asc(serviceVariations.createdAt), asc(serviceVariations.name), asc(serviceVariations.id)),
    db.select({ serviceId: professionalServices.serviceId, professionalId: professionalServices.professionalId })
      .from(professionalServices)
      .innerJoin(professionals, eq(professionals.id, professionalServices.professionalId))
      .where(and(inArray(professionalServices.serviceId, ids), eq(professionals.active, true)))
      .orderBy(asc(professionalServices.professionalId)),
  ]);
  return rows.map((service) => ({
    service,
    variations: variations.filter((variation) => variation.serviceId === service.id),
    professionalIds: links.filter((link) => link.serviceId === service.id).map((link) => link.professionalId),
  }));
}

/** Creates a service with its variations and professionals, audited, in one batch. */
export async function insertService(
  db: Db,
  values: ServiceInsert,
  extras: { variations: VariationFields[]; professionalIds: string[] },
  actorId: string,
  context: AuditContext,
): Promise<ServiceRow> {
  const id = crypto.randomUUID();
  const insert = db.insert(services).values({ ...values, id }).returning();
  const statements: BatchItem<"pg">[] = [];
  if (extras.variations.length > 0) {
    statements.push(
      db.insert(serviceVariations).values(extras.variations.map((variation) => ({ ...variation, serviceId: id }))),
    );
  }
  if (extras.professionalIds.length > 0) {
    statements.push(linkProfessionals(db, id, values.salonId, extras.professionalIds));
  }
  statements.push(auditInsert(db, context, {
    actorId,
    action: "service.create",
    entityType: "service",
    entityId: id,
    toState: "active",
    data: {
      salon_id: values.salonId,
      variations: extras.variations.length,
      professional_ids: extras.professionalIds,
    },
  }));
  const [[row]] = await db.batch([insert, ...statements] as [typeof insert, ...BatchItem<"pg">[]]);
  return row;
}

/** Applies changes to a service and audits which fields changed, in one batch. */
export async function updateService(
  db: Db,
  service: ServiceRow,
  changes: ServiceChanges,
  actorId: string,
  context: AuditContext & { now: Date },
): Promise<ServiceRow> {
  const activeChanged = changes.active !== undefined && changes.active !== service.active;
  const [[row]] = await db.batch([
    db.update(services).set({ ...changes, updatedAt: context.now }).where(eq(services.id, service.id)).returning(),
    auditInsert(db, context, {
      actorId,
      action: activeChanged ? (changes.active ? "service.activate" : "service.deactivate") : "service.update",
      entityType: "service",
      entityId: service.id,
      fromState: activeChanged ? stateOf(service.active) : null,
      toState: activeChanged ? stateOf(changes.active!) : null,
      data: { fields: Object.keys(changes) },
    }),
  ]);
  return row;
}

/** Adds a variation to a service, audited, in one batch. */
export async function insertVariation(
  db: Db,
  service: ServiceRow,
  values: VariationFields,
  actorId: string,
  context: AuditContext,
): Promise<VariationRow> {
  const id = crypto.randomUUID();
  const [[row]] = await db.batch([
    db.insert(serviceVariations).values({ ...values, id, serviceId: service.id }).returning(),
    auditInsert(db, context, {
      actorId,
      action: "service_variation.create",
      entityType: "service_variation",
      entityId: id,
      toState: "active",
      data: { service_id: service.id },
    }),
  ]);
  return row;
}

/** Applies changes to a variation and audits them, in one batch. */
export async function updateVariation(
  db: Db,
  variation: VariationRow,
  changes: VariationChanges,
  actorId: string,
  context: AuditContext & { now: Date },
): Promise<VariationRow> {
  const activeChanged = changes.active !== undefined && changes.active !== variation.active;
  const [[row]] = await db.batch([
    db.update(serviceVariations).set({ ...changes, updatedAt: context.now })
      .where(eq(serviceVariations.id, variation.id)).returning(),
    auditInsert(db, context, {
      actorId,
      action: activeChanged
        ? (changes.active ? "service_variation.activate" : "service_variation.deactivate")
        : "service_variation.update",
      entityType: "service_variation",
      entityId: variation.id,
      fromState: activeChanged ? stateOf(variation.active) : null,
      toState: activeChanged ? stateOf(changes.active!) : null,
      data: { service_id: variation.serviceId, fields: Object.keys(changes) },
    }),
  ]);
  return row;
}

/** Makes the professionals exactly the set who perform the service, audited, in one batch. */
export async function replaceServiceProfessionals(
  db: Db,
  service: ServiceRow,
  professionalIds: string[],
  actorId: string,
  context: AuditContext,
): Promise<void> {
  const ofService = eq(professionalServices.serviceId, service.id);
  const statements: BatchItem<"pg">[] = [];
  if (professionalIds.length > 0) {
    statements.push(linkProfessionals(db, service.id, service.salonId, professionalIds));
  }
  statements.push(auditInsert(db, context, {
    actorId,
    action: "service.professionals.replace",
    entityType: "service",
    entityId: service.id,
    data: { professional_ids: professionalIds },
  }));
  const unlink = db.delete(professionalServices).where(
    professionalIds.length > 0
      ? and(ofService, notInArray(professionalServices.professionalId, professionalIds))
      : ofService,
  );
  await db.batch([unlink, ...statements] as [typeof unlink, ...BatchItem<"pg">[]]);
}

export interface ServiceSearch {
  salonId?: string;
  category?: string;
  q?: string;
  minPrice?: number;
  maxPrice?: number;
  professionalId?: string;
  /** Inactive services and those of an inactive salon too (the salon's managers, with `salonId`). */
  includeInactive?: boolean;
}

export interface ServicePosition {
  name: string;
  id: string;
}

/** Services matching the filters, ordered by name then id so pages never repeat or skip one. */
export async function searchServices(
  db: Db,
  filter: ServiceSearch,
  page: { limit: number; after?: ServicePosition },
): Promise<ServiceRow[]> {
  const conditions: SQL[] = [];
  if (filter.salonId) conditions.push(eq(services.salonId, filter.salonId));
  if (!filter.includeInactive) conditions.push(eq(services.active, true), eq(salons.active, true));
  if (filter.category) conditions.push(sql`lower(${services.category}) = lower(${filter.category})`);
  if (filter.minPrice !== undefined) conditions.push(sql`${services.priceAmount} >= ${filter.minPrice}`);
  if (filter.maxPrice !== undefined) conditions.push(sql`${services.priceAmount} <= ${filter.maxPrice}`);
  if (filter.q) {
    const pattern = containsPattern(filter.q);
    conditions.push(sql`(${services.name} ilike ${pattern} or ${services.description} ilike ${pattern})`);
  }
  if (filter.professionalId) {
    conditions.push(sql`exists (select 1 from ${professionalServices}
      inner join ${professionals} on ${professionals.id} = ${professionalServices.professionalId}
      where ${professionalServices.serviceId} = ${services.id}
        and ${professionalServices.professionalId} = ${filter.professionalId}
        and ${professionals.active})`);
  }
  if (page.after) {
    conditions.push(sql`(${services.name}, ${services.id}) > (${page.after.name}, ${page.after.id}::uuid)`);
  }
  const rows = await db.select({ service: services }).from(services)
    .innerJoin(salons, eq(salons.id, services.salonId))
    .where(and(...conditions)).orderBy(services.name, services.id).limit(page.limit);
  return rows.map((row) => row.service);
}
