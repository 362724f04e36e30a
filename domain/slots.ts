/**
 * Free appointment start times for one professional, computed from everything passed in one call: no I/O, no
 * clock (`now` is an input), no randomness. Instants are epoch milliseconds. Temporal is used only to move between
 * the salon's wall clock (its IANA zone) and instants: it gives the zone's offset and transitions, asked once per
 * stretch of constant offset, and converts wall times within a day of a transition itself.
 *
 * 1. Working time, for each local date D touched by [from, to) and one more date on each side (so windows running
 *    across the edges of the range are seen whole):
 *    - a closure covering D: none;
 *    - else, when D has overrides: none if any of them is CLOSED, otherwise the OPEN overrides' windows replace the
 *      weekly rules for D;
 *    - else the weekly rules whose ISO day of week (1 = Monday ... 7 = Sunday) is D's.
 *    A window [start, end) on D becomes the instants from the moment the salon's clock first shows `start` on D to
 *    the moment it first shows `end` ("24:00" is the start of D + 1). For wall times that exist once this is plain
 *    conversion; in a repeated hour (autumn) it is the first occurrence, as Temporal's "compatible"
 *    disambiguation; for a wall time that a spring-forward jump skips it is the jump itself.
 * 2. Windows are merged as instant intervals: overlapping or touching ones become one, also across midnight. A
 *    window 00:00-04:00 therefore lasts 3 real hours on a spring-forward day and 5 on a fall-back day.
 * 3. Candidate starts are windowStart + k * slotStep in real minutes (k = 0, 1, ...), within each merged window,
 *    so no candidate falls in a skipped hour and each instant of a repeated hour appears once. A candidate is kept
 *    when [start, start + duration) lies inside its merged window; the block
 *    [start - bufferBefore, start + duration + bufferAfter) overlaps no busy range (half-open, touching is fine);
 *    start >= now + minimumNotice; start <= now + bookingHorizonDays * 24 h; from <= start < to.
 * 4. Slots come sorted by start, each once. `end` is start + duration in real minutes, even across a DST change;
 *    `localStart` and `offset` describe the start.
 * 5. Busy ranges are sorted and merged once, then swept with a moving index alongside the candidates; a conflict
 *    skips straight to the first candidate clear of it.
 * Nonsense input throws a RangeError: a step or duration of 0 or less, a range longer than MAX_RANGE_DAYS, an unknown
 * zone, a malformed or inverted window, date or closure, a day of week outside 1..7.
 *
 * DST choices, made so that opening hours mean what the salon owner reads on the clock:
 * - A boundary in a skipped hour moves to the jump, not by the length of the gap as "compatible" alone would do:
 *   in New York on 2026-03-08 (02:00 -> 03:00) a window 02:30-04:00 opens at 03:00 EDT, not 03:30, and a window
 *   02:30-03:15 keeps its 15 minutes instead of turning inside out.
 * - A window is one unbroken stretch of real time. When a boundary lies in a repeated hour its first occurrence
 *   counts: on 2026-11-01 (02:00 -> 01:00) a window 00:00-01:30 closes at 01:30 EDT and the second 01:00-01:30
 *   (EST) is not working time, while a window 01:30-03:00 opens at 01:30 EDT and stays open through the repeated
 *   hour. Put differently, an instant is inside a window of D when the latest time D's clock has shown so far is
 *   within [start, end).
 * - A window that runs without a break across several dates (e.g. open around the clock) is anchored at the first
 *   date considered, the day before `from`'s date, so its candidate grid can depend on the range asked for.
 */

export interface WallWindow {
  /** "HH:MM" or "HH:MM:SS", local wall clock, before `end`. */
  start: string;
  /** "HH:MM" or "HH:MM:SS", local wall clock; "24:00" is the end of the day. */
  end: string;
}

export interface WeeklyRule extends WallWindow {
  /** ISO: 1 = Monday ... 7 = Sunday. */
  dayOfWeek: number;
}

export type DateOverride =
  | { date: string; kind: "CLOSED" }
  | { date: string; kind: "OPEN"; start: string; end: string };

/** A salon holiday, inclusive local dates "YYYY-MM-DD". */
export interface Closure {
  startDate: string;
  endDate: string;
}

/** Epoch ms, half-open [start, end): a booking's block (buffers included) or time off. */
export interface BusyRange {
  start: number;
  end: number;
}

