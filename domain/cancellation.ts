/**
 * Cancellation policies: tiers of hours before the start, each with a fee (a share of the price plus
 * a fixed amount). A valid policy covers every moment before the start exactly once, so whatever the
 * hours left, exactly one tier applies. Instants are epoch milliseconds; `now` is an input.
 */
import { shareOf, WHOLE_BASIS_POINTS } from "./pricing.ts";

/** The most tiers a policy may have. */
export const MAX_TIERS = 10;

const MS_PER_HOUR = 3_600_000;

export interface PolicyTier {
  hoursBeforeMin: number;
  hoursBeforeMax: number | null;
  feeBasisPoints: number;
  feeFixedAmount: number;
}

/** `index` is the tier's position in the input, or -1 for the set as a whole (no tiers, too many). */
export interface TierProblem {
  index: number;
  path: string; // path like "tiers.2.hours_before_min"
  message: string;
}

/** "0–24 h before the start", "48 h or more before the start". */
function describeHours(min: number, max: number | null): string {
  return max === null ? `${min} h or more before the start` : `${min}–${max} h before the start`;
}

function hoursAreValid(tier: PolicyTier): boolean {
  return Number.isInteger(tier.hoursBeforeMin) && tier.hoursBeforeMin >= 0 &&
    (tier.hoursBeforeMax === null ||
      (Number.isInteger(tier.hoursBeforeMax) && tier.hoursBeforeMax > tier.hoursBeforeMin));
}

/** Problems of each tier's own fields, in API vocabulary. */
function fieldProblems(tier: PolicyTier, index: number): TierProblem[] {
  const problems: TierProblem[] = [];
  const at = (field: string, message: string) => problems.push({ index, path: `tiers.${index}.${field}`, message });
  if (!Number.isInteger(tier.hoursBeforeMin) || tier.hoursBeforeMin < 0) {
    at("hours_before_min", "must be a whole number of hours, 0 or more");
  } else if (
    tier.hoursBeforeMax !== null &&
    (!Number.isInteger(tier.hoursBeforeMax) || tier.hoursBeforeMax <= tier.hoursBeforeMin)
  ) {
    at("hours_before_max", "must be a whole number of hours above hours_before_min, or null for no upper bound");
  }
  if (!Number.isInteger(tier.feeBasisPoints) || tier.feeBasisPoints < 0 || tier.feeBasisPoints > WHOLE_BASIS_POINTS) {
    at("fee_percent", "must be from 0 to 100 percent");
  }
  if (!Number.isSafeInteger(tier.feeFixedAmount) || tier.feeFixedAmount < 0) {
    at("fee_fixed_amount", "must be a whole number of minor units, 0 or more");
  }
  return problems;
}

/**
 * Tiers must cover [0, ∞) hours before the start without gaps or overlaps: after sorting by min, the
 * first starts at 0, each next min equals the previous max, only the last has max null; 1..10 tiers;
 * fee basis points 0..10000; fixed fee >= 0. Problems name the offending tier by its index in the
 * INPUT order.
 *
 * Coverage is checked on the tiers whose hours are valid on their own, in order of min (ties in input
 * order): a tier starting after the covered stretch leaves a gap, one starting inside it overlaps the
 * tier that reaches furthest so far, and when no tier is open-ended the one reaching furthest is named.
 */
