/**
 * The booking lifecycle: which events each status accepts and where they lead. A booking starts
 * PENDING (holding its time until the deposit is paid or the hold expires) or CONFIRMED; COMPLETED,
 * CANCELLED, NO_SHOW and EXPIRED are final. Instants are epoch milliseconds; `now` is an input.
 */

export const BOOKING_STATUSES = ["PENDING", "CONFIRMED", "COMPLETED", "CANCELLED", "NO_SHOW", "EXPIRED"] as const;
export type BookingStatus = typeof BOOKING_STATUSES[number];

export type BookingEvent = "confirm" | "complete" | "cancel" | "no_show" | "expire" | "reschedule";
export const BOOKING_EVENTS: readonly BookingEvent[] = [
  "confirm",
  "complete",
  "cancel",
  "no_show",
  "expire",
  "reschedule",
];

export type Transition = { ok: true; to: BookingStatus } | { ok: false; reason: string };

/** Where each event leads from each status; a missing entry is a refusal. */
const TRANSITIONS: Record<BookingStatus, Partial<Record<BookingEvent, BookingStatus>>> = {
  PENDING: { confirm: "CONFIRMED", cancel: "CANCELLED", expire: "EXPIRED", reschedule: "PENDING" },
  CONFIRMED: { complete: "COMPLETED", cancel: "CANCELLED", no_show: "NO_SHOW", reschedule: "CONFIRMED" },
  COMPLETED: {},
  CANCELLED: {},
  NO_SHOW: {},
  EXPIRED: {},
};

/** How a refusal names an event: "a COMPLETED booking cannot be cancelled". */
const EVENT_WORDS: Record<BookingEvent, string> = {
  confirm: "confirmed",
  complete: "completed",
  cancel: "cancelled",
  no_show: "marked as a no-show",
  expire: "expired",
  reschedule: "rescheduled",
};

/** "a PENDING booking", "an EXPIRED booking". */
function bookingIn(status: BookingStatus): string {
  return `${/^[AEIOU]/.test(status) ? "an" : "a"} ${status} booking`;
}

/** True for statuses no event leaves. */
export function isFinal(status: BookingStatus): boolean {
  return Object.keys(TRANSITIONS[status]).length === 0;
}

/**
 * PENDING: confirm→CONFIRMED, cancel→CANCELLED, expire→EXPIRED, reschedule→PENDING; CONFIRMED:
 * complete→COMPLETED, cancel→CANCELLED, no_show→NO_SHOW, reschedule→CONFIRMED; COMPLETED/CANCELLED/
 * NO_SHOW/EXPIRED are final. The refusal reason names the current status, e.g. "a COMPLETED booking
 * cannot be cancelled".
 */
export function transition(status: BookingStatus, event: BookingEvent): Transition {
  const to = TRANSITIONS[status][event];
  if (to) return { ok: true, to };
  return { ok: false, reason: `${bookingIn(status)} cannot be ${EVENT_WORDS[event]}` };
}

/** PENDING (holds the slot until the hold expires) when a deposit is due, else CONFIRMED. */
export function initialStatus(depositAmount: number): "PENDING" | "CONFIRMED" {
  return depositAmount > 0 ? "PENDING" : "CONFIRMED";
}

/**
 * Time-dependent guards: no-show and complete only once the booking has started (now >= startsAt);
 * returns a refusal reason or null.
 */
export function timingProblem(event: BookingEvent, startsAt: number, now: number): string | null {
  if (now >= startsAt) return null;
  if (event === "no_show") return "a booking cannot be marked as a no-show before it starts";
  if (event === "complete") return "a booking cannot be completed before it starts";
  return null;
}

/** True when a booking in this status at this moment holds its time: CONFIRMED, or PENDING with holdExpiresAt > now. */
export function holdsTime(status: BookingStatus, holdExpiresAt: number | null, now: number): boolean {
  if (status === "CONFIRMED") return true;
  return status === "PENDING" && holdExpiresAt !== null && holdExpiresAt > now;
}

/** How early before the start a client can be checked in. */
export const CHECK_IN_OPENS_MINUTES = 60;

/** Why a client cannot be checked in now, or null when they can. */
export function checkInProblem(
  booking: { status: BookingStatus; checkedInAt: number | null; startsAt: number },
  now: number,
): string | null {
  if (booking.status !== "CONFIRMED") {
    return `only a CONFIRMED booking can be checked in (this one is ${booking.status})`;
  }
  if (booking.checkedInAt !== null) return "the client is already checked in";
  if (now < booking.startsAt - CHECK_IN_OPENS_MINUTES * 60_000) {
    return "too early: check-in opens an hour before the start";
  }
  return null;
}

/**
 * When to remind a client: `hours` before the start in real hours (also across a DST change),
 * each hour once, only those still ahead of `now`; epoch ms, latest reminder last.
 */
export function reminderTimes(
  startsAt: number,
  hours: readonly number[],
  now: number,
): { hours: number; at: number }[] {
  return [...new Set(hours)].map((h) => ({ hours: h, at: startsAt - h * 3_600_000 }))
    .filter((r) => r.at > now).sort((a, b) => a.at - b.at);
}
