/** The message budgets' pure helpers: which windows a message counts in, how addresses are keyed, the stored reason. */
import assert from "node:assert/strict";
import {
  budgetWindows,
  MESSAGE_BUDGETS,
  type MessageKind,
  PHONE_CODE,
  PHONE_CONFIRMS_PER_ACCOUNT,
  phoneDigits,
  recipientKey,
  samePhone,
  suppressionReason,
} from "../../domain/message_limits.ts";

Deno.test("message limits", async (t) => {
  await t.step("a phone number is its digits: formatting never makes two numbers of one", () => {
    assert.equal(phoneDigits("+55 (11) 91234-0000"), "5511912340000");
    assert.ok(samePhone("+55 (11) 91234-0000", "5511 91234 0000"));
    assert.ok(!samePhone("+55 11 91234-0000", "+55 11 91234-0001"));
    assert.ok(samePhone(null, undefined));
    assert.ok(!samePhone(null, "+55 11 91234-0000"));
  });

  await t.step("recipients are keyed by the address as delivered: emails lower-cased, phones by digits", () => {
    assert.equal(recipientKey("  Ana@Example.COM "), "ana@example.com");
    assert.equal(recipientKey("+1 (212) 555-0100"), "12125550100");
  });

  await t.step("a message counts in every recipient window, then every caller window", () => {
    const windows = budgetWindows("password_reset", { recipient: "r", caller: "203.0.113.7" });
    assert.deepEqual(
      windows.map((w) => [w.scope, w.name, w.id, w.limit, w.windowMs]),
      [
        ["recipient", "msg:password_reset:to", "r", 3, 3_600_000],
        ["recipient", "msg:password_reset:to", "r", 10, 86_400_000],
        ["caller", "msg:password_reset:by", "203.0.113.7", 10, 3_600_000],
      ],
    );
    assert.deepEqual(budgetWindows("booking_sms", { recipient: "r" }).map((w) => w.limit), [5, 15]);
    assert.deepEqual(budgetWindows("verify_email", { caller: "u" }).map((w) => w.scope), ["caller"]);
  });

  await t.step("every kind has a recipient budget, and callers are bounded wherever a caller asks", () => {
    for (
      const [kind, budget] of Object.entries(MESSAGE_BUDGETS) as [MessageKind, typeof MESSAGE_BUDGETS[MessageKind]][]
    ) {
      assert.ok(budget.perRecipient.length > 0, kind);
      if (!kind.startsWith("booking_")) assert.ok(budget.perCaller.length > 0, kind);
      for (const w of [...budget.perRecipient, ...budget.perCaller]) assert.ok(w.limit >= 1 && w.windowMinutes >= 1);
    }
  });

  await t.step("a 6-digit code survives few guesses a day", () => {
    const codesPerDay = Math.min(
      ...MESSAGE_BUDGETS.verify_phone.perCaller.map((w) => w.limit * (24 * 60) / w.windowMinutes),
    );
    const guessesPerDay = Math.min(
      codesPerDay * PHONE_CODE.attemptsPerCode,
      PHONE_CONFIRMS_PER_ACCOUNT.limit * (24 * 60) / PHONE_CONFIRMS_PER_ACCOUNT.windowMinutes,
    );
    assert.ok(guessesPerDay / 10 ** PHONE_CODE.digits < 1e-4, String(guessesPerDay));
  });

  await t.step("the stored reason names the limit and its span, never an address", () => {
    assert.equal(
      suppressionReason({ scope: "recipient", limit: 5, windowMinutes: 60 }),
      "message limit reached: at most 5 per hour per recipient",
    );
    assert.equal(
      suppressionReason({ scope: "caller", limit: 10, windowMinutes: 2 * 24 * 60 }),
      "message limit reached: at most 10 per 2 days per caller",
    );
    assert.equal(
      suppressionReason({ scope: "recipient", limit: 2, windowMinutes: 15 }),
      "message limit reached: at most 2 per 15 minutes per recipient",
    );
  });
});
