import assert from "node:assert/strict";
import fc from "fast-check";
import { slidingWindow } from "../../domain/rate_limit.ts";

const MINUTE = 60_000;

Deno.test("slidingWindow", async (t) => {
  await t.step("allows up to the limit in a fresh window and counts down what remains", () => {
    const at = (current: number) =>
      slidingWindow({ limit: 5, windowMs: MINUTE, elapsedMs: 1000, current, previous: 0 });
    assert.deepEqual([1, 2, 3, 4, 5].map((n) => at(n).remaining), [4, 3, 2, 1, 0]);
    assert.ok(at(5).allowed);
    assert.ok(!at(6).allowed);
    assert.equal(at(6).resetSeconds, 59);
  });

  await t.step("counts the previous window by how much of it still overlaps", () => {
    // Half-way through the window, 10 from before weigh as 5.
    assert.ok(slidingWindow({ limit: 10, windowMs: MINUTE, elapsedMs: 30_000, current: 5, previous: 10 }).allowed);
    assert.ok(!slidingWindow({ limit: 10, windowMs: MINUTE, elapsedMs: 30_000, current: 6, previous: 10 }).allowed);
  });

  await t.step("the weighted count is exact: a retry at exactly the computed moment is allowed", () => {
    // 54 requests in the last window, a third of which has slid out: they weigh exactly 36.
    const decision = slidingWindow({ limit: 37, windowMs: MINUTE, elapsedMs: 20_000, current: 1, previous: 54 });
    assert.equal(decision.allowed, true);
    assert.equal(decision.remaining, 0);
  });

  await t.step("a refused request is told when to retry, and retrying then is allowed", () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 50 }),
      fc.integer({ min: 0, max: MINUTE - 1 }),
      fc.integer({ min: 0, max: 100 }),
      fc.integer({ min: 1, max: 100 }),
      (limit, elapsedMs, previous, extra) => {
        const current = limit + extra; // over the limit whatever the previous window held
        const decision = slidingWindow({ limit, windowMs: MINUTE, elapsedMs, current, previous });
        assert.equal(decision.allowed, false);
        assert.ok(decision.retryAfterSeconds >= 1);
        const later = elapsedMs + decision.retryAfterSeconds * 1000;
        const next = later < MINUTE
          ? slidingWindow({ limit, windowMs: MINUTE, elapsedMs: later, current: current + 1, previous })
          : slidingWindow({ limit, windowMs: MINUTE, elapsedMs: later - MINUTE, current: 1, previous: current });
        assert.ok(next.allowed, JSON.stringify({ limit, elapsedMs, previous, current, decision }));
      },
    ));
  });
});
