/**
 * Availability rules as people edit them: weekly windows in the salon's wall-clock time and the
 * windows of one date. Windows of the same day may touch (09:00–12:00 and 12:00–18:00 read as one
 * stretch) but never overlap: an overlap is rejected, naming both windows, rather than silently
 * counted twice.
 */

export const DAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"] as const;

/** A window of wall-clock time, `HH:MM` (end may be `24:00`). */
export interface Window {
  start: string;
  end: string;
}

/** Minutes after midnight of an `HH:MM` or `HH:MM:SS` wall time. */
export function minutesOfDay(time: string): number {
  const [hours, minutes] = time.split(":").map(Number);
  return hours * 60 + minutes;
}

/** `HH:MM` of a wall time as Postgres returns it (`09:00:00`). */
export function shortTime(time: string): string {
  return time.slice(0, 5);
}

export interface WindowProblem {
  /** Index of the offending window in the input. */
  index: number;
  message: string;
}

/**
 * Problems of a set of windows grouped by `groupOf` (the day of week, or nothing for one date):
 * an empty or reversed window, or one that overlaps an earlier window of its group.
 */
export function windowProblems<T extends Window>(
  windows: readonly T[],
  groupOf: (window: T) => string | number,
  describe: (window: T) => string,
): WindowProblem[] {
  const problems: WindowProblem[] = [];
  const ranges = windows.map((window) => ({
    group: groupOf(window),
    start: minutesOfDay(window.start),
    end: minutesOfDay(window.end),
  }));
  // Every pair is compared (a day holds a handful of windows), so each overlap is named.
  ranges.forEach((range, index) => {
    if (range.start >= range.end) {
      problems.push({ index, message: "must end after it starts" });
      return;
    }
    for (let earlier = 0; earlier < index; earlier++) {
      const other = ranges[earlier];
      if (
        other.group === range.group && other.start < other.end && other.start < range.end && range.start < other.end
      ) {
        problems.push({ index, message: `overlaps ${describe(windows[earlier])}` });
      }
    }
  });
  return problems;
}

/** A weekly rule as the API describes it: `Monday 09:00–12:00`. */
export function describeWeekly(rule: Window & { dayOfWeek: number }): string {
  return `${DAY_NAMES[rule.dayOfWeek - 1]} ${rule.start}–${rule.end}`;
}
