/** Notification queries: what the outbox relay needs, the in-app inbox, and per-channel preferences. */
import { and, asc, count, desc, eq, isNull, lt, or, sql } from "drizzle-orm";
import type { Db } from "./client.ts";
import {
  bookings,
  notificationPreferences,
  notifications,
  outbox,
  professionals,
  salons,
  services,
  users,
} from "./schema.ts";

export type NotificationRow = typeof notifications.$inferSelect;
export type NotificationInsert = typeof notifications.$inferInsert;
export type OutboxRow = typeof outbox.$inferSelect;
export type Channel = NotificationRow["channel"];
export const CHANNELS: readonly Channel[] = ["EMAIL", "SMS", "PUSH", "IN_APP"];

/** Outbox rows not yet relayed, oldest first. */
export function unpublishedOutbox(db: Db, limit: number): Promise<OutboxRow[]> {
  return db.select().from(outbox).where(isNull(outbox.publishedAt)).orderBy(asc(outbox.createdAt)).limit(limit);
}

export interface Recipient {
  id: string;
  email: string;
  phone: string | null;
  /** SMS go only to a verified phone. */
  phoneVerifiedAt: Date | null;
  fullName: string;
  locale: string;
}

/** What a message to a user needs of them. */
const recipientColumns = {
  id: users.id,
  email: users.email,
  phone: users.phone,
  phoneVerifiedAt: users.phoneVerifiedAt,
  fullName: users.fullName,
  locale: users.locale,
};

/** A booking with the names its messages mention and its client. */
export async function bookingFacts(db: Db, bookingId: string) {
  const [row] = await db.select({
    booking: bookings,
    salonName: salons.name,
    salonLocale: salons.locale,
    timeZone: salons.timeZone,
    reminderHours: salons.reminderHours,
    serviceName: services.name,
    professionalName: professionals.displayName,
    client: recipientColumns,
  }).from(bookings)
    .innerJoin(salons, eq(salons.id, bookings.salonId))
    .innerJoin(services, eq(services.id, bookings.serviceId))
    .innerJoin(professionals, eq(professionals.id, bookings.professionalId))
    .innerJoin(users, eq(users.id, bookings.clientId))
    .where(eq(bookings.id, bookingId)).limit(1);
  return row;
}

export async function recipient(db: Db, userId: string): Promise<Recipient | undefined> {
  const [row] = await db.select(recipientColumns).from(users).where(eq(users.id, userId));
  return row;
}

/**
 * Who is told on the salon's side of a booking when something needs a person (a refused refund):
 * the salon's owner and the active admins, each once.
 */
export async function salonStaffOf(db: Db, bookingId: string, adminLimit = 20): Promise<Recipient[]> {
  const [owner] = await db.select(recipientColumns).from(bookings)
    .innerJoin(salons, eq(salons.id, bookings.salonId))
    .innerJoin(users, eq(users.id, salons.ownerId))
    .where(eq(bookings.id, bookingId));
  const admins = await db.select(recipientColumns).from(users)
    .where(and(eq(users.role, "ADMIN"), eq(users.active, true))).orderBy(asc(users.createdAt)).limit(adminLimit);
  const staff = owner ? [owner, ...admins] : admins;
  return staff.filter((person, i) => staff.findIndex((other) => other.id === person.id) === i);
}

/** Channels the user switched off. */
export async function disabledChannels(db: Db, userId: string): Promise<Set<Channel>> {
  const rows = await db.select().from(notificationPreferences)
    .where(and(eq(notificationPreferences.userId, userId), eq(notificationPreferences.enabled, false)));
  return new Set(rows.map((r) => r.channel));
}

/** A notification just recorded that is to be sent. */
export interface ToSend {
  id: string;
  channel: Channel;
  dedupeKey: string | null;
}

/** The email and SMS rows among those just recorded that are to be sent (not SUPPRESSED). */
export function toSend(rows: readonly (ToSend & { status: NotificationRow["status"] })[]): ToSend[] {
  return rows.filter((n) => (n.channel === "EMAIL" || n.channel === "SMS") && n.status === "PENDING")
    .map(({ id, channel, dedupeKey }) => ({ id, channel, dedupeKey }));
}

/** Columns `toSend` reads back from an insert. */
export const RECORDED = {
  id: notifications.id,
  channel: notifications.channel,
  status: notifications.status,
  dedupeKey: notifications.dedupeKey,
};

/**
 * Records the notifications of one outbox row and marks it relayed, in one batch; notifications
 * already recorded (same dedupe key) are left alone. Returns the new email/SMS ones to send.
 */