export interface SlotQuery {
  /** IANA zone of the salon. */
  timeZone: string;
  rules: WeeklyRule[];
  overrides: DateOverride[];
  closures: Closure[];
  /** Unsorted, may overlap each other. */
  busy: BusyRange[];
  durationMinutes: number;
  bufferBeforeMinutes: number;
  bufferAfterMinutes: number;
  slotStepMinutes: number;
  minimumNoticeMinutes: number;
  bookingHorizonDays: number;
  /** Epoch ms, inclusive: only slots starting at or after this. */
  from: number;
  /** Epoch ms, exclusive: only slots starting before this. */
  to: number;
  /** Epoch ms. */
  now: number;
}

export interface Slot {
  /** UTC instant, e.g. "2026-03-08T07:00:00Z". */
  start: string;
  /** start + duration in real minutes. */
  end: string;
  /** Salon wall clock at start, e.g. "2026-03-08T03:00:00". */
  localStart: string;
  /** Salon UTC offset at start, e.g. "-04:00". */
  offset: string;
  startMs: number;
}

export interface ProfessionalSlot extends Slot {
  professionalId: string;
}

export const MAX_RANGE_DAYS = 62;

const SECOND_MS = 1000;
const MINUTE_MS = 60 * SECOND_MS;
const DAY_MS = 24 * 60 * MINUTE_MS;
const DAY_SECONDS = 24 * 60 * 60;

/** A window as seconds since local midnight; the end may be DAY_SECONDS. */
interface DayWindow {
  startSeconds: number;
  endSeconds: number;
}

export function computeSlots(query: SlotQuery): Slot[] {
  const durationMs = positiveMinutes(query.durationMinutes, "durationMinutes") * MINUTE_MS;
  const stepMs = positiveMinutes(query.slotStepMinutes, "slotStepMinutes") * MINUTE_MS;
  const beforeMs = nonNegativeWhole(query.bufferBeforeMinutes, "bufferBeforeMinutes") * MINUTE_MS;
  const afterMs = nonNegativeWhole(query.bufferAfterMinutes, "bufferAfterMinutes") * MINUTE_MS;
  const noticeMs = nonNegativeWhole(query.minimumNoticeMinutes, "minimumNoticeMinutes") * MINUTE_MS;
  const horizonMs = nonNegativeWhole(query.bookingHorizonDays, "bookingHorizonDays") * DAY_MS;
  const from = epochMs(query.from, "from");
  const to = epochMs(query.to, "to");
  const now = epochMs(query.now, "now");
  if (to < from) throw new RangeError(`Slot range ends before it starts: to (${to}) < from (${from})`);
  if (to - from > MAX_RANGE_DAYS * DAY_MS) {
    throw new RangeError(`Slot range is longer than ${MAX_RANGE_DAYS} days`);
  }
  // Also rejects an unknown zone, before anything else is worked out.
  const clock = new ZoneClock(query.timeZone);
  const firstDay = clock.localEpochDay(from) - 1;
  const rulesByDay = weeklyRulesByDay(query.rules);
  const overridesByDay = overridesByEpochDay(query.overrides);
  const closures = closureDays(query.closures);
  if (to === from) return [];
  const lastDay = clock.localEpochDay(to - 1) + 1;

  const earliest = Math.max(from, now + noticeMs);
  const horizonEnd = now + horizonMs;
  const windows = workingWindows(clock, firstDay, lastDay, rulesByDay, overridesByDay, closures);
  const busy = mergedBusy(query.busy, earliest - beforeMs, Math.min(to, horizonEnd) + durationMs + afterMs);

  const slots: Slot[] = [];
  const format = new SlotFormatter(clock);
  let busyIndex = 0;
  for (let w = 0; w < windows.length; w += 2) {
    const windowStart = windows[w];
    const windowEnd = windows[w + 1];
    if (windowStart >= to || windowStart > horizonEnd) break;
    if (windowEnd - durationMs < earliest) continue;
    let k = earliest > windowStart ? Math.ceil((earliest - windowStart) / stepMs) : 0;
    let start = windowStart + k * stepMs;
    while (start + durationMs <= windowEnd && start < to && start <= horizonEnd) {
      const blockStart = start - beforeMs;
      while (busyIndex < busy.count && busy.ends[busyIndex] <= blockStart) busyIndex++;
      if (busyIndex < busy.count && busy.starts[busyIndex] < start + durationMs + afterMs) {
        // Skip every candidate whose block would still reach into this busy range.
        k = Math.max(k + 1, Math.ceil((busy.ends[busyIndex] + beforeMs - windowStart) / stepMs));
      } else {
        slots.push(format.slot(start, durationMs));
        k++;
      }
      start = windowStart + k * stepMs;
    }
  }
  return slots;
}

