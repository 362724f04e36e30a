import assert from "node:assert/strict";
import fc from "fast-check";
import {
  anyProfessionalSlots,
  busyMinutesWithin,
  type BusyRange,
  type Closure,
  computeSlots,
  type DateOverride,
  MAX_RANGE_DAYS,
  mergeProfessionalSlots,
  type Slot,
  type SlotQuery,
  type WeeklyRule,
} from "../../domain/slots.ts";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Epoch ms of a salon wall time (unambiguous ones only). */
function at(local: string, timeZone: string): number {
  return Temporal.PlainDateTime.from(local).toZonedDateTime(timeZone).epochMilliseconds;
}

function utc(instant: string): number {
  return Temporal.Instant.from(instant).epochMilliseconds;
}

/** Start of one salon date to the start of the next. */
function wholeDay(date: string, timeZone: string): { from: number; to: number } {
  const day = Temporal.PlainDate.from(date);
  return {
    from: day.toZonedDateTime(timeZone).epochMilliseconds,
    to: day.add({ days: 1 }).toZonedDateTime(timeZone).epochMilliseconds,
  };
}

const SAO_PAULO = "America/Sao_Paulo";
const NEW_YORK = "America/New_York";

function query(fields: Partial<SlotQuery>): SlotQuery {
  return {
    timeZone: SAO_PAULO,
    rules: [],
    overrides: [],
    closures: [],
    busy: [],
    durationMinutes: 60,
    bufferBeforeMinutes: 0,
    bufferAfterMinutes: 0,
    slotStepMinutes: 15,
    minimumNoticeMinutes: 0,
    bookingHorizonDays: 365,
    now: utc("2026-01-01T00:00:00Z"),
    ...wholeDay("2026-06-01", SAO_PAULO),
    ...fields,
  };
}

/** Monday 2026-06-01 in São Paulo (-03:00 all year). */
const MONDAY_MORNING: WeeklyRule = { dayOfWeek: 1, start: "09:00", end: "12:00" };

function localTimes(slots: Slot[]): string[] {
  return slots.map((slot) => slot.localStart.slice(11, 16));
}

/** "instant local+offset" per slot, to compare with explicit expectations. */
function rows(slots: Slot[]): string[] {
  return slots.map((slot) => `${slot.start} ${slot.localStart}${slot.offset}`);
}

