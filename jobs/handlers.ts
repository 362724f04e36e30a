/**
 * What each job does. Handlers validate their payload, act, and report how many records changed;
 * the callback route alone turns that into an acknowledgement or (on a thrown error) a retry.
 * Effects that are not idempotent by themselves commit with the message id (`once`).
 */
import { z } from "@hono/zod-openapi";
import type { BatchItem } from "drizzle-orm/batch";
import { type MessageSender, PermanentSendError, SEND_TIMEOUT_MS } from "../adapters/messaging.ts";
import { spendMessageBudget } from "../adapters/rate_windows.ts";
import { detectNoShowsStatement, expireHoldsStatement } from "../db/booking_sweeps.ts";
import type { Db } from "../db/client.ts";
import { isUniqueViolation } from "../db/errors.ts";
import {
  bookingFacts,
  type Channel,
  claimSend,
  disabledChannels,
  findNotification,
  lostSends,
  type NotificationInsert,
  recipient,
  RECORDED,
  recordRelayed,
  recordSend,
  recordSuppressed,
  salonStaffOf,
  type ToSend,
  toSend,
  unpublishedOutbox,
} from "../db/notifications.ts";
import { bookings, notifications, payments, processedMessages } from "../db/schema.ts";
import { failRefund, findRefund, REFUND_FAILED_TOPIC, refundStatusOf, settleRefund } from "../db/refunds.ts";
import { logPayment } from "../db/payments.ts";
import { PaymentProviderError } from "../adapters/payments.ts";
import { eq } from "drizzle-orm";
import {
  type AccountFacts,
  type BookingFacts,
  chooseLocale,
  renderNotification,
  type TemplateName,
} from "../domain/notifications.ts";
import type { AppDeps } from "../routes/app.ts";
import type { JobName, JobPublisher } from "./dispatcher.ts";
import { reconcilePayments } from "./reconcile.ts";
import { reminderTimes } from "../domain/bookings.ts";
import { PHONE_CODE, PHONE_CODE_TOPIC, suppressionReason } from "../domain/message_limits.ts";
import { purgeExpired } from "../db/retention.ts";
import { type RelayDecision, relayDecision } from "../domain/outbox_relevance.ts";

export interface JobContext {
  deps: AppDeps;
  db: Db;
  now: Date;
  requestId: string;
  messageId: string;
  /**
   * Identifies the signature this delivery came with. The message id header is not signed, so a
   * replayed request with a new message id is recognised by its signature.
   */
  signatureId: string;
}

export interface JobOutcome {
  outcome: "done" | "noop" | "duplicate";
  changed: number;
}

interface Handler<T> {
  payload: z.ZodType<T>;
  run(context: JobContext, payload: T): Promise<JobOutcome>;
}

/**
 * Runs statements in one batch with the message id and the signature's id: a message (or a signed
 * request) seen before acts no more.
 */
async function once(
  context: JobContext,
  statements: BatchItem<"pg">[],
): Promise<{ duplicate: boolean; results: unknown[] }> {
  const { db } = context;
  try {
    const [, ...results] = await db.batch([
      db.insert(processedMessages).values([
        { source: "jobs", messageId: context.messageId },
        { source: "job-signatures", messageId: context.signatureId },
      ]),
      ...statements,
    ]);
    return { duplicate: false, results };
  } catch (error) {
    if (isUniqueViolation(error, "processed_messages_source_message_id_pk")) return { duplicate: true, results: [] };
    throw error;
  }
}

async function sweep(context: JobContext, statement: ReturnType<typeof expireHoldsStatement>): Promise<JobOutcome> {
  const { duplicate, results } = await once(context, [context.db.execute(statement)]);
  if (duplicate) return { outcome: "duplicate", changed: 0 };
  const changed = (results[0] as { rows: unknown[] }).rows.length;
  if (changed > 0) await requestRelay(context.deps.jobs);
  return { outcome: changed > 0 ? "done" : "noop", changed };
}

/** Asks for the outbox to be relayed now; requests while one relay is already waiting add nothing. */
export async function requestRelay(jobs: JobPublisher): Promise<void> {
  await jobs.publish({ name: "relay-outbox", payload: {}, coalesce: true });
}

const BOOKING_TEMPLATES: Record<string, TemplateName> = {
  "booking.created": "booking_created",
  "booking.approve": "booking_confirmed",
  "booking.reschedule": "booking_rescheduled",
  "booking.cancel": "booking_cancelled",
  "booking.expire": "booking_expired",
  "booking.no_show": "booking_no_show",
};

const ACCOUNT_TEMPLATES: Record<string, { template: TemplateName; validMinutes: number }> = {
  "email.verify_email": { template: "verify_email", validMinutes: 30 },
  "email.password_reset": { template: "password_reset", validMinutes: 30 },
  "email.professional_invitation": { template: "professional_invitation", validMinutes: 7 * 24 * 60 },
};

interface Plan {
  /** The recipient's account; null for someone reached at `address` (an invitation before it is accepted). */
  userId: string | null;
  address?: string;
  bookingId: string | null;
  template: TemplateName;
  locale: string;
  rendered: { subject: string; body: string; sms: string };
  channels: Channel[];
  /** For booking messages: what the reminders need, read with the rest. */
  reminders?: { booking: { id: string; startsAt: Date; status: string }; hours: number[] };
  /** For booking messages: the client's addresses, whose message budgets their email and SMS spend. */
  contact?: { email: string; phone: string | null };
  /** Set when one outbox row tells several people: keeps their dedupe keys apart. */
  recipientKey?: string;
}

function rowsOf(plan: Plan, outboxDedupe: string): NotificationInsert[] {
  const dedupe = plan.recipientKey ? `${outboxDedupe}:${plan.recipientKey}` : outboxDedupe;
  return plan.channels.map((channel) => ({
    userId: plan.userId,
    address: plan.address ?? null,
    channel,
    template: plan.template,
    locale: plan.locale,
    subject: channel === "SMS" ? null : plan.rendered.subject,
    body: channel === "SMS" ? plan.rendered.sms : plan.rendered.body,
    bookingId: plan.bookingId,
    dedupeKey: `${dedupe}:${channel}`,
  }));
}

/**
 * In-app always; email and SMS unless switched off; SMS only to a verified phone (anyone can type
 * any number into a profile, and booking notices would then text a stranger).
 */
async function bookingChannels(
  db: Db,
  user: { id: string; phone: string | null; phoneVerifiedAt: Date | null },
): Promise<Channel[]> {
  const off = await disabledChannels(db, user.id);
  const channels: Channel[] = ["IN_APP"];
  if (!off.has("EMAIL")) channels.push("EMAIL");
  if (user.phone && user.phoneVerifiedAt && !off.has("SMS")) channels.push("SMS");
  return channels;
}

/** Rows to record, and a way to give back the budget of those that turn out not to be recorded. */
interface Budgeted {
  rows: NotificationInsert[];
  /** Gives back what rows other than `recorded` spent (a duplicate relay or reminder records nothing). */
  settle(recorded: readonly { dedupeKey: string | null }[]): Promise<void>;
}

/**
 * Booking emails and SMS spend the client's per-recipient budget (domain/message_limits.ts) when
 * they are recorded, not when sent: one decision per message, written on its row before any send
 * is queued, and a send retried by its job does not count twice. Over budget a row is recorded
 * SUPPRESSED with the reason and never sent; in-app rows spend nothing. When the store cannot
 * answer, the notice goes unchecked (logged): it tells a client about their own booking, the
 * bookings that trigger notices are limited themselves, and an outage should not silently drop
 * confirmations and cancellations.
 */
async function budgetRows(deps: AppDeps, plan: Plan, rows: NotificationInsert[]): Promise<Budgeted> {
  const spent: { dedupeKey: string; release(): Promise<void> }[] = [];
  const budgeted: NotificationInsert[] = [];
  for (const row of rows) {
    const address = row.channel === "EMAIL" ? plan.contact?.email : row.channel === "SMS" ? plan.contact?.phone : null;
    if (!address || !row.dedupeKey) {
      budgeted.push(row);
      continue;
    }
    const kind = row.channel === "EMAIL" ? "booking_email" : "booking_sms";
    try {
      const verdict = await spendMessageBudget(deps, kind, { recipient: address });
      if (verdict.allowed) {
        spent.push({ dedupeKey: row.dedupeKey, release: verdict.release });
        budgeted.push(row);
      } else {
        budgeted.push({ ...row, status: "SUPPRESSED", lastError: suppressionReason(verdict.window) });
      }
    } catch (error) {
      deps.logger.warn("message limit store unavailable: booking notice sent unchecked", {
        kind,
        error: String(error),
      });
      budgeted.push(row);
    }
  }
  return {
    rows: budgeted,
    async settle(recorded) {
      const kept = new Set(recorded.map((r) => r.dedupeKey));
      for (const s of spent) if (!kept.has(s.dedupeKey)) await s.release();
    },
  };
}

/** The phone code's SMS, to the number the code was made for (verified or not: it is how a phone gets verified). */
async function phoneCodePlan(db: Db, payload: Record<string, unknown>): Promise<Plan | null> {
  if (typeof payload.user_id !== "string" || typeof payload.to !== "string") return null;
  const user = await recipient(db, payload.user_id);
  if (!user) return null;
  const locale = chooseLocale(user.locale, null);
  const facts: AccountFacts = {
    kind: "account",
    recipientName: user.fullName,
    code: String(payload.token),
    validMinutes: PHONE_CODE.validMinutes,
  };
  return {
    userId: user.id,
    address: payload.to,
    bookingId: null,
    template: "verify_phone",
    locale,
    rendered: renderNotification("verify_phone", locale, facts),
    channels: ["SMS"],
  };
}

/** What every message about a booking says of it, to `recipientName`. */
function bookingBasics(facts: NonNullable<Awaited<ReturnType<typeof bookingFacts>>>, recipientName: string) {
  const booking = facts.booking;
  return {
    kind: "booking" as const,
    recipientName,
    salonName: facts.salonName,
    serviceName: facts.serviceName,
    professionalName: facts.professionalName,
    startsAt: booking.startsAt.getTime(),
    timeZone: facts.timeZone,
    price: { amount: booking.priceAmount, currency: booking.currency },
  };
}

async function bookingPlan(
  db: Db,
  bookingId: string,
  template: TemplateName,
  extra: (booking: { currency: string }) => Partial<BookingFacts>,
): Promise<Plan | null> {
  const facts = await bookingFacts(db, bookingId);
  if (!facts) return null;
  const locale = chooseLocale(facts.client.locale, facts.salonLocale);
  const booking = facts.booking;
  const rendered = renderNotification(template, locale, {
    ...bookingBasics(facts, facts.client.fullName),
    ...(booking.status === "PENDING" && booking.depositAmount > 0 && booking.holdExpiresAt
      ? {
        deposit: { amount: booking.depositAmount, currency: booking.currency },
        holdExpiresAt: booking.holdExpiresAt.getTime(),
      }
      : {}),
    ...extra(booking),
  });
  return {
    userId: facts.client.id,
    bookingId,
    template,
    locale,
    rendered,
    channels: await bookingChannels(db, facts.client),
    reminders: { booking: facts.booking, hours: facts.reminderHours },
    contact: { email: facts.client.email, phone: facts.client.phone },
  };
}

/**
 * A refund the provider refused for good: the client hears that it was not made (a booking notice,
 * on their channels), the salon's owner and the admins why and that it can be retried (in-app).
 */
async function refundFailedPlans(db: Db, payload: Record<string, unknown>): Promise<Plan[]> {
  if (typeof payload.booking_id !== "string") return [];
  const facts = await bookingFacts(db, payload.booking_id);
  if (!facts) return [];
  const refund = {
    amount: Number(payload.amount ?? 0),
    currency: typeof payload.currency === "string" ? payload.currency : facts.booking.currency,
  };
  const plans: Plan[] = [];
  const client = await bookingPlan(db, payload.booking_id, "booking_refund_failed", () => ({ refund }));
  // The booking is over: no reminders come of this notice.
  if (client) plans.push({ ...client, reminders: undefined });
  for (const person of await salonStaffOf(db, payload.booking_id)) {
    const locale = chooseLocale(person.locale, facts.salonLocale);
    plans.push({
      userId: person.id,
      bookingId: payload.booking_id,
      template: "refund_failed",
      locale,
      rendered: renderNotification("refund_failed", locale, {
        ...bookingBasics(facts, person.fullName),
        refund,
        clientName: facts.client.fullName,
        ...(typeof payload.failure_reason === "string" ? { failureReason: payload.failure_reason } : {}),
      }),
      channels: ["IN_APP"],
      recipientKey: `staff:${person.id}`,
    });
  }
  return plans;
}

/** Where a recorded refund stands, for a cancellation notice that says only what is known. */
async function refundStatusFor(db: Db, refundId: unknown): Promise<BookingFacts["refundStatus"]> {
  if (typeof refundId !== "string") return undefined;
  const refund = await findRefund(db, refundId).catch(() => undefined);
  return refund?.status === "SUCCEEDED" ? "made" : refund?.status === "FAILED" ? "failed" : "requested";
}

/** Whether the row is still news (see domain/outbox_relevance.ts), read with its booking's start and status. */
async function relevance(
  db: Db,
  row: { topic: string; payload: unknown; createdAt: Date },
  now: Date,
): Promise<RelayDecision> {
  const bookingId = (row.payload as { booking_id?: unknown }).booking_id;
  const [booking] = typeof bookingId === "string"
    ? await db.select({ startsAt: bookings.startsAt, status: bookings.status }).from(bookings)
      .where(eq(bookings.id, bookingId))
    : [];
  return relayDecision({
    topic: row.topic,
    createdAt: row.createdAt.getTime(),
    now: now.getTime(),
    booking: booking ? { startsAt: booking.startsAt.getTime(), status: booking.status } : null,
  });
}

async function plansForOutbox(db: Db, topic: string, payload: Record<string, unknown>): Promise<Plan[]> {
  if (topic === REFUND_FAILED_TOPIC) return await refundFailedPlans(db, payload);
  const plan = await planForOutbox(db, topic, payload);
  return plan ? [plan] : [];
}

async function planForOutbox(db: Db, topic: string, payload: Record<string, unknown>): Promise<Plan | null> {
  if (topic === PHONE_CODE_TOPIC) return await phoneCodePlan(db, payload);
  const account = ACCOUNT_TEMPLATES[topic];
  if (account) {
    let to: { userId: string | null; address?: string; name: string; locale: ReturnType<typeof chooseLocale> };
    if (typeof payload.user_id === "string") {
      const user = await recipient(db, payload.user_id);
      if (!user) return null;
      to = { userId: user.id, name: user.fullName, locale: chooseLocale(user.locale, null) };
    } else if (typeof payload.to === "string") {
      // An invitation goes to the address the salon typed: no account is read (or tied to the
      // message) before the person accepts; the salon's language and name for them are used.
      to = {
        userId: null,
        address: payload.to,
        name: typeof payload.display_name === "string" ? payload.display_name : payload.to,
        locale: chooseLocale(null, typeof payload.locale === "string" ? payload.locale : null),
      };
    } else {
      return null;
    }
    const locale = to.locale;
    const facts: AccountFacts = {
      kind: "account",
      recipientName: to.name,
      code: String(payload.token),
      validMinutes: account.validMinutes,
      ...(payload.salon_name ? { salonName: String(payload.salon_name) } : {}),
    };
    // Account messages are transactional: they go by email whatever the preferences.
    return {
      userId: to.userId,
      ...(to.address !== undefined ? { address: to.address } : {}),
      bookingId: null,
      template: account.template,
      locale,
      rendered: renderNotification(account.template, locale, facts),
      channels: ["EMAIL"],
    };
  }
  const template = BOOKING_TEMPLATES[topic];
  if (!template || typeof payload.booking_id !== "string") return null;
  const refundStatus = template === "booking_cancelled" ? await refundStatusFor(db, payload.refund_id) : undefined;
  const extra = (booking: { currency: string }): Partial<BookingFacts> => {
    if (template === "booking_cancelled") {
      return {
        cancelledBy: (payload.by as BookingFacts["cancelledBy"]) ?? "SYSTEM",
        fee: { amount: Number(payload.fee ?? 0), currency: booking.currency },
        refund: { amount: Number(payload.refund ?? 0), currency: booking.currency },
        ...(refundStatus ? { refundStatus } : {}),
      };
    }
    if (template === "booking_rescheduled" && typeof payload.from_starts_at === "string") {
      return { previousStartsAt: Date.parse(payload.from_starts_at) };
    }
    return {};
  };
  return await bookingPlan(db, payload.booking_id, template, extra);
}

/**
 * How old a SENDING claim is before its delivery counts as lost: the provider call's deadline and
 * a margin for recording its result. Younger claims may still be in flight.
 */
export const SEND_CLAIM_MARGIN_MS = 20_000;

function sendDeadlineMs(sender: MessageSender): number {
  return (sender.deadlineMs ?? SEND_TIMEOUT_MS) + SEND_CLAIM_MARGIN_MS;
}

/** The sweep does not know the channel of each lost send: the longer of the two deadlines. */
function relayDeadlineMs(deps: AppDeps): number {
  return Math.max(sendDeadlineMs(deps.messages.email), sendDeadlineMs(deps.messages.sms));
}

async function publishSends(jobs: JobPublisher, ids: readonly { id: string }[]): Promise<void> {
  for (const { id } of ids) {
    await jobs.publish({ name: "send-notification", payload: { notification_id: id }, deduplicationId: `send:${id}` });
  }
}

/** Publishes the reminders of a confirmed booking at the salon's hours before it (those still ahead). */
export async function scheduleReminders(
  jobs: JobPublisher,
  booking: { id: string; startsAt: Date },
  reminderHours: readonly number[],
  now: Date,
) {
  const startsAt = booking.startsAt.toISOString();
  for (const { hours, at } of reminderTimes(booking.startsAt.getTime(), reminderHours, now.getTime())) {
    await jobs.publish({
      name: "remind",
      payload: { booking_id: booking.id, starts_at: startsAt, hours_before: hours },
      notBefore: new Date(at),
      deduplicationId: `reminder:${booking.id}:${startsAt}:${hours}`,
    });
  }
}

/**
 * Asks for a recorded refund to be made at the provider, deduplicated per refund and attempt: an
 * admin's retry of a refused refund (a later `sequence`) is a new job.
 */
export async function requestRefund(jobs: JobPublisher, refundId: string, sequence?: number): Promise<void> {
  await jobs.publish({
    name: "create-refund",
    payload: { refund_id: refundId },
    deduplicationId: sequence === undefined ? `refund:${refundId}` : `refund:${refundId}:${sequence}`,
  });
}

