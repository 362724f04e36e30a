import assert from "node:assert/strict";
import fc from "fast-check";
import { depositFor, shareOf } from "../../domain/pricing.ts";

Deno.test("percentage deposits round half up to a whole minor unit", () => {
  assert.equal(depositFor(1001, { kind: "PERCENTAGE", value: 3333 }), 334); // 333.6333
  assert.equal(depositFor(1001, { kind: "PERCENTAGE", value: 5000 }), 501); // 500.5
  assert.equal(depositFor(999, { kind: "PERCENTAGE", value: 5000 }), 500); // 499.5
  assert.equal(depositFor(2, { kind: "PERCENTAGE", value: 2500 }), 1); // 0.5
  assert.equal(depositFor(1, { kind: "PERCENTAGE", value: 4999 }), 0); // 0.4999
  assert.equal(depositFor(8000, { kind: "PERCENTAGE", value: 2500 }), 2000);
  assert.equal(depositFor(8000, { kind: "PERCENTAGE", value: 10000 }), 8000);
  assert.equal(depositFor(8000, { kind: "PERCENTAGE", value: 0 }), 0);
});

Deno.test("fixed deposits are capped at the price; NONE is nothing", () => {
  assert.equal(depositFor(8000, { kind: "FIXED", value: 2000 }), 2000);
  assert.equal(depositFor(8000, { kind: "FIXED", value: 8000 }), 8000);
  assert.equal(depositFor(1500, { kind: "FIXED", value: 2000 }), 1500);
  assert.equal(depositFor(0, { kind: "FIXED", value: 2000 }), 0);
  assert.equal(depositFor(8000, { kind: "NONE", value: 0 }), 0);
});

Deno.test("large prices keep every minor unit", () => {
  assert.equal(shareOf(100_000_000_001, 3333), 33_330_000_000); // 33 330 000 000.3333
  // Here price * bp is far beyond 2^53, where a float product would already have lost the half.
  assert.equal(shareOf(Number.MAX_SAFE_INTEGER, 10000), Number.MAX_SAFE_INTEGER);
  assert.equal(shareOf(Number.MAX_SAFE_INTEGER, 5000), 4_503_599_627_370_496);
});

Deno.test("amounts that are not whole minor units are refused", () => {
  assert.throws(() => depositFor(-1, { kind: "NONE", value: 0 }), RangeError);
  assert.throws(() => depositFor(10.5, { kind: "PERCENTAGE", value: 100 }), RangeError);
  assert.throws(() => depositFor(100, { kind: "PERCENTAGE", value: 10001 }), RangeError);
  assert.throws(() => depositFor(100, { kind: "FIXED", value: -5 }), RangeError);
});

Deno.test("property: a percentage deposit is the nearest whole unit, halves up, never above the price", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1_000_000_000_00 }), fc.integer({ min: 0, max: 10000 }), (price, bp) => {
      const deposit = depositFor(price, { kind: "PERCENTAGE", value: bp });
      const exact = BigInt(price) * BigInt(bp); // the share times 10000
      assert.ok(deposit >= 0 && deposit <= price);
      // |deposit - exact/10000| <= 1/2, and exactly 1/2 only above.
      const distance = BigInt(deposit) * 10000n - exact;
      assert.ok(distance > -5000n && distance <= 5000n, `${price} ${bp} ${deposit}`);
    }),
    { seed: 11, numRuns: 500 },
  );
});