Deno.test("computeSlots: plain cases", async (t) => {
  await t.step("a morning rule yields every step whose service fits", () => {
    const slots = computeSlots(query({ rules: [MONDAY_MORNING] }));
    assert.deepEqual(localTimes(slots), [
      "09:00",
      "09:15",
      "09:30",
      "09:45",
      "10:00",
      "10:15",
      "10:30",
      "10:45",
      "11:00",
    ]);
    assert.deepEqual(slots[0], {
      start: "2026-06-01T12:00:00Z",
      end: "2026-06-01T13:00:00Z",
      localStart: "2026-06-01T09:00:00",
      offset: "-03:00",
      startMs: utc("2026-06-01T12:00:00Z"),
    });
  });

  await t.step("busy ranges remove overlapping slots; touching is fine; unsorted overlapping input", () => {
    const busy = (start: string, end: string): BusyRange => ({
      start: at(`2026-06-01T${start}`, SAO_PAULO),
      end: at(`2026-06-01T${end}`, SAO_PAULO),
    });
    const edges = computeSlots(
      query({ rules: [MONDAY_MORNING], busy: [busy("08:00", "09:00"), busy("12:00", "13:00")] }),
    );
    assert.equal(edges.length, 9);
    const middle = computeSlots(query({ rules: [MONDAY_MORNING], busy: [busy("10:00", "11:00")] }));
    assert.deepEqual(localTimes(middle), ["09:00", "11:00"]);
    const tangled = computeSlots(query({
      rules: [MONDAY_MORNING],
      busy: [busy("10:10", "10:40"), busy("09:30", "09:45"), busy("10:00", "10:20"), busy("10:15", "10:16")],
    }));
    assert.deepEqual(localTimes(tangled), ["10:45", "11:00"]);
  });

  await t.step("buffers widen the block that must stay clear, not the service", () => {
    const busy = [{ start: at("2026-06-01T10:00", SAO_PAULO), end: at("2026-06-01T10:30", SAO_PAULO) }];
    assert.deepEqual(localTimes(computeSlots(query({ rules: [MONDAY_MORNING], busy }))), [
      "09:00",
      "10:30",
      "10:45",
      "11:00",
    ]);
    const buffered = computeSlots(
      query({ rules: [MONDAY_MORNING], busy, bufferBeforeMinutes: 15, bufferAfterMinutes: 15 }),
    );
    assert.deepEqual(localTimes(buffered), ["10:45", "11:00"]);
    // The buffer before may reach outside working time: only busy ranges count.
    assert.equal(
      computeSlots(query({ rules: [MONDAY_MORNING], bufferBeforeMinutes: 60 }))[0].localStart.slice(11),
      "09:00:00",
    );
  });

  await t.step("minimum notice", () => {
    const slots = computeSlots(
      query({ rules: [MONDAY_MORNING], now: at("2026-06-01T08:50", SAO_PAULO), minimumNoticeMinutes: 30 }),
    );
    assert.equal(slots[0].localStart, "2026-06-01T09:30:00");
  });

  await t.step("booking horizon: a start exactly at the horizon is allowed", () => {
    const slots = computeSlots(
      query({ rules: [MONDAY_MORNING], now: at("2026-05-31T10:00", SAO_PAULO), bookingHorizonDays: 1 }),
    );
    assert.deepEqual(localTimes(slots), ["09:00", "09:15", "09:30", "09:45", "10:00"]);
    assert.deepEqual(
      computeSlots(query({ rules: [MONDAY_MORNING], now: utc("2026-05-01T00:00:00Z"), bookingHorizonDays: 0 })),
      [],
    );
  });

  await t.step("from is inclusive, to exclusive", () => {
    const slots = computeSlots(query({
      rules: [MONDAY_MORNING],
      from: at("2026-06-01T09:45", SAO_PAULO),
      to: at("2026-06-01T10:30", SAO_PAULO),
    }));
    assert.deepEqual(localTimes(slots), ["09:45", "10:00", "10:15"]);
    const between = computeSlots(query({
      rules: [MONDAY_MORNING],
      from: at("2026-06-01T09:40", SAO_PAULO),
      to: at("2026-06-01T10:31", SAO_PAULO),
    }));
    assert.deepEqual(localTimes(between), ["09:45", "10:00", "10:15", "10:30"]);
    assert.deepEqual(computeSlots(query({ rules: [MONDAY_MORNING], to: at("2026-06-01T00:00", SAO_PAULO) })), []);
  });

  await t.step("override CLOSED closes the date, even next to an OPEN override", () => {
    assert.deepEqual(
      computeSlots(query({ rules: [MONDAY_MORNING], overrides: [{ date: "2026-06-01", kind: "CLOSED" }] })),
      [],
    );
    const overrides: DateOverride[] = [
      { date: "2026-06-01", kind: "OPEN", start: "14:00", end: "16:00" },
      { date: "2026-06-01", kind: "CLOSED" },
    ];
    assert.deepEqual(computeSlots(query({ rules: [MONDAY_MORNING], overrides })), []);
  });

  await t.step("override OPEN replaces the weekly rules of that date only", () => {
    const overrides: DateOverride[] = [{ date: "2026-06-01", kind: "OPEN", start: "14:00", end: "16:00" }];
    const slots = computeSlots(query({ rules: [MONDAY_MORNING], overrides }));
    assert.deepEqual(localTimes(slots), ["14:00", "14:15", "14:30", "14:45", "15:00"]);
    const nextMonday = computeSlots(
      query({ rules: [MONDAY_MORNING], overrides, ...wholeDay("2026-06-08", SAO_PAULO) }),
    );
    assert.equal(nextMonday.length, 9);
  });

  await t.step("several OPEN windows on one date; touching ones merge", () => {
    const overrides: DateOverride[] = [
      { date: "2026-06-01", kind: "OPEN", start: "15:00", end: "16:00" },
      { date: "2026-06-01", kind: "OPEN", start: "08:00", end: "09:00" },
      { date: "2026-06-01", kind: "OPEN", start: "09:00:00", end: "10:30" },
    ];
    const slots = computeSlots(query({ overrides, slotStepMinutes: 30 }));
    assert.deepEqual(localTimes(slots), ["08:00", "08:30", "09:00", "09:30", "15:00"]);
  });

  await t.step("a closure spanning dates removes each of them", () => {
    const rules = [1, 2, 3, 4, 5].map((dayOfWeek) => ({ ...MONDAY_MORNING, dayOfWeek }));
    const closures: Closure[] = [{ startDate: "2026-06-02", endDate: "2026-06-04" }];
    const slots = computeSlots(query({
      rules,
      closures,
      slotStepMinutes: 180,
      durationMinutes: 30,
      from: at("2026-06-01T00:00", SAO_PAULO),
      to: at("2026-06-06T00:00", SAO_PAULO),
    }));
    assert.deepEqual(slots.map((slot) => slot.localStart), ["2026-06-01T09:00:00", "2026-06-05T09:00:00"]);
  });

  await t.step("time off is a busy range", () => {
    const rules = [1, 2, 3].map((dayOfWeek) => ({ ...MONDAY_MORNING, dayOfWeek }));
    const dayOff = { start: at("2026-06-02T00:00", SAO_PAULO), end: at("2026-06-03T00:00", SAO_PAULO) };
    const slots = computeSlots(query({
      rules,
      busy: [dayOff],
      slotStepMinutes: 180,
      durationMinutes: 30,
      from: at("2026-06-01T00:00", SAO_PAULO),
      to: at("2026-06-04T00:00", SAO_PAULO),
    }));
    assert.deepEqual(slots.map((slot) => slot.localStart), ["2026-06-01T09:00:00", "2026-06-03T09:00:00"]);
  });

  await t.step('"24:00" and a rule continuing after midnight merge into one window', () => {
    const rules: WeeklyRule[] = [
      { dayOfWeek: 5, start: "20:00", end: "24:00" },
      { dayOfWeek: 6, start: "00:00", end: "02:00" },
    ];
    const slots = computeSlots(query({
      rules,
      slotStepMinutes: 60,
      durationMinutes: 120,
      from: at("2026-06-05T00:00", SAO_PAULO),
      to: at("2026-06-07T00:00", SAO_PAULO),
    }));
    assert.deepEqual(slots.map((slot) => slot.localStart), [
      "2026-06-05T20:00:00",
      "2026-06-05T21:00:00",
      "2026-06-05T22:00:00",
      "2026-06-05T23:00:00",
      "2026-06-06T00:00:00",
    ]);
    assert.equal(slots[3].end, "2026-06-06T04:00:00Z");
  });

  await t.step("a window begun the day before the range anchors the step grid", () => {
    const rules: WeeklyRule[] = [
      { dayOfWeek: 7, start: "23:00", end: "24:00" },
      { dayOfWeek: 1, start: "00:00", end: "01:00" },
    ];
    const slots = computeSlots(query({ rules, slotStepMinutes: 45, durationMinutes: 30 }));
    assert.deepEqual(slots.map((slot) => slot.localStart), ["2026-06-01T00:30:00"]);
  });

  await t.step("nonsense input is rejected with a RangeError", () => {
    const base = query({ rules: [MONDAY_MORNING] });
    assert.throws(() => computeSlots({ ...base, slotStepMinutes: 0 }), RangeError);
    assert.throws(() => computeSlots({ ...base, slotStepMinutes: -15 }), RangeError);
    assert.throws(() => computeSlots({ ...base, durationMinutes: 0 }), RangeError);
    assert.throws(() => computeSlots({ ...base, bufferAfterMinutes: -5 }), RangeError);
    assert.throws(() => computeSlots({ ...base, timeZone: "Mars/Olympus_Mons" }), RangeError);
    assert.throws(() => computeSlots({ ...base, to: base.from - 1 }), RangeError);
    assert.throws(() => computeSlots({ ...base, to: base.from + MAX_RANGE_DAYS * DAY + 1 }), /62 days/);
    assert.doesNotThrow(() => computeSlots({ ...base, to: base.from + MAX_RANGE_DAYS * DAY }));
    assert.throws(() => computeSlots({ ...base, rules: [{ dayOfWeek: 1, start: "12:00", end: "09:00" }] }), RangeError);
    assert.throws(() => computeSlots({ ...base, rules: [{ dayOfWeek: 1, start: "09:00", end: "24:30" }] }), RangeError);
    assert.throws(() => computeSlots({ ...base, rules: [{ dayOfWeek: 0, start: "09:00", end: "10:00" }] }), RangeError);
    assert.throws(() => computeSlots({ ...base, rules: [{ dayOfWeek: 1, start: "9:00", end: "10:00" }] }), RangeError);
    assert.throws(
      () => computeSlots({ ...base, closures: [{ startDate: "2026-06-02", endDate: "2026-06-01" }] }),
      RangeError,
    );
    assert.throws(() => computeSlots({ ...base, overrides: [{ date: "2026-02-30", kind: "CLOSED" }] }), RangeError);
  });
});

