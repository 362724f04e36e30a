import assert from "node:assert/strict";
import {
  BOOKING_EVENTS,
  BOOKING_STATUSES,
  type BookingEvent,
  type BookingStatus,
  checkInProblem,
  holdsTime,
  initialStatus,
  isFinal,
  reminderTimes,
  timingProblem,
  transition,
} from "../../domain/bookings.ts";

/** Every allowed move; every other (status, event) pair is refused. */
const ALLOWED: [BookingStatus, BookingEvent, BookingStatus][] = [
  ["PENDING", "confirm", "CONFIRMED"],
  ["PENDING", "cancel", "CANCELLED"],
  ["PENDING", "expire", "EXPIRED"],
  ["PENDING", "reschedule", "PENDING"],
  ["CONFIRMED", "complete", "COMPLETED"],
  ["CONFIRMED", "cancel", "CANCELLED"],
  ["CONFIRMED", "no_show", "NO_SHOW"],
  ["CONFIRMED", "reschedule", "CONFIRMED"],
];

Deno.test("booking transitions", async (t) => {
  await t.step("each allowed move leads where the table says", () => {
    for (const [status, event, to] of ALLOWED) {
      assert.deepEqual(transition(status, event), { ok: true, to }, `${status} ${event}`);
    }
  });

  await t.step("every other pair of status and event is refused, naming the status", () => {
    let refused = 0;
    for (const status of BOOKING_STATUSES) {
      for (const event of BOOKING_EVENTS) {
        if (ALLOWED.some(([s, e]) => s === status && e === event)) continue;
        const result = transition(status, event);
        assert.equal(result.ok, false, `${status} ${event}`);
        if (!result.ok) assert.ok(result.reason.includes(` ${status} booking cannot be `), result.reason);
        refused++;
      }
    }
    assert.equal(refused, BOOKING_STATUSES.length * BOOKING_EVENTS.length - ALLOWED.length);
  });

  await t.step("refusals read as sentences", () => {
    const reason = (status: BookingStatus, event: BookingEvent) => {
      const result = transition(status, event);
      return result.ok ? null : result.reason;
    };
    assert.equal(reason("COMPLETED", "cancel"), "a COMPLETED booking cannot be cancelled");
    assert.equal(reason("EXPIRED", "confirm"), "an EXPIRED booking cannot be confirmed");
    assert.equal(reason("PENDING", "no_show"), "a PENDING booking cannot be marked as a no-show");
    assert.equal(reason("PENDING", "complete"), "a PENDING booking cannot be completed");
    assert.equal(reason("CONFIRMED", "expire"), "a CONFIRMED booking cannot be expired");
    assert.equal(reason("CANCELLED", "reschedule"), "a CANCELLED booking cannot be rescheduled");
  });

  await t.step("exactly the four end states are final", () => {
    assert.deepEqual(BOOKING_STATUSES.filter(isFinal), ["COMPLETED", "CANCELLED", "NO_SHOW", "EXPIRED"]);
  });
});

Deno.test("a booking waits for its deposit, or is confirmed at once", () => {
  assert.equal(initialStatus(0), "CONFIRMED");
  assert.equal(initialStatus(1), "PENDING");
  assert.equal(initialStatus(2500), "PENDING");
});

Deno.test("no-show and complete only from the start instant on", () => {
  const startsAt = Date.UTC(2026, 2, 8, 15);
  for (const event of ["no_show", "complete"] as const) {
    assert.match(timingProblem(event, startsAt, startsAt - 1) ?? "", /before it starts/, event);
    assert.equal(timingProblem(event, startsAt, startsAt), null, event);
    assert.equal(timingProblem(event, startsAt, startsAt + 1), null, event);
  }
  assert.equal(
    timingProblem("no_show", startsAt, startsAt - 1),
    "a booking cannot be marked as a no-show before it starts",
  );
  assert.equal(timingProblem("complete", startsAt, startsAt - 1), "a booking cannot be completed before it starts");
  for (const event of ["confirm", "cancel", "expire", "reschedule"] as const) {
    assert.equal(timingProblem(event, startsAt, startsAt - 3_600_000), null, event);
    assert.equal(timingProblem(event, startsAt, startsAt + 3_600_000), null, event);
  }
});

Deno.test("what holds a booking's time: confirmed ones, and pending ones until the hold expires", () => {
  const now = Date.UTC(2026, 2, 8, 12);
  assert.equal(holdsTime("CONFIRMED", null, now), true);
  assert.equal(holdsTime("PENDING", now + 1, now), true);
  assert.equal(holdsTime("PENDING", now, now), false);
  assert.equal(holdsTime("PENDING", now - 1, now), false);
  assert.equal(holdsTime("PENDING", null, now), false);
  for (const status of ["COMPLETED", "CANCELLED", "NO_SHOW", "EXPIRED"] as const) {
    assert.equal(holdsTime(status, now + 60_000, now), false, status);
  }
});

Deno.test("check-in: confirmed, once, from an hour before the start", () => {
  const startsAt = Date.parse("2026-06-01T15:00:00Z");
  const confirmed = { status: "CONFIRMED" as const, checkedInAt: null, startsAt };
  assert.equal(checkInProblem(confirmed, startsAt - 60 * 60_000), null);
  assert.match(checkInProblem(confirmed, startsAt - 61 * 60_000)!, /too early/);
  assert.equal(checkInProblem(confirmed, startsAt + 10 * 60_000), null);
  assert.match(checkInProblem({ ...confirmed, checkedInAt: startsAt }, startsAt)!, /already/);
  assert.match(checkInProblem({ ...confirmed, status: "PENDING" }, startsAt)!, /PENDING/);
});

Deno.test("reminders: real hours before the start, each once, only those ahead", () => {
  const startsAt = Date.parse("2026-03-08T16:00:00Z"); // 12:00 EDT, the day New York springs forward
  const now = Date.parse("2026-03-06T12:00:00Z");
  assert.deepEqual(reminderTimes(startsAt, [2, 24, 24], now), [
    { hours: 24, at: Date.parse("2026-03-07T16:00:00Z") },
    { hours: 2, at: Date.parse("2026-03-08T14:00:00Z") },
  ]);
  assert.deepEqual(reminderTimes(startsAt, [72], now), []);
});
