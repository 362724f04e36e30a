/**
 * Sliding-window rate limiting, decided from two fixed-window counters: the previous window's count
 * weighs in by how much of it still overlaps the sliding window.
 */

export interface WindowCounts {
  limit: number;
  windowMs: number;
  /** Time since the current fixed window began. */
  elapsedMs: number;
  /** Requests counted in the current window, this one included. */
  current: number;
  /** Requests counted in the previous window. */
  previous: number;
}

export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Seconds until the current window ends. */
  resetSeconds: number;
  /** Seconds until a request would be allowed again (0 when allowed). */
  retryAfterSeconds: number;
}

/** Decides whether the request that brought `current` to its value is within the limit. */
export function slidingWindow(counts: WindowCounts): RateDecision {
  const { limit, windowMs, elapsedMs, current, previous } = counts;
  // In units of request·ms so that the comparison is exact: with fractions, 54 × (1 − 1/3) comes
  // out a hair above 36 and a request that should pass is refused.
  const usedScaled = previous * (windowMs - elapsedMs) + current * windowMs;
  const allowed = usedScaled <= limit * windowMs;
  const untilWindowEnd = windowMs - elapsedMs;
  let waitMs = 0;
  if (!allowed) {
    // Within this window the previous count fades; the next request needs used + 1 <= limit.
    const room = limit - 1 - current;
    if (room >= 0 && previous > 0) {
      waitMs = Math.max(0, windowMs * (1 - room / previous) - elapsedMs);
    } else {
      // Only the next window helps: then this window's count fades instead.
      const fade = current > 0 ? Math.max(0, windowMs * (1 - (limit - 1) / current)) : 0;
      waitMs = untilWindowEnd + fade;
    }
  }
  return {
    allowed,
    limit,
    remaining: Math.max(0, Math.floor((limit * windowMs - usedScaled) / windowMs)),
    resetSeconds: Math.max(1, Math.ceil(untilWindowEnd / 1000)),
    retryAfterSeconds: allowed ? 0 : Math.max(1, Math.ceil(waitMs / 1000)),
  };
}