Deno.test("computeSlots: daylight saving time", async (t) => {
  const oneDay = (timeZone: string, date: string, start: string, end: string, step: number, duration: number) => {
    const range = wholeDay(date, timeZone);
    return computeSlots(query({
      timeZone,
      rules: [{ dayOfWeek: Temporal.PlainDate.from(date).dayOfWeek, start, end }],
      slotStepMinutes: step,
      durationMinutes: duration,
      now: range.from - DAY,
      ...range,
    }));
  };

  await t.step("New York spring forward: nothing in the missing hour, services last real minutes", () => {
    const slots = oneDay(NEW_YORK, "2026-03-08", "00:00", "06:00", 30, 60);
    assert.deepEqual(rows(slots), [
      "2026-03-08T05:00:00Z 2026-03-08T00:00:00-05:00",
      "2026-03-08T05:30:00Z 2026-03-08T00:30:00-05:00",
      "2026-03-08T06:00:00Z 2026-03-08T01:00:00-05:00",
      "2026-03-08T06:30:00Z 2026-03-08T01:30:00-05:00",
      "2026-03-08T07:00:00Z 2026-03-08T03:00:00-04:00",
      "2026-03-08T07:30:00Z 2026-03-08T03:30:00-04:00",
      "2026-03-08T08:00:00Z 2026-03-08T04:00:00-04:00",
      "2026-03-08T08:30:00Z 2026-03-08T04:30:00-04:00",
      "2026-03-08T09:00:00Z 2026-03-08T05:00:00-04:00",
    ]);
    assert.ok(slots.every((slot) => !slot.localStart.includes("T02:")));
    const halfPastOne = slots[3];
    assert.equal(halfPastOne.end, "2026-03-08T07:30:00Z");
    assert.equal(utc(halfPastOne.end) - halfPastOne.startMs, 60 * MINUTE);
    assert.equal(
      Temporal.Instant.from(halfPastOne.end).toZonedDateTimeISO(NEW_YORK).toPlainTime().toString(),
      "03:30:00",
    );
  });

  await t.step("New York spring forward: a boundary inside the missing hour moves to the jump", () => {
    assert.deepEqual(rows(oneDay(NEW_YORK, "2026-03-08", "02:30", "04:00", 30, 30)), [
      "2026-03-08T07:00:00Z 2026-03-08T03:00:00-04:00",
      "2026-03-08T07:30:00Z 2026-03-08T03:30:00-04:00",
    ]);
    assert.deepEqual(rows(oneDay(NEW_YORK, "2026-03-08", "02:30", "03:15", 15, 15)), [
      "2026-03-08T07:00:00Z 2026-03-08T03:00:00-04:00",
    ]);
    assert.deepEqual(oneDay(NEW_YORK, "2026-03-08", "02:00", "02:45", 15, 15), []);
  });

  await t.step("New York fall back: each 01:xx exists twice, once per offset", () => {
    const slots = oneDay(NEW_YORK, "2026-11-01", "00:00", "04:00", 30, 30);
    assert.deepEqual(rows(slots), [
      "2026-11-01T04:00:00Z 2026-11-01T00:00:00-04:00",
      "2026-11-01T04:30:00Z 2026-11-01T00:30:00-04:00",
      "2026-11-01T05:00:00Z 2026-11-01T01:00:00-04:00",
      "2026-11-01T05:30:00Z 2026-11-01T01:30:00-04:00",
      "2026-11-01T06:00:00Z 2026-11-01T01:00:00-05:00",
      "2026-11-01T06:30:00Z 2026-11-01T01:30:00-05:00",
      "2026-11-01T07:00:00Z 2026-11-01T02:00:00-05:00",
      "2026-11-01T07:30:00Z 2026-11-01T02:30:00-05:00",
      "2026-11-01T08:00:00Z 2026-11-01T03:00:00-05:00",
      "2026-11-01T08:30:00Z 2026-11-01T03:30:00-05:00",
    ]);
    assert.equal(slots.length, 10);
    assert.equal(slots.filter((slot) => slot.localStart === "2026-11-01T01:00:00").length, 2);
  });

  await t.step("New York fall back: a boundary in the repeated hour is its first occurrence", () => {
    assert.deepEqual(rows(oneDay(NEW_YORK, "2026-11-01", "00:00", "01:30", 30, 30)), [
      "2026-11-01T04:00:00Z 2026-11-01T00:00:00-04:00",
      "2026-11-01T04:30:00Z 2026-11-01T00:30:00-04:00",
      "2026-11-01T05:00:00Z 2026-11-01T01:00:00-04:00",
    ]);
    assert.deepEqual(rows(oneDay(NEW_YORK, "2026-11-01", "01:30", "03:00", 30, 30)), [
      "2026-11-01T05:30:00Z 2026-11-01T01:30:00-04:00",
      "2026-11-01T06:00:00Z 2026-11-01T01:00:00-05:00",
      "2026-11-01T06:30:00Z 2026-11-01T01:30:00-05:00",
      "2026-11-01T07:00:00Z 2026-11-01T02:00:00-05:00",
      "2026-11-01T07:30:00Z 2026-11-01T02:30:00-05:00",
    ]);
  });

  await t.step("Lisbon, last Sunday of March (01:00 -> 02:00) and of October (02:00 -> 01:00)", () => {
    assert.deepEqual(rows(oneDay("Europe/Lisbon", "2026-03-29", "00:00", "04:00", 30, 60)), [
      "2026-03-29T00:00:00Z 2026-03-29T00:00:00+00:00",
      "2026-03-29T00:30:00Z 2026-03-29T00:30:00+00:00",
      "2026-03-29T01:00:00Z 2026-03-29T02:00:00+01:00",
      "2026-03-29T01:30:00Z 2026-03-29T02:30:00+01:00",
      "2026-03-29T02:00:00Z 2026-03-29T03:00:00+01:00",
    ]);
    assert.deepEqual(rows(oneDay("Europe/Lisbon", "2026-10-25", "00:00", "03:00", 30, 30)), [
      "2026-10-24T23:00:00Z 2026-10-25T00:00:00+01:00",
      "2026-10-24T23:30:00Z 2026-10-25T00:30:00+01:00",
      "2026-10-25T00:00:00Z 2026-10-25T01:00:00+01:00",
      "2026-10-25T00:30:00Z 2026-10-25T01:30:00+01:00",
      "2026-10-25T01:00:00Z 2026-10-25T01:00:00+00:00",
      "2026-10-25T01:30:00Z 2026-10-25T01:30:00+00:00",
      "2026-10-25T02:00:00Z 2026-10-25T02:00:00+00:00",
      "2026-10-25T02:30:00Z 2026-10-25T02:30:00+00:00",
    ]);
  });

  await t.step("Lord Howe, half-hour shifts (02:00 -> 01:30 in April, 02:00 -> 02:30 in October)", () => {
    assert.deepEqual(rows(oneDay("Australia/Lord_Howe", "2026-04-05", "00:00", "03:00", 30, 30)), [
      "2026-04-04T13:00:00Z 2026-04-05T00:00:00+11:00",
      "2026-04-04T13:30:00Z 2026-04-05T00:30:00+11:00",
      "2026-04-04T14:00:00Z 2026-04-05T01:00:00+11:00",
      "2026-04-04T14:30:00Z 2026-04-05T01:30:00+11:00",
      "2026-04-04T15:00:00Z 2026-04-05T01:30:00+10:30",
      "2026-04-04T15:30:00Z 2026-04-05T02:00:00+10:30",
      "2026-04-04T16:00:00Z 2026-04-05T02:30:00+10:30",
    ]);
    assert.deepEqual(rows(oneDay("Australia/Lord_Howe", "2026-10-04", "00:00", "04:00", 30, 30)), [
      "2026-10-03T13:30:00Z 2026-10-04T00:00:00+10:30",
      "2026-10-03T14:00:00Z 2026-10-04T00:30:00+10:30",
      "2026-10-03T14:30:00Z 2026-10-04T01:00:00+10:30",
      "2026-10-03T15:00:00Z 2026-10-04T01:30:00+10:30",
      "2026-10-03T15:30:00Z 2026-10-04T02:30:00+11:00",
      "2026-10-03T16:00:00Z 2026-10-04T03:00:00+11:00",
      "2026-10-03T16:30:00Z 2026-10-04T03:30:00+11:00",
    ]);
    assert.deepEqual(rows(oneDay("Australia/Lord_Howe", "2026-10-04", "02:15", "03:00", 15, 15)), [
      "2026-10-03T15:30:00Z 2026-10-04T02:30:00+11:00",
      "2026-10-03T15:45:00Z 2026-10-04T02:45:00+11:00",
    ]);
  });

  await t.step("São Paulo: no DST in 2026", () => {
    const slots = computeSlots(query({
      rules: [{ dayOfWeek: 7, start: "09:00", end: "10:00" }],
      slotStepMinutes: 30,
      durationMinutes: 30,
      from: utc("2026-01-01T03:00:00Z"),
      to: utc("2026-03-01T03:00:00Z"),
    }));
    assert.ok(slots.length >= 16);
    assert.ok(slots.every((slot) =>
      slot.offset === "-03:00" && slot.localStart.endsWith(":00:00") === false ||
      slot.offset === "-03:00"
    ));
    assert.ok(slots.every((slot) => slot.start.slice(11, 13) === "12"));
    assert.deepEqual(rows(oneDay(SAO_PAULO, "2026-11-01", "09:00", "10:00", 30, 30)), [
      "2026-11-01T12:00:00Z 2026-11-01T09:00:00-03:00",
      "2026-11-01T12:30:00Z 2026-11-01T09:30:00-03:00",
    ]);
  });

  await t.step("São Paulo 2018: spring forward at midnight (00:00 -> 01:00)", () => {
    assert.deepEqual(rows(oneDay(SAO_PAULO, "2018-11-04", "00:00", "02:00", 30, 30)), [
      "2018-11-04T03:00:00Z 2018-11-04T01:00:00-02:00",
      "2018-11-04T03:30:00Z 2018-11-04T01:30:00-02:00",
    ]);
    // Saturday until "24:00" runs into Sunday, whose midnight does not exist: one window, 22:00 -03 to 02:00 -02.
    const slots = computeSlots(query({
      rules: [{ dayOfWeek: 6, start: "22:00", end: "24:00" }, { dayOfWeek: 7, start: "00:00", end: "02:00" }],
      slotStepMinutes: 60,
      durationMinutes: 60,
      from: at("2018-11-03T00:00", SAO_PAULO),
      to: at("2018-11-05T00:00", SAO_PAULO),
      now: at("2018-11-01T00:00", SAO_PAULO),
    }));
    assert.deepEqual(rows(slots), [
      "2018-11-04T01:00:00Z 2018-11-03T22:00:00-03:00",
      "2018-11-04T02:00:00Z 2018-11-03T23:00:00-03:00",
      "2018-11-04T03:00:00Z 2018-11-04T01:00:00-02:00",
    ]);
  });

  await t.step("São Paulo 2018: fall back at midnight (00:00 -> 23:00 the day before)", () => {
    assert.deepEqual(rows(oneDay(SAO_PAULO, "2018-02-17", "22:00", "24:00", 60, 60)), [
      "2018-02-18T00:00:00Z 2018-02-17T22:00:00-02:00",
      "2018-02-18T01:00:00Z 2018-02-17T23:00:00-02:00",
      "2018-02-18T02:00:00Z 2018-02-17T23:00:00-03:00",
    ]);
  });
});

