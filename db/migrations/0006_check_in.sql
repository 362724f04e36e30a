ALTER TABLE "bookings" ADD COLUMN "checked_in_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "salons" ADD COLUMN "no_show_tolerance_minutes" smallint DEFAULT 15 NOT NULL;--> statement-breakpoint
ALTER TABLE "salons" ADD CONSTRAINT "salons_no_show_tolerance" CHECK ("salons"."no_show_tolerance_minutes" between 0 and 240);