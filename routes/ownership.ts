/**
 * Ownership checks shared by the catalog routes. A role that may never do something gets 403; an
 * object that is not the caller's gets 404 exactly as a missing one would, so ids cannot be probed.
 */
import type { Context } from "hono";
import type { Db } from "../db/client.ts";
import { findSalon, type SalonRow } from "../db/salons.ts";
import { can, type Permission } from "../domain/access.ts";
import type { AppEnv } from "./app.ts";
import { forbidden, notFound } from "./errors.ts";

type Auth = NonNullable<AppEnv["Variables"]["auth"]>;

/** True when the caller may manage this salon: its owner, or an admin. */
export function managesSalon(auth: Auth | undefined, salon: Pick<SalonRow, "ownerId">): boolean {
  if (!auth) return false;
  return can(auth.role, "salons:manage:any") || (can(auth.role, "salons:manage:own") && salon.ownerId === auth.userId);
}

/** Throws 403 unless the caller's role holds the permission. */
export function requirePermission(c: Context<AppEnv>, permission: Permission): Auth {
  const auth = c.var.auth!;
  if (!can(auth.role, permission)) throw forbidden();
  return auth;
}

/**
 * Loads a salon the caller manages for an action that needs `permission`; a salon of someone else
 * is answered as not found.
 */
export async function managedSalon(c: Context<AppEnv>, db: Db, salonId: string, permission: Permission) {
  const auth = requirePermission(c, permission);
  const salon = await findSalon(db, salonId);
  if (!salon || !managesSalon(auth, salon)) throw notFound("salon");
  return salon;
}

/** True when the caller may see a booking: its client, its professional, its salon's owner, or an admin. */
export function seesBooking(
  auth: Auth | undefined,
  parties: { booking: { clientId: string }; professionalUserId: string | null; salonOwnerId: string },
): boolean {
  if (!auth) return false;
  return can(auth.role, "bookings:read:any") ||
    (parties.booking.clientId === auth.userId && can(auth.role, "bookings:read:own")) ||
    (parties.professionalUserId === auth.userId && can(auth.role, "bookings:read:assigned")) ||
    (parties.salonOwnerId === auth.userId && can(auth.role, "bookings:read:salon"));
}
