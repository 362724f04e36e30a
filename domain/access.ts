/**
 * Roles and the permission matrix of the eSalão source: CLIENT < PROFESSIONAL < SALON_OWNER < ADMIN,
 * each role holding the rights of the one before plus its own. Ownership (whose salon, whose
 * booking) is decided per object by the routes; this module answers what a role may do at all.
 */

export const ROLES = ["CLIENT", "PROFESSIONAL", "SALON_OWNER", "ADMIN"] as const;
export type Role = typeof ROLES[number];

/** Roles a person may pick when registering; the others are granted by an owner or an admin. */
export const SELF_SERVICE_ROLES: readonly Role[] = ["CLIENT", "SALON_OWNER"];

/** The permissions each role adds to those of the role below it. */
const GRANTS = {
  CLIENT: [
    "profile:read",
    "profile:update",
    "catalog:read",
    "slots:read",
    "bookings:create",
    "bookings:read:own",
    "bookings:cancel:own",
    "payments:read:own",
    "waitlist:join",
    "loyalty:read:own",
    "notifications:read:own",
  ],
  PROFESSIONAL: [
    "schedule:read:own",
    "availability:manage:own",
    "bookings:read:assigned",
    "bookings:complete",
    "bookings:no-show",
  ],
  SALON_OWNER: [
    "salons:create",
    "salons:manage:own",
    "professionals:manage",
    "services:manage",
    "availability:manage:salon",
    "policies:manage",
    "bookings:read:salon",
    "bookings:cancel:salon",
    "payments:read:salon",
    "refunds:create",
    "reports:read:salon",
  ],
  ADMIN: [
    "users:read",
    "users:manage",
    "salons:manage:any",
    "bookings:read:any",
    "payments:read:any",
    "payments:reconcile",
    "jobs:manage",
    "reports:read:any",
  ],
} as const satisfies Record<Role, readonly string[]>;

export type Permission = typeof GRANTS[Role][number];

/** Returns a role's rank: higher ranks hold every right of lower ones. */
export function roleRank(role: Role): number {
  return ROLES.indexOf(role);
}

/** True when `role` is `other` or above it. */
export function isAtLeast(role: Role, other: Role): boolean {
  return roleRank(role) >= roleRank(other);
}

/** Returns every permission a role holds, its own and those it inherits. */
export function permissionsOf(role: Role): ReadonlySet<Permission> {
  return new Set(ROLES.slice(0, roleRank(role) + 1).flatMap((r) => GRANTS[r] as readonly Permission[]));
}

const MATRIX = new Map(ROLES.map((role) => [role, permissionsOf(role)]));

/** True when the role holds the permission. */
export function can(role: Role, permission: Permission): boolean {
  return MATRIX.get(role)!.has(permission);
}

/** Who may give a user a role: admins any role; owners only PROFESSIONAL (linking staff to a salon). */
export function canGrantRole(actor: Role, target: Role): boolean {
  if (actor === "ADMIN") return true;
  return actor === "SALON_OWNER" && target === "PROFESSIONAL";
}