export function tierProblems(tiers: readonly PolicyTier[]): TierProblem[] {
  if (tiers.length === 0) return [{ index: -1, path: "tiers", message: "must have at least one tier" }];
  const problems: TierProblem[] = [];
  if (tiers.length > MAX_TIERS) {
    problems.push({ index: -1, path: "tiers", message: `must have at most ${MAX_TIERS} tiers` });
  }
  tiers.forEach((tier, index) => problems.push(...fieldProblems(tier, index)));

  const ordered = tiers.map((tier, index) => ({ tier, index })).filter(({ tier }) => hoursAreValid(tier))
    .sort((a, b) => a.tier.hoursBeforeMin - b.tier.hoursBeforeMin || a.index - b.index);
  if (ordered.length === 0) return problems;
  // Hours before the start covered so far ([0, coveredUntil)); null once an open-ended tier is seen.
  let coveredUntil: number | null = 0;
  let furthest: { tier: PolicyTier; index: number } | null = null;
  for (const current of ordered) {
    const { hoursBeforeMin: min, hoursBeforeMax: max } = current.tier;
    if (furthest !== null && (coveredUntil === null || min < coveredUntil)) {
      problems.push({
        index: current.index,
        path: `tiers.${current.index}.hours_before_min`,
        message: `overlaps tiers.${furthest.index} (${
          describeHours(furthest.tier.hoursBeforeMin, furthest.tier.hoursBeforeMax)
        })`,
      });
    } else if (coveredUntil !== null && min > coveredUntil) {
      problems.push({
        index: current.index,
        path: `tiers.${current.index}.hours_before_min`,
        message: `leaves a gap: no tier covers ${describeHours(coveredUntil, min)}`,
      });
    }
    // Always true for the first tier: its max is above its min, which is at least 0.
    if (coveredUntil !== null && (max === null || max > coveredUntil)) {
      coveredUntil = max;
      furthest = current;
    }
  }
  if (coveredUntil !== null && furthest !== null) {
    problems.push({
      index: furthest.index,
      path: `tiers.${furthest.index}.hours_before_max`,
      message: `must be null on the last tier: no tier covers ${describeHours(coveredUntil, null)}`,
    });
  }
  return problems;
}

/** The index of the tier that applies with this many hours left (min <= hours < max), or null when none does. */
export function tierIndexFor(tiers: readonly PolicyTier[], hoursBefore: number): number | null {
  const index = tiers.findIndex((tier) =>
    tier.hoursBeforeMin <= hoursBefore && (tier.hoursBeforeMax === null || hoursBefore < tier.hoursBeforeMax)
  );
  return index === -1 ? null : index;
}

export interface CancellationQuote {
  allowed: boolean;
  reason?: string;
  hoursBefore: number;
  tierIndex: number | null;
  fee: number;
  refund: number;
}

/** The tier fee with this many hours left: round-half-up(price * bp / 10000) + fixed, capped at the price; 0 without a tier. */
function tierFee(
  tiers: readonly PolicyTier[] | null,
  price: number,
  hoursBefore: number,
): { tierIndex: number | null; fee: number } {
  const tierIndex = tiers === null ? null : tierIndexFor(tiers, hoursBefore);
  const tier = tierIndex === null ? null : tiers![tierIndex];
  const fee = tier === null ? 0 : Math.min(price, shareOf(price, tier.feeBasisPoints) + tier.feeFixedAmount);
  return { tierIndex, fee };
}

/**
 * Client cancellations pay the tier matching the hours left (min <= hours < max; hours are
 * fractional, (startsAt-now)/3.6e6), fee = round-half-up(price * bp / 10000) + fixed, but at least
 * the fee a reschedule carried over (`carriedFee`, see `decideReschedule`), capped at the price;
 * refund = max(0, paid - fee). No policy (null tiers) → only the carried fee. After the start
 * (now >= startsAt) a client cannot cancel: allowed false with a reason that points to the salon.
 * Salon (and system) cancellations: fee 0, refund = paid, allowed any time, whatever was carried.
 *
 * A refused quote charges and refunds nothing (fee 0, refund 0, no tier): nothing happens. Salon and
 * system quotes name no tier either, since none applies. Tiers that leave the hours left uncovered
 * (never the case for tiers that passed `tierProblems`) charge nothing rather than guess.
 */
