ALTER TYPE "public"."notification_status" ADD VALUE 'SENDING' BEFORE 'SENT';--> statement-breakpoint
ALTER TABLE "idempotency_keys" ADD COLUMN "claim_id" uuid;--> statement-breakpoint
ALTER TABLE "idempotency_keys" ADD COLUMN "lease_expires_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "notifications" ADD COLUMN "sending_started_at" timestamp with time zone;--> statement-breakpoint
-- Stores the answer of an Idempotency-Key only for the request that still holds its claim. A
-- request whose lease lapsed and whose claim a retry took over must not commit its work as well:
-- raising (SQLSTATE IK001) aborts the whole batch the answer is part of.
CREATE FUNCTION "public"."store_idempotent_answer"(
	p_user_id uuid, p_key text, p_claim_id uuid, p_status integer, p_body jsonb
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	UPDATE "public"."idempotency_keys"
	SET "response_status" = p_status, "response_body" = p_body
	WHERE "user_id" = p_user_id AND "key" = p_key AND "claim_id" = p_claim_id AND "response_status" IS NULL;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'Idempotency-Key claim % is no longer held by this request', p_claim_id
			USING ERRCODE = 'IK001';
	END IF;
END;
$$;
--> statement-breakpoint
-- The mock payment provider keeps its books in the database (a restart forgets no payment), a
-- refund keeps why the provider refused it, and the sweep for lost notification sends reads a
-- partial index (a claim's start is cleared when it leaves SENDING).
CREATE TABLE "mock_payment_intents" (
	"id" text PRIMARY KEY NOT NULL,
	"idempotency_key" text NOT NULL,
	"status" text NOT NULL,
	"amount" bigint NOT NULL,
	"refunded_amount" bigint DEFAULT 0 NOT NULL,
	"currency" char(3) NOT NULL,
	"client_secret" text NOT NULL,
	"booking_id" uuid,
	"failure_code" text,
	"created" bigint NOT NULL,
	CONSTRAINT "mock_payment_intents_amounts" CHECK ("mock_payment_intents"."amount" > 0 and "mock_payment_intents"."refunded_amount" between 0 and "mock_payment_intents"."amount")
);
--> statement-breakpoint
CREATE TABLE "mock_refunds" (
	"id" text PRIMARY KEY NOT NULL,
	"idempotency_key" text NOT NULL,
	"payment_intent_id" text NOT NULL,
	"amount" bigint NOT NULL,
	"currency" char(3) NOT NULL,
	"status" text NOT NULL,
	"created" bigint NOT NULL
);
--> statement-breakpoint
ALTER TABLE "refunds" ADD COLUMN "failure_reason" text;--> statement-breakpoint
ALTER TABLE "mock_refunds" ADD CONSTRAINT "mock_refunds_payment_intent_id_mock_payment_intents_id_fk" FOREIGN KEY ("payment_intent_id") REFERENCES "public"."mock_payment_intents"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "mock_payment_intents_idempotency_key" ON "mock_payment_intents" USING btree ("idempotency_key");--> statement-breakpoint
CREATE INDEX "mock_payment_intents_created_idx" ON "mock_payment_intents" USING btree ("created");--> statement-breakpoint
CREATE UNIQUE INDEX "mock_refunds_idempotency_key" ON "mock_refunds" USING btree ("idempotency_key");--> statement-breakpoint
CREATE INDEX "mock_refunds_created_idx" ON "mock_refunds" USING btree ("created");--> statement-breakpoint
CREATE INDEX "notifications_sending_idx" ON "notifications" USING btree ("sending_started_at") WHERE "notifications"."sending_started_at" is not null;--> statement-breakpoint
CREATE INDEX "refunds_status_idx" ON "refunds" USING btree ("status","updated_at");
