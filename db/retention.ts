/**
 * What is kept only for a while, and why (the README's retention table says the same):
 * - answered idempotency keys after their 24 hours; acted-on message ids after 30 days (Stripe
 *   retries events for up to three days);
 * - delivered jobs after 7 days; dead jobs after 30 (time enough for an admin to re-drive them);
 * - relayed outbox rows after 30 days;
 * - used or expired single-use tokens after 7 days (the latest invitation of a professional who has
 *   not accepted stays, token unusable, so the salon can resend it);
 * - refresh tokens 7 days after they expire or their family is revoked, and then families left
 *   without tokens: a lapsed token is refused either way, and the week keeps reuse evidence for
 *   support;
 * - email and SMS texts 90 days after the message (sent, failed or suppressed): the row stays as the
 *   record that something was sent, its text (personal data) goes; in-app messages are the
 *   inbox and stay;
 * - audit events of money (bookings, payments, refunds) and payment logs for 5 years, the period in
 *   which Brazilian tax authorities may reassess (CTN art. 173); other audit events for 1 year.
 */
import { and, eq, inArray, isNotNull, isNull, lt, notInArray, or, sql } from "drizzle-orm";
import type { Db } from "./client.ts";
import {
  auditEvents,
  idempotencyKeys,
  jobs,
  notifications,
  outbox,
  paymentLogs,
  processedMessages,
  professionalInvitations,
  professionals,
  refreshTokenFamilies,
  refreshTokens,
  userTokens,
} from "./schema.ts";

const DAY_MS = 24 * 3_600_000;
/** Kept for money: the tax reassessment period. */
export const MONEY_RECORDS_DAYS = 5 * 365;
export const AUDIT_DAYS = 365;
export const MESSAGE_TEXT_DAYS = 90;
export const DEAD_JOB_DAYS = 30;
/** Audit events about these carry money and follow MONEY_RECORDS_DAYS. */
const MONEY_ENTITIES = ["booking", "payment", "refund"];

export interface Purged {
  idempotencyKeys: number;
  processedMessages: number;
  jobs: number;
  outbox: number;
  userTokens: number;
  professionalInvitations: number;
  deadJobs: number;
  refreshTokens: number;
  refreshTokenFamilies: number;
  notificationTexts: number;
  auditEvents: number;
  paymentLogs: number;
}

/** Deletes what is past keeping, in one batch; returns how many rows of each went. */
export async function purgeExpired(db: Db, now: Date): Promise<Purged> {
  const ago = (days: number) => new Date(now.getTime() - days * DAY_MS);
  const [
    keys,
    messages,
    delivered,
    relayed,
    tokens,
    invitations,
    dead,
    refresh,
    families,
    texts,
    audits,
    logs,
  ] = await db.batch([
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
    db.delete(jobs).where(and(sql`${jobs.status} = 'DEAD'`, lt(jobs.updatedAt, ago(DEAD_JOB_DAYS))))
      .returning({ id: jobs.id }),
    db.delete(refreshTokens).where(or(
      lt(refreshTokens.expiresAt, ago(7)),
      sql`exists (select 1 from ${refreshTokenFamilies} f
        where f.id = ${refreshTokens.familyId} and f.revoked_at < ${ago(7).toISOString()})`,
    )).returning({ id: refreshTokens.id }),
    // After the tokens above: a family is only deleted once none of its tokens is left.
    db.delete(refreshTokenFamilies).where(and(
      lt(refreshTokenFamilies.createdAt, ago(7)),
      sql`not exists (select 1 from ${refreshTokens} t where t.family_id = ${refreshTokenFamilies.id})`,
    )).returning({ id: refreshTokenFamilies.id }),
    db.update(notifications).set({ subject: null, body: "" }).where(and(
      inArray(notifications.channel, ["EMAIL", "SMS"]),
      inArray(notifications.status, ["SENT", "FAILED", "SUPPRESSED"]),
      lt(notifications.createdAt, ago(MESSAGE_TEXT_DAYS)),
      sql`(${notifications.body} <> '' or ${notifications.subject} is not null)`,
    )).returning({ id: notifications.id }),
    db.delete(auditEvents).where(or(
      and(notInArray(auditEvents.entityType, MONEY_ENTITIES), lt(auditEvents.createdAt, ago(AUDIT_DAYS))),
      lt(auditEvents.createdAt, ago(MONEY_RECORDS_DAYS)),
    )).returning({ id: auditEvents.id }),
    db.delete(paymentLogs).where(lt(paymentLogs.createdAt, ago(MONEY_RECORDS_DAYS))).returning({ id: paymentLogs.id }),
  ]);
  return {
    idempotencyKeys: keys.length,
    processedMessages: messages.length,
    jobs: delivered.length,
    outbox: relayed.length,
    userTokens: tokens.length,
    professionalInvitations: invitations.length,
    deadJobs: dead.length,
    refreshTokens: refresh.length,
    refreshTokenFamilies: families.length,
    notificationTexts: texts.length,
    auditEvents: audits.length,
    paymentLogs: logs.length,
  };
}
