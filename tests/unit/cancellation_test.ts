import assert from "node:assert/strict";
import fc from "fast-check";
import {
  decideReschedule,
  type PolicyTier,
  quoteCancellation,
  type RescheduleRule,
  tierIndexFor,
  tierProblems,
} from "../../domain/cancellation.ts";

const HOUR = 3_600_000;
const START = Date.UTC(2026, 5, 10, 15);

const tier = (min: number, max: number | null, feeBasisPoints = 0, feeFixedAmount = 0): PolicyTier => ({
  hoursBeforeMin: min,
  hoursBeforeMax: max,
  feeBasisPoints,
  feeFixedAmount,
});

/** Free from 48 h on, half the price from 24 h, everything plus nothing inside 24 h. */
const STANDARD = [tier(48, null), tier(24, 48, 5000), tier(0, 24, 10000)];

const paths = (tiers: PolicyTier[]) => tierProblems(tiers).map((p) => p.path);

Deno.test("tier validation", async (t) => {
  await t.step("a partition of [0, ∞) in any order is valid", () => {
    assert.deepEqual(tierProblems([tier(0, null)]), []);
    assert.deepEqual(tierProblems(STANDARD), []);
    assert.deepEqual(tierProblems([tier(0, 2), tier(2, 24, 2500, 100), tier(24, null)]), []);
  });

  await t.step("a gap names the tier after it, by its input position", () => {
    assert.deepEqual(tierProblems([tier(48, null), tier(0, 24)]), [
      { index: 0, path: "tiers.0.hours_before_min", message: "leaves a gap: no tier covers 24–48 h before the start" },
    ]);
    assert.deepEqual(tierProblems([tier(2, 24), tier(24, null)]), [
      { index: 0, path: "tiers.0.hours_before_min", message: "leaves a gap: no tier covers 0–2 h before the start" },
    ]);
  });

  await t.step("an overlap names the later tier and the one it overlaps", () => {
    assert.deepEqual(tierProblems([tier(0, 30), tier(24, null)]), [
      { index: 1, path: "tiers.1.hours_before_min", message: "overlaps tiers.0 (0–30 h before the start)" },
    ]);
    // Once the open-ended copy is counted, the tier from 24 h overlaps it in turn.
    assert.deepEqual(tierProblems([tier(24, null), tier(0, 24), tier(0, null)]), [
      { index: 2, path: "tiers.2.hours_before_min", message: "overlaps tiers.1 (0–24 h before the start)" },
      { index: 0, path: "tiers.0.hours_before_min", message: "overlaps tiers.2 (0 h or more before the start)" },
    ]);
  });

  await t.step("a duplicate tier overlaps the first copy", () => {
    assert.deepEqual(tierProblems([tier(0, 24), tier(24, null), tier(0, 24)]), [
      { index: 2, path: "tiers.2.hours_before_min", message: "overlaps tiers.0 (0–24 h before the start)" },
    ]);
    assert.deepEqual(paths([tier(0, 24), tier(24, null), tier(24, null)]), ["tiers.2.hours_before_min"]);
  });

  await t.step("without an open-ended tier the one reaching furthest is named", () => {
    assert.deepEqual(tierProblems([tier(24, 48), tier(0, 24)]), [
      {
        index: 0,
        path: "tiers.0.hours_before_max",
        message: "must be null on the last tier: no tier covers 48 h or more before the start",
      },
    ]);
  });

  await t.step("unsorted input with several problems names each by its input position", () => {
    assert.deepEqual(paths([tier(72, null), tier(12, 36), tier(0, 12), tier(30, 48)]), [
      "tiers.3.hours_before_min", // overlaps 12–36
      "tiers.0.hours_before_min", // gap 48–72
    ]);
  });

  await t.step("field problems: hours, fee share and fixed fee", () => {
    assert.deepEqual(paths([tier(-1, null)]), ["tiers.0.hours_before_min"]);
    assert.deepEqual(paths([tier(0, 24), tier(24, 24), tier(24, null)]), ["tiers.1.hours_before_max"]);
    assert.deepEqual(paths([tier(0, 1.5), tier(1.5, null)]), ["tiers.0.hours_before_max", "tiers.1.hours_before_min"]);
    assert.deepEqual(paths([tier(0, null, 10001)]), ["tiers.0.fee_percent"]);
    assert.deepEqual(paths([tier(0, null, 100, -1)]), ["tiers.0.fee_fixed_amount"]);
    assert.deepEqual(tierProblems([tier(0, null, 10000, 0)]), []);
  });

  await t.step("one to ten tiers", () => {
    assert.deepEqual(tierProblems([]), [{ index: -1, path: "tiers", message: "must have at least one tier" }]);
    const ten = Array.from({ length: 10 }, (_, i) => tier(i, i === 9 ? null : i + 1));
    assert.deepEqual(tierProblems(ten), []);
    const eleven = Array.from({ length: 11 }, (_, i) => tier(i, i === 10 ? null : i + 1));
    assert.deepEqual(tierProblems(eleven), [{ index: -1, path: "tiers", message: "must have at most 10 tiers" }]);
  });
});

