/**
 * Money arithmetic on integer minor units. Shares are given in basis points (1/100 of a percent) and
 * rounded half up to a whole minor unit, computed exactly (BigInt) so large prices never lose a unit.
 */

/** 100% in basis points. */
export const WHOLE_BASIS_POINTS = 10_000;

export type DepositRule = { kind: "NONE" | "PERCENTAGE" | "FIXED"; value: number }; // PERCENTAGE in basis points, FIXED in minor units

function requireWholeAmount(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a whole number of minor units, 0 or more (got ${value})`);
  }
}

/** `basisPoints` of `amount`, rounded half up to a whole minor unit: 3333 bp of 1001 is 334. */
export function shareOf(amount: number, basisPoints: number): number {
  requireWholeAmount("amount", amount);
  if (!Number.isInteger(basisPoints) || basisPoints < 0 || basisPoints > WHOLE_BASIS_POINTS) {
    throw new RangeError(`basis points must be a whole number from 0 to ${WHOLE_BASIS_POINTS} (got ${basisPoints})`);
  }
  const whole = BigInt(WHOLE_BASIS_POINTS);
  return Number((BigInt(amount) * BigInt(basisPoints) + whole / 2n) / whole);
}

/** The deposit due for a price: PERCENTAGE rounds half up to a whole minor unit; FIXED is capped at the price; NONE is 0. */
export function depositFor(price: number, rule: DepositRule): number {
  requireWholeAmount("price", price);
  switch (rule.kind) {
    case "NONE":
      return 0;
    case "PERCENTAGE":
      return shareOf(price, rule.value);
    case "FIXED":
      requireWholeAmount("fixed deposit", rule.value);
      return Math.min(rule.value, price);
  }
}
