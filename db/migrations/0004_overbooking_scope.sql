ALTER TABLE "overbooking_configs" DROP CONSTRAINT "overbooking_configs_capacity";--> statement-breakpoint
DROP INDEX "overbooking_configs_scope_key";--> statement-breakpoint
ALTER TABLE "bookings" ADD COLUMN "approval_required" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "overbooking_configs" DROP COLUMN "max_concurrent";--> statement-breakpoint
ALTER TABLE "overbooking_configs" ADD CONSTRAINT "overbooking_configs_scope_key" UNIQUE NULLS NOT DISTINCT("salon_id","professional_id");