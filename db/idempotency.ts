/**
 * Idempotency keys: a key is claimed before the work starts; the answer is stored with the work's
 * own batch (or right after a refusal), so a retry with the same key and body gets the same answer.
 * A claim carries a claim id and a lease: a request that died (a crash leaves its claim unanswered)
 * blocks retries only until the lease lapses, and then a retry takes the claim over under a new id.
 * The answer is stored only under the claim id it was claimed with, so the work of a request whose
 * claim was taken over fails as a whole instead of committing beside the retry's.
 */
import { and, eq, sql } from "drizzle-orm";
import type { Db } from "./client.ts";
import { idempotencyKeys } from "./schema.ts";

export interface StoredAnswer {
  status: number;
  body: unknown;
  location: string | null;
}

/** Whose claim on which key: the answer and the release act only on this claim. */
export interface ClaimRef {
  userId: string;
  key: string;
  claimId: string;
}

export type Claim =
  | { state: "claimed"; claimId: string }
  | { state: "replay"; answer: StoredAnswer }
  | { state: "in_flight" }
  | { state: "mismatch" };

/**
 * Claims `key` for this user and request hash, with a lease until `leaseExpiresAt`. A key already
 * used (and not expired) answers with its stored answer, "in_flight" while the first request holds
 * it, or "mismatch" when the body differs. In the same statement, an expired key is taken over, and
 * so is an unanswered claim on the same body whose lease has lapsed (its request died or overran).
 */
export async function claimKey(
  db: Db,
  claim: { userId: string; key: string; requestHash: string; now: Date; leaseExpiresAt: Date; expiresAt: Date },
): Promise<Claim> {
  const claimId = crypto.randomUUID();
  const now = claim.now.toISOString();
  const leaseSeconds = Math.max(0, (claim.leaseExpiresAt.getTime() - claim.now.getTime()) / 1000);
  const claimed = await db.insert(idempotencyKeys).values({
    userId: claim.userId,
    key: claim.key,
    requestHash: claim.requestHash,
    claimId,
    leaseExpiresAt: claim.leaseExpiresAt,
    createdAt: claim.now,
    expiresAt: claim.expiresAt,
  }).onConflictDoUpdate({
    target: [idempotencyKeys.userId, idempotencyKeys.key],
    set: {
      requestHash: claim.requestHash,
      responseStatus: null,
      responseBody: null,
      claimId,
      leaseExpiresAt: claim.leaseExpiresAt,
      createdAt: claim.now,
      expiresAt: claim.expiresAt,
    },
    // A claim made before leases existed has none: it gets one lease from when it was made.
    setWhere: sql`${idempotencyKeys.expiresAt} <= ${now}::timestamptz OR (
      ${idempotencyKeys.responseStatus} IS NULL
      AND ${idempotencyKeys.requestHash} = ${claim.requestHash}
      AND coalesce(
        ${idempotencyKeys.leaseExpiresAt},
        ${idempotencyKeys.createdAt} + make_interval(secs => ${leaseSeconds})
      ) <= ${now}::timestamptz
    )`,
  }).returning({ key: idempotencyKeys.key });
  if (claimed.length === 1) return { state: "claimed", claimId };
  const [row] = await db.select().from(idempotencyKeys)
    .where(and(eq(idempotencyKeys.userId, claim.userId), eq(idempotencyKeys.key, claim.key)));
  // Gone between the two statements (released after a failure): the caller may simply retry.
  if (!row) return { state: "in_flight" };
  if (row.requestHash !== claim.requestHash) return { state: "mismatch" };
  if (row.responseStatus === null) return { state: "in_flight" };
  const stored = row.responseBody as { body: unknown; location: string | null };
  return { state: "replay", answer: { status: row.responseStatus, body: stored.body, location: stored.location } };
}

/**
 * The statement that stores the answer of a claimed key: put it in the batch that does the work.
 * It raises `CLAIM_LOST` (db/errors.ts) when the claim is no longer this request's, which rolls the
 * whole batch back. It is a bare `SELECT` with no `WHERE`: a batch that must store the answer only
 * if its change happened appends `WHERE <condition>` (see `onlyIfBooked`).
 */
export function storeAnswer(db: Db, claim: ClaimRef, answer: StoredAnswer) {
  const stored = JSON.stringify({ body: answer.body, location: answer.location });
  return db.execute(
    sql`SELECT store_idempotent_answer(${claim.userId}::uuid, ${claim.key}::text, ${claim.claimId}::uuid, ${answer.status}::integer, ${stored}::jsonb)`,
  );
}

/**
 * Gives this request's unanswered claim up after a failure that says "later", so that a retry runs
 * the work again. False when the claim was no longer this request's (a retry took it over).
 */
export async function releaseKey(db: Db, claim: ClaimRef): Promise<boolean> {
  const released = await db.delete(idempotencyKeys).where(
    and(
      eq(idempotencyKeys.userId, claim.userId),
      eq(idempotencyKeys.key, claim.key),
      eq(idempotencyKeys.claimId, claim.claimId),
      sql`${idempotencyKeys.responseStatus} is null`,
    ),
  ).returning({ key: idempotencyKeys.key });
  return released.length === 1;
}
