import assert from "node:assert/strict";
import { PasswordHasher } from "../../adapters/passwords.ts";

// Small parameters keep the suite fast; the production ones are the defaults.
const hasher = new PasswordHasher({ memoryCost: 1024, timeCost: 1, parallelism: 1 });

Deno.test("password hashing", async (t) => {
  const stored = await hasher.hash("Secret123");

  await t.step("stores argon2id, never the password", () => {
    assert.match(stored, /^\$argon2id\$v=19\$m=1024,t=1,p=1\$/);
    assert.doesNotMatch(stored, /Secret123/);
  });

  await t.step("verifies the right password and refuses others", async () => {
    assert.equal(await hasher.verify(stored, "Secret123"), true);
    assert.equal(await hasher.verify(stored, "secret123"), false);
    assert.equal(await hasher.verify("not a hash", "Secret123"), false);
  });

  await t.step("answers false for an unknown user after the same work", async () => {
    assert.equal(await hasher.verify(null, "Secret123"), false);
  });

  await t.step("asks for a rehash when the parameters change", () => {
    assert.equal(hasher.needsRehash(stored), false);
    assert.equal(new PasswordHasher().needsRehash(stored), true);
    assert.equal(hasher.needsRehash("$2b$10$bcrypt"), true);
  });
});
