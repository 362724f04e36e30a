ALTER TABLE "overbooking_configs" ADD COLUMN "max_overbooking_percent" smallint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "overbooking_configs" ADD COLUMN "auto_accept" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "overbooking_configs" ADD COLUMN "vip_priority" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "overbooking_configs" ADD CONSTRAINT "overbooking_configs_percent" CHECK ("overbooking_configs"."max_overbooking_percent" between 0 and 1000);