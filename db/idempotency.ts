/**
 * Idempotency keys: a key is claimed before the work starts; the answer is stored with the work's
 * own batch (or right after a refusal), so a retry with the same key and body gets the same answer.
 */
import { and, eq, sql } from "drizzle-orm";
import type { Db } from "./client.ts";
import { idempotencyKeys } from "./schema.ts";

export interface StoredAnswer {
  status: number;
  body: unknown;
  location: string | null;
}

export type Claim =
  | { state: "claimed" }
  | { state: "replay"; answer: StoredAnswer }
  | { state: "in_flight" }
  | { state: "mismatch" };

/**
 * Claims `key` for this user and request hash. A key already used (and not expired) answers with
 * its stored answer, "in_flight" while the first request is still running, or "mismatch" when
 * the body differs. An expired key is taken over in the same statement.
 */
export async function claimKey(
  db: Db,
  claim: { userId: string; key: string; requestHash: string; now: Date; expiresAt: Date },
): Promise<Claim> {
  const claimed = await db.insert(idempotencyKeys).values({
    userId: claim.userId,
    key: claim.key,
    requestHash: claim.requestHash,
    createdAt: claim.now,
    expiresAt: claim.expiresAt,
  }).onConflictDoUpdate({
    target: [idempotencyKeys.userId, idempotencyKeys.key],
    set: {
      requestHash: claim.requestHash,
      responseStatus: null,
      responseBody: null,
      createdAt: claim.now,
      expiresAt: claim.expiresAt,
    },
    setWhere: sql`${idempotencyKeys.expiresAt} <= ${claim.now}`,
  }).returning({ key: idempotencyKeys.key });
  if (claimed.length === 1) return { state: "claimed" };
  const [row] = await db.select().from(idempotencyKeys)
    .where(and(eq(idempotencyKeys.userId, claim.userId), eq(idempotencyKeys.key, claim.key)));
  // Gone between the two statements (released after a failure): the caller may simply retry.
  if (!row) return { state: "in_flight" };
  if (row.requestHash !== claim.requestHash) return { state: "mismatch" };
  if (row.responseStatus === null) return { state: "in_flight" };
  const stored = row.responseBody as { body: unknown; location: string | null };
  return { state: "replay", answer: { status: row.responseStatus, body: stored.body, location: stored.location } };
}

/** The statement that stores the answer of a claimed key: put it in the batch that does the work. */
export function storeAnswer(db: Db, userId: string, key: string, answer: StoredAnswer) {
  return db.update(idempotencyKeys).set({
    responseStatus: answer.status,
    responseBody: { body: answer.body, location: answer.location },
  }).where(and(eq(idempotencyKeys.userId, userId), eq(idempotencyKeys.key, key)));
}

/** Gives a claimed key up after an unexpected failure, so that a retry runs the work again. */
export async function releaseKey(db: Db, userId: string, key: string): Promise<void> {
  await db.delete(idempotencyKeys).where(
    and(
      eq(idempotencyKeys.userId, userId),
      eq(idempotencyKeys.key, key),
      sql`${idempotencyKeys.responseStatus} is null`,
    ),
  );
}
