import assert from "node:assert/strict";
import fc from "fast-check";
import { can, canGrantRole, isAtLeast, permissionsOf, ROLES, SELF_SERVICE_ROLES } from "../../domain/access.ts";

Deno.test("access", async (t) => {
  await t.step("each role holds every permission of the roles below it", () => {
    fc.assert(fc.property(fc.constantFrom(...ROLES), fc.constantFrom(...ROLES), (a, b) => {
      if (!isAtLeast(a, b)) return;
      for (const permission of permissionsOf(b)) assert.ok(can(a, permission), `${a} lacks ${permission}`);
    }));
  });

  await t.step("each role adds something the one below lacks", () => {
    for (let i = 1; i < ROLES.length; i++) {
      assert.ok(permissionsOf(ROLES[i]).size > permissionsOf(ROLES[i - 1]).size, ROLES[i]);
    }
  });

  await t.step("a client cannot manage salons or read other people's bookings", () => {
    assert.ok(can("CLIENT", "bookings:create"));
    assert.ok(!can("CLIENT", "salons:create"));
    assert.ok(!can("CLIENT", "bookings:read:salon"));
    assert.ok(!can("PROFESSIONAL", "services:manage"));
    assert.ok(can("SALON_OWNER", "services:manage"));
    assert.ok(!can("SALON_OWNER", "users:manage"));
    assert.ok(can("ADMIN", "users:manage"));
  });

  await t.step("only clients and owners register themselves; owners grant only PROFESSIONAL", () => {
    assert.deepEqual([...SELF_SERVICE_ROLES], ["CLIENT", "SALON_OWNER"]);
    assert.ok(canGrantRole("SALON_OWNER", "PROFESSIONAL"));
    assert.ok(!canGrantRole("SALON_OWNER", "ADMIN"));
    assert.ok(!canGrantRole("PROFESSIONAL", "PROFESSIONAL"));
    for (const role of ROLES) assert.ok(canGrantRole("ADMIN", role));
  });
});
