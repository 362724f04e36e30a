/** Queries for accounts and sessions. Each state change is one batch together with its audit event. */
import { and, eq, isNull, sql } from "drizzle-orm";
import { type AuditContext, auditInsert } from "./audit.ts";
import type { Db } from "./client.ts";
import { containsPattern } from "./like.ts";

export type { AuditContext };
import {
  adminBootstrapGrants,
  auditEvents,
  outbox,
  refreshTokenFamilies,
  refreshTokens,
  users,
  userTokens,
} from "./schema.ts";

export type UserRow = typeof users.$inferSelect;

function audit(
  db: Db,
  context: AuditContext,
  event: { actorId: string | null; action: string; entityId: string | null; data?: Record<string, unknown> },
) {
  return auditInsert(db, context, { ...event, entityType: "user" });
}

/** Returns the user with this (normalised) email, if any. */
export async function findUserByEmail(db: Db, email: string): Promise<UserRow | undefined> {
  const [row] = await db.select().from(users).where(eq(users.email, email)).limit(1);
  return row;
}

/** Returns the user with this id, if any. */
export async function findUserById(db: Db, id: string): Promise<UserRow | undefined> {
  const [row] = await db.select().from(users).where(eq(users.id, id)).limit(1);
  return row;
}

export interface NewSession {
  familyId: string;
  refreshTokenHash: string;
  refreshExpiresAt: Date;
}

/** Creates a user and their first session, with the audit event, in one batch. */
export async function insertUserWithSession(
  db: Db,
  user: Pick<typeof users.$inferInsert, "id" | "email" | "passwordHash" | "fullName" | "phone" | "role">,
  session: NewSession,
  context: AuditContext,
): Promise<UserRow> {
  const [[row]] = await db.batch([
    db.insert(users).values(user).returning(),
    db.insert(refreshTokenFamilies).values({ id: session.familyId, userId: user.id! }),
    db.insert(refreshTokens).values({
      familyId: session.familyId,
      tokenHash: session.refreshTokenHash,
      expiresAt: session.refreshExpiresAt,
    }),
    audit(db, context, { actorId: user.id!, action: "auth.register", entityId: user.id!, data: { role: user.role } }),
  ]);
  return row;
}

/** Starts a session after a successful login (optionally storing a rehashed password). */
export async function recordLogin(
  db: Db,
  user: UserRow,
  session: NewSession,
  context: AuditContext & { now: Date; rehashedPassword?: string },
): Promise<void> {
  await db.batch([
    db.update(users).set({
      lastLoginAt: context.now,
      updatedAt: context.now,
      ...(context.rehashedPassword ? { passwordHash: context.rehashedPassword } : {}),
    }).where(eq(users.id, user.id)),
    db.insert(refreshTokenFamilies).values({ id: session.familyId, userId: user.id }),
    db.insert(refreshTokens).values({
      familyId: session.familyId,
      tokenHash: session.refreshTokenHash,
      expiresAt: session.refreshExpiresAt,
    }),
    audit(db, context, { actorId: user.id, action: "auth.login", entityId: user.id }),
  ]);
}

/** Records a failed login (the user id when the email is known; nothing personal otherwise). */
export async function recordLoginFailure(db: Db, userId: string | null, context: AuditContext): Promise<void> {
  await audit(db, context, { actorId: userId, action: "auth.login_failed", entityId: userId });
}

/** A refresh token with its family and user, as a refresh needs them. */
export interface RefreshTokenRecord {
  tokenId: string;
  familyId: string;
  usedAt: Date | null;
  expiresAt: Date;
  familyRevokedAt: Date | null;
  user: UserRow;
}

/** Looks a refresh token up by its hash. */
export async function findRefreshToken(db: Db, tokenHash: string): Promise<RefreshTokenRecord | undefined> {
  const [row] = await db.select({
    tokenId: refreshTokens.id,
    familyId: refreshTokens.familyId,
    usedAt: refreshTokens.usedAt,
    expiresAt: refreshTokens.expiresAt,
    familyRevokedAt: refreshTokenFamilies.revokedAt,
    user: users,
  }).from(refreshTokens)
    .innerJoin(refreshTokenFamilies, eq(refreshTokenFamilies.id, refreshTokens.familyId))
    .innerJoin(users, eq(users.id, refreshTokenFamilies.userId))
    .where(eq(refreshTokens.tokenHash, tokenHash))
    .limit(1);
  return row;
}