Deno.test("mergeProfessionalSlots orders by start, then professional id", () => {
  const rules = [MONDAY_MORNING];
  const alice = computeSlots(query({ rules, slotStepMinutes: 60 }));
  const bob = computeSlots(query({ rules, slotStepMinutes: 90 }));
  const merged = mergeProfessionalSlots([{ professionalId: "bob", slots: bob }, {
    professionalId: "alice",
    slots: alice,
  }]);
  assert.deepEqual(merged.map((slot) => `${slot.localStart.slice(11, 16)} ${slot.professionalId}`), [
    "09:00 alice",
    "09:00 bob",
    "10:00 alice",
    "10:30 bob",
    "11:00 alice",
  ]);
  assert.deepEqual(mergeProfessionalSlots([]), []);
});

Deno.test("anyProfessionalSlots offers each start once, from the least booked professional", () => {
  const rules = [MONDAY_MORNING];
  const hourly = computeSlots(query({ rules, slotStepMinutes: 60 }));
  const halfHourly = computeSlots(query({ rules, slotStepMinutes: 90 }));
  const offered = anyProfessionalSlots([
    { professionalId: "alice", slots: hourly, busyMinutes: 120 },
    { professionalId: "bob", slots: halfHourly, busyMinutes: 30 },
    { professionalId: "carol", slots: hourly, busyMinutes: 30 },
  ]);
  assert.deepEqual(offered.map((s) => `${s.localStart.slice(11, 16)} ${s.professionalId} ${s.availableCount}`), [
    "09:00 bob 3",
    "10:00 carol 2",
    "10:30 bob 1",
    "11:00 carol 2",
  ]);
  assert.deepEqual(anyProfessionalSlots([]), []);
});

