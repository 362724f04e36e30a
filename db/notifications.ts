/** Notification queries: what the outbox relay needs, the in-app inbox, and per-channel preferences. */
import { and, asc, count, desc, eq, isNull, lt, sql } from "drizzle-orm";
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

/** Records that a notification was not sent, and why (a message limit, an unverified phone). */
export async function recordSuppressed(db: Db, id: string, reason: string): Promise<void> {
  await db.update(notifications).set({ status: "SUPPRESSED", lastError: reason.slice(0, 500) })
    .where(and(eq(notifications.id, id), eq(notifications.status, "PENDING")));
}

export async function findNotification(db: Db, id: string): Promise<NotificationRow | undefined> {
  const [row] = await db.select().from(notifications).where(eq(notifications.id, id));
  return row;
}

/** Marks a notification sent, or records why a send failed (`permanent`: it will not be retried). */
export async function recordSend(
  db: Db,
  id: string,
  result: { sent: true; now: Date; replaceBody?: string } | { sent: false; error: string; permanent: boolean },
): Promise<void> {
  if (result.sent) {
    await db.update(notifications).set({
      status: "SENT",
      sentAt: result.now,
      attempts: sql`${notifications.attempts} + 1`,
      ...(result.replaceBody !== undefined ? { body: result.replaceBody } : {}),
    }).where(eq(notifications.id, id));
    return;
  }
  await db.update(notifications).set({
    status: result.permanent ? "FAILED" : "PENDING",
    lastError: result.error.slice(0, 500),
    attempts: sql`${notifications.attempts} + 1`,
  }).where(eq(notifications.id, id));
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
