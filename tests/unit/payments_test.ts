import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type AttemptStatus,
  isCaptured,
  nextPaymentStatus,
  PAYMENT_STATUSES,
  refundable,
  statusAfterRefunds,
} from "../../domain/payments.ts";

const ATTEMPTS: AttemptStatus[] = ["PENDING", "REQUIRES_ACTION", "PROCESSING", "FAILED", "CANCELLED", "SUCCEEDED"];

Deno.test("a failure after a success changes nothing; a success after a failure counts", () => {
  assert.equal(nextPaymentStatus("SUCCEEDED", "FAILED"), "SUCCEEDED");
  assert.equal(nextPaymentStatus("FAILED", "SUCCEEDED"), "SUCCEEDED");
  assert.equal(nextPaymentStatus("PENDING", "PROCESSING"), "PROCESSING");
  assert.equal(nextPaymentStatus("PROCESSING", "REQUIRES_ACTION"), "PROCESSING");
  assert.equal(nextPaymentStatus("FAILED", "REQUIRES_ACTION"), "REQUIRES_ACTION");
  assert.equal(nextPaymentStatus("CANCELLED", "FAILED"), "CANCELLED");
  assert.equal(nextPaymentStatus("CANCELLED", "SUCCEEDED"), "SUCCEEDED");
  assert.equal(nextPaymentStatus("REFUNDED", "SUCCEEDED"), "REFUNDED");
});

Deno.test("refunds: what remains, and the status by amounts", () => {
  assert.equal(refundable(5000, 2000), 3000);
  assert.equal(refundable(5000, 6000), 0);
  assert.equal(refundable(5000, 2000, 2500), 500);
  assert.equal(refundable(5000, 2000, 3500), 0);
  assert.equal(statusAfterRefunds(5000, 0), "SUCCEEDED");
  assert.equal(statusAfterRefunds(5000, 1), "PARTIALLY_REFUNDED");
  assert.equal(statusAfterRefunds(5000, 5000), "REFUNDED");
});

Deno.test("property: once captured, no sequence of attempt events un-captures a payment, in any order", () => {
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...ATTEMPTS), { maxLength: 12 }), (events) => {
      let status: (typeof PAYMENT_STATUSES)[number] = "PENDING";
      let captured = false;
      for (const event of events) {
        status = nextPaymentStatus(status, event);
        if (event === "SUCCEEDED") captured = true;
        if (captured) assert.ok(isCaptured(status), JSON.stringify(events));
      }
      // The outcome depends only on whether a success arrived, not on when.
      assert.equal(isCaptured(status), events.includes("SUCCEEDED"));
    }),
    { seed: 5, numRuns: 500 },
  );
});
