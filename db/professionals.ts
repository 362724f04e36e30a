/**
 * Professional queries: an invitation (never a link) in one batch, its acceptance linking the
 * account in one statement, edits audited, public listing.
 */
import { and, desc, eq, gt, isNull, or, type SQL, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { type AuditContext, auditInsert } from "./audit.ts";
import type { Db } from "./client.ts";
import { containsPattern } from "./like.ts";
import {
  auditEvents,
  bookings,
  outbox,
  professionalInvitations,
  professionals,
  professionalServices,
  salons,
  users,
} from "./schema.ts";

export type ProfessionalRow = typeof professionals.$inferSelect;
export type ProfessionalFields = Pick<
  typeof professionals.$inferInsert,
  "displayName" | "specialties" | "bio" | "licenseNumber" | "commissionBasisPoints"
>;

/** A professional with what ownership checks need from their salon. */
export interface ProfessionalRecord {
  professional: ProfessionalRow;
  salon: { id: string; ownerId: string; active: boolean; timeZone: string; name: string; locale: string };
}

/** Returns the professional and their salon's owner, active or not. */
export async function findProfessional(db: Db, id: string): Promise<ProfessionalRecord | undefined> {
  const [row] = await db.select({
    professional: professionals,
    salon: {
      id: salons.id,
      ownerId: salons.ownerId,
      active: salons.active,
      timeZone: salons.timeZone,
      name: salons.name,
      locale: salons.locale,
    },
  }).from(professionals).innerJoin(salons, eq(salons.id, professionals.salonId))
    .where(eq(professionals.id, id)).limit(1);
  return row;
}

/** A fresh invitation: the token goes in the message, only its hash is stored. */
export interface NewInvitation {
  token: string;
  tokenHash: string;
  expiresAt: Date;
}

/** What an invitation's message needs to know about the salon that sends it. */
export interface InvitingSalon {
  id: string;
  name: string;
  locale: string;
}

function invitationStatements(
  db: Db,
  options: {
    professionalId: string;
    displayName: string;
    salon: InvitingSalon;
    email: string;
    invitation: NewInvitation;
  },
): BatchItem<"pg">[] {
  return [
    db.insert(professionalInvitations).values({
      professionalId: options.professionalId,
      email: options.email,
      tokenHash: options.invitation.tokenHash,
      expiresAt: options.invitation.expiresAt,
    }),
    // The message goes to the address, not to an account: whether one exists is decided only when
    // the person accepts. The token is in clear here until the relay has handed it to the message.
    db.insert(outbox).values({
      topic: "email.professional_invitation",
      payload: {
        to: options.email,
        display_name: options.displayName,
        locale: options.salon.locale,
        salon_id: options.salon.id,
        salon_name: options.salon.name,
        professional_id: options.professionalId,
        token: options.invitation.token,
      },
      deduplicationId: `email.professional_invitation:${options.invitation.tokenHash}`,
    }),
  ];
}

/**
 * Adds a professional to a salon, unlinked, with an invitation to the email and its message in the
 * outbox. No account is read, created or changed: the person links theirs by accepting. One batch,
 * audited.
 */
export async function inviteProfessional(
  db: Db,
  options: {
    salon: InvitingSalon;
    email: string;
    fields: ProfessionalFields;
    invitation: NewInvitation;
    actorId: string;
  },
  context: AuditContext,
): Promise<ProfessionalRow> {
  const professionalId = crypto.randomUUID();
  const [rows] = await db.batch([
    db.insert(professionals).values({ ...options.fields, id: professionalId, userId: null, salonId: options.salon.id })
      .returning(),
    ...invitationStatements(db, {
      professionalId,
      displayName: options.fields.displayName,
      salon: options.salon,
      email: options.email,
      invitation: options.invitation,
    }),
    auditInsert(db, context, {
      actorId: options.actorId,
      action: "professional.invite",
      entityType: "professional",
      entityId: professionalId,
      toState: "invited",
      data: { salon_id: options.salon.id },
    }),
  ]);
  return rows[0];
}

/**
 * Sends an unlinked professional a fresh invitation to the email of their last one; earlier
 * unused invitations of the professional stop working. One batch, audited.
 */
export async function reinviteProfessional(
  db: Db,
  options: {
    professional: ProfessionalRow;
    salon: InvitingSalon;
    email: string;
    invitation: NewInvitation;
    actorId: string;
    now: Date;
  },
  context: AuditContext,
): Promise<void> {
  await db.batch([
    db.update(professionalInvitations).set({ usedAt: options.now }).where(and(
      eq(professionalInvitations.professionalId, options.professional.id),
      isNull(professionalInvitations.usedAt),
    )),
    ...invitationStatements(db, {
      professionalId: options.professional.id,
      displayName: options.professional.displayName,
      salon: options.salon,
      email: options.email,
      invitation: options.invitation,
    }),
    auditInsert(db, context, {
      actorId: options.actorId,
      action: "professional.reinvite",
      entityType: "professional",
      entityId: options.professional.id,
      data: { salon_id: options.salon.id },
    }),
  ]);
}

/**
 * The salon's own professional for an email, judged only from the salon's records: one linked to
 * an account with that email, or one still waiting on an unused invitation to it. Says nothing
 * about accounts elsewhere.
 */
export async function salonProfessionalForEmail(
  db: Db,
  salonId: string,
  email: string,
): Promise<{ id: string; linked: boolean } | undefined> {
  const [row] = await db.select({ id: professionals.id, userId: professionals.userId }).from(professionals)
    .leftJoin(users, eq(users.id, professionals.userId))
    .where(and(
      eq(professionals.salonId, salonId),
      or(
        eq(users.email, email),
        and(
          isNull(professionals.userId),
          sql`exists (select 1 from ${professionalInvitations}
            where ${professionalInvitations.professionalId} = ${professionals.id}
              and ${professionalInvitations.email} = ${email} and ${professionalInvitations.usedAt} is null)`,
        ),
      ),
    )).orderBy(sql`${professionals.userId} is null`, professionals.createdAt).limit(1);
  return row ? { id: row.id, linked: row.userId !== null } : undefined;
}

/** The email of a professional's latest invitation, if they ever had one. */
export async function lastInvitationEmail(db: Db, professionalId: string): Promise<string | undefined> {
  const [row] = await db.select({ email: professionalInvitations.email }).from(professionalInvitations)
    .where(eq(professionalInvitations.professionalId, professionalId))
    .orderBy(desc(professionalInvitations.createdAt)).limit(1);
  return row?.email;
}

/** A usable invitation with the professional it links and that professional's salon. */
export interface PendingInvitation {
  id: string;
  email: string;
  professional: ProfessionalRow;
  salon: { id: string; name: string };
}

/**
 * Looks an invitation up by its token's hash: only an unused, unexpired one for a professional who
 * is still unlinked and active in an active salon. A cheap read, done before anything costly.
 */
export async function findPendingInvitation(
  db: Db,
  tokenHash: string,
  now: Date,
): Promise<PendingInvitation | undefined> {
  const [row] = await db.select({
    id: professionalInvitations.id,
    email: professionalInvitations.email,
    professional: professionals,
    salon: { id: salons.id, name: salons.name },
  }).from(professionalInvitations)
    .innerJoin(professionals, eq(professionals.id, professionalInvitations.professionalId))
    .innerJoin(salons, eq(salons.id, professionals.salonId))
    .where(and(
      eq(professionalInvitations.tokenHash, tokenHash),
      isNull(professionalInvitations.usedAt),
      gt(professionalInvitations.expiresAt, now),
      isNull(professionals.userId),
      eq(professionals.active, true),
      eq(salons.active, true),
    )).limit(1);
  return row;
}

/** Whose account an accepted invitation links: one to create, or one that exists. */
export type InvitedAccount =
  | { kind: "new"; id: string; passwordHash: string; fullName: string }
  | {
    kind: "existing";
    id: string;
    /** Set for an account that never chose a password (made by an older invitation). */
    passwordHash?: string;
  };

/**
 * Uses an invitation once and links its professional to the account, in one statement: the
 * invitation is marked used only while unused, unexpired and its professional unlinked, and
 * everything else happens only if it was. A new account is a verified PROFESSIONAL; an existing
 * one is marked verified (the token reached the mailbox) and a CLIENT becomes a PROFESSIONAL;
 * other roles stay. Audited. Returns false when the invitation was used meanwhile.
 *
 * The link moves the professional's bookings to the person (a trigger); when that would put the
 * person in two places the exclusion constraint refuses it and nothing changes (23P01 raised).
 * A clash with an account registered meanwhile raises users_email_key, a second professional of
 * the same salon professionals_user_salon_key.
 */
export async function acceptProfessionalInvitation(
  db: Db,
  options: { invitationId: string; email: string; account: InvitedAccount },
  context: AuditContext & { now: Date },
): Promise<{ linked: boolean; promoted: boolean }> {
  const now = context.now.toISOString();
  const account = options.account;
  const userId = account.id;
  const extra = JSON.stringify({ user_agent: context.userAgent });
  const accountChange = account.kind === "new"
    ? sql`INSERT INTO ${users} (id, email, password_hash, full_name, role, verified)
        SELECT ${userId}::uuid, ${options.email}, ${account.passwordHash}, ${account.fullName}, 'PROFESSIONAL'::user_role, true
        FROM linked RETURNING id`
    : sql`UPDATE ${users} SET
          role = CASE WHEN ${users.role} = 'CLIENT' THEN 'PROFESSIONAL'::user_role ELSE ${users.role} END,
          password_hash = coalesce(${account.passwordHash ?? null}::text, ${users.passwordHash}),
          verified = true, updated_at = ${now}::timestamptz
        FROM linked WHERE ${users.id} = ${userId}::uuid RETURNING ${users.id}`;
  const result = await db.execute(sql`
    WITH used AS (
      UPDATE ${professionalInvitations} SET used_at = ${now}::timestamptz
      WHERE id = ${options.invitationId}::uuid AND used_at IS NULL AND expires_at > ${now}::timestamptz
      RETURNING professional_id
    ), linked AS (
      UPDATE ${professionals} SET user_id = ${userId}::uuid, updated_at = ${now}::timestamptz
      FROM used WHERE ${professionals.id} = used.professional_id AND ${professionals.userId} IS NULL
      RETURNING ${professionals.id}, ${professionals.salonId}
    ), before AS (
      SELECT ${users.role} AS role FROM ${users} WHERE ${users.id} = ${userId}::uuid
    ), account AS (${accountChange}), audited_link AS (
      INSERT INTO ${auditEvents} (actor_id, action, entity_type, entity_id, from_state, to_state, ip, request_id, data)
      SELECT ${userId}::uuid, 'professional.link', 'professional', linked.id, 'invited', 'linked', ${context.ip},
        ${context.requestId}, ${extra}::jsonb || jsonb_build_object('salon_id', linked.salon_id, 'user_id', ${userId}::text,
          'new_account', ${account.kind === "new"}::boolean)
      FROM linked, account RETURNING 1
    ), promoted AS (
      INSERT INTO ${auditEvents} (actor_id, action, entity_type, entity_id, from_state, to_state, ip, request_id, data)
      SELECT ${userId}::uuid, 'user.role_changed', 'user', ${userId}::uuid, 'CLIENT', 'PROFESSIONAL', ${context.ip},
        ${context.requestId}, ${extra}::jsonb || jsonb_build_object('salon_id', linked.salon_id)
      FROM linked, account, before WHERE before.role = 'CLIENT' RETURNING 1
    )
    SELECT (SELECT count(*) FROM audited_link)::int AS linked, (SELECT count(*) FROM promoted)::int AS promoted`);
  const row = result.rows[0] as { linked: number; promoted: number } | undefined;
  return { linked: Number(row?.linked ?? 0) > 0, promoted: Number(row?.promoted ?? 0) > 0 };
}

/**
 * Starts of this professional's held bookings that overlap held bookings the account already
 * serves elsewhere: what stands in the way of linking them (shown to the person accepting).
 */
export async function linkConflicts(db: Db, professionalId: string, userId: string): Promise<Date[]> {
  const result = await db.execute(sql`
    SELECT DISTINCT mine.starts_at FROM ${bookings} mine
    JOIN ${bookings} theirs ON theirs.person_id = ${userId}::uuid
      AND tstzrange(theirs.block_starts_at, theirs.block_ends_at, '[)')
        && tstzrange(mine.block_starts_at, mine.block_ends_at, '[)')
      AND theirs.status IN ('PENDING', 'CONFIRMED') AND NOT theirs.overbooked
    WHERE mine.professional_id = ${professionalId}::uuid
      AND mine.status IN ('PENDING', 'CONFIRMED') AND NOT mine.overbooked
    ORDER BY mine.starts_at LIMIT 10`);
  return (result.rows as { starts_at: string | Date }[]).map((r) => new Date(r.starts_at));
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
