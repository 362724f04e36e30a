/** Salon queries: creation and edits audited in the same batch, public search with location. */
import { and, eq, type SQL, sql } from "drizzle-orm";
import { type AuditContext, auditInsert } from "./audit.ts";
import type { Db } from "./client.ts";
import { containsPattern } from "./like.ts";
import { salons, services } from "./schema.ts";

export type SalonRow = typeof salons.$inferSelect;
export type SalonInsert = Omit<typeof salons.$inferInsert, "id" | "createdAt" | "updatedAt">;
export type SalonChanges = Partial<Omit<SalonInsert, "ownerId">>;

/** Mean Earth radius (IUGG), in kilometres. */
const EARTH_RADIUS_KM = 6371.0088;

/** Returns the salon with this id, active or not. */
export async function findSalon(db: Db, id: string): Promise<SalonRow | undefined> {
  const [row] = await db.select().from(salons).where(eq(salons.id, id)).limit(1);
  return row;
}

/** Creates a salon and audits it, in one batch. */
export async function insertSalon(db: Db, values: SalonInsert, context: AuditContext): Promise<SalonRow> {
  const id = crypto.randomUUID();
  const [[row]] = await db.batch([
    db.insert(salons).values({ ...values, id }).returning(),
    auditInsert(db, context, {
      actorId: values.ownerId,
      action: "salon.create",
      entityType: "salon",
      entityId: id,
      toState: values.active === false ? "inactive" : "active",
    }),
  ]);
  return row;
}

/** Applies changes to a salon and audits which fields changed, in one batch. */
export async function updateSalon(
  db: Db,
  salon: SalonRow,
  changes: SalonChanges,
  actorId: string,
  context: AuditContext & { now: Date },
): Promise<SalonRow> {
  const activeChanged = changes.active !== undefined && changes.active !== salon.active;
  const [[row]] = await db.batch([
    db.update(salons).set({ ...changes, updatedAt: context.now }).where(eq(salons.id, salon.id)).returning(),
    auditInsert(db, context, {
      actorId,
      action: activeChanged ? (changes.active ? "salon.activate" : "salon.deactivate") : "salon.update",
      entityType: "salon",
      entityId: salon.id,
      fromState: activeChanged ? (salon.active ? "active" : "inactive") : null,
      toState: activeChanged ? (changes.active ? "active" : "inactive") : null,
      data: { fields: Object.keys(changes) },
    }),
  ]);
  return row;
}

export interface SalonSearch {
  q?: string;
  category?: string;
  minPrice?: number;
  maxPrice?: number;
  near?: { latitude: number; longitude: number; radiusKm: number };
  /** Only this owner's salons, inactive ones included. */
  ownerId?: string;
}

export interface SalonPosition {
  name?: string;
  distance?: number;
  id: string;
}

export interface SalonHit {
  salon: SalonRow;
  distanceKm: number | null;
  position: SalonPosition;
}

/** Great-circle distance in kilometres from a point to the salon (haversine). */
function distanceFrom(latitude: number, longitude: number): SQL<number> {
  const lat = sql`${latitude}::float8`;
  const lng = sql`${longitude}::float8`;
  return sql<number>`(${EARTH_RADIUS_KM}::float8 * 2 * asin(least(1, sqrt(
    power(sin(radians(${salons.latitude} - ${lat}) / 2), 2)
    + cos(radians(${lat})) * cos(radians(${salons.latitude}))
      * power(sin(radians(${salons.longitude} - ${lng}) / 2), 2)))))`;
}

/**
 * Active salons matching the filters (or one owner's salons), ordered by distance when a point is
 * given and by name otherwise; the id breaks ties so pages never repeat or skip a salon.
 */
export async function searchSalons(
  db: Db,
  filter: SalonSearch,
  page: { limit: number; after?: SalonPosition },
): Promise<SalonHit[]> {
  const conditions: SQL[] = [];
  if (filter.ownerId) conditions.push(eq(salons.ownerId, filter.ownerId));
  else conditions.push(eq(salons.active, true));

  const serviceConditions: SQL[] = [];
  if (filter.category) serviceConditions.push(sql`lower(${services.category}) = lower(${filter.category})`);
  if (filter.minPrice !== undefined) serviceConditions.push(sql`${services.priceAmount} >= ${filter.minPrice}`);
  if (filter.maxPrice !== undefined) serviceConditions.push(sql`${services.priceAmount} <= ${filter.maxPrice}`);
  if (serviceConditions.length > 0) {
    conditions.push(sql`exists (select 1 from ${services} where ${services.salonId} = ${salons.id}
      and ${services.active} and ${and(...serviceConditions)})`);
  }
  if (filter.q) {
    const pattern = containsPattern(filter.q);
    conditions.push(sql`(${salons.name} ilike ${pattern} or ${salons.description} ilike ${pattern}
      or exists (select 1 from ${services} where ${services.salonId} = ${salons.id} and ${services.active}
        and ${services.name} ilike ${pattern}))`);
  }

  let distance: SQL<number> | null = null;
  if (filter.near) {
    const { latitude, longitude, radiusKm } = filter.near;
    distance = distanceFrom(latitude, longitude);
    // A latitude band narrows the scan before the exact distance is computed.
    const band = radiusKm / 111.0;
    conditions.push(sql`${salons.latitude} between ${latitude - band}::float8 and ${latitude + band}::float8`);
    conditions.push(sql`${distance} <= ${radiusKm}::float8`);
    if (page.after?.distance !== undefined) {
      conditions.push(sql`(${distance}, ${salons.id}) > (${page.after.distance}::float8, ${page.after.id}::uuid)`);
    }
  } else if (page.after?.name !== undefined) {
    conditions.push(sql`(${salons.name}, ${salons.id}) > (${page.after.name}, ${page.after.id}::uuid)`);
  }

  const rows = await db.select({ salon: salons, distance: distance ?? sql<null>`null::float8` }).from(salons)
    .where(and(...conditions))
    .orderBy(...(distance ? [distance, salons.id] : [salons.name, salons.id]))
    .limit(page.limit);
  return rows.map(({ salon, distance }) => ({
    salon,
    distanceKm: distance === null ? null : Number(distance),
    position: distance === null ? { name: salon.name, id: salon.id } : { distance: Number(distance), id: salon.id },
  }));
}