Deno.test("busyMinutesWithin counts only the part of each range inside the search", () => {
  const hour = 3_600_000;
  assert.equal(
    busyMinutesWithin([{ start: 0, end: 2 * hour }, { start: 5 * hour, end: 6 * hour }], hour, 5.5 * hour),
    90,
  );
  assert.equal(busyMinutesWithin([], 0, hour), 0);
});

// ---------------------------------------------------------------------------------------------------------------
// Brute-force reference: working time decided minute by minute from the salon clock.

interface Reference {
  slots: Slot[];
  isWorkingMinute: (ms: number) => boolean;
}

function clockSeconds(text: string): number {
  const [hours, minutes, seconds = "0"] = text.split(":");
  return Number(hours) * 3600 + Number(minutes) * 60 + Number(seconds);
}

/** The day's [start, end) windows in seconds of wall clock, read straight from the query. */
function dayWindows(q: SlotQuery, date: Temporal.PlainDate): [number, number][] {
  const key = date.toString();
  if (q.closures.some((closure) => closure.startDate <= key && key <= closure.endDate)) return [];
  const todays = q.overrides.filter((override) => override.date === key);
  if (todays.length > 0) {
    if (todays.some((override) => override.kind === "CLOSED")) return [];
    return todays.map((override) => {
      const open = override as { start: string; end: string };
      return [clockSeconds(open.start), clockSeconds(open.end)];
    });
  }
  return q.rules.filter((rule) => rule.dayOfWeek === date.dayOfWeek).map((rule) => [
    clockSeconds(rule.start),
    clockSeconds(rule.end),
  ]);
}

