ALTER TABLE "services" ADD CONSTRAINT "services_deposit_rule" CHECK (("services"."deposit_kind" = 'NONE' and "services"."deposit_value" = 0)
      or ("services"."deposit_kind" = 'PERCENTAGE' and "services"."deposit_value" <= 10000)
      or ("services"."deposit_kind" = 'FIXED' and "services"."deposit_value" <= "services"."price_amount"));