/**
 * Rotates a refresh token: marks it used and issues its successor in one statement, only if it was
 * still unused. Returns false when another request used it first (then it counts as reuse).
 */
export async function rotateRefreshToken(
  db: Db,
  tokenId: string,
  next: { tokenHash: string; expiresAt: Date },
  now: Date,
): Promise<boolean> {
  const rows = await db.execute(sql`
    WITH used AS (
      UPDATE ${refreshTokens} SET used_at = ${now.toISOString()}
      WHERE id = ${tokenId} AND used_at IS NULL
      RETURNING family_id
    )
    INSERT INTO ${refreshTokens} (family_id, token_hash, expires_at)
    SELECT family_id, ${next.tokenHash}, ${next.expiresAt.toISOString()} FROM used
    RETURNING id`);
  return rows.rows.length === 1;
}

/** Revokes a session family (logout, or a refresh token presented twice), with its audit event. */
export async function revokeFamily(
  db: Db,
  familyId: string,
  userId: string,
  reason: "logout" | "reuse" | "password_change" | "password_reset",
  context: AuditContext & { now: Date },
): Promise<void> {
  await db.batch([
    db.update(refreshTokenFamilies).set({ revokedAt: context.now, revokedReason: reason })
      .where(and(eq(refreshTokenFamilies.id, familyId), isNull(refreshTokenFamilies.revokedAt))),
    audit(db, context, {
      actorId: userId,
      action: reason === "reuse" ? "auth.refresh_reuse" : `auth.${reason}`,
      entityId: userId,
      data: { family_id: familyId },
    }),
  ]);
}

/** The user behind an access token and whether its session still lives. */
export interface SessionState {
  user: UserRow;
  sessionRevoked: boolean;
}

/**
 * Reads the user and session behind an access token in one query (deactivation and logout act at
 * once, and handlers reuse the row instead of reading the user again).
 */
export async function sessionState(db: Db, userId: string, familyId: string): Promise<SessionState | undefined> {
  const [row] = await db.select({ user: users, familyRevokedAt: refreshTokenFamilies.revokedAt }).from(users)
    .innerJoin(refreshTokenFamilies, eq(refreshTokenFamilies.userId, users.id))
    .where(and(eq(users.id, userId), eq(refreshTokenFamilies.id, familyId)))
    .limit(1);
  if (!row) return undefined;
  return { user: row.user, sessionRevoked: row.familyRevokedAt !== null };
}

/**
 * Updates a user's own profile fields. With `phoneChanged` the number starts unverified and any
 * code sent to the previous one stops working, in the same batch.
 */
export async function updateProfile(
  db: Db,
  userId: string,
  fields: Partial<Pick<UserRow, "fullName" | "phone" | "locale">>,
  now: Date,
  options: { phoneChanged?: boolean } = {},
): Promise<UserRow | undefined> {
  const update = db.update(users)
    .set({ ...fields, ...(options.phoneChanged ? { phoneVerifiedAt: null } : {}), updatedAt: now })
    .where(eq(users.id, userId)).returning();
  if (!options.phoneChanged) return (await update)[0];
  const [[row]] = await db.batch([update, burnTokensStatement(db, userId, "VERIFY_PHONE", now)]);
  return row;
}

function burnTokensStatement(db: Db, userId: string, purpose: UserTokenPurpose, now: Date) {
  return db.update(userTokens).set({ usedAt: now }).where(
    and(eq(userTokens.userId, userId), eq(userTokens.purpose, purpose), isNull(userTokens.usedAt)),
  );
}

/** Stores a new password hash and ends every other session of the user, with the audit event. */
export async function changePassword(
  db: Db,
  userId: string,
  passwordHash: string,
  keepSessionId: string | null,
  reason: "password_change" | "password_reset",
  context: AuditContext & { now: Date },
): Promise<void> {
  const others = keepSessionId
    ? and(
      eq(refreshTokenFamilies.userId, userId),
      isNull(refreshTokenFamilies.revokedAt),
      sql`${refreshTokenFamilies.id} <> ${keepSessionId}`,
    )
    : and(eq(refreshTokenFamilies.userId, userId), isNull(refreshTokenFamilies.revokedAt));
  await db.batch([
    db.update(users).set({ passwordHash, updatedAt: context.now }).where(eq(users.id, userId)),
    db.update(refreshTokenFamilies).set({ revokedAt: context.now, revokedReason: reason }).where(others),
    audit(db, context, { actorId: userId, action: `auth.${reason}`, entityId: userId }),
  ]);
}