export function quoteCancellation(
  input: {
    tiers: readonly PolicyTier[] | null;
    price: number;
    paid: number;
    startsAt: number;
    now: number;
    by: "CLIENT" | "SALON" | "SYSTEM";
    /** The least a client's cancellation costs, carried by earlier reschedules inside a fee tier; default 0. */
    carriedFee?: number;
  },
): CancellationQuote {
  const hoursBefore = (input.startsAt - input.now) / MS_PER_HOUR;
  if (input.by !== "CLIENT") return { allowed: true, hoursBefore, tierIndex: null, fee: 0, refund: input.paid };
  if (input.now >= input.startsAt) {
    return {
      allowed: false,
      reason: "the booking has already started: please contact the salon, who can still cancel it",
      hoursBefore,
      tierIndex: null,
      fee: 0,
      refund: 0,
    };
  }
  const { tierIndex, fee: atTier } = tierFee(input.tiers, input.price, hoursBefore);
  const fee = Math.min(input.price, Math.max(atTier, input.carriedFee ?? 0));
  return { allowed: true, hoursBefore, tierIndex, fee, refund: Math.max(0, input.paid - fee) };
}

/**
 * What a client's reschedule inside a fee tier does, per policy: CHARGE carries that tier's fee onto
 * the booking (cancelling later costs at least it); REFUSE refuses the move. Copies of a policy made
 * before the rule existed mean CHARGE.
 */
export const RESCHEDULE_RULES = ["CHARGE", "REFUSE"] as const;
export type RescheduleRule = typeof RESCHEDULE_RULES[number];

export type RescheduleDecision =
  | {
    allowed: true;
    hoursBefore: number;
    tierIndex: number | null;
    /** The fee of the tier the move happens in (0 for the salon, in a free tier, or without a policy). */
    feeAtMove: number;
    /** The booking's carried fee after the move: never lower than before, never above the price. */
    carriedFee: number;
    /** The most a later client cancellation can still give back of what was paid. */
    refundable: number;
  }
  | { allowed: false; reason: string; hoursBefore: number; tierIndex: number | null; feeAtMove: number };

/**
 * Whether a reschedule may happen now, and the fee it carries. The fee is decided at the moment of
 * the change, from the hours left before the booking's CURRENT start, so moving a booking far away
 * never escapes the tier it was in:
 * - the salon (or the system) moves for free at any time and adds nothing; what the client's own
 *   moves carried stays;
 * - a client cannot move a booking at or after its start (a no-show cannot be turned into a
 *   cancellation with a refund);
 * - a client inside a tier with a fee: REFUSE refuses; CHARGE allows and sets the carried fee to
 *   max(carried so far, that tier's fee), capped at the price;
 * - a client in a free tier (or without a policy) moves freely, keeping what was carried.
 */
export function decideReschedule(
  input: {
    tiers: readonly PolicyTier[] | null;
    rule: RescheduleRule;
    price: number;
    paid: number;
    startsAt: number;
    now: number;
    by: "CLIENT" | "SALON" | "SYSTEM";
    carriedFee: number;
  },
): RescheduleDecision {
  const hoursBefore = (input.startsAt - input.now) / MS_PER_HOUR;
  const kept = Math.min(input.price, Math.max(0, input.carriedFee));
  const allowed = (tierIndex: number | null, feeAtMove: number, carriedFee: number): RescheduleDecision => ({
    allowed: true,
    hoursBefore,
    tierIndex,
    feeAtMove,
    carriedFee,
    refundable: Math.max(0, input.paid - carriedFee),
  });
  if (input.by !== "CLIENT") return allowed(null, 0, kept);
  if (input.now >= input.startsAt) {
    return {
      allowed: false,
      reason: "the booking has already started: a client cannot move it any more, please contact the salon",
      hoursBefore,
      tierIndex: null,
      feeAtMove: 0,
    };
  }
  const { tierIndex, fee } = tierFee(input.tiers, input.price, hoursBefore);
  if (fee === 0) return allowed(tierIndex, 0, kept);
  if (input.rule === "REFUSE") {
    return {
      allowed: false,
      reason: "the cancellation policy refuses a client's reschedule while a cancellation fee applies",
      hoursBefore,
      tierIndex,
      feeAtMove: fee,
    };
  }
  return allowed(tierIndex, fee, Math.max(kept, fee));
}
