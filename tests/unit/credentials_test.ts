import assert from "node:assert/strict";
import fc from "fast-check";
import { normaliseEmail, passwordProblems } from "../../domain/credentials.ts";

Deno.test("passwordProblems", async (t) => {
  await t.step("accepts 8+ characters with lower, upper and digit", () => {
    assert.deepEqual(passwordProblems("Secret12"), []);
    assert.deepEqual(passwordProblems("Çarpa1ção"), []);
  });

  await t.step("names each missing requirement", () => {
    assert.deepEqual(passwordProblems("short1A"), ["must have at least 8 characters"]);
    assert.deepEqual(passwordProblems("alllowercase1"), ["must contain an upper-case letter"]);
    assert.deepEqual(passwordProblems("ALLUPPERCASE1"), ["must contain a lower-case letter"]);
    assert.deepEqual(passwordProblems("NoDigitsHere"), ["must contain a digit"]);
    assert.deepEqual(passwordProblems("Aa1" + "x".repeat(126)), ["must have at most 128 characters"]);
  });

  await t.step("never accepts a password without a digit", () => {
    fc.assert(fc.property(fc.string({ minLength: 8, maxLength: 40 }), (s) => {
      if (!/\p{Nd}/u.test(s)) assert.ok(passwordProblems(s).length > 0);
    }));
  });
});

Deno.test("normaliseEmail trims and lower-cases", () => {
  assert.equal(normaliseEmail("  Ana.Souza@Example.COM "), "ana.souza@example.com");
});