Deno.test("client cancellation quotes", async (t) => {
  const quote = (hoursBefore: number, paid = 2000, tiers: PolicyTier[] | null = STANDARD, price = 8000) =>
    quoteCancellation({ tiers, price, paid, startsAt: START, now: START - hoursBefore * HOUR, by: "CLIENT" });

  await t.step("each tier applies from its min up to just before its max", () => {
    assert.deepEqual(quote(72), { allowed: true, hoursBefore: 72, tierIndex: 0, fee: 0, refund: 2000 });
    assert.deepEqual(quote(48), { allowed: true, hoursBefore: 48, tierIndex: 0, fee: 0, refund: 2000 });
    assert.equal(quote(48 - 1 / HOUR).tierIndex, 1); // one millisecond less
    assert.deepEqual(quote(24), { allowed: true, hoursBefore: 24, tierIndex: 1, fee: 4000, refund: 0 });
    assert.equal(quote(24 - 1 / HOUR).tierIndex, 2);
    assert.deepEqual(quote(0.5), { allowed: true, hoursBefore: 0.5, tierIndex: 2, fee: 8000, refund: 0 });
  });

  await t.step("the refund is what was paid less the fee, never below zero", () => {
    assert.equal(quote(30, 6000).refund, 2000);
    assert.equal(quote(30, 0).refund, 0);
    assert.equal(quote(72, 0).refund, 0);
  });

  await t.step("the fee rounds half up and adds the fixed part, capped at the price", () => {
    const tiers = [tier(0, null, 3333, 0)];
    assert.equal(quote(5, 0, tiers, 1001).fee, 334);
    assert.equal(quote(5, 0, [tier(0, null, 5000, 0)], 1001).fee, 501);
    assert.equal(quote(5, 0, [tier(0, null, 1000, 150)], 8000).fee, 950);
    assert.equal(quote(5, 0, [tier(0, null, 9000, 1500)], 8000).fee, 8000);
    assert.equal(quote(5, 900, [tier(0, null, 0, 5000)], 3000).fee, 3000);
    assert.equal(quote(5, 900, [tier(0, null, 0, 5000)], 3000).refund, 0);
  });

  await t.step("without a policy the client pays nothing", () => {
    assert.deepEqual(quote(2, 2000, null), { allowed: true, hoursBefore: 2, tierIndex: null, fee: 0, refund: 2000 });
  });

  await t.step("from the start instant on a client is sent to the salon", () => {
    const atStart = quote(0);
    assert.equal(atStart.allowed, false);
    assert.match(atStart.reason ?? "", /contact the salon/);
    assert.deepEqual({ ...atStart, reason: undefined }, {
      allowed: false,
      reason: undefined,
      hoursBefore: 0,
      tierIndex: null,
      fee: 0,
      refund: 0,
    });
    const justAfter = quote(-1 / HOUR);
    assert.equal(justAfter.allowed, false);
    assert.ok(justAfter.hoursBefore < 0);
    assert.equal(quote(1 / HOUR).allowed, true); // a millisecond before the start
  });
});

Deno.test("salon and system cancellations cost the client nothing, at any time", () => {
  for (const by of ["SALON", "SYSTEM"] as const) {
    for (const now of [START - 72 * HOUR, START - HOUR, START, START + 2 * HOUR]) {
      assert.deepEqual(
        quoteCancellation({ tiers: STANDARD, price: 8000, paid: 2000, startsAt: START, now, by }),
        { allowed: true, hoursBefore: (START - now) / HOUR, tierIndex: null, fee: 0, refund: 2000 },
      );
    }
  }
});

/** A valid tier set: cut points 0 < c1 < c2 < ... split [0, ∞), listed in a shuffled order. */
const validTiers = fc.tuple(
  fc.uniqueArray(fc.integer({ min: 1, max: 500 }), { maxLength: 9 }),
  fc.array(fc.nat(), { minLength: 10, maxLength: 10 }),
).map(([cuts, order]) => {
  const bounds = [0, ...cuts.sort((a, b) => a - b)];
  const tiers = bounds.map((min, i) => tier(min, bounds[i + 1] ?? null, (min * 37) % 10001, min % 3));
  // A shuffle driven by the generated numbers, so shrinking stays deterministic.
  return tiers.map((t, i) => ({ t, key: order[i] })).sort((a, b) => a.key - b.key).map(({ t }) => t);
});

