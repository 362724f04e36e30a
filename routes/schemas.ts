/** Field schemas shared by the catalog routes. */
import { z } from "@hono/zod-openapi";

/** True for an IANA zone name Temporal knows ("America/Sao_Paulo", "UTC"), false for offsets and junk. */
export function isIanaTimeZone(value: string): boolean {
  if (!/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/.test(value)) return false;
  try {
    new Temporal.ZonedDateTime(0n, value);
    return true;
  } catch {
    return false;
  }
}

export const timeZoneSchema = z.string().max(64).refine(isIanaTimeZone, "must be an IANA time zone name")
  .openapi({ example: "America/Sao_Paulo" });
export const currencySchema = z.string().regex(/^[A-Z]{3}$/, "must be an ISO 4217 code in capitals")
  .openapi({ example: "BRL" });
export const moneySchema = z.number().int("must be whole minor units").min(0).max(1_000_000_000_00)
  .openapi({ description: "Minor units of the salon's currency (cents)", example: 8000 });
export const emailSchema = z.string().trim().toLowerCase().pipe(z.email()).pipe(z.string().max(254));
export const idParam = z.object({ id: z.uuid() });
/** `"true"` / `"false"` in a query string. */
export const booleanQuery = z.enum(["true", "false"]).transform((v) => v === "true");
/** Wall-clock time of day, `HH:MM`; `24:00` only where an end is meant. */
export const wallTimeSchema = z.string().regex(/^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$/, "must be HH:MM")
  .openapi({ example: "09:00" });
export const plainDateSchema = z.iso.date().openapi({ example: "2026-12-24" });
export const instantSchema = z.iso.datetime({ offset: true }).openapi({ example: "2026-03-08T15:00:00Z" });
