ALTER TYPE "public"."notification_status" ADD VALUE 'SENDING' BEFORE 'SENT';--> statement-breakpoint
ALTER TABLE "idempotency_keys" ADD COLUMN "claim_id" uuid;--> statement-breakpoint
ALTER TABLE "idempotency_keys" ADD COLUMN "lease_expires_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "notifications" ADD COLUMN "sending_started_at" timestamp with time zone;