/**
 * Reconciliation: compares the provider's payments and refunds since the last run with ours,
 * applies whatever a lost webhook did not (through the same event handler, so the effect is the
 * same as the event's), and records what does not match (amount, currency, unknown objects).
 */
import { desc } from "drizzle-orm";
import type Stripe from "stripe";
import type { ProviderPayment } from "../adapters/payments.ts";
import { findPaymentByProviderId } from "../db/payments.ts";
import { findRefundByProviderId, refundStatusOf } from "../db/refunds.ts";
import { paymentReconciliations } from "../db/schema.ts";
import { nextPaymentStatus } from "../domain/payments.ts";
import { type EventScope, handleEvent } from "../routes/payments.ts";

const ATTEMPT_OF: Record<
  string,
  { type: string; attempt: "SUCCEEDED" | "FAILED" | "REQUIRES_ACTION" | "PROCESSING" | "CANCELLED" }
> = {
  succeeded: { type: "payment_intent.succeeded", attempt: "SUCCEEDED" },
  requires_action: { type: "payment_intent.requires_action", attempt: "REQUIRES_ACTION" },
  processing: { type: "payment_intent.processing", attempt: "PROCESSING" },
  canceled: { type: "payment_intent.canceled", attempt: "CANCELLED" },
};

/** Looks back this far on the first run, and overlaps each run with the previous one by a day. */
const FIRST_LOOKBACK_SECONDS = 30 * 24 * 3600;
const OVERLAP_SECONDS = 24 * 3600;

export interface Mismatch {
  kind: "amount" | "currency" | "status" | "unknown_payment" | "refund";
  provider_id: string;
  ours?: unknown;
  theirs?: unknown;
  repaired: boolean;
}

function attemptOf(payment: ProviderPayment) {
  if (payment.status === "requires_payment_method") {
    return payment.failureCode ? { type: "payment_intent.payment_failed", attempt: "FAILED" as const } : null;
  }
  return ATTEMPT_OF[payment.status] ?? null;
}

function syntheticEvent(id: string, type: string, object: Record<string, unknown>): Stripe.Event {
  return {
    id,
    object: "event",
    type,
    created: Math.floor(Date.now() / 1000),
    data: { object },
  } as unknown as Stripe.Event;
}

/** Runs one reconciliation and records it. */
export async function reconcilePayments(scope: EventScope) {
  const { database, payments: provider, now } = scope.services;
  const db = database.db;
  const startedAt = now();
  const [last] = await db.select().from(paymentReconciliations).orderBy(desc(paymentReconciliations.startedAt)).limit(
    1,
  );
  const sinceSeconds = last
    ? Math.floor(last.startedAt.getTime() / 1000) - OVERLAP_SECONDS
    : Math.floor(startedAt.getTime() / 1000) - FIRST_LOOKBACK_SECONDS;
  const [theirPayments, theirRefunds] = await Promise.all([
    provider.listPaymentsSince(sinceSeconds),
    provider.listRefundsSince(sinceSeconds),
  ]);
  const mismatches: Mismatch[] = [];
  let repaired = 0;
  for (const theirs of theirPayments) {
    const ours = await findPaymentByProviderId(db, theirs.id);
    if (!ours) {
      mismatches.push({ kind: "unknown_payment", provider_id: theirs.id, theirs: theirs.status, repaired: false });
      continue;
    }
    if (ours.amount !== theirs.amount) {
      mismatches.push({
        kind: "amount",
        provider_id: theirs.id,
        ours: ours.amount,
        theirs: theirs.amount,
        repaired: false,
      });
    }
    if (ours.currency !== theirs.currency) {
      mismatches.push({
        kind: "currency",
        provider_id: theirs.id,
        ours: ours.currency,
        theirs: theirs.currency,
        repaired: false,
      });
    }
    const attempt = attemptOf(theirs);
    if (attempt && nextPaymentStatus(ours.status, attempt.attempt) !== ours.status) {
      await handleEvent(
        scope,
        syntheticEvent(`reconcile:${theirs.id}:${theirs.status}`, attempt.type, {
          id: theirs.id,
          object: "payment_intent",
          status: theirs.status,
          last_payment_error: theirs.failureCode ? { code: theirs.failureCode } : null,
        }),
      );
      mismatches.push({
        kind: "status",
        provider_id: theirs.id,
        ours: ours.status,
        theirs: theirs.status,
        repaired: true,
      });
      repaired++;
    }
  }
  for (const theirs of theirRefunds) {
    const ours = await findRefundByProviderId(db, theirs.id);
    if (ours && ours.status === refundStatusOf(theirs.status)) continue;
    await handleEvent(
      scope,
      syntheticEvent(`reconcile:${theirs.id}:${theirs.status}`, "refund.updated", {
        id: theirs.id,
        object: "refund",
        payment_intent: theirs.paymentId,
        amount: theirs.amount,
        status: theirs.status,
      }),
    );
    mismatches.push({
      kind: "refund",
      provider_id: theirs.id,
      ours: ours?.status ?? null,
      theirs: theirs.status,
      repaired: true,
    });
    repaired++;
  }
  const [run] = await db.insert(paymentReconciliations).values({
    since: new Date(sinceSeconds * 1000),
    startedAt,
    finishedAt: now(),
    checked: theirPayments.length + theirRefunds.length,
    repaired,
    mismatches,
  }).returning();
  return run;
}