Deno.test("property: for any valid tier set and any hours left, exactly one tier matches", () => {
  fc.assert(
    fc.property(validTiers, fc.integer({ min: 0, max: 1000 * HOUR }), (tiers, msBefore) => {
      const hoursBefore = msBefore / HOUR;
      assert.deepEqual(tierProblems(tiers), []);
      const matching = tiers.flatMap((t, i) =>
        t.hoursBeforeMin <= hoursBefore && (t.hoursBeforeMax === null || hoursBefore < t.hoursBeforeMax) ? [i] : []
      );
      assert.equal(matching.length, 1, `${hoursBefore} ${JSON.stringify(tiers)}`);
      assert.equal(tierIndexFor(tiers, hoursBefore), matching[0]);
      if (msBefore > 0) {
        const now = START - msBefore;
        const q = quoteCancellation({ tiers, price: 8000, paid: 8000, startsAt: START, now, by: "CLIENT" });
        assert.equal(q.tierIndex, matching[0]);
        assert.ok(q.allowed && q.fee >= 0 && q.fee <= 8000 && q.refund === 8000 - q.fee);
      }
    }),
    { seed: 3, numRuns: 500 },
  );
});

Deno.test("property: tiers have no problems exactly when every hour left matches one tier", () => {
  const anyTier = fc.tuple(
    fc.integer({ min: 0, max: 6 }),
    fc.option(fc.integer({ min: 1, max: 4 }), { nil: null }),
  ).map(([min, length]) => tier(min, length === null ? null : min + length));
  fc.assert(
    fc.property(fc.array(anyTier, { minLength: 1, maxLength: 5 }), (tiers) => {
      // Edges are whole hours, so whole and half hours up to past the last edge test every stretch.
      let everyHourOnce = true;
      for (let hours = 0; hours <= 12; hours += 0.5) {
        const matches = tiers.filter((t) =>
          t.hoursBeforeMin <= hours && (t.hoursBeforeMax === null || hours < t.hoursBeforeMax)
        ).length;
        if (matches !== 1) everyHourOnce = false;
      }
      assert.equal(tierProblems(tiers).length === 0, everyHourOnce, JSON.stringify(tiers));
    }),
    { seed: 5, numRuns: 1000 },
  );
});

/** The whole price inside 24 h, free before: the policy of the reported attack. */
const STRICT = [tier(0, 24, 10000), tier(24, null)];