export async function recordRelayed(
  db: Db,
  outboxId: string,
  rows: NotificationInsert[],
  now: Date,
): Promise<ToSend[]> {
  // Once relayed, the outbox no longer needs a single-use code in clear: only the message carries it.
  const mark = db.update(outbox).set({ publishedAt: now, payload: sql`${outbox.payload} - 'token'` })
    .where(eq(outbox.id, outboxId));
  if (rows.length === 0) {
    await mark;
    return [];
  }
  const [inserted] = await db.batch([
    db.insert(notifications).values(rows).onConflictDoNothing({ target: notifications.dedupeKey })
      .returning(RECORDED),
    mark,
  ]);
  return toSend(inserted);
}

/**
 * Written on a SENDING claim that a delivery took over after the claim's send deadline passed with
 * no result recorded (a crash between the provider call and the record): the message may already
 * have gone out, so it is sent once more at most, never in a burst.
 */
export const RESENT_AFTER_LOST_RESULT =
  "an earlier attempt's result was not recorded (it may have been sent): sent again once";
/** The end of a row whose retry after a lost result also left no result. */
export const MAYBE_SENT_NOT_RETRIED = "may have been sent; not retried (no result recorded after two attempts)";

/** A delivery's hold on a notification: only its holder calls the provider and records the result. */
export interface SendClaim {
  row: NotificationRow;
  /** Identifies the claim: a later claim (a takeover) has a later start. */
  startedAt: Date;
  /** The claim took over an earlier one whose result was lost. */
  takeover: boolean;
}

/**
 * Claims a notification for sending: PENDING -> SENDING, or takes over a SENDING claim started
 * before `staleBefore` (its send deadline passed without a result) once; a second lost result ends
 * FAILED instead of another send. One batch of conditional updates: of concurrent deliveries at
 * most one matches (the others see the winner's claim when their row lock is granted). Returns the
 * claim, "failed" when it gave the row up, or null when there is nothing to send (done, or held by
 * a delivery still within its deadline).
 */
export async function claimSend(
  db: Db,
  id: string,
  now: Date,
  staleBefore: Date,
): Promise<SendClaim | "failed" | null> {
  const stale = and(eq(notifications.status, "SENDING"), lt(notifications.sendingStartedAt, staleBefore));
  const [givenUp, claimed] = await db.batch([
    db.update(notifications).set({ status: "FAILED", lastError: MAYBE_SENT_NOT_RETRIED, sendingStartedAt: null })
      .where(and(eq(notifications.id, id), stale, eq(notifications.lastError, RESENT_AFTER_LOST_RESULT)))
      .returning({ id: notifications.id }),
    db.update(notifications).set({
      status: "SENDING",
      sendingStartedAt: now,
      // Counts provider calls started, so a call whose result was lost is counted too.
      attempts: sql`${notifications.attempts} + 1`,
      lastError: sql`CASE WHEN ${notifications.status} = 'SENDING' THEN ${RESENT_AFTER_LOST_RESULT}
        ELSE ${notifications.lastError} END`,
    }).where(and(
      eq(notifications.id, id),
      or(
        eq(notifications.status, "PENDING"),
        and(stale, sql`${notifications.lastError} IS DISTINCT FROM ${RESENT_AFTER_LOST_RESULT}`),
      ),
    )).returning(),
  ]);
  if (givenUp.length > 0) return "failed";
  const [row] = claimed;
  if (!row) return null;
  return { row, startedAt: row.sendingStartedAt!, takeover: row.lastError === RESENT_AFTER_LOST_RESULT };
}

/** Only the holder of the claim records an outcome other than "sent". */
function holds(claim: SendClaim) {
  return and(
    eq(notifications.id, claim.row.id),
    eq(notifications.status, "SENDING"),
    eq(notifications.sendingStartedAt, claim.startedAt),
  );
}

/** Records that a claimed notification was not sent, and why (an unverified phone). */
export async function recordSuppressed(db: Db, claim: SendClaim, reason: string): Promise<void> {
  await db.update(notifications).set({ status: "SUPPRESSED", lastError: reason.slice(0, 500), sendingStartedAt: null })
    .where(holds(claim));
}

export async function findNotification(db: Db, id: string): Promise<NotificationRow | undefined> {
  const [row] = await db.select().from(notifications).where(eq(notifications.id, id));
  return row;
}

