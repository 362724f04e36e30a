ALTER TYPE "public"."notification_status" ADD VALUE 'SUPPRESSED';--> statement-breakpoint
CREATE TABLE "admin_bootstrap_grants" (
	"email" text PRIMARY KEY NOT NULL,
	"user_id" uuid NOT NULL,
	"granted_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "professional_invitations" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"professional_id" uuid NOT NULL,
	"email" text NOT NULL,
	"token_hash" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"used_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "professional_invitations_email_normalised" CHECK ("professional_invitations"."email" = lower(btrim("professional_invitations"."email")))
);
--> statement-breakpoint
ALTER TABLE "bookings" DROP CONSTRAINT "bookings_amounts";--> statement-breakpoint
ALTER TABLE "user_tokens" DROP CONSTRAINT "user_tokens_purpose";--> statement-breakpoint
ALTER TABLE "notifications" ALTER COLUMN "user_id" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "professionals" ALTER COLUMN "user_id" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "bookings" ADD COLUMN "person_id" uuid;--> statement-breakpoint
ALTER TABLE "bookings" ADD COLUMN "carried_fee_amount" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "cancellation_policies" ADD COLUMN "reschedule_in_fee_window" text DEFAULT 'CHARGE' NOT NULL;--> statement-breakpoint
ALTER TABLE "notifications" ADD COLUMN "address" text;--> statement-breakpoint
ALTER TABLE "salons" ADD COLUMN "max_open_holds_per_client" smallint DEFAULT 2 NOT NULL;--> statement-breakpoint
ALTER TABLE "salons" ADD COLUMN "max_future_bookings_per_client" smallint DEFAULT 10 NOT NULL;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "phone_verified_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "admin_bootstrap_grants" ADD CONSTRAINT "admin_bootstrap_grants_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "professional_invitations" ADD CONSTRAINT "professional_invitations_professional_id_professionals_id_fk" FOREIGN KEY ("professional_id") REFERENCES "public"."professionals"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "professional_invitations_hash_key" ON "professional_invitations" USING btree ("token_hash");--> statement-breakpoint
CREATE INDEX "professional_invitations_professional_idx" ON "professional_invitations" USING btree ("professional_id");--> statement-breakpoint
CREATE INDEX "bookings_person_idx" ON "bookings" USING btree ("person_id","starts_at");--> statement-breakpoint
CREATE INDEX "professionals_user_idx" ON "professionals" USING btree ("user_id");--> statement-breakpoint
ALTER TABLE "bookings" ADD CONSTRAINT "bookings_amounts" CHECK ("bookings"."price_amount" >= 0 and "bookings"."deposit_amount" >= 0 and "bookings"."fee_amount" >= 0 and "bookings"."carried_fee_amount" >= 0);--> statement-breakpoint
ALTER TABLE "cancellation_policies" ADD CONSTRAINT "cancellation_policies_reschedule" CHECK ("cancellation_policies"."reschedule_in_fee_window" in ('CHARGE', 'REFUSE'));--> statement-breakpoint
ALTER TABLE "notifications" ADD CONSTRAINT "notifications_recipient" CHECK ("notifications"."user_id" is not null or "notifications"."address" is not null);--> statement-breakpoint
ALTER TABLE "salons" ADD CONSTRAINT "salons_client_limits" CHECK ("salons"."max_open_holds_per_client" between 1 and 100 and "salons"."max_future_bookings_per_client" between 1 and 500);--> statement-breakpoint
ALTER TABLE "user_tokens" ADD CONSTRAINT "user_tokens_purpose" CHECK ("user_tokens"."purpose" in ('VERIFY_EMAIL', 'RESET_PASSWORD', 'INVITATION', 'VERIFY_PHONE'));
--> statement-breakpoint
-- A person is never in two places at once: bookings carry the person who serves (the professional's
-- account, or the professional record while it is unlinked), kept by triggers so no write can set it.
CREATE FUNCTION "bookings_set_person"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  SELECT coalesce(p."user_id", p."id") INTO NEW."person_id" FROM "professionals" p WHERE p."id" = NEW."professional_id";
  RETURN NEW;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "bookings_set_person" BEFORE INSERT OR UPDATE OF "professional_id", "person_id" ON "bookings"
  FOR EACH ROW EXECUTE FUNCTION "bookings_set_person"();
--> statement-breakpoint
-- Linking a professional record to an account (an accepted invitation) moves its bookings to that
-- person; the exclusion constraint refuses the link if it would put the person in two places.
CREATE FUNCTION "professionals_move_bookings"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE "bookings" SET "person_id" = coalesce(NEW."user_id", NEW."id") WHERE "professional_id" = NEW."id";
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "professionals_move_bookings" AFTER UPDATE OF "user_id" ON "professionals"
  FOR EACH ROW WHEN (OLD."user_id" IS DISTINCT FROM NEW."user_id") EXECUTE FUNCTION "professionals_move_bookings"();
--> statement-breakpoint
UPDATE "bookings" b SET "person_id" = coalesce(p."user_id", p."id") FROM "professionals" p WHERE p."id" = b."professional_id";
--> statement-breakpoint
ALTER TABLE "bookings" ALTER COLUMN "person_id" SET NOT NULL;
--> statement-breakpoint
ALTER TABLE "bookings" DROP CONSTRAINT "bookings_no_overlap";
--> statement-breakpoint
-- Same rule as before, over the person instead of the professional record (see 0001).
ALTER TABLE "bookings" ADD CONSTRAINT "bookings_no_overlap"
  EXCLUDE USING gist (
    "person_id" WITH =,
    tstzrange("block_starts_at", "block_ends_at", '[)') WITH &&
  ) WHERE ("status" IN ('PENDING', 'CONFIRMED') AND NOT "overbooked");