/** Merges per-professional slot lists into one list sorted by start, then professional id. */
export function mergeProfessionalSlots(lists: { professionalId: string; slots: Slot[] }[]): ProfessionalSlot[] {
  const merged: ProfessionalSlot[] = [];
  for (const { professionalId, slots } of lists) {
    for (const slot of slots) merged.push({ ...slot, professionalId });
  }
  return merged.sort((a, b) =>
    a.startMs - b.startMs || (a.professionalId < b.professionalId ? -1 : a.professionalId > b.professionalId ? 1 : 0)
  );
}

/**
 * Working time over the local dates firstDay..lastDay (epoch days) as merged, sorted instant intervals, flattened
 * as [start0, end0, start1, end1, ...].
 */
function workingWindows(
  clock: ZoneClock,
  firstDay: number,
  lastDay: number,
  rulesByDay: DayWindow[][],
  overridesByDay: Map<number, DayWindow[] | "CLOSED">,
  closures: { first: number; last: number }[],
): number[] {
  const intervals: [number, number][] = [];
  for (let day = firstDay; day <= lastDay; day++) {
    if (closures.some((closure) => closure.first <= day && day <= closure.last)) continue;
    const override = overridesByDay.get(day);
    if (override === "CLOSED") continue;
    for (const window of override ?? rulesByDay[isoDayOfWeek(day)]) {
      const start = clock.firstInstantShowing(day * DAY_MS + window.startSeconds * SECOND_MS);
      const end = clock.firstInstantShowing(day * DAY_MS + window.endSeconds * SECOND_MS);
      // A window lying wholly in a skipped hour is empty.
      if (end > start) intervals.push([start, end]);
    }
  }
  intervals.sort((a, b) => a[0] - b[0]);
  const merged: number[] = [];
  for (const [start, end] of intervals) {
    const last = merged.length - 1;
    if (merged.length > 0 && start <= merged[last]) merged[last] = Math.max(merged[last], end);
    else merged.push(start, end);
  }
  return merged;
}

/** Busy ranges relevant to blocks within [low, high), sorted and merged (touching ones too: same overlaps). */
function mergedBusy(busy: BusyRange[], low: number, high: number): { starts: number[]; ends: number[]; count: number } {
  const relevant: BusyRange[] = [];
  for (const range of busy) {
    if (!Number.isFinite(range.start) || !Number.isFinite(range.end)) {
      throw new RangeError(`Busy range has a non-finite bound: ${JSON.stringify(range)}`);
    }
    if (range.end > range.start && range.end > low && range.start < high) relevant.push(range);
  }
  relevant.sort((a, b) => a.start - b.start);
  const starts: number[] = [];
  const ends: number[] = [];
  for (const range of relevant) {
    const last = ends.length - 1;
    if (last >= 0 && range.start <= ends[last]) ends[last] = Math.max(ends[last], range.end);
    else {
      starts.push(range.start);
      ends.push(range.end);
    }
  }
  return { starts, ends, count: starts.length };
}

/**
 * The salon zone's UTC offset over time, asked of Temporal once per stretch between two transitions and worked out
 * with plain arithmetic inside it.
 */
class ZoneClock {
  #timeZone: string;
  /** The cached stretch [from, until) of constant offset. */
  #from = Infinity;
  #until = -Infinity;
  #offsetMs = 0;
  #offset = "";

  constructor(timeZone: string) {
    this.#timeZone = timeZone;
    this.#seek(0);
  }

  /** UTC offset at an instant, e.g. "-03:00". */
  offset(ms: number): string {
    this.#seek(ms);
    return this.#offset;
  }

  offsetMs(ms: number): number {
    this.#seek(ms);
    return this.#offsetMs;
  }

  /** The salon's local date at an instant, as days since 1970-01-01. */
  localEpochDay(ms: number): number {
    return Math.floor((ms + this.offsetMs(ms)) / DAY_MS);
  }

