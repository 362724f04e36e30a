ALTER TABLE "services" DROP CONSTRAINT "services_buffers";--> statement-breakpoint
ALTER TABLE "bookings" ADD CONSTRAINT "bookings_block_bounds" CHECK ("bookings"."block_starts_at" >= "bookings"."starts_at" - interval '240 minutes'
      and "bookings"."block_ends_at" <= "bookings"."ends_at" + interval '240 minutes'
      and "bookings"."ends_at" <= "bookings"."starts_at" + interval '1440 minutes');--> statement-breakpoint
ALTER TABLE "services" ADD CONSTRAINT "services_deposit_rule" CHECK (("services"."deposit_kind" = 'NONE' and "services"."deposit_value" = 0)
      or ("services"."deposit_kind" = 'PERCENTAGE' and "services"."deposit_value" <= 10000)
      or ("services"."deposit_kind" = 'FIXED' and "services"."deposit_value" <= "services"."price_amount"));--> statement-breakpoint
ALTER TABLE "services" ADD CONSTRAINT "services_buffers" CHECK ("services"."buffer_before_minutes" between 0 and 240 and "services"."buffer_after_minutes" between 0 and 240);