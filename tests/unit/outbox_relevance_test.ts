/** The relay's rule for outbox rows that waited too long: send or drop, and why. */
import assert from "node:assert/strict";
import { BOOKING_NOTICE_MAX_AGE_MS, relayDecision } from "../../domain/outbox_relevance.ts";

const NOW = Date.parse("2026-06-01T12:00:00Z");
const HOUR = 3_600_000;
const future = { startsAt: NOW + 48 * HOUR, status: "CONFIRMED" };

Deno.test("booking notices: fresh ones about a coming booking are sent", () => {
  assert.deepEqual(relayDecision({ topic: "booking.approve", createdAt: NOW - HOUR, now: NOW, booking: future }), {
    send: true,
  });
});

Deno.test("booking notices about a booking that already began are dropped, however fresh", () => {
  const started = { startsAt: NOW - 1, status: "CANCELLED" };
  for (
    const topic of ["booking.created", "booking.approve", "booking.reschedule", "booking.cancel", "booking.expire"]
  ) {
    assert.deepEqual(relayDecision({ topic, createdAt: NOW - 60_000, now: NOW, booking: started }), {
      send: false,
      reason: "booking_started",
    });
  }
  // A no-show is news only after the start.
  assert.deepEqual(relayDecision({ topic: "booking.no_show", createdAt: NOW - HOUR, now: NOW, booking: started }), {
    send: true,
  });
});

Deno.test("booking notices older than 24 h are dropped; just under is sent", () => {
  const at = (age: number) =>
    relayDecision({ topic: "booking.no_show", createdAt: NOW - age, now: NOW, booking: future });
  assert.deepEqual(at(BOOKING_NOTICE_MAX_AGE_MS), { send: false, reason: "too_old" });
  assert.deepEqual(at(BOOKING_NOTICE_MAX_AGE_MS - 1), { send: true });
});

Deno.test("account messages are dropped once their code's life is over", () => {
  const reset = (ageMinutes: number) =>
    relayDecision({ topic: "email.password_reset", createdAt: NOW - ageMinutes * 60_000, now: NOW });
  assert.deepEqual(reset(29), { send: true });
  assert.deepEqual(reset(30), { send: false, reason: "code_expired" });
  assert.deepEqual(
    relayDecision({ topic: "email.professional_invitation", createdAt: NOW - 6 * 24 * HOUR, now: NOW }),
    { send: true },
  );
  assert.deepEqual(relayDecision({ topic: "sms.verify_phone", createdAt: NOW - 11 * 60_000, now: NOW }), {
    send: false,
    reason: "code_expired",
  });
});

Deno.test("refund failures stay a week; unknown topics are left to their plan", () => {
  assert.deepEqual(relayDecision({ topic: "refund.failed", createdAt: NOW - 3 * 24 * HOUR, now: NOW }), { send: true });
  assert.deepEqual(relayDecision({ topic: "refund.failed", createdAt: NOW - 8 * 24 * HOUR, now: NOW }), {
    send: false,
    reason: "too_old",
  });
  assert.deepEqual(relayDecision({ topic: "something.else", createdAt: 0, now: NOW }), { send: true });
});
