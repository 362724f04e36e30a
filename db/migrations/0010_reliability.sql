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