/**
 * Walks minute by minute over the local dates the engine considers (the range's dates and one either side). A minute
 * of date D is working when the latest time D's clock has shown so far lies in one of D's windows: that is the same
 * time as the minute's own wall clock, except after a fall-back, when the clock shows earlier times again but the
 * salon is still where it was (see the module comment of domain/slots.ts).
 */
function referenceSlots(q: SlotQuery): Reference {
  const zoned = (ms: number) => Temporal.Instant.fromEpochMilliseconds(ms).toZonedDateTimeISO(q.timeZone);
  const firstDate = zoned(q.from).toPlainDate().subtract({ days: 1 });
  const lastDate = zoned(Math.max(q.from, q.to - 1)).toPlainDate().add({ days: 1 });
  const walkStart = firstDate.toZonedDateTime(q.timeZone).epochMilliseconds;
  const walkEnd = lastDate.add({ days: 1 }).toZonedDateTime(q.timeZone).epochMilliseconds;

  const working: boolean[] = [];
  const windowsByDate = new Map<string, [number, number][]>();
  let date = "";
  let latestShown = -1;
  for (let minute = walkStart; minute < walkEnd; minute += MINUTE) {
    const local = zoned(minute).toPlainDateTime();
    const localDate = local.toPlainDate();
    const key = localDate.toString();
    if (key !== date) {
      date = key;
      latestShown = -1;
    }
    latestShown = Math.max(latestShown, local.hour * 3600 + local.minute * 60 + local.second);
    let windows = windowsByDate.get(key);
    if (!windows) windowsByDate.set(key, windows = dayWindows(q, localDate));
    working.push(windows.some(([start, end]) => start <= latestShown && latestShown < end));
  }
  const isWorkingMinute = (ms: number) => {
    const index = Math.floor((ms - walkStart) / MINUTE);
    return index >= 0 && index < working.length && working[index];
  };

  const durationMs = q.durationMinutes * MINUTE;
  const stepMs = q.slotStepMinutes * MINUTE;
  const slots: Slot[] = [];
  if (q.to <= q.from) return { slots, isWorkingMinute };
  for (let i = 0; i < working.length;) {
    if (!working[i]) {
      i++;
      continue;
    }
    let j = i;
    while (j < working.length && working[j]) j++;
    const runStart = walkStart + i * MINUTE;
    const runEnd = walkStart + j * MINUTE;
    for (let start = runStart; start + durationMs <= runEnd; start += stepMs) {
      const blockStart = start - q.bufferBeforeMinutes * MINUTE;
      const blockEnd = start + durationMs + q.bufferAfterMinutes * MINUTE;
      const keep = start >= q.from && start < q.to &&
        start >= q.now + q.minimumNoticeMinutes * MINUTE &&
        start <= q.now + q.bookingHorizonDays * DAY &&
        q.busy.every((range) => !(blockStart < range.end && range.start < blockEnd));
      if (!keep) continue;
      const startZoned = zoned(start);
      slots.push({
        start: startZoned.toInstant().toString(),
        end: Temporal.Instant.fromEpochMilliseconds(start + durationMs).toString(),
        localStart: startZoned.toPlainDateTime().toString(),
        offset: startZoned.offset,
        startMs: start,
      });
    }
    i = j;
  }
  return { slots, isWorkingMinute };
}