  /**
   * The first instant at which the salon's clock shows `localMs` (a wall time, as epoch ms read as UTC) or later:
   * the wall time itself, its first occurrence when repeated, or the forward jump over it when skipped.
   */
  firstInstantShowing(localMs: number): number {
    this.#seek(localMs - this.#offsetMs);
    const instant = localMs - this.#offsetMs;
    // A day clear of the stretch's start, no earlier instant can have shown this wall time (offsets differ by at
    // most a day), so the arithmetic answer is the first one.
    if (instant >= this.#from + DAY_MS && instant < this.#until) return instant;
    return firstInstantShowingNearTransition(this.#timeZone, localMs);
  }

  #seek(ms: number): void {
    if (ms >= this.#from && ms < this.#until) return;
    const zoned = Temporal.Instant.fromEpochMilliseconds(ms).toZonedDateTimeISO(this.#timeZone);
    this.#offsetMs = zoned.offsetNanoseconds / 1e6;
    this.#offset = zoned.offset;
    // "previous" is strictly before its instant: ask from just after `ms` so that a transition at `ms` counts.
    this.#from = zoned.add({ nanoseconds: 1 }).getTimeZoneTransition("previous")?.epochMilliseconds ?? -Infinity;
    this.#until = zoned.getTimeZoneTransition("next")?.epochMilliseconds ?? Infinity;
  }
}

/** ZoneClock.firstInstantShowing with Temporal alone, for wall times near a transition. */
function firstInstantShowingNearTransition(timeZone: string, localMs: number): number {
  const wall = new Date(localMs);
  const plain = new Temporal.PlainDateTime(
    wall.getUTCFullYear(),
    wall.getUTCMonth() + 1,
    wall.getUTCDate(),
    wall.getUTCHours(),
    wall.getUTCMinutes(),
    wall.getUTCSeconds(),
    wall.getUTCMilliseconds(),
  );
  const zoned = plain.toZonedDateTime(timeZone, { disambiguation: "compatible" });
  if (zoned.epochMilliseconds + zoned.offsetNanoseconds / 1e6 === localMs) return zoned.epochMilliseconds;
  // Skipped: "compatible" would shift it by the length of the gap; the clock passes it at the jump itself.
  const beforeJump = plain.toZonedDateTime(timeZone, { disambiguation: "earlier" });
  return beforeJump.getTimeZoneTransition("next")?.epochMilliseconds ?? zoned.epochMilliseconds;
}

/** Builds slots, in increasing order of start, with Temporal's instant and date-time formats. */
class SlotFormatter {
  #clock: ZoneClock;
  #start = new IsoFormatter();
  #end = new IsoFormatter();
  #local = new IsoFormatter();

  constructor(clock: ZoneClock) {
    this.#clock = clock;
  }

  slot(startMs: number, durationMs: number): Slot {
    return {
      start: this.#start.format(startMs) + "Z",
      end: this.#end.format(startMs + durationMs) + "Z",
      localStart: this.#local.format(startMs + this.#clock.offsetMs(startMs)),
      offset: this.#clock.offset(startMs),
      startMs,
    };
  }
}

const TWO_DIGITS = Array.from({ length: 60 }, (_, n) => String(n).padStart(2, "0"));

/** "YYYY-MM-DDTHH:MM:SS" of epoch ms read as UTC, as Temporal writes it; keeps the date of the last call. */
class IsoFormatter {
  #day = NaN;
  #datePrefix = "";

  format(ms: number): string {
    const day = Math.floor(ms / DAY_MS);
    if (day !== this.#day) {
      const year = new Date(day * DAY_MS).getUTCFullYear();
      // Years Date writes differently from Temporal: leave them to Temporal.
      if (year < 0 || year > 9999) return Temporal.Instant.fromEpochMilliseconds(ms).toString().slice(0, -1);
      this.#day = day;
      this.#datePrefix = new Date(day * DAY_MS).toISOString().slice(0, 11);
    }
    const msOfDay = ms - day * DAY_MS;
    if (msOfDay % SECOND_MS !== 0) return Temporal.Instant.fromEpochMilliseconds(ms).toString().slice(0, -1);
    const secondsOfDay = msOfDay / SECOND_MS;
    return this.#datePrefix + TWO_DIGITS[Math.floor(secondsOfDay / 3600)] + ":" +
      TWO_DIGITS[Math.floor(secondsOfDay / 60) % 60] + ":" + TWO_DIGITS[secondsOfDay % 60];
  }
}

/** ISO day of week of an epoch day: 1970-01-01 was a Thursday. */
function isoDayOfWeek(epochDay: number): number {
  return ((((epochDay + 3) % 7) + 7) % 7) + 1;
}

function epochDayOf(text: string, what: string): number {
  let date: Temporal.PlainDate;
  try {
    date = Temporal.PlainDate.from(text);
  } catch {
    throw new RangeError(`${what} is not a date "YYYY-MM-DD": ${JSON.stringify(text)}`);
  }
  const utc = new Date(0);
  utc.setUTCFullYear(date.year, date.month - 1, date.day);
  return Math.round(utc.getTime() / DAY_MS);
}

function weeklyRulesByDay(rules: WeeklyRule[]): DayWindow[][] {
  const byDay: DayWindow[][] = Array.from({ length: 8 }, () => []);
  for (const rule of rules) {
    if (!Number.isInteger(rule.dayOfWeek) || rule.dayOfWeek < 1 || rule.dayOfWeek > 7) {
      throw new RangeError(`Weekly rule dayOfWeek must be 1 (Monday) to 7 (Sunday), got ${rule.dayOfWeek}`);
    }
    byDay[rule.dayOfWeek].push(dayWindow(rule, "Weekly rule"));
  }
  return byDay;
}

function overridesByEpochDay(overrides: DateOverride[]): Map<number, DayWindow[] | "CLOSED"> {
  const byDay = new Map<number, DayWindow[] | "CLOSED">();
  for (const override of overrides) {
    const day = epochDayOf(override.date, "Override date");
    const known = byDay.get(day);
    if (override.kind === "CLOSED") byDay.set(day, "CLOSED");
    else if (override.kind === "OPEN") {
      const window = dayWindow(override, `Override on ${override.date}`);
      if (known === undefined) byDay.set(day, [window]);
      else if (known !== "CLOSED") known.push(window);
    } else {
      throw new RangeError(
        `Override kind must be OPEN or CLOSED, got ${JSON.stringify((override as DateOverride).kind)}`,
      );
    }
  }
  return byDay;
}

function closureDays(closures: Closure[]): { first: number; last: number }[] {
  return closures.map((closure) => {
    const first = epochDayOf(closure.startDate, "Closure startDate");
    const last = epochDayOf(closure.endDate, "Closure endDate");
    if (last < first) throw new RangeError(`Closure ends before it starts: ${JSON.stringify(closure)}`);
    return { first, last };
  });
}

function dayWindow(window: WallWindow, what: string): DayWindow {
  const startSeconds = wallSeconds(window.start, false, what);
  const endSeconds = wallSeconds(window.end, true, what);
  if (startSeconds >= endSeconds) {
    throw new RangeError(`${what} must start before it ends: ${window.start}-${window.end}`);
  }
  return { startSeconds, endSeconds };
}

const WALL_TIME = /^(\d{2}):(\d{2})(?::(\d{2}))?$/;

function wallSeconds(text: string, isEnd: boolean, what: string): number {
  const match = WALL_TIME.exec(text);
  if (match) {
    const [hours, minutes, seconds] = [Number(match[1]), Number(match[2]), Number(match[3] ?? 0)];
    const total = hours * 3600 + minutes * 60 + seconds;
    if (hours < 24 && minutes < 60 && seconds < 60) return total;
    if (isEnd && total === DAY_SECONDS) return total;
  }
  throw new RangeError(`${what} has an invalid time ${JSON.stringify(text)}: expected "HH:MM" or "HH:MM:SS"`);
}

function positiveMinutes(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`${name} must be a whole number above 0`);
  return value;
}

function nonNegativeWhole(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a whole number, 0 or more`);
  return value;
}

function epochMs(value: number, name: string): number {
  if (!Number.isSafeInteger(value)) throw new RangeError(`${name} must be a whole number of epoch milliseconds`);
  return value;
}

export interface AnyProfessionalSlot extends ProfessionalSlot {
  /** How many professionals are free at this start. */
  availableCount: number;
}

/**
 * One slot per start time for "any professional": the professional offered is the one with the
 * least booked time in the range (load spreads across the team), ties broken by id so the answer
 * is stable; the count says how many are free then.
 */
export function anyProfessionalSlots(
  lists: { professionalId: string; slots: Slot[]; busyMinutes: number }[],
): AnyProfessionalSlot[] {
  const preference = [...lists].sort((a, b) =>
    a.busyMinutes - b.busyMinutes ||
    (a.professionalId < b.professionalId ? -1 : a.professionalId > b.professionalId ? 1 : 0)
  );
  const byStart = new Map<number, AnyProfessionalSlot>();
  for (const { professionalId, slots } of preference) {
    for (const slot of slots) {
      const chosen = byStart.get(slot.startMs);
      if (chosen) chosen.availableCount++;
      else byStart.set(slot.startMs, { ...slot, professionalId, availableCount: 1 });
    }
  }
  return [...byStart.values()].sort((a, b) => a.startMs - b.startMs);
}

/** Minutes of `busy` that fall inside [from, to): how loaded a professional is in a search range. */
export function busyMinutesWithin(busy: readonly BusyRange[], from: number, to: number): number {
  let total = 0;
  for (const range of busy) total += Math.max(0, Math.min(range.end, to) - Math.max(range.start, from));
  return Math.round(total / MINUTE_MS);
}