Deno.test("a client's reschedule inside a fee tier", async (t) => {
  const move = (
    msBefore: number,
    options: { by?: "CLIENT" | "SALON" | "SYSTEM"; rule?: RescheduleRule; carried?: number; tiers?: PolicyTier[] } = {},
  ) =>
    decideReschedule({
      tiers: options.tiers ?? STRICT,
      rule: options.rule ?? "CHARGE",
      price: 20000,
      paid: 5000,
      startsAt: START,
      now: START - msBefore,
      by: options.by ?? "CLIENT",
      carriedFee: options.carried ?? 0,
    });

  await t.step("the reported attack: moved an hour before to a week later, cancelling still costs the tier", () => {
    const moved = move(HOUR);
    assert.deepEqual(moved, {
      allowed: true,
      hoursBefore: 1,
      tierIndex: 0,
      feeAtMove: 20000,
      carriedFee: 20000,
      refundable: 0,
    });
    // A week away the tier is free, but the carried fee stays the least cancelling costs.
    const newStart = START + 7 * 24 * HOUR;
    const cancel = quoteCancellation({
      tiers: STRICT,
      price: 20000,
      paid: 5000,
      startsAt: newStart,
      now: START - HOUR + 60_000,
      by: "CLIENT",
      carriedFee: moved.allowed ? moved.carriedFee : 0,
    });
    assert.deepEqual([cancel.tierIndex, cancel.fee, cancel.refund], [1, 20000, 0]);
  });

  await t.step("REFUSE refuses inside a fee tier and allows outside it", () => {
    const refused = move(HOUR, { rule: "REFUSE" });
    assert.equal(refused.allowed, false);
    assert.equal(refused.feeAtMove, 20000);
    assert.match(refused.allowed ? "" : refused.reason, /refuses a client's reschedule/);
    assert.deepEqual(move(48 * HOUR, { rule: "REFUSE" }), {
      allowed: true,
      hoursBefore: 48,
      tierIndex: 1,
      feeAtMove: 0,
      carriedFee: 0,
      refundable: 5000,
    });
  });

  await t.step("a client cannot move a booking at or after its start (the no-show dodge)", () => {
    for (const msBefore of [0, -15_000, -2 * HOUR]) {
      const late = move(msBefore);
      assert.equal(late.allowed, false, String(msBefore));
      assert.match(late.allowed ? "" : late.reason, /already started/);
    }
    assert.equal(move(1).allowed, true); // a millisecond before the start
  });

  await t.step("the salon moves for free at any time, keeping what the client's moves carried", () => {
    for (const by of ["SALON", "SYSTEM"] as const) {
      assert.deepEqual(move(HOUR, { by }), {
        allowed: true,
        hoursBefore: 1,
        tierIndex: null,
        feeAtMove: 0,
        carriedFee: 0,
        refundable: 5000,
      });
      const after = move(-HOUR, { by, rule: "REFUSE", carried: 3000 });
      assert.deepEqual(after.allowed ? [after.feeAtMove, after.carriedFee] : null, [0, 3000]);
    }
  });

  await t.step("a free tier or no policy carries nothing new and keeps the old carried fee", () => {
    const free = move(72 * HOUR, { carried: 4000 });
    assert.deepEqual(free.allowed ? [free.feeAtMove, free.carriedFee, free.refundable] : null, [0, 4000, 1000]);
    const none = decideReschedule({
      tiers: null,
      rule: "REFUSE",
      price: 20000,
      paid: 0,
      startsAt: START,
      now: START - HOUR,
      by: "CLIENT",
      carriedFee: 0,
    });
    assert.deepEqual(none.allowed ? none.carriedFee : null, 0);
  });

  await t.step("the carried fee is the highest tier fee met, capped at the price", () => {
    const tiers = [tier(0, 2, 10000, 5000), tier(2, 24, 2500), tier(24, null)];
    const first = move(10 * HOUR, { tiers });
    assert.deepEqual(first.allowed ? first.carriedFee : null, 5000);
    const closer = move(HOUR, { tiers, carried: 5000 });
    assert.deepEqual(closer.allowed ? [closer.feeAtMove, closer.carriedFee] : null, [20000, 20000]);
    const lower = move(10 * HOUR, { tiers, carried: 20000 });
    assert.deepEqual(lower.allowed ? lower.carriedFee : null, 20000);
  });
});

Deno.test("a client's cancellation costs at least the carried fee; the salon's costs nothing", () => {
  const cancel = (by: "CLIENT" | "SALON", carriedFee: number, hoursBefore = 72) =>
    quoteCancellation({
      tiers: STANDARD,
      price: 8000,
      paid: 2000,
      startsAt: START,
      now: START - hoursBefore * HOUR,
      by,
      carriedFee,
    });
  assert.deepEqual([cancel("CLIENT", 1500).fee, cancel("CLIENT", 1500).refund], [1500, 500]);
  // The tier's own fee wins when it is higher.
  assert.deepEqual([cancel("CLIENT", 1500, 30).fee, cancel("CLIENT", 1500, 30).refund], [4000, 0]);
  assert.equal(cancel("CLIENT", 99999).fee, 8000);
  assert.deepEqual([cancel("SALON", 8000).fee, cancel("SALON", 8000).refund], [0, 2000]);
});

Deno.test("property: reschedules never lower the carried fee, never exceed the price, and cancelling honours it", () => {
  const by = fc.constantFrom("CLIENT" as const, "SALON" as const, "SYSTEM" as const);
  const step = fc.record({
    by,
    msBefore: fc.integer({ min: -5 * HOUR, max: 600 * HOUR }),
    rule: fc.constantFrom("CHARGE" as const, "REFUSE" as const),
  });
  fc.assert(
    fc.property(
      validTiers,
      fc.integer({ min: 0, max: 50_000 }),
      fc.array(step, { maxLength: 8 }),
      (tiers, price, steps) => {
        let carried = 0;
        const paid = Math.min(price, 5000);
        for (const { by, msBefore, rule } of steps) {
          const decision = decideReschedule({
            tiers,
            rule,
            price,
            paid,
            startsAt: START,
            now: START - msBefore,
            by,
            carriedFee: carried,
          });
          if (by === "CLIENT" && msBefore <= 0) assert.equal(decision.allowed, false);
          if (by !== "CLIENT") assert.ok(decision.allowed && decision.carriedFee === carried);
          if (!decision.allowed) {
            assert.ok(by === "CLIENT" && (msBefore <= 0 || (rule === "REFUSE" && decision.feeAtMove > 0)));
            continue;
          }
          assert.ok(decision.carriedFee >= carried && decision.carriedFee <= price);
          assert.ok(decision.carriedFee >= decision.feeAtMove);
          assert.equal(decision.refundable, Math.max(0, paid - decision.carriedFee));
          carried = decision.carriedFee;
        }
        // Wherever the booking ends up, a client's cancellation costs at least what was carried.
        const q = quoteCancellation({
          tiers,
          price,
          paid,
          startsAt: START + 1000 * HOUR,
          now: START,
          by: "CLIENT",
          carriedFee: carried,
        });
        assert.ok(q.fee >= carried && q.fee <= price && q.refund === Math.max(0, paid - q.fee));
      },
    ),
    { seed: 11, numRuns: 500 },
  );
});
