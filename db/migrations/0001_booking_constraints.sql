-- Constraints and views that Drizzle cannot express.
CREATE EXTENSION IF NOT EXISTS btree_gist;
--> statement-breakpoint
-- A professional is never double-booked: bookings that hold time (pending with a hold, confirmed)
-- may not overlap, buffers included. Half-open ranges let back-to-back bookings fit. Overbooked
-- bookings (bounded by the overbooking configuration inside the same batch) are the only way past it.
-- NOT DEFERRABLE on purpose: a deferred violation would abort the whole batch at commit.
ALTER TABLE "bookings" ADD CONSTRAINT "bookings_no_overlap"
  EXCLUDE USING gist (
    "professional_id" WITH =,
    tstzrange("block_starts_at", "block_ends_at", '[)') WITH &&
  ) WHERE ("status" IN ('PENDING', 'CONFIRMED') AND NOT "overbooked");
--> statement-breakpoint
-- Reports read this view; a scheduled job refreshes it.
CREATE MATERIALIZED VIEW "salon_daily_stats" AS
SELECT
  b."salon_id",
  (b."starts_at" AT TIME ZONE s."time_zone")::date AS "local_date",
  b."currency",
  count(*) AS "bookings",
  count(*) FILTER (WHERE b."status" = 'COMPLETED') AS "completed",
  count(*) FILTER (WHERE b."status" = 'CANCELLED') AS "cancelled",
  count(*) FILTER (WHERE b."status" = 'NO_SHOW') AS "no_shows",
  coalesce(sum(b."price_amount") FILTER (WHERE b."status" = 'COMPLETED'), 0)::bigint AS "revenue_amount",
  coalesce(sum(b."fee_amount"), 0)::bigint AS "fees_amount"
FROM "bookings" b
JOIN "salons" s ON s."id" = b."salon_id"
GROUP BY b."salon_id", "local_date", b."currency";
--> statement-breakpoint
CREATE UNIQUE INDEX "salon_daily_stats_key" ON "salon_daily_stats" ("salon_id", "local_date", "currency");
