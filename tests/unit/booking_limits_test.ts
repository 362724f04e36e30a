import assert from "node:assert/strict";
import fc from "fast-check";
import {
  applicableLimits,
  bookingLimitHit,
  type BookingLimits,
  type ClientBookingCounts,
  UNVERIFIED_MAX_OPEN_BOOKINGS,
} from "../../domain/booking_limits.ts";

const LIMITS: BookingLimits = {
  salonMaxOpenHolds: 2,
  salonMaxFutureBookings: 10,
  platformMaxOpenHolds: 3,
  platformMaxFutureBookings: 20,
};

const none: ClientBookingCounts = { openHoldsAtSalon: 0, openHolds: 0, futureAtSalon: 0, future: 0, open: 0 };

const hit = (counts: Partial<ClientBookingCounts>, options: { verified?: boolean; hold?: boolean } = {}) =>
  bookingLimitHit({
    counts: { ...none, ...counts },
    verified: options.verified ?? true,
    newIsHold: options.hold ?? true,
    limits: LIMITS,
  });

Deno.test("booking limits per client", async (t) => {
  await t.step("a client with nothing open may book", () => {
    assert.equal(hit({}), null);
    assert.equal(hit({}, { verified: false }), null);
  });

  await t.step("an unverified account holds one open booking at most, hold or not", () => {
    assert.equal(UNVERIFIED_MAX_OPEN_BOOKINGS, 1);
    for (const hold of [true, false]) {
      const refused = hit({ open: 1, future: 1, futureAtSalon: 1 }, { verified: false, hold });
      assert.equal(refused?.name, "unverified.max_open_bookings");
      assert.equal(refused?.value, 1);
      assert.match(refused?.message ?? "", /verify your email or phone/);
    }
    assert.equal(hit({ open: 1, future: 1 }, { verified: true }), null);
  });

  await t.step("open holds: the salon's limit first, then the platform's across salons", () => {
    assert.equal(hit({ openHoldsAtSalon: 1, openHolds: 1, open: 1 }), null);
    assert.deepEqual(hit({ openHoldsAtSalon: 2, openHolds: 2, open: 2 }), {
      name: "salon.max_open_holds_per_client",
      value: 2,
      count: 2,
      message: "this salon lets a client keep 2 unpaid holds at once: pay or cancel one first",
    });
    // Two holds elsewhere, none here: this salon allows it, until the platform's three.
    assert.equal(hit({ openHoldsAtSalon: 0, openHolds: 2 }), null);
    assert.equal(hit({ openHoldsAtSalon: 0, openHolds: 3 })?.name, "platform.max_open_holds_per_client");
  });

  await t.step("a booking confirmed at once is not a hold: only the future-booking limits apply", () => {
    assert.equal(hit({ openHoldsAtSalon: 2, openHolds: 3 }, { hold: false }), null);
    assert.equal(hit({ futureAtSalon: 10 }, { hold: false })?.name, "salon.max_future_bookings_per_client");
    assert.equal(
      hit({ futureAtSalon: 9, future: 20 }, { hold: false })?.name,
      "platform.max_future_bookings_per_client",
    );
    assert.deepEqual(applicableLimits(LIMITS, false).map((c) => c.name), [
      "unverified.max_open_bookings",
      "salon.max_future_bookings_per_client",
      "platform.max_future_bookings_per_client",
    ]);
  });
});

const counts = fc.record({
  openHoldsAtSalon: fc.nat(30),
  openHolds: fc.nat(30),
  futureAtSalon: fc.nat(30),
  future: fc.nat(30),
  open: fc.nat(30),
});
const limits = fc.record({
  salonMaxOpenHolds: fc.integer({ min: 1, max: 100 }),
  salonMaxFutureBookings: fc.integer({ min: 1, max: 500 }),
  platformMaxOpenHolds: fc.integer({ min: 1, max: 1000 }),
  platformMaxFutureBookings: fc.integer({ min: 1, max: 10_000 }),
}).map((l) => ({
  ...l,
  salonMaxOpenHolds: l.salonMaxOpenHolds % 31,
  salonMaxFutureBookings: l.salonMaxFutureBookings % 31,
}));

Deno.test("property: refused exactly when a listed check fails, as the database's condition reads them", () => {
  fc.assert(
    fc.property(counts, limits, fc.boolean(), fc.boolean(), (c, l, verified, hold) => {
      const found = bookingLimitHit({ counts: c, verified, newIsHold: hold, limits: l });
      // The insert's WHERE: every check's count below its value (unverified-only checks pass when verified).
      const passes = applicableLimits(l, hold).every((check) =>
        (check.unverifiedOnly && verified) || c[check.count] < check.value
      );
      assert.equal(found === null, passes);
      if (found) assert.ok(found.count >= found.value);
    }),
    { seed: 7, numRuns: 1000 },
  );
});

Deno.test("property: fewer bookings are never refused where more were allowed; verifying never hurts", () => {
  fc.assert(
    fc.property(counts, counts, limits, fc.boolean(), (a, b, l, hold) => {
      const lower: ClientBookingCounts = {
        openHoldsAtSalon: Math.min(a.openHoldsAtSalon, b.openHoldsAtSalon),
        openHolds: Math.min(a.openHolds, b.openHolds),
        futureAtSalon: Math.min(a.futureAtSalon, b.futureAtSalon),
        future: Math.min(a.future, b.future),
        open: Math.min(a.open, b.open),
      };
      for (const verified of [true, false]) {
        if (bookingLimitHit({ counts: a, verified, newIsHold: hold, limits: l }) === null) {
          assert.equal(bookingLimitHit({ counts: lower, verified, newIsHold: hold, limits: l }), null);
        }
      }
      if (bookingLimitHit({ counts: a, verified: false, newIsHold: hold, limits: l }) === null) {
        assert.equal(bookingLimitHit({ counts: a, verified: true, newIsHold: hold, limits: l }), null);
      }
    }),
    { seed: 9, numRuns: 1000 },
  );
});
