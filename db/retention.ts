/**
 * What is kept only for a while: answered idempotency keys after their 24 hours, acted-on message
 * ids after 30 days (Stripe retries events for up to three days), delivered jobs after 7 days,
 * relayed outbox rows after 30 days, and used or expired single-use tokens after 7 days (the latest
 * invitation of a professional who has not accepted stays, token unusable, so the salon can resend it).
 */
import { and, eq, isNotNull, isNull, lt, or, sql } from "drizzle-orm";
import type { Db } from "./client.ts";
import {
  idempotencyKeys,
  jobs,
  outbox,
  processedMessages,
  professionalInvitations,
  professionals,
  userTokens,
} from "./schema.ts";

const DAY_MS = 24 * 3_600_000;

export interface Purged {
  idempotencyKeys: number;
  processedMessages: number;
  jobs: number;
  outbox: number;
  userTokens: number;
  professionalInvitations: number;
}

/** Deletes what is past keeping, in one batch; returns how many rows of each went. */
export async function purgeExpired(db: Db, now: Date): Promise<Purged> {
  const ago = (days: number) => new Date(now.getTime() - days * DAY_MS);
  const [keys, messages, delivered, relayed, tokens, invitations] = await db.batch([
    db.delete(idempotencyKeys).where(lt(idempotencyKeys.expiresAt, now)).returning({ key: idempotencyKeys.key }),
    db.delete(processedMessages).where(lt(processedMessages.processedAt, ago(30)))
      .returning({ id: processedMessages.messageId }),
    db.delete(jobs).where(and(sql`${jobs.status} = 'DELIVERED'`, lt(jobs.updatedAt, ago(7)))).returning({
      id: jobs.id,
    }),
    db.delete(outbox).where(and(isNotNull(outbox.publishedAt), lt(outbox.publishedAt, ago(30))))
      .returning({ id: outbox.id }),
    db.delete(userTokens).where(
      or(lt(userTokens.expiresAt, ago(7)), and(isNotNull(userTokens.usedAt), lt(userTokens.usedAt, ago(7)))),
    ).returning({ id: userTokens.id }),
    db.delete(professionalInvitations).where(or(
      and(isNotNull(professionalInvitations.usedAt), lt(professionalInvitations.usedAt, ago(7))),
      and(
        lt(professionalInvitations.expiresAt, ago(7)),
        sql`not exists (select 1 from ${professionals}
          where ${eq(professionals.id, professionalInvitations.professionalId)} and ${isNull(professionals.userId)}
            and not exists (select 1 from ${professionalInvitations} newer
              where newer.professional_id = ${professionalInvitations.professionalId}
                and newer.created_at > ${professionalInvitations.createdAt}))`,
      ),
    )).returning({ id: professionalInvitations.id }),
  ]);
  return {
    idempotencyKeys: keys.length,
    processedMessages: messages.length,
    jobs: delivered.length,
    outbox: relayed.length,
    userTokens: tokens.length,
    professionalInvitations: invitations.length,
  };
}
