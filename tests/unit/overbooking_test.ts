import assert from "node:assert/strict";
import fc from "fast-check";
import { extraPlaces, overbookingDecision } from "../../domain/overbooking.ts";

const rule = (maxOverbookingPercent: number, more: { autoAccept?: boolean; vipPriority?: boolean } = {}) => ({
  maxOverbookingPercent,
  autoAccept: more.autoAccept ?? false,
  vipPriority: more.vipPriority ?? false,
});

Deno.test("extra places are the percentage of the capacity, rounded down", () => {
  assert.equal(extraPlaces(rule(100), 1), 1);
  assert.equal(extraPlaces(rule(99), 1), 0);
  assert.equal(extraPlaces(rule(200), 1), 2);
  assert.equal(extraPlaces(rule(20), 10), 2);
  assert.equal(extraPlaces(rule(25), 10), 2);
  assert.equal(extraPlaces(rule(0), 10), 0);
});

Deno.test("no rule, no room, or not a returning client under VIP priority: refused with a reason", () => {
  assert.deepEqual(overbookingDecision(null, 1, { returning: true }), {
    allowed: false,
    reason: "the salon does not overbook",
  });
  assert.equal(overbookingDecision(rule(50), 1, { returning: true }).allowed, false);
  const vip = overbookingDecision(rule(100, { vipPriority: true }), 1, { returning: false });
  assert.deepEqual(vip, { allowed: false, reason: "extra places are kept for returning clients" });
});

Deno.test("allowed: the limit, and approval unless the rule auto-accepts", () => {
  assert.deepEqual(overbookingDecision(rule(100), 1, { returning: false }), {
    allowed: true,
    limit: 1,
    needsApproval: true,
  });
  assert.deepEqual(overbookingDecision(rule(300, { autoAccept: true, vipPriority: true }), 1, { returning: true }), {
    allowed: true,
    limit: 3,
    needsApproval: false,
  });
});

Deno.test("property: the limit never exceeds the share and grows with the percentage", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 50 }), (percent, capacity) => {
      const places = extraPlaces(rule(percent), capacity);
      assert.ok(places * 100 <= percent * capacity);
      assert.ok((places + 1) * 100 > percent * capacity);
      assert.ok(extraPlaces(rule(Math.min(1000, percent + 1)), capacity) >= places);
    }),
    { seed: 11, numRuns: 300 },
  );
});