// ---------------------------------------------------------------------------------------------------------------
// Generated queries around known transitions.

const ZONES = [
  NEW_YORK,
  "Europe/Lisbon",
  "Australia/Lord_Howe",
  SAO_PAULO,
  "UTC",
  "Asia/Kolkata",
  "Pacific/Chatham",
];

/** Zones with a local date on which their clock changes (or, for zones without DST, an ordinary date). */
const NEAR_TRANSITIONS: [string, string][] = [
  [NEW_YORK, "2026-03-08"],
  [NEW_YORK, "2026-11-01"],
  ["Europe/Lisbon", "2026-03-29"],
  ["Europe/Lisbon", "2026-10-25"],
  ["Australia/Lord_Howe", "2026-04-05"],
  ["Australia/Lord_Howe", "2026-10-04"],
  [SAO_PAULO, "2018-11-04"],
  [SAO_PAULO, "2018-02-18"],
  [SAO_PAULO, "2026-11-01"],
  ["Pacific/Chatham", "2026-04-05"],
  ["Pacific/Chatham", "2026-09-27"],
  ["UTC", "2026-03-29"],
  ["Asia/Kolkata", "2026-03-08"],
];

function clock(fiveMinutes: number): string {
  const minutes = fiveMinutes * 5;
  return `${String(Math.floor(minutes / 60)).padStart(2, "0")}:${String(minutes % 60).padStart(2, "0")}`;
}

/** A wall time on the 5-minute grid, often at night where clocks change; 288 steps is "24:00". */
const wallTimeArb = fc.oneof(fc.integer({ min: 0, max: 288 }), fc.integer({ min: 0, max: 60 }));

const wallWindowArb = fc.tuple(wallTimeArb, wallTimeArb)
  .filter(([a, b]) => a !== b)
  .map(([a, b]) => ({ start: clock(Math.min(a, b)), end: clock(Math.max(a, b)) }));

const queryArb = fc.record({
  place: fc.oneof(
    fc.constantFrom(...NEAR_TRANSITIONS),
    fc.tuple(fc.constantFrom(...ZONES), fc.constantFrom(...NEAR_TRANSITIONS.map(([, date]) => date))),
  ),
  fromMinutes: fc.integer({ min: -2 * 24 * 60, max: 12 * 60 }),
  fromExtraMs: fc.constantFrom(0, 0, 0, 1, 29_999),
  spanMinutes: fc.oneof(fc.integer({ min: 0, max: 4 * 24 * 60 }), fc.integer({ min: 24 * 60, max: 4 * 24 * 60 })),
  nowMinutes: fc.oneof(
    { arbitrary: fc.integer({ min: -3 * 24 * 60, max: 0 }), weight: 3 },
    { arbitrary: fc.integer({ min: 0, max: 12 * 60 }), weight: 1 },
  ),
  rules: fc.array(fc.array(wallWindowArb, { maxLength: 4 }), { minLength: 7, maxLength: 7 }),
  overrides: fc.array(
    fc.tuple(fc.integer({ min: -4, max: 5 }), fc.option(wallWindowArb, { freq: 3 })),
    { maxLength: 4 },
  ),
  closures: fc.array(fc.tuple(fc.integer({ min: -4, max: 5 }), fc.integer({ min: 0, max: 2 })), { maxLength: 2 }),
  busy: fc.array(fc.tuple(fc.integer({ min: -24 * 60, max: 5 * 24 * 60 }), fc.integer({ min: 1, max: 300 })), {
    maxLength: 8,
  }),
  durationMinutes: fc.oneof(fc.integer({ min: 1, max: 36 }).map((n) => n * 5), fc.integer({ min: 1, max: 240 })),
  bufferBeforeMinutes: fc.integer({ min: 0, max: 30 }),
  bufferAfterMinutes: fc.integer({ min: 0, max: 30 }),
  slotStepMinutes: fc.oneof(fc.constantFrom(5, 10, 15, 20, 30, 45, 60), fc.integer({ min: 5, max: 240 })),
  minimumNoticeMinutes: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 12 * 60 })),
  bookingHorizonDays: fc.oneof({ arbitrary: fc.constant(60), weight: 2 }, {
    arbitrary: fc.integer({ min: 0, max: 6 }),
    weight: 1,
  }),
}).map((g): SlotQuery => {
  const [timeZone, date] = g.place;
  const base = Temporal.PlainDate.from(date);
  const baseMs = base.toZonedDateTime(timeZone).epochMilliseconds;
  const from = baseMs + g.fromMinutes * MINUTE + g.fromExtraMs;
  const dateAt = (days: number) => base.add({ days }).toString();
  return {
    timeZone,
    rules: g.rules.flatMap((windows, index) => windows.map((window) => ({ dayOfWeek: index + 1, ...window }))),
    overrides: g.overrides.map(([days, window]): DateOverride =>
      window ? { date: dateAt(days), kind: "OPEN", ...window } : { date: dateAt(days), kind: "CLOSED" }
    ),
    closures: g.closures.map(([days, length]) => ({ startDate: dateAt(days), endDate: dateAt(days + length) })),
    busy: g.busy.map(([offset, length]) => ({ start: from + offset * MINUTE, end: from + (offset + length) * MINUTE })),
    durationMinutes: g.durationMinutes,
    bufferBeforeMinutes: g.bufferBeforeMinutes,
    bufferAfterMinutes: g.bufferAfterMinutes,
    slotStepMinutes: g.slotStepMinutes,
    minimumNoticeMinutes: g.minimumNoticeMinutes,
    bookingHorizonDays: g.bookingHorizonDays,
    from,
    to: from + g.spanMinutes * MINUTE,
    now: from + g.nowMinutes * MINUTE,
  };
});