export const HANDLERS: { [K in JobName]: Handler<unknown> } = {
  "purge-expired": {
    payload: z.object({}),
    // Idempotent by itself: deleting what is past keeping twice deletes nothing more.
    async run(context) {
      const purged = await purgeExpired(context.db, context.now);
      const changed = Object.values(purged).reduce((a, b) => a + b, 0);
      return { outcome: changed > 0 ? "done" : "noop", changed };
    },
  },
  "reconcile-payments": {
    payload: z.object({}),
    async run(context) {
      const run = await reconcilePayments({ services: context.deps, requestId: context.requestId });
      return { outcome: run.repaired > 0 ? "done" : "noop", changed: run.repaired };
    },
  },
  "create-refund": {
    payload: z.object({ refund_id: z.uuid() }),
    async run(context, raw) {
      const { db, deps, now } = context;
      const refund = await findRefund(db, (raw as { refund_id: string }).refund_id);
      if (!refund || refund.status !== "PENDING" || refund.providerRefundId) return { outcome: "noop", changed: 0 };
      const [payment] = await db.select().from(payments).where(eq(payments.id, refund.paymentId));
      const started = performance.now();
      try {
        const made = await deps.payments.refund({
          paymentId: payment.providerPaymentId!,
          amount: refund.amount,
          // The same key on every retry of this attempt: the provider refunds once. An admin's
          // retry of a refused refund is a new attempt with the next sequence, so a new key.
          idempotencyKey: `booking:${payment.bookingId}:refund:${refund.sequence}`,
          reason: refund.reason ?? undefined,
          refundId: refund.id,
        });
        await settleRefund(db, refund, { providerRefundId: made.id, status: refundStatusOf(made.status), now });
        await logPayment(db, {
          paymentId: payment.id,
          refundId: refund.id,
          kind: "refund",
          provider: payment.provider,
          objectId: made.id,
          status: made.status,
          latencyMs: Math.round(performance.now() - started),
        });
        if (made.status === "failed") await requestRelay(deps.jobs);
        return { outcome: "done", changed: 1 };
      } catch (error) {
        const errorCode = error instanceof PaymentProviderError ? error.code : "unavailable";
        await logPayment(db, {
          paymentId: payment.id,
          refundId: refund.id,
          kind: "refund",
          provider: payment.provider,
          objectId: payment.providerPaymentId,
          status: "error",
          latencyMs: Math.round(performance.now() - started),
          errorCode,
        });
        if (error instanceof PaymentProviderError && !error.retryable) {
          // Refused for good: FAILED with the reason, and the salon, the admins and the client told.
          await failRefund(db, refund, { reason: errorCode, now });
          await requestRelay(deps.jobs);
          return { outcome: "done", changed: 1 };
        }
        throw error; // retried by the job
      }
    },
  },
  "expire-hold": {
    payload: z.object({ booking_id: z.uuid() }),
    run: (context, payload) =>
      sweep(
        context,
        expireHoldsStatement((payload as { booking_id: string }).booking_id, context.now, context.requestId),
      ),
  },
  "expire-holds": {
    payload: z.object({}),
    run: (context) => sweep(context, expireHoldsStatement(null, context.now, context.requestId)),
  },
  "detect-no-shows": {
    payload: z.object({}),
    run: (context) => sweep(context, detectNoShowsStatement(context.now, context.requestId)),
  },
  "relay-outbox": {
    payload: z.object({}),
    // Idempotent by itself: each outbox row is marked when relayed, and notifications dedupe by key.
    async run(context) {
      const { db, deps, now } = context;
      let changed = 0;
      for (const row of await unpublishedOutbox(db, 100)) {
        const plans = await plansForOutbox(db, row.topic, row.payload as Record<string, unknown>);
        const decision = await relevance(db, row, now);
        if (!decision.send) {
          // Marked relayed with no messages; the refund and reminders below still follow from the row.
          deps.logger.info("outbox row dropped", { outbox_id: row.id, topic: row.topic, reason: decision.reason });
        }
        const budgeted: Budgeted[] = [];
        let sends: ToSend[] = [];
        try {
          for (const plan of decision.send ? plans : []) {
            budgeted.push(await budgetRows(deps, plan, rowsOf(plan, row.deduplicationId)));
          }
          sends = await recordRelayed(db, row.id, budgeted.flatMap((b) => b.rows), now);
        } finally {
          for (const b of budgeted) await b.settle(sends);
        }
        const plan = plans[0];
        await publishSends(deps.jobs, sends);
        // A refund recorded with the change (or retried) is made even if its prompt request was
        // lost; the notice of a refused one asks for nothing.
        const { refund_id: refundId, refund_sequence: sequence } = row.payload as {
          refund_id?: unknown;
          refund_sequence?: unknown;
        };
        if (typeof refundId === "string" && row.topic !== REFUND_FAILED_TOPIC) {
          await requestRefund(deps.jobs, refundId, typeof sequence === "number" ? sequence : undefined);
        }
        if (
          plan &&
          (row.topic === "booking.created" || row.topic === "booking.approve" || row.topic === "booking.reschedule")
        ) {
          if (plan.reminders?.booking.status === "CONFIRMED") {
            await scheduleReminders(deps.jobs, plan.reminders.booking, plan.reminders.hours, now);
          }
        }
        changed++;
      }
      // Sends whose delivery crashed mid-call are asked for again (retried once, or given up).
      const lost = await lostSends(db, new Date(now.getTime() - relayDeadlineMs(deps)), 100);
      for (const { id, attempts } of lost) {
        await deps.jobs.publish({
          name: "send-notification",
          payload: { notification_id: id },
          deduplicationId: `send:${id}:lost:${attempts}`,
        });
      }
      changed += lost.length;
      return { outcome: changed > 0 ? "done" : "noop", changed };
    },
  },
  "send-notification": {
    payload: z.object({ notification_id: z.uuid() }),
    async run(context, payload) {
      const { db, deps, now } = context;
      const notification = await findNotification(db, (payload as { notification_id: string }).notification_id);
      if (!notification || (notification.status !== "PENDING" && notification.status !== "SENDING")) {
        return { outcome: "noop", changed: 0 };
      }
      const sender = notification.channel === "EMAIL" ? deps.messages.email : deps.messages.sms;
      // Claimed before the provider is called: of concurrent deliveries of one job (at-least-once
      // delivery, a redelivery while a slow call is in flight) only the winner sends.
      const claim = await claimSend(db, notification.id, now, new Date(now.getTime() - sendDeadlineMs(sender)));
      if (claim === "failed") {
        deps.logger.warn("notification may have been sent; not retried", { notification_id: notification.id });
        return { outcome: "done", changed: 1 };
      }
      if (!claim) return { outcome: "noop", changed: 0 };
      if (claim.takeover) {
        deps.logger.warn("notification send result was lost; sending once more", { notification_id: notification.id });
      }
      const user = notification.userId ? await recipient(db, notification.userId) : undefined;
      // Checked again at send time: the phone may have changed (and not been verified) since the
      // notice was recorded. The phone code itself is the one SMS an unverified number receives.
      if (notification.channel === "SMS" && notification.template !== "verify_phone" && !user?.phoneVerifiedAt) {
        await recordSuppressed(db, claim, "phone number not verified");
        return { outcome: "done", changed: 1 };
      }
      // Someone without an account yet (an invitation) is reached at the stored address.
      const to = notification.address ?? (notification.channel === "EMAIL" ? user?.email : user?.phone);
      if (!to) {
        await recordSend(db, claim, { sent: false, error: "no address for this channel", permanent: true });
        return { outcome: "done", changed: 1 };
      }
      try {
        await sender.send({
          to,
          subject: notification.subject,
          body: notification.body,
          // One key per notification: a provider that honours it delivers a retried send once.
          idempotencyKey: `notification:${notification.id}`,
        });
      } catch (error) {
        const permanent = error instanceof PermanentSendError;
        await recordSend(db, claim, { sent: false, error: String(error), permanent });
        if (permanent) return { outcome: "done", changed: 1 };
        throw error; // a retry through the job
      }
      // A sent message with a single-use code keeps no copy of the code.
      const carriesCode = notification.template === "verify_phone" ||
        Object.values(ACCOUNT_TEMPLATES).some((a) => a.template === notification.template);
      await recordSend(db, claim, {
        sent: true,
        now,
        ...(carriesCode ? { replaceBody: "(sent; its single-use code is not kept)" } : {}),
      });
      return { outcome: "done", changed: 1 };
    },
  },
  remind: {
    payload: z.object({ booking_id: z.uuid(), starts_at: z.iso.datetime(), hours_before: z.number().int().positive() }),
    async run(context, raw) {
      const payload = raw as { booking_id: string; starts_at: string; hours_before: number };
      const { db, deps } = context;
      const facts = await bookingFacts(db, payload.booking_id);
      // Cancelled, moved or gone since the reminder was scheduled: nothing to say.
      if (
        !facts || facts.booking.status !== "CONFIRMED" ||
        facts.booking.startsAt.toISOString() !== new Date(payload.starts_at).toISOString()
      ) {
        return { outcome: "noop", changed: 0 };
      }
      const plan = await bookingPlan(db, payload.booking_id, "booking_reminder", () => ({
        hoursBefore: payload.hours_before,
      }));
      if (!plan) return { outcome: "noop", changed: 0 };
      const dedupe = `reminder:${payload.booking_id}:${payload.starts_at}:${payload.hours_before}`;
      // Reminders are booking notices too: they spend the same budgets.
      const budgeted = await budgetRows(deps, plan, rowsOf(plan, dedupe));
      let inserted: Parameters<typeof toSend>[0] = [];
      try {
        const { duplicate, results } = await once(context, [
          db.insert(notifications).values(budgeted.rows).onConflictDoNothing().returning(RECORDED),
        ]);
        if (duplicate) return { outcome: "duplicate", changed: 0 };
        inserted = results[0] as typeof inserted;
      } finally {
        await budgeted.settle(inserted);
      }
      await publishSends(deps.jobs, toSend(inserted));
      return { outcome: inserted.length > 0 ? "done" : "noop", changed: inserted.length };
    },
  },
};
