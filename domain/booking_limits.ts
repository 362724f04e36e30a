/**
 * How much of the agenda one client may hold at once, so that nobody can take every slot of a
 * salon with unpaid holds (OWASP API6: unrestricted access to a sensitive business flow).
 *
 * What is counted, for one client at a moment `now`:
 * - an open hold: a PENDING booking whose hold is live (hold_expires_at > now), whatever its start:
 *   a deposit not paid yet, or an overbooked booking waiting for the salon's approval;
 * - a future booking: an open hold or a CONFIRMED booking, starting after now;
 * - an open booking: an open hold, or a CONFIRMED booking that is not over yet (ends after now).
 * A lapsed hold (PENDING with hold_expires_at <= now, not swept yet) counts as nothing: the slot
 * engine already shows its time as free. Cancelled, expired, completed and no-show bookings never count.
 *
 * A new booking is allowed while every limit that applies to it is above its count; the database
 * counts and inserts under one lock per client, with the checks listed by `applicableLimits`.
 */

/** The client's bookings as defined above, at one salon and across all salons. */
export interface ClientBookingCounts {
  openHoldsAtSalon: number;
  openHolds: number;
  futureAtSalon: number;
  future: number;
  open: number;
}

/** The salon's own limits and the platform's limits across all salons. */
export interface BookingLimits {
  salonMaxOpenHolds: number;
  salonMaxFutureBookings: number;
  platformMaxOpenHolds: number;
  platformMaxFutureBookings: number;
}

/** An account with neither a verified email nor a verified phone holds at most this many open bookings. */
export const UNVERIFIED_MAX_OPEN_BOOKINGS = 1;

export type BookingLimitName =
  | "unverified.max_open_bookings"
  | "salon.max_open_holds_per_client"
  | "platform.max_open_holds_per_client"
  | "salon.max_future_bookings_per_client"
  | "platform.max_future_bookings_per_client";

/** One limit a new booking must stay within: allowed while `counts[count] < value` (always, when verified and `unverifiedOnly`). */
export interface LimitCheck {
  name: BookingLimitName;
  count: keyof ClientBookingCounts;
  value: number;
  unverifiedOnly: boolean;
}

export interface BookingLimitHit {
  name: BookingLimitName;
  value: number;
  /** What the client has now, of what the limit counts. */
  count: number;
  message: string;
}

/**
 * The limits a new booking must stay within, most specific first. Hold limits apply only when the
 * new booking is itself a hold (PENDING: a deposit is due, or it waits for approval); a booking
 * confirmed at once only counts as a future (and open) booking.
 */
export function applicableLimits(limits: BookingLimits, newIsHold: boolean): LimitCheck[] {
  const checks: LimitCheck[] = [
    { name: "unverified.max_open_bookings", count: "open", value: UNVERIFIED_MAX_OPEN_BOOKINGS, unverifiedOnly: true },
  ];
  if (newIsHold) {
    checks.push(
      {
        name: "salon.max_open_holds_per_client",
        count: "openHoldsAtSalon",
        value: limits.salonMaxOpenHolds,
        unverifiedOnly: false,
      },
      {
        name: "platform.max_open_holds_per_client",
        count: "openHolds",
        value: limits.platformMaxOpenHolds,
        unverifiedOnly: false,
      },
    );
  }
  checks.push(
    {
      name: "salon.max_future_bookings_per_client",
      count: "futureAtSalon",
      value: limits.salonMaxFutureBookings,
      unverifiedOnly: false,
    },
    {
      name: "platform.max_future_bookings_per_client",
      count: "future",
      value: limits.platformMaxFutureBookings,
      unverifiedOnly: false,
    },
  );
  return checks;
}

function messageFor(name: BookingLimitName, value: number): string {
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
  switch (name) {
    case "unverified.max_open_bookings":
      return `an account without a verified email or phone may have ${
        plural(value, "open booking")
      } at a time: verify your email or phone to book more`;
    case "salon.max_open_holds_per_client":
      return `this salon lets a client keep ${plural(value, "unpaid hold")} at once: pay or cancel one first`;
    case "platform.max_open_holds_per_client":
      return `a client may keep ${plural(value, "unpaid hold")} across all salons at once: pay or cancel one first`;
    case "salon.max_future_bookings_per_client":
      return `this salon takes at most ${plural(value, "upcoming booking")} per client`;
    case "platform.max_future_bookings_per_client":
      return `a client may have at most ${plural(value, "upcoming booking")} across all salons`;
  }
}

/** The first limit (in `applicableLimits` order) a new booking would break, or null when it is allowed. */
export function bookingLimitHit(input: {
  counts: ClientBookingCounts;
  verified: boolean;
  newIsHold: boolean;
  limits: BookingLimits;
}): BookingLimitHit | null {
  for (const check of applicableLimits(input.limits, input.newIsHold)) {
    if (check.unverifiedOnly && input.verified) continue;
    const count = input.counts[check.count];
    if (count >= check.value) {
      return { name: check.name, value: check.value, count, message: messageFor(check.name, check.value) };
    }
  }
  return null;
}
