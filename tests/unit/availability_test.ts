import assert from "node:assert/strict";
import fc from "fast-check";
import { describeWeekly, minutesOfDay, windowProblems } from "../../domain/availability.ts";

const weekly = (rules: { dayOfWeek: number; start: string; end: string }[]) =>
  windowProblems(rules, (r) => r.dayOfWeek, describeWeekly);

Deno.test("windows of a day may touch but not overlap", () => {
  assert.deepEqual(
    weekly([
      { dayOfWeek: 1, start: "09:00", end: "12:00" },
      { dayOfWeek: 1, start: "12:00", end: "18:00" },
      { dayOfWeek: 2, start: "10:00", end: "14:00" },
    ]),
    [],
  );
  assert.deepEqual(
    weekly([
      { dayOfWeek: 1, start: "09:00", end: "12:00" },
      { dayOfWeek: 2, start: "09:00", end: "12:00" },
      { dayOfWeek: 1, start: "11:30", end: "13:00" },
    ]),
    [{ index: 2, message: "overlaps Monday 09:00–12:00" }],
  );
});

Deno.test("the later window in the input is the one named, whatever the order of times", () => {
  assert.deepEqual(
    weekly([
      { dayOfWeek: 7, start: "14:00", end: "18:00" },
      { dayOfWeek: 7, start: "08:00", end: "15:00" },
    ]),
    [{ index: 1, message: "overlaps Sunday 14:00–18:00" }],
  );
});

Deno.test("a long window is compared with every later window it covers", () => {
  assert.deepEqual(
    weekly([
      { dayOfWeek: 4, start: "09:00", end: "18:00" },
      { dayOfWeek: 4, start: "10:00", end: "11:00" },
      { dayOfWeek: 4, start: "12:00", end: "13:00" },
    ]),
    [
      { index: 1, message: "overlaps Thursday 09:00–18:00" },
      { index: 2, message: "overlaps Thursday 09:00–18:00" },
    ],
  );
});

Deno.test("empty or reversed windows are problems; 24:00 ends the day", () => {
  assert.deepEqual(weekly([{ dayOfWeek: 3, start: "10:00", end: "10:00" }]), [
    { index: 0, message: "must end after it starts" },
  ]);
  assert.deepEqual(weekly([{ dayOfWeek: 3, start: "22:00", end: "24:00" }]), []);
  assert.equal(minutesOfDay("24:00"), 1440);
  assert.equal(minutesOfDay("09:30:00"), 570);
});

Deno.test("property: no problems exactly when no two windows of a day share a minute", () => {
  const window = fc.tuple(
    fc.integer({ min: 1, max: 2 }),
    fc.integer({ min: 0, max: 95 }),
    fc.integer({ min: 1, max: 8 }),
  )
    .map(([dayOfWeek, slot, length]) => {
      const start = slot * 15;
      const end = Math.min(start + length * 15, 1440);
      const hhmm = (m: number) => `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;
      return { dayOfWeek, start: hhmm(start), end: hhmm(end) };
    });
  fc.assert(
    fc.property(fc.array(window, { maxLength: 6 }), (rules) => {
      const minutes = new Map<string, number>();
      let shared = false;
      for (const rule of rules) {
        for (let m = minutesOfDay(rule.start); m < minutesOfDay(rule.end); m++) {
          const key = `${rule.dayOfWeek}:${m}`;
          if (minutes.has(key)) shared = true;
          minutes.set(key, 1);
        }
      }
      const problems = weekly(rules);
      assert.equal(problems.length > 0, shared);
      // Exactly the later window of each overlapping pair is named, once per earlier window.
      const expected = rules.flatMap((rule, index) =>
        rules.slice(0, index).flatMap((other) =>
          other.dayOfWeek === rule.dayOfWeek &&
            minutesOfDay(other.start) < minutesOfDay(rule.end) && minutesOfDay(rule.start) < minutesOfDay(other.end)
            ? [index]
            : []
        )
      );
      assert.deepEqual(problems.map((p) => p.index), expected);
    }),
    { seed: 7, numRuns: 300 },
  );
});