/** An admin's change of a user's role or active flag, with the audit event (from and to). */
export async function adminUpdateUser(
  db: Db,
  target: UserRow,
  changes: { role?: UserRow["role"]; active?: boolean },
  actorId: string,
  context: AuditContext & { now: Date },
): Promise<UserRow> {
  const events = [];
  if (changes.role !== undefined && changes.role !== target.role) {
    events.push(audit(db, context, {
      actorId,
      action: "user.role_changed",
      entityId: target.id,
      data: { from: target.role, to: changes.role },
    }));
  }
  if (changes.active !== undefined && changes.active !== target.active) {
    events.push(audit(db, context, {
      actorId,
      action: changes.active ? "user.activated" : "user.deactivated",
      entityId: target.id,
      data: { from: target.active, to: changes.active },
    }));
  }
  const [[row]] = await db.batch([
    db.update(users).set({ ...changes, updatedAt: context.now }).where(eq(users.id, target.id)).returning(),
    ...events,
  ]);
  return row;
}

/** One page of users for admins, newest first, after the cursor's position. */
export async function listUsers(
  db: Db,
  filters: { role?: UserRow["role"]; active?: boolean; q?: string },
  page: { limit: number; after?: { createdAt: string; id: string } },
): Promise<{ user: UserRow; position: { createdAt: string; id: string } }[]> {
  const conditions = [
    filters.role ? eq(users.role, filters.role) : undefined,
    filters.active !== undefined ? eq(users.active, filters.active) : undefined,
    filters.q
      ? sql`(${users.email} ILIKE ${containsPattern(filters.q)} OR ${users.fullName} ILIKE ${
        containsPattern(filters.q)
      })`
      : undefined,
    page.after
      ? sql`(${users.createdAt}, ${users.id}) < (${page.after.createdAt}::timestamptz, ${page.after.id}::uuid)`
      : undefined,
  ];
  // The position keeps microseconds (a Date would drop them and skip rows between pages).
  const rows = await db.select({ user: users, at: sql<string>`${users.createdAt}::text` }).from(users)
    .where(and(...conditions)).orderBy(sql`${users.createdAt} DESC, ${users.id} DESC`).limit(page.limit);
  return rows.map((row) => ({ user: row.user, position: { createdAt: row.at, id: row.user.id } }));
}

export type UserTokenPurpose = "VERIFY_EMAIL" | "RESET_PASSWORD" | "INVITATION" | "VERIFY_PHONE";

/**
 * Issues a single-use token (stored hashed) and its message in the outbox, in one batch; earlier
 * unused tokens of the same purpose stop working.
 */
export async function issueUserToken(
  db: Db,
  options: {
    userId: string;
    purpose: UserTokenPurpose;
    tokenHash: string;
    expiresAt: Date;
    now: Date;
    message: { topic: string; payload: Record<string, unknown>; deduplicationId: string };
  },
): Promise<void> {
  await db.batch([
    burnTokensStatement(db, options.userId, options.purpose, options.now),
    db.insert(userTokens).values({
      userId: options.userId,
      purpose: options.purpose,
      tokenHash: options.tokenHash,
      expiresAt: options.expiresAt,
    }),
    db.insert(outbox).values({
      topic: options.message.topic,
      payload: options.message.payload,
      deduplicationId: options.message.deduplicationId,
    }),
  ]);
}

/** True when a token of this purpose is known, unused and unexpired (checked before costly work). */
export async function usableUserToken(db: Db, tokenHash: string, purpose: UserTokenPurpose, now: Date) {
  const [row] = await db.select({ id: userTokens.id }).from(userTokens).where(and(
    eq(userTokens.tokenHash, tokenHash),
    eq(userTokens.purpose, purpose),
    isNull(userTokens.usedAt),
    sql`${userTokens.expiresAt} > ${now.toISOString()}`,
  )).limit(1);
  return row !== undefined;
}

