/**
 * Overbooking: when a time range is taken, a salon may let it hold a few more bookings, flagged as
 * overbooked. The rule gives a percentage of the range's capacity (1 for a professional's own
 * rule, the number of active professionals for a salon's rule); the extra places are that share,
 * rounded down. Without auto-accept an overbooked booking waits for the owner; with VIP priority
 * only returning clients may take one.
 */

export interface OverbookingRule {
  maxOverbookingPercent: number;
  autoAccept: boolean;
  vipPriority: boolean;
}

/** Extra bookings one time range may hold under the rule. */
export function extraPlaces(rule: OverbookingRule, capacity: number): number {
  return Math.floor((Math.max(0, capacity) * rule.maxOverbookingPercent) / 100);
}

export type OverbookingDecision =
  | { allowed: false; reason: string }
  | { allowed: true; limit: number; needsApproval: boolean };

/**
 * Whether a client may try for an overbooked place (the database then counts the places taken,
 * under a lock, against `limit`).
 */
export function overbookingDecision(
  rule: OverbookingRule | null,
  capacity: number,
  client: { returning: boolean },
): OverbookingDecision {
  if (!rule) return { allowed: false, reason: "the salon does not overbook" };
  const limit = extraPlaces(rule, capacity);
  if (limit === 0) return { allowed: false, reason: "the salon's overbooking allows no extra place here" };
  if (rule.vipPriority && !client.returning) {
    return { allowed: false, reason: "extra places are kept for returning clients" };
  }
  return { allowed: true, limit, needsApproval: !rule.autoAccept };
}