/**
 * A night around a clock change, densely open: the zone's own transition date, rules for it and the day before,
 * nothing else in the way, so that most runs emit slots on both sides of the change.
 */
const clockChangeArb = fc.record({
  place: fc.constantFrom(...NEAR_TRANSITIONS),
  fromMinutes: fc.integer({ min: -24 * 60, max: 0 }),
  spanMinutes: fc.integer({ min: 12 * 60, max: 3 * 24 * 60 }),
  saturday: fc.array(wallWindowArb, { maxLength: 3 }),
  sunday: fc.array(wallWindowArb, { minLength: 1, maxLength: 4 }),
  durationMinutes: fc.integer({ min: 1, max: 120 }),
  slotStepMinutes: fc.integer({ min: 5, max: 60 }),
}).map((g): SlotQuery => {
  const [timeZone, date] = g.place;
  const from = Temporal.PlainDate.from(date).toZonedDateTime(timeZone).epochMilliseconds + g.fromMinutes * MINUTE;
  const day = Temporal.PlainDate.from(date).dayOfWeek;
  return {
    timeZone,
    rules: [
      ...g.saturday.map((window) => ({ dayOfWeek: day === 1 ? 7 : day - 1, ...window })),
      ...g.sunday.map((window) => ({ dayOfWeek: day, ...window })),
    ],
    overrides: [],
    closures: [],
    busy: [],
    durationMinutes: g.durationMinutes,
    bufferBeforeMinutes: 0,
    bufferAfterMinutes: 0,
    slotStepMinutes: g.slotStepMinutes,
    minimumNoticeMinutes: 0,
    bookingHorizonDays: 60,
    from,
    to: from + g.spanMinutes * MINUTE,
    now: from - DAY,
  };
});

/** Properties (a) to (d) for one query. */
function agreesWithReference(q: SlotQuery): void {
  const slots = computeSlots(q);
  const reference = referenceSlots(q);
  for (const slot of slots) {
    const blockStart = slot.startMs - q.bufferBeforeMinutes * MINUTE;
    const blockEnd = slot.startMs + (q.durationMinutes + q.bufferAfterMinutes) * MINUTE;
    // (a) the block overlaps no busy range
    for (const range of q.busy) {
      assert.ok(!(blockStart < range.end && range.start < blockEnd), `${slot.start} overlaps ${JSON.stringify(range)}`);
    }
    // (b) the service lies within working time
    for (let minute = slot.startMs; minute < utc(slot.end); minute += MINUTE) {
      assert.ok(reference.isWorkingMinute(minute), `${slot.start}: minute ${minute} is not working time`);
    }
    assert.equal(utc(slot.end) - slot.startMs, q.durationMinutes * MINUTE);
  }
  // (c) sorted and unique
  for (let i = 1; i < slots.length; i++) assert.ok(slots[i - 1].startMs < slots[i].startMs);
  // (d) the same as the brute-force walk
  assert.deepEqual(slots, reference.slots);
}

Deno.test("computeSlots: generated queries agree with a minute-by-minute reference", async (t) => {
  await t.step("rules, overrides, closures, busy ranges and limits near clock changes", () => {
    fc.assert(fc.property(queryArb, agreesWithReference), { numRuns: 200, seed: 20260308 });
  });
  await t.step("dense nights across a clock change", () => {
    fc.assert(fc.property(clockChangeArb, agreesWithReference), { numRuns: 100, seed: 20261101 });
  });
});
