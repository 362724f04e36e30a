/**
 * The mock payment provider's books in the database: a new provider object over the same database
 * (a restart) knows every intent and refund; concurrent refunds with one idempotency key refund
 * once, and refunds racing for what remains never take the same money. On the embedded database
 * and, when it answers, on the machine's PostgreSQL.
 */
import assert from "node:assert/strict";
import { MockPaymentProvider, TEST_CARDS } from "../../adapters/payments_mock.ts";
import { PaymentProviderError } from "../../adapters/payments.ts";
import { openDatabase } from "../../db/client.ts";
import { migrate } from "../../db/migrate.ts";
import { createScratchDatabase, postgresAvailable } from "../support/postgres.ts";

for (const where of ["embedded", "postgres"] as const) {
  Deno.test({
    name: `mock provider books on ${where === "embedded" ? "the embedded database" : "PostgreSQL"}`,
    ignore: where === "postgres" && !postgresAvailable,
    async fn() {
      const scratch = where === "postgres" ? await createScratchDatabase() : undefined;
      const database = await openDatabase({ url: scratch?.url });
      try {
        await migrate(database.sql);
        const events: string[] = [];
        const start = () =>
          new MockPaymentProvider({
            db: database.db,
            emit: (event) => {
              events.push(event.type);
              return Promise.resolve();
            },
          });
        const first = start();
        const bookingId = crypto.randomUUID();
        const deposit = { bookingId, amount: 5000, currency: "brl", idempotencyKey: `booking:${bookingId}:deposit` };
        const intent = await first.createDeposit(deposit);
        assert.equal((await first.createDeposit(deposit)).id, intent.id, "the same key makes nothing new");
        await first.confirm(intent.id, TEST_CARDS.succeeds);

        const restarted = start();
        assert.deepEqual(await restarted.retrieve(intent.id), { ...intent, status: "succeeded" });
        await assert.rejects(restarted.confirm(intent.id, TEST_CARDS.succeeds), PaymentProviderError);

        const key = `booking:${bookingId}:refund:1`;
        const same = await Promise.all(
          Array.from(
            { length: 5 },
            () => restarted.refund({ paymentId: intent.id, amount: 3000, idempotencyKey: key }),
          ),
        );
        assert.equal(new Set(same.map((r) => r.id)).size, 1);
        assert.equal(events.filter((type) => type === "refund.updated").length, 1, "one refund, announced once");

        const racing = await Promise.allSettled(
          [2, 3, 4].map((n) =>
            start().refund({ paymentId: intent.id, amount: 2000, idempotencyKey: `booking:${bookingId}:refund:${n}` })
          ),
        );
        assert.equal(racing.filter((r) => r.status === "fulfilled").length, 1);
        for (const refused of racing.filter((r) => r.status === "rejected")) {
          assert.equal(((refused as PromiseRejectedResult).reason as PaymentProviderError).code, "amount_too_large");
        }
        const refunds = await start().listRefundsSince(0);
        assert.equal(refunds.reduce((sum, r) => sum + r.amount, 0), 5000);
        await assert.rejects(
          start().refund({ paymentId: "pi_mock_unknown", amount: 100, idempotencyKey: "k" }),
          (error) => error instanceof PaymentProviderError && error.code === "charge_not_refundable",
        );
      } finally {
        await database.close();
        await scratch?.drop();
      }
    },
  });
}
