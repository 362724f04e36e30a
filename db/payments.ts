/** Payment queries: the deposit row, webhook effects recorded with their event id, scoped reads. */
import { and, desc, eq, inArray, or, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { Db } from "./client.ts";
import { isUniqueViolation } from "./errors.ts";
import { bookings, paymentLogs, payments, processedMessages, salons } from "./schema.ts";

export type PaymentRow = typeof payments.$inferSelect;

export async function findPaymentByProviderId(db: Db, providerPaymentId: string): Promise<PaymentRow | undefined> {
  const [row] = await db.select().from(payments).where(eq(payments.providerPaymentId, providerPaymentId));
  return row;
}

export interface PaymentRecord {
  payment: PaymentRow;
  clientId: string;
  salonOwnerId: string;
}

export async function findPayment(db: Db, id: string): Promise<PaymentRecord | undefined> {
  const [row] = await db.select({ payment: payments, clientId: bookings.clientId, salonOwnerId: salons.ownerId })
    .from(payments).innerJoin(bookings, eq(bookings.id, payments.bookingId))
    .innerJoin(salons, eq(salons.id, bookings.salonId)).where(eq(payments.id, id));
  return row;
}

/** Payments the user may see: as the client, or as the salon's owner (admins: all). */
export function listPayments(db: Db, userId: string | null, limit: number) {
  const scope = userId
    ? or(
      inArray(payments.bookingId, sql`(select ${bookings.id} from ${bookings} where ${bookings.clientId} = ${userId})`),
      inArray(
        payments.bookingId,
        sql`(select ${bookings.id} from ${bookings} join ${salons} on ${salons.id} = ${bookings.salonId}
          where ${salons.ownerId} = ${userId})`,
      ),
    )
    : undefined;
  return db.select().from(payments).where(scope).orderBy(desc(payments.createdAt), desc(payments.id)).limit(limit);
}

/** The statement that records a provider call or webhook (no card data, no payloads). */
export function logPayment(
  db: Db,
  entry: {
    paymentId?: string | null;
    /** The refund a refund call was for: the admin's view of a refused refund reads its attempts. */
    refundId?: string | null;
    kind: string;
    provider: "STRIPE" | "MOCK";
    objectId: string | null;
    status: string;
    latencyMs?: number;
    errorCode?: string | null;
  },
) {
  return db.insert(paymentLogs).values({
    paymentId: entry.paymentId ?? null,
    refundId: entry.refundId ?? null,
    kind: entry.kind,
    provider: entry.provider,
    providerObjectId: entry.objectId,
    status: entry.status,
    latencyMs: entry.latencyMs ?? null,
    errorCode: entry.errorCode ?? null,
  });
}

/** True when a refund call for `refundId` was answered with the provider refund `providerObjectId`. */
export async function refundCallAnswered(db: Db, refundId: string, providerObjectId: string): Promise<boolean> {
  const rows = await db.select({ id: paymentLogs.id }).from(paymentLogs).where(and(
    eq(paymentLogs.refundId, refundId),
    eq(paymentLogs.kind, "refund"),
    eq(paymentLogs.providerObjectId, providerObjectId),
  )).limit(1);
  return rows.length > 0;
}

/**
 * Runs a webhook's effects in one batch with its event id: an event seen before acts no more.
 * Returns false for a repeat.
 */
export async function onceForEvent(db: Db, eventId: string, statements: BatchItem<"pg">[]): Promise<boolean> {
  try {
    await db.batch([db.insert(processedMessages).values({ source: "stripe", messageId: eventId }), ...statements]);
    return true;
  } catch (error) {
    if (isUniqueViolation(error, "processed_messages_source_message_id_pk")) return false;
    throw error;
  }
}
