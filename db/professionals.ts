/** Professional queries: invitation or linking in one batch, edits audited, public listing. */
import { and, eq, type SQL, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { type AuditContext, auditInsert } from "./audit.ts";
import type { UserRow } from "./auth.ts";
import type { Db } from "./client.ts";
import { containsPattern } from "./like.ts";
import { outbox, professionals, professionalServices, salons, users, userTokens } from "./schema.ts";

export type ProfessionalRow = typeof professionals.$inferSelect;
export type ProfessionalFields = Pick<
  typeof professionals.$inferInsert,
  "displayName" | "specialties" | "bio" | "licenseNumber" | "commissionBasisPoints"
>;

/** A professional with what ownership checks need from their salon. */
export interface ProfessionalRecord {
  professional: ProfessionalRow;
  salon: { id: string; ownerId: string; active: boolean; timeZone: string };
}

/** Returns the professional and their salon's owner, active or not. */
export async function findProfessional(db: Db, id: string): Promise<ProfessionalRecord | undefined> {
  const [row] = await db.select({
    professional: professionals,
    salon: { id: salons.id, ownerId: salons.ownerId, active: salons.active, timeZone: salons.timeZone },
  }).from(professionals).innerJoin(salons, eq(salons.id, professionals.salonId))
    .where(eq(professionals.id, id)).limit(1);
  return row;
}

export interface Invitation {
  tokenHash: string;
  token: string;
  expiresAt: Date;
}

/**
 * Adds a professional to a salon. An existing account is linked (a CLIENT becomes a PROFESSIONAL);
 * otherwise a PROFESSIONAL account without a usable password is created with an invitation token
 * and its message in the outbox. One batch, audited.
 */
export async function addProfessional(
  db: Db,
  options: {
    salonId: string;
    salonName: string;
    email: string;
    existing: UserRow | undefined;
    fields: ProfessionalFields;
    invitation: Invitation | undefined;
    actorId: string;
  },
  context: AuditContext,
): Promise<ProfessionalRow> {
  const professionalId = crypto.randomUUID();
  const userId = options.existing?.id ?? crypto.randomUUID();
  const statements: BatchItem<"pg">[] = [];
  const after: BatchItem<"pg">[] = [];
  if (!options.existing) {
    statements.push(
      db.insert(users).values({
        id: userId,
        email: options.email,
        // Not an argon2 hash: nobody can sign in until the invitation sets a password.
        passwordHash: "!invited",
        fullName: options.fields.displayName,
        role: "PROFESSIONAL",
      }),
    );
  } else if (options.existing.role === "CLIENT") {
    statements.push(
      db.update(users).set({ role: "PROFESSIONAL", updatedAt: sql`now()` }).where(eq(users.id, userId)),
      auditInsert(db, context, {
        actorId: options.actorId,
        action: "user.role_changed",
        entityType: "user",
        entityId: userId,
        fromState: "CLIENT",
        toState: "PROFESSIONAL",
        data: { salon_id: options.salonId },
      }),
    );
  }
  if (options.invitation) {
    after.push(
      db.insert(userTokens).values({
        userId,
        purpose: "INVITATION",
        tokenHash: options.invitation.tokenHash,
        expiresAt: options.invitation.expiresAt,
      }),
      // The message carries the token to the person; only its hash identifies it in user_tokens.
      db.insert(outbox).values({
        topic: "email.professional_invitation",
        payload: {
          user_id: userId,
          to: options.email,
          salon_id: options.salonId,
          salon_name: options.salonName,
          token: options.invitation.token,
        },
        deduplicationId: `email.professional_invitation:${options.invitation.tokenHash}`,
      }),
    );
  }
  const insert = db.insert(professionals).values({
    ...options.fields,
    id: professionalId,
    userId,
    salonId: options.salonId,
  }).returning();
  const audit = auditInsert(db, context, {
    actorId: options.actorId,
    action: options.invitation ? "professional.invite" : "professional.link",
    entityType: "professional",
    entityId: professionalId,
    toState: "active",
    data: { salon_id: options.salonId, user_id: userId },
  });
  // The account (and its role change) first: the professional row references it.
  const [first, ...rest] = [...statements, insert, audit, ...after];
  const results = await db.batch([first, ...rest]);
  return (results[statements.length] as ProfessionalRow[])[0];
}

/** Applies changes to a professional and audits them, in one batch. */
export async function updateProfessional(
  db: Db,
  professional: ProfessionalRow,
  changes: Partial<ProfessionalFields> & { active?: boolean },
  actorId: string,
  context: AuditContext & { now: Date },
): Promise<ProfessionalRow> {
  const activeChanged = changes.active !== undefined && changes.active !== professional.active;
  const [[row]] = await db.batch([
    db.update(professionals).set({ ...changes, updatedAt: context.now })
      .where(eq(professionals.id, professional.id)).returning(),
    auditInsert(db, context, {
      actorId,
      action: activeChanged
        ? (changes.active ? "professional.activate" : "professional.deactivate")
        : "professional.update",
      entityType: "professional",
      entityId: professional.id,
      fromState: activeChanged ? (professional.active ? "active" : "inactive") : null,
      toState: activeChanged ? (changes.active ? "active" : "inactive") : null,
      data: { fields: Object.keys(changes) },
    }),
  ]);
  return row;
}

export interface ProfessionalSearch {
  salonId?: string;
  serviceId?: string;
  q?: string;
  /** Inactive professionals too (the salon's managers). */
  includeInactive?: boolean;
}

/** Professionals of active salons, ordered by display name then id. */
export async function listProfessionals(
  db: Db,
  filter: ProfessionalSearch,
  page: { limit: number; after?: { name: string; id: string } },
): Promise<ProfessionalRow[]> {
  const conditions: SQL[] = [];
  if (filter.salonId) conditions.push(eq(professionals.salonId, filter.salonId));
  if (!filter.includeInactive) conditions.push(eq(professionals.active, true), eq(salons.active, true));
  if (filter.serviceId) {
    conditions.push(sql`exists (select 1 from ${professionalServices}
      where ${professionalServices.professionalId} = ${professionals.id}
        and ${professionalServices.serviceId} = ${filter.serviceId})`);
  }
  if (filter.q) {
    const pattern = containsPattern(filter.q);
    conditions.push(sql`(${professionals.displayName} ilike ${pattern}
      or array_to_string(${professionals.specialties}, ' ') ilike ${pattern})`);
  }
  if (page.after) {
    conditions.push(
      sql`(${professionals.displayName}, ${professionals.id}) > (${page.after.name}, ${page.after.id}::uuid)`,
    );
  }
  const rows = await db.select({ professional: professionals }).from(professionals)
    .innerJoin(salons, eq(salons.id, professionals.salonId))
    .where(and(...conditions)).orderBy(professionals.displayName, professionals.id).limit(page.limit);
  return rows.map((row) => row.professional);
}
