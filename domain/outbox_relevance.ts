/**
 * Whether an outbox row is still worth telling someone about when the relay reaches it. A row can
 * wait long (a relay that was down, an upgrade from a version without notifications): a notice
 * about a booking that already began, or a code that has expired, only confuses its reader, so it
 * is dropped (marked relayed without messages). Pure: the caller passes the clock and the booking.
 */

/** Booking notices older than this are no longer news. */
export const BOOKING_NOTICE_MAX_AGE_MS = 24 * 3_600_000;
/** A refused refund stays actionable (admins retry it) for longer than a booking notice. */
export const REFUND_FAILED_MAX_AGE_MS = 7 * 24 * 3_600_000;

/** Notices that speak of a booking still to come: pointless once it has begun. */
const BEFORE_START_TOPICS: ReadonlySet<string> = new Set([
  "booking.created",
  "booking.approve",
  "booking.reschedule",
  "booking.cancel",
  "booking.expire",
]);

/** Account messages carry a single-use code: useless once the code has lapsed (minutes of life). */
export const ACCOUNT_TOPIC_LIFE_MINUTES: Readonly<Record<string, number>> = {
  "email.verify_email": 30,
  "email.password_reset": 30,
  "email.professional_invitation": 7 * 24 * 60,
  "sms.verify_phone": 10,
};

export interface RelayFacts {
  topic: string;
  /** Epoch ms the row was written. */
  createdAt: number;
  now: number;
  /** The booking the row is about, when it names one that exists. */
  booking?: { startsAt: number; status: string } | null;
}

export type RelayDecision =
  | { send: true }
  | { send: false; reason: "booking_started" | "too_old" | "code_expired" };

/** Send or drop, and why. Topics without a rule are sent (their plan decides what to say). */
export function relayDecision(facts: RelayFacts): RelayDecision {
  const age = facts.now - facts.createdAt;
  const life = ACCOUNT_TOPIC_LIFE_MINUTES[facts.topic];
  if (life !== undefined) return age >= life * 60_000 ? { send: false, reason: "code_expired" } : { send: true };
  if (facts.topic === "refund.failed") {
    return age >= REFUND_FAILED_MAX_AGE_MS ? { send: false, reason: "too_old" } : { send: true };
  }
  if (!facts.topic.startsWith("booking.")) return { send: true };
  if (BEFORE_START_TOPICS.has(facts.topic) && facts.booking && facts.booking.startsAt <= facts.now) {
    return { send: false, reason: "booking_started" };
  }
  return age >= BOOKING_NOTICE_MAX_AGE_MS ? { send: false, reason: "too_old" } : { send: true };
}
