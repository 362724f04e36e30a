/**
 * Times `computeSlots` on a realistic week (Mon-Sat 09:00-12:00 and 13:00-19:00, São Paulo, step 15, a 45-minute
 * service with 5/10-minute buffers) against 1,000 busy ranges, for 14 and 62 days:
 * `npx -y deno@2.9.6 run -A tests/bench/slot_engine.ts`. The busy ranges (15 to 60 minutes, 07:00-21:00, some
 * overlapping) are spread over the 62 days, about 16 a day, and both queries get all of them, so the 14-day one
 * also sorts and discards those after its range. They come from a fixed seed, so runs compare.
 */
import { type BusyRange, computeSlots, type SlotQuery, type WeeklyRule } from "../../domain/slots.ts";

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const TIME_ZONE = "America/Sao_Paulo";
const BUSY_RANGES = 1_000;
const BUSY_DAYS = 62;
// Fewer leave V8 still optimizing during the timed runs, which shows as a p99 several times the p50.
const WARM_UP_RUNS = 100;
const TIMED_RUNS = 300;

export interface SlotEngineFigures {
  days: number;
  busy: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  slots: number;
}

const RULES: WeeklyRule[] = [1, 2, 3, 4, 5, 6].flatMap((dayOfWeek) => [
  { dayOfWeek, start: "09:00", end: "12:00" },
  { dayOfWeek, start: "13:00", end: "19:00" },
]);

function busyRanges(from: number, days: number, count: number): BusyRange[] {
  let seed = 20260601;
  const next = (bound: number) => {
    // A small linear congruential generator: reproducible without Math.random.
    seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
    return seed % bound;
  };
  const ranges: BusyRange[] = [];
  for (let i = 0; i < count; i++) {
    const start = from + next(days) * DAY + 7 * 60 * MINUTE + next(53) * 15 * MINUTE;
    ranges.push({ start, end: start + (15 + next(4) * 15) * MINUTE });
  }
  return ranges;
}

// Monday 2026-06-01, 00:00 in São Paulo (-03:00).
const FROM = Date.UTC(2026, 5, 1, 3);
const BUSY = busyRanges(FROM, BUSY_DAYS, BUSY_RANGES);

function queryFor(days: number): SlotQuery {
  const from = FROM;
  return {
    timeZone: TIME_ZONE,
    rules: RULES,
    overrides: [],
    closures: [],
    busy: BUSY,
    durationMinutes: 45,
    bufferBeforeMinutes: 5,
    bufferAfterMinutes: 10,
    slotStepMinutes: 15,
    minimumNoticeMinutes: 60,
    bookingHorizonDays: 90,
    from,
    to: from + days * DAY,
    now: from - 60 * MINUTE,
  };
}

function percentile(sorted: number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)];
}

export async function benchSlotEngine(): Promise<SlotEngineFigures[]> {
  const figures: SlotEngineFigures[] = [];
  for (const days of [14, 62]) {
    const query = queryFor(days);
    let slots = 0;
    for (let i = 0; i < WARM_UP_RUNS; i++) slots = computeSlots(query).length;
    const timings: number[] = [];
    for (let i = 0; i < TIMED_RUNS; i++) {
      const started = performance.now();
      slots = computeSlots(query).length;
      timings.push(performance.now() - started);
    }
    timings.sort((a, b) => a - b);
    figures.push({
      days,
      busy: query.busy.length,
      p50Ms: percentile(timings, 0.5),
      p99Ms: percentile(timings, 0.99),
      meanMs: timings.reduce((sum, ms) => sum + ms, 0) / timings.length,
      slots,
    });
    // Let pending work run between scenarios rather than inside a timed run.
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  return figures;
}

if (import.meta.main) {
  const figures = await benchSlotEngine();
  const header = ["days", "busy", "slots", "p50 ms", "p99 ms", "mean ms"];
  const rows = figures.map((f) =>
    [f.days, f.busy, f.slots, f.p50Ms, f.p99Ms, f.meanMs].map((value, i) => i < 3 ? String(value) : value.toFixed(3))
  );
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padStart(widths[i])).join("  ");
  console.log(`computeSlots, ${TIMED_RUNS} timed runs each (${TIME_ZONE}, step 15, 45 min, buffers 5/10)`);
  console.log(line(header));
  for (const row of rows) console.log(line(row));
}