/** The user's newest unused, unexpired token of this purpose (a phone code is looked up by its account). */
export async function liveUserToken(
  db: Db,
  userId: string,
  purpose: UserTokenPurpose,
  now: Date,
): Promise<{ id: string } | undefined> {
  const [row] = await db.select({ id: userTokens.id }).from(userTokens).where(and(
    eq(userTokens.userId, userId),
    eq(userTokens.purpose, purpose),
    isNull(userTokens.usedAt),
    sql`${userTokens.expiresAt} > ${now.toISOString()}`,
  )).orderBy(sql`${userTokens.createdAt} DESC`).limit(1);
  return row;
}

/** Makes one token unusable (a phone code that was guessed at too often). */
export async function burnUserToken(db: Db, tokenId: string, now: Date): Promise<void> {
  await db.update(userTokens).set({ usedAt: now }).where(and(eq(userTokens.id, tokenId), isNull(userTokens.usedAt)));
}

/**
 * Uses a phone code (by its token id and hash) and marks the phone verified, in one statement, only
 * while the user's number is still `phone` (a number changed meanwhile is not verified by the old
 * number's code). Returns true when the phone is now verified.
 */
export async function confirmPhone(
  db: Db,
  options: { userId: string; tokenId: string; tokenHash: string; phone: string },
  context: AuditContext & { now: Date },
): Promise<boolean> {
  const now = context.now.toISOString();
  const result = await db.execute(sql`
    WITH used AS (
      UPDATE ${userTokens} SET used_at = ${now}
      WHERE id = ${options.tokenId} AND user_id = ${options.userId} AND token_hash = ${options.tokenHash}
        AND purpose = 'VERIFY_PHONE' AND used_at IS NULL AND expires_at > ${now}
      RETURNING user_id
    ), verified AS (
      UPDATE ${users} SET phone_verified_at = ${now}, updated_at = ${now}
      FROM used WHERE ${users.id} = used.user_id AND ${users.phone} = ${options.phone} RETURNING ${users.id}
    ), audited AS (${auditFromStatement("verified", "auth.phone_verified", context)})
    SELECT id FROM verified`);
  return result.rows.length === 1;
}

/** CTE body that uses an unexpired, unused single-use token once and returns its user id. */
function useTokenStatement(tokenHash: string, purpose: UserTokenPurpose, now: string) {
  return sql`UPDATE ${userTokens} SET used_at = ${now}
      WHERE token_hash = ${tokenHash} AND purpose = ${purpose} AND used_at IS NULL AND expires_at > ${now}
      RETURNING user_id`;
}

/** CTE body that audits `action` for every user id the named CTE returned. */
function auditFromStatement(source: string, action: string, context: AuditContext) {
  return sql`INSERT INTO ${auditEvents} (actor_id, action, entity_type, entity_id, ip, request_id, data)
      SELECT id, ${action}, 'user', id, ${context.ip}, ${context.requestId},
        ${JSON.stringify({ user_agent: context.userAgent })}::jsonb
      FROM ${sql.raw(source)} RETURNING 1`;
}

/** Uses a verification token and marks the user verified, in one statement; returns the user id or undefined. */
export async function confirmEmail(
  db: Db,
  tokenHash: string,
  context: AuditContext & { now: Date },
): Promise<string | undefined> {
  const now = context.now.toISOString();
  const result = await db.execute(sql`
    WITH used AS (${useTokenStatement(tokenHash, "VERIFY_EMAIL", now)}), verified AS (
      UPDATE ${users} SET verified = true, updated_at = ${now} FROM used WHERE ${users.id} = used.user_id RETURNING ${users.id}
    ), audited AS (${auditFromStatement("verified", "auth.email_verified", context)})
    SELECT id FROM verified`);
  return (result.rows[0] as { id?: string } | undefined)?.id;
}

/**
 * Uses a reset token: sets the new password, ends every session of the user and audits it, all in
 * one statement. Returns the user id, or undefined when the token is unknown, used or expired.
 */
export async function resetPassword(
  db: Db,
  tokenHash: string,
  passwordHash: string,
  context: AuditContext & { now: Date },
): Promise<string | undefined> {
  const now = context.now.toISOString();
  const result = await db.execute(sql`
    WITH used AS (${useTokenStatement(tokenHash, "RESET_PASSWORD", now)}), changed AS (
      UPDATE ${users} SET password_hash = ${passwordHash}, updated_at = ${now}
      FROM used WHERE ${users.id} = used.user_id RETURNING ${users.id}
    ), revoked AS (
      UPDATE ${refreshTokenFamilies} SET revoked_at = ${now}, revoked_reason = 'password_reset'
      FROM changed WHERE ${refreshTokenFamilies.userId} = changed.id AND ${refreshTokenFamilies.revokedAt} IS NULL
      RETURNING 1
    ), audited AS (${auditFromStatement("changed", "auth.password_reset", context)})
    SELECT id FROM changed`);
  return (result.rows[0] as { id?: string } | undefined)?.id;
}