/**
 * Records the outcome of a claimed send: SENT; back to PENDING for the job's retry (a passing
 * failure); FAILED with the reason (`permanent`). A message that went out is recorded SENT even by
 * a delivery whose claim was taken over or given up meanwhile (it did go out); a failure only by
 * the holder of the claim.
 */
export async function recordSend(
  db: Db,
  claim: SendClaim,
  result: { sent: true; now: Date; replaceBody?: string } | { sent: false; error: string; permanent: boolean },
): Promise<void> {
  if (result.sent) {
    await db.update(notifications).set({
      status: "SENT",
      sentAt: result.now,
      sendingStartedAt: null,
      ...(result.replaceBody !== undefined ? { body: result.replaceBody } : {}),
    }).where(and(
      eq(notifications.id, claim.row.id),
      or(
        eq(notifications.status, "SENDING"),
        and(eq(notifications.status, "FAILED"), eq(notifications.lastError, MAYBE_SENT_NOT_RETRIED)),
      ),
    ));
    return;
  }
  await db.update(notifications).set({
    status: result.permanent ? "FAILED" : "PENDING",
    lastError: result.error.slice(0, 500),
    sendingStartedAt: null,
  }).where(holds(claim));
}

/**
 * SENDING claims whose send deadline passed with no result (a crashed delivery), oldest first: the
 * sweep asks for their send job again, which retries or gives up (`claimSend`). A delivery that
 * found such a claim still in flight acknowledged without acting, so nothing else would.
 */
export function lostSends(db: Db, staleBefore: Date, limit: number) {
  return db.select({ id: notifications.id, attempts: notifications.attempts }).from(notifications)
    .where(and(eq(notifications.status, "SENDING"), lt(notifications.sendingStartedAt, staleBefore)))
    .orderBy(asc(notifications.sendingStartedAt)).limit(limit);
}

/** The user's in-app notifications, newest first. */
export function inbox(
  db: Db,
  userId: string,
  options: { unreadOnly: boolean; limit: number; after?: { createdAt: string; id: string } },
) {
  return db.select({ row: notifications, at: sql<string>`${notifications.createdAt}::text` }).from(notifications)
    .where(and(
      eq(notifications.userId, userId),
      eq(notifications.channel, "IN_APP"),
      options.unreadOnly ? isNull(notifications.readAt) : undefined,
      options.after
        ? sql`(${notifications.createdAt}, ${notifications.id}) < (${options.after.createdAt}::timestamptz, ${options.after.id}::uuid)`
        : undefined,
    )).orderBy(desc(notifications.createdAt), desc(notifications.id)).limit(options.limit);
}

export async function unreadCount(db: Db, userId: string): Promise<number> {
  const [{ value }] = await db.select({ value: count() }).from(notifications).where(and(
    eq(notifications.userId, userId),
    eq(notifications.channel, "IN_APP"),
    isNull(notifications.readAt),
  ));
  return value;
}

/** Marks the user's in-app notification read; undefined when it is not theirs. */
export async function markRead(db: Db, userId: string, id: string, now: Date): Promise<NotificationRow | undefined> {
  const [row] = await db.update(notifications).set({
    readAt: sql`coalesce(${notifications.readAt}, ${now.toISOString()}::timestamptz)`,
    status: "READ",
  })
    .where(and(eq(notifications.id, id), eq(notifications.userId, userId), eq(notifications.channel, "IN_APP")))
    .returning();
  return row;
}

export async function markAllRead(db: Db, userId: string, now: Date): Promise<number> {
  const rows = await db.update(notifications).set({ readAt: now, status: "READ" }).where(and(
    eq(notifications.userId, userId),
    eq(notifications.channel, "IN_APP"),
    isNull(notifications.readAt),
    lt(notifications.createdAt, new Date(now.getTime() + 1)),
  )).returning({ id: notifications.id });
  return rows.length;
}

export async function preferences(db: Db, userId: string): Promise<Record<Channel, boolean>> {
  const off = await disabledChannels(db, userId);
  return Object.fromEntries(CHANNELS.map((c) => [c, !off.has(c)])) as Record<Channel, boolean>;
}

export async function setPreferences(db: Db, userId: string, changes: Partial<Record<Channel, boolean>>, now: Date) {
  const entries = Object.entries(changes) as [Channel, boolean][];
  if (entries.length === 0) return;
  await db.insert(notificationPreferences).values(
    entries.map(([channel, enabled]) => ({ userId, channel, enabled, updatedAt: now })),
  )
    .onConflictDoUpdate({
      target: [notificationPreferences.userId, notificationPreferences.channel],
      set: { enabled: sql`excluded.enabled`, updatedAt: now },
    });
}
