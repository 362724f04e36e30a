/**
 * The mock payment provider's books (adapters/payments_mock.ts): payment intents and refunds as the
 * provider holds them, one statement per operation so that concurrent calls with one idempotency
 * key, or refunds racing for what remains of a charge, settle in the database.
 */
import { and, eq, gte, ne, sql } from "drizzle-orm";
import type { Db } from "./client.ts";
import { isUniqueViolation } from "./errors.ts";
import { mockPaymentIntents, mockRefunds } from "./schema.ts";

export type MockIntentRow = typeof mockPaymentIntents.$inferSelect;
export type MockRefundRow = typeof mockRefunds.$inferSelect;

/** Stores a new intent unless one was made with its idempotency key; returns the stored one. */
export async function createMockIntent(db: Db, intent: MockIntentRow): Promise<MockIntentRow> {
  const [made] = await db.insert(mockPaymentIntents).values(intent)
    .onConflictDoNothing({ target: mockPaymentIntents.idempotencyKey }).returning();
  if (made) return made;
  const [known] = await db.select().from(mockPaymentIntents)
    .where(eq(mockPaymentIntents.idempotencyKey, intent.idempotencyKey));
  return known;
}

export async function findMockIntent(db: Db, id: string): Promise<MockIntentRow | undefined> {
  const [row] = await db.select().from(mockPaymentIntents).where(eq(mockPaymentIntents.id, id));
  return row;
}

/** Records a card's outcome on an intent not yet paid; undefined when it is missing or already paid. */
export async function setMockOutcome(
  db: Db,
  id: string,
  outcome: { status: string; failureCode: string | null },
): Promise<MockIntentRow | undefined> {
  const [row] = await db.update(mockPaymentIntents).set(outcome)
    .where(and(eq(mockPaymentIntents.id, id), ne(mockPaymentIntents.status, "succeeded"))).returning();
  return row;
}

export async function findMockRefundByKey(db: Db, idempotencyKey: string): Promise<MockRefundRow | undefined> {
  const [row] = await db.select().from(mockRefunds).where(eq(mockRefunds.idempotencyKey, idempotencyKey));
  return row;
}

/**
 * Charges a refund against what remains of a paid intent and stores it, in one statement: two
 * refunds never take the same money. A second call with the same key (concurrent or not) returns
 * the first's refund, `replayed`. Otherwise "not_refundable" (no such paid intent) or "too_large".
 */
export async function chargeMockRefund(
  db: Db,
  refund: MockRefundRow,
): Promise<{ refund: MockRefundRow; replayed: boolean } | "not_refundable" | "too_large"> {
  const known = await findMockRefundByKey(db, refund.idempotencyKey);
  if (known) return { refund: known, replayed: true };
  let rows: MockRefundRow[];
  try {
    // A concurrent call with the same key passes the check above too: its insert then violates the
    // key's unique index, which undoes its charge with it (one statement).
    const result = await db.execute(sql`
      WITH charged AS (
        UPDATE ${mockPaymentIntents} SET refunded_amount = refunded_amount + ${refund.amount}
        WHERE id = ${refund.paymentIntentId} AND status = 'succeeded'
          AND refunded_amount + ${refund.amount} <= amount
        RETURNING id
      )
      INSERT INTO ${mockRefunds} (id, idempotency_key, payment_intent_id, amount, currency, status, created)
      SELECT ${refund.id}, ${refund.idempotencyKey}, id, ${refund.amount}, ${refund.currency}, ${refund.status},
        ${refund.created}
      FROM charged
      RETURNING id`);
    rows = result.rows as MockRefundRow[];
  } catch (error) {
    if (!isUniqueViolation(error, "mock_refunds_idempotency_key")) throw error;
    return { refund: (await findMockRefundByKey(db, refund.idempotencyKey))!, replayed: true };
  }
  if (rows.length === 1) return { refund, replayed: false };
  // A concurrent call with the same key may have charged first, leaving too little for this one.
  const raced = await findMockRefundByKey(db, refund.idempotencyKey);
  if (raced) return { refund: raced, replayed: true };
  const intent = await findMockIntent(db, refund.paymentIntentId);
  return !intent || intent.status !== "succeeded" ? "not_refundable" : "too_large";
}

export function mockIntentsSince(db: Db, sinceSeconds: number): Promise<MockIntentRow[]> {
  return db.select().from(mockPaymentIntents).where(gte(mockPaymentIntents.created, sinceSeconds));
}

export function mockRefundsSince(db: Db, sinceSeconds: number): Promise<MockRefundRow[]> {
  return db.select().from(mockRefunds).where(gte(mockRefunds.created, sinceSeconds));
}