/** The mark of an account created by an invitation before its person chose a password (older code). */
const INVITED_PASSWORD = "!invited";

/**
 * Uses an invitation token of the older kind (a user token for an account created with the
 * invitation, still without a password): sets its first password and marks the email verified
 * (the token reached it), with the audit event, in one statement. The token is looked up first, so
 * `hashPassword` (costly) runs only for one that can be used. Returns the user id, or undefined
 * when the token is unknown, used or expired.
 */
export async function acceptInvitation(
  db: Db,
  tokenHash: string,
  hashPassword: () => Promise<string>,
  context: AuditContext & { now: Date },
): Promise<string | undefined> {
  const now = context.now.toISOString();
  const [usable] = await db.select({ id: userTokens.id }).from(userTokens)
    .innerJoin(users, eq(users.id, userTokens.userId))
    .where(and(
      eq(userTokens.tokenHash, tokenHash),
      eq(userTokens.purpose, "INVITATION"),
      isNull(userTokens.usedAt),
      sql`${userTokens.expiresAt} > ${now}`,
      eq(users.passwordHash, INVITED_PASSWORD),
      eq(users.active, true),
    )).limit(1);
  if (!usable) return undefined;
  const passwordHash = await hashPassword();
  const result = await db.execute(sql`
    WITH used AS (${useTokenStatement(tokenHash, "INVITATION", now)}), accepted AS (
      UPDATE ${users} SET password_hash = ${passwordHash}, verified = true, updated_at = ${now}
      FROM used WHERE ${users.id} = used.user_id AND ${users.active} AND ${users.passwordHash} = ${INVITED_PASSWORD}
      RETURNING ${users.id}
    ), audited AS (${auditFromStatement("accepted", "auth.invitation_accepted", context)})
    SELECT id FROM accepted`);
  return (result.rows[0] as { id?: string } | undefined)?.id;
}

/** What `ADMIN_BOOTSTRAP_EMAIL` did at this start. */
export type BootstrapOutcome = "promoted" | "no_account" | "unverified" | "already_granted" | "already_admin";

/**
 * Makes the account with this email an ADMIN, the documented way to create a first admin: only a
 * verified account, and only once per email (recorded in admin_bootstrap_grants, so a later
 * demotion sticks across restarts), audited. One statement.
 */
export async function bootstrapAdmin(db: Db, email: string, now: Date): Promise<BootstrapOutcome> {
  const at = now.toISOString();
  const result = await db.execute(sql`
    WITH target AS (
      SELECT id, role, verified FROM ${users} WHERE email = ${email} FOR UPDATE
    ), granted AS (
      INSERT INTO ${adminBootstrapGrants} (email, user_id, granted_at)
      SELECT ${email}, id, ${at} FROM target WHERE verified
      ON CONFLICT (email) DO NOTHING
      RETURNING user_id
    ), promoted AS (
      UPDATE ${users} SET role = 'ADMIN', updated_at = ${at} FROM granted, target
      WHERE ${users.id} = granted.user_id AND target.id = granted.user_id AND target.role <> 'ADMIN'
      RETURNING ${users.id}, target.role AS previous
    ), audited AS (
      INSERT INTO ${auditEvents} (actor_id, action, entity_type, entity_id, from_state, to_state, reason)
      SELECT NULL, 'user.role_changed', 'user', id, previous::text, 'ADMIN', 'ADMIN_BOOTSTRAP_EMAIL' FROM promoted
      RETURNING 1
    )
    SELECT
      (SELECT count(*) FROM promoted)::int AS promoted,
      (SELECT count(*) FROM granted)::int AS granted,
      (SELECT count(*) FROM target)::int AS found,
      (SELECT bool_and(verified) FROM target) AS verified`);
  const row = result.rows[0] as { promoted: number; granted: number; found: number; verified: boolean | null };
  if (row.promoted === 1) return "promoted";
  if (row.found === 0) return "no_account";
  if (!row.verified) return "unverified";
  return row.granted === 1 ? "already_admin" : "already_granted";
}
