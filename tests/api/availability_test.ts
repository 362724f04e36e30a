/** Availability routes: who edits whose hours, overlap rejection, overrides, time off and closures. */
import assert from "node:assert/strict";
import { eq } from "drizzle-orm";
import { auditEvents, availabilityRules } from "../../db/schema.ts";
import { apiClient } from "../support/api.ts";
import { makeTestApp } from "../support/app.ts";
import { makeLinkedProfessional, makeSalon } from "../support/catalog.ts";
import { makeUser } from "../support/users.ts";

Deno.test("availability", async (t) => {
  const testApp = await makeTestApp({ LOG_LEVEL: "silent" }, { now: () => new Date("2026-12-01T12:00:00Z") });
  const send = apiClient(testApp);
  const db = testApp.deps.database.db;
  const owner = await makeUser(testApp, "SALON_OWNER");
  const rival = await makeUser(testApp, "SALON_OWNER");
  const person = await makeUser(testApp, "PROFESSIONAL");
  const colleague = await makeUser(testApp, "PROFESSIONAL");
  const client = await makeUser(testApp, "CLIENT");
  const salon = await makeSalon(send, owner, { time_zone: "Europe/Lisbon", currency: "EUR" });
  const pro = await makeLinkedProfessional(testApp, send, owner, salon.id, person);
  const other = await makeLinkedProfessional(testApp, send, owner, salon.id, colleague);
  const week = [
    { day_of_week: 1, start: "09:00", end: "12:00" },
    { day_of_week: 1, start: "12:00", end: "18:00" },
    { day_of_week: 6, start: "10:00", end: "24:00" },
  ];

  try {
    await t.step("a professional sets their own week; anyone reads it in the salon's zone", async () => {
      const res = await send("PUT", `/professionals/${pro.id}/availability/rules`, person, { rules: week });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const read = await send("GET", `/professionals/${pro.id}/availability/rules`, null);
      assert.equal(read.body.time_zone, "Europe/Lisbon");
      assert.deepEqual(read.body.rules, week);
    });

    await t.step("overlapping windows are rejected naming both, and nothing changes", async () => {
      const res = await send("PUT", `/professionals/${pro.id}/availability/rules`, person, {
        rules: [...week, { day_of_week: 1, start: "11:00", end: "13:00" }],
      });
      assert.equal(res.status, 400);
      assert.deepEqual(res.body.errors, [
        { path: "rules.3", message: "overlaps Monday 09:00–12:00" },
        { path: "rules.3", message: "overlaps Monday 12:00–18:00" },
      ]);
      const bad = await send("PUT", `/professionals/${pro.id}/availability/rules`, person, {
        rules: [{ day_of_week: 8, start: "09:00", end: "9:00" }],
      });
      assert.equal(bad.status, 400);
      assert.deepEqual(bad.body.errors.map((e: { path: string }) => e.path).sort(), [
        "rules.0.day_of_week",
        "rules.0.end",
      ]);
      const rows = await db.select().from(availabilityRules).where(eq(availabilityRules.professionalId, pro.id));
      assert.equal(rows.length, 3);
    });

    await t.step("the owner edits their professionals; others get 404, clients 403", async () => {
      const byOwner = await send("PUT", `/professionals/${other.id}/availability/rules`, owner, { rules: week });
      assert.equal(byOwner.status, 200);
      assert.equal(
        (await send("PUT", `/professionals/${other.id}/availability/rules`, person, { rules: [] })).status,
        404,
      );
      assert.equal(
        (await send("PUT", `/professionals/${other.id}/availability/rules`, rival, { rules: [] })).status,
        404,
      );
      assert.equal(
        (await send("PUT", `/professionals/${other.id}/availability/rules`, client, { rules: [] })).status,
        403,
      );
      assert.equal(
        (await send("PUT", `/professionals/${other.id}/availability/rules`, null, { rules: [] })).status,
        401,
      );
      const rows = await db.select().from(availabilityRules).where(eq(availabilityRules.professionalId, other.id));
      assert.equal(rows.length, 3);
      const events = await db.select().from(auditEvents).where(eq(auditEvents.entityId, other.id));
      assert.ok(events.some((e) => e.action === "availability.rules_replaced" && e.actorId === owner.id));
    });

    await t.step("date overrides close a day or replace its hours, and can be removed", async () => {
      const closed = await send("PUT", `/professionals/${pro.id}/availability/overrides/2026-12-24`, person, {
        closed: true,
      });
      assert.equal(closed.status, 200);
      const hours = await send("PUT", `/professionals/${pro.id}/availability/overrides/2026-12-26`, person, {
        windows: [{ start: "14:00", end: "16:00" }, { start: "09:00", end: "11:00" }],
      });
      assert.deepEqual(hours.body, {
        date: "2026-12-26",
        closed: false,
        windows: [{ start: "09:00", end: "11:00" }, { start: "14:00", end: "16:00" }],
      });
      const overlap = await send("PUT", `/professionals/${pro.id}/availability/overrides/2026-12-27`, person, {
        windows: [{ start: "09:00", end: "11:00" }, { start: "10:00", end: "12:00" }],
      });
      assert.equal(overlap.status, 400);
      assert.equal(overlap.body.errors[0].path, "windows.1");
      assert.equal(
        (await send("PUT", `/professionals/${pro.id}/availability/overrides/2026-02-30`, person, { closed: true }))
          .status,
        400,
      );
      const list = await send("GET", `/professionals/${pro.id}/availability/overrides?from=2026-12-01&to=2026-12-31`);
      assert.deepEqual(list.body.data.map((d: { date: string; closed: boolean }) => [d.date, d.closed]), [
        ["2026-12-24", true],
        ["2026-12-26", false],
      ]);
      assert.equal(
        (await send("DELETE", `/professionals/${pro.id}/availability/overrides/2026-12-24`, person)).status,
        204,
      );
      const after = await send("GET", `/professionals/${pro.id}/availability/overrides?from=2026-12-01&to=2026-12-31`);
      assert.equal(after.body.data.length, 1);
      const tooLong = await send(
        "GET",
        `/professionals/${pro.id}/availability/overrides?from=2026-01-01&to=2028-01-01`,
      );
      assert.equal(tooLong.status, 400);
      assert.equal(tooLong.body.errors[0].path, "query.to");
    });

    await t.step("time off is private to the professional and the salon; reversed ranges are refused", async () => {
      const created = await send("POST", `/professionals/${pro.id}/time-off`, person, {
        starts_at: "2026-12-10T09:00:00Z",
        ends_at: "2026-12-10T13:00:00Z",
        reason: "Dentist",
      });
      assert.equal(created.status, 201);
      assert.equal(created.headers.get("location"), `/api/v1/professionals/${pro.id}/time-off/${created.body.id}`);
      const reversed = await send("POST", `/professionals/${pro.id}/time-off`, person, {
        starts_at: "2026-12-10T13:00:00Z",
        ends_at: "2026-12-10T09:00:00Z",
      });
      assert.equal(reversed.status, 400);
      assert.equal(reversed.body.errors[0].path, "ends_at");
      const mine = await send("GET", `/professionals/${pro.id}/time-off`, owner);
      assert.deepEqual(mine.body.data.map((x: { reason: string }) => x.reason), ["Dentist"]);
      assert.equal((await send("GET", `/professionals/${pro.id}/time-off`, client)).status, 403);
      assert.equal((await send("GET", `/professionals/${pro.id}/time-off`, colleague)).status, 404);
      const rivalRemove = await send("DELETE", `/professionals/${pro.id}/time-off/${created.body.id}`, rival);
      assert.equal(rivalRemove.status, 404);
      // Another professional's id in the path does not reach this entry.
      assert.equal((await send("DELETE", `/professionals/${other.id}/time-off/${created.body.id}`, owner)).status, 404);
      assert.equal((await send("DELETE", `/professionals/${pro.id}/time-off/${created.body.id}`, person)).status, 204);
      assert.equal((await send("DELETE", `/professionals/${pro.id}/time-off/${created.body.id}`, person)).status, 404);
      const removals = await db.select().from(auditEvents).where(
        eq(auditEvents.action, "availability.time_off_removed"),
      );
      assert.equal(removals.length, 1);
    });

    await t.step("salon closures: the owner adds and removes them, anyone reads them", async () => {
      const res = await send("POST", `/salons/${salon.id}/closures`, owner, {
        start_date: "2026-12-25",
        end_date: "2026-12-26",
        reason: "Christmas",
      });
      assert.equal(res.status, 201);
      assert.equal((await send("POST", `/salons/${salon.id}/closures`, rival, res.body)).status, 400);
      const body = { start_date: "2026-12-31", end_date: "2026-12-31" };
      assert.equal((await send("POST", `/salons/${salon.id}/closures`, rival, body)).status, 404);
      assert.equal((await send("POST", `/salons/${salon.id}/closures`, person, body)).status, 403);
      const reversed = await send("POST", `/salons/${salon.id}/closures`, owner, {
        start_date: "2026-12-31",
        end_date: "2026-12-30",
      });
      assert.equal(reversed.status, 400);
      assert.equal(reversed.body.errors[0].path, "end_date");
      const list = await send("GET", `/salons/${salon.id}/closures?from=2026-12-01&to=2026-12-31`, null);
      assert.deepEqual(list.body.data.map((x: { reason: string }) => x.reason), ["Christmas"]);
      assert.equal((await send("DELETE", `/salons/${salon.id}/closures/${res.body.id}`, rival)).status, 404);
      assert.equal((await send("DELETE", `/salons/${salon.id}/closures/${res.body.id}`, owner)).status, 204);
    });
  } finally {
    await testApp.close();
  }
});
