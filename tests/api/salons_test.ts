/** Salon routes: ownership, validation, search by text and distance, pagination. */
import assert from "node:assert/strict";
import { and, eq } from "drizzle-orm";
import { auditEvents, salons } from "../../db/schema.ts";
import { apiClient } from "../support/api.ts";
import { makeTestApp } from "../support/app.ts";
import { makeSalon } from "../support/catalog.ts";
import { makeUser } from "../support/users.ts";

Deno.test("salons", async (t) => {
  const testApp = await makeTestApp({ LOG_LEVEL: "silent" });
  const send = apiClient(testApp);
  const db = testApp.deps.database.db;
  const owner = await makeUser(testApp, "SALON_OWNER");
  const rival = await makeUser(testApp, "SALON_OWNER");
  const client = await makeUser(testApp, "CLIENT");
  const admin = await makeUser(testApp, "ADMIN");

  try {
    await t.step("an owner opens a salon: 201, Location, defaults, audited", async () => {
      const res = await send("POST", "/salons", owner, {
        name: "Studio Lisboa",
        time_zone: "Europe/Lisbon",
        currency: "EUR",
        address: { line: "Rua Augusta 1", city: "Lisboa", country_code: "PT" },
        latitude: 38.7101,
        longitude: -9.1366,
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      assert.equal(res.headers.get("location"), `/api/v1/salons/${res.body.id}`);
      assert.equal(res.body.owner_id, owner.id);
      assert.equal(res.body.slot_step_minutes, 15);
      assert.equal(res.body.no_show_tolerance_minutes, 15);
      assert.equal(res.body.address.city, "Lisboa");
      const events = await db.select().from(auditEvents)
        .where(and(eq(auditEvents.entityId, res.body.id), eq(auditEvents.action, "salon.create")));
      assert.equal(events.length, 1);
    });

    await t.step("clients cannot open salons; anonymous callers must sign in", async () => {
      const body = { name: "Nope", time_zone: "UTC", currency: "USD" };
      assert.equal((await send("POST", "/salons", client, body)).status, 403);
      assert.equal((await send("POST", "/salons", null, body)).status, 401);
    });

    await t.step("bad input names the field and writes nothing", async () => {
      const before = (await db.select().from(salons)).length;
      const cases: [Record<string, unknown>, string][] = [
        [{ name: "X", time_zone: "Mars/Olympus", currency: "BRL" }, "time_zone"],
        [{ name: "X", time_zone: "+03:00", currency: "BRL" }, "time_zone"],
        [{ name: "X", time_zone: "UTC", currency: "brl" }, "currency"],
        [{ name: "X", time_zone: "UTC", currency: "BRL", latitude: 10 }, "longitude"],
        [{ name: "X", time_zone: "UTC", currency: "BRL", slot_step_minutes: 2 }, "slot_step_minutes"],
        [{ name: "X", time_zone: "UTC", currency: "BRL", owner_id: rival.id }, "(root)"],
        [{ name: "", time_zone: "UTC", currency: "BRL" }, "name"],
      ];
      for (const [body, path] of cases) {
        const res = await send("POST", "/salons", owner, body);
        assert.equal(res.status, 400, JSON.stringify(body));
        assert.ok(
          res.body.errors.some((e: { path: string }) => e.path === path),
          `${path}: ${JSON.stringify(res.body.errors)}`,
        );
      }
      assert.equal((await db.select().from(salons)).length, before);
    });

    await t.step("a tax id belongs to one salon: 409 naming tax_id", async () => {
      await makeSalon(send, owner, { tax_id: "12.345.678/0001-90" });
      const res = await send("POST", "/salons", rival, {
        name: "Copy",
        time_zone: "UTC",
        currency: "BRL",
        tax_id: "12.345.678/0001-90",
      });
      assert.equal(res.status, 409);
      assert.equal(res.body.errors[0].path, "tax_id");
    });

    await t.step("BOLA: another owner's salon is not found, for reading inactive and for editing", async () => {
      const salon = await makeSalon(send, owner);
      const hidden = await send("PATCH", `/salons/${salon.id}`, owner, { active: false });
      assert.equal(hidden.status, 200);
      assert.equal(hidden.body.active, false);
      assert.equal((await send("PATCH", `/salons/${salon.id}`, rival, { name: "Mine now" })).status, 404);
      assert.equal((await send("GET", `/salons/${salon.id}`, rival)).status, 404);
      assert.equal((await send("GET", `/salons/${salon.id}`, null)).status, 404);
      assert.equal((await send("GET", `/salons/${salon.id}`, owner)).status, 200);
      assert.equal((await send("PATCH", `/salons/${salon.id}`, client, { name: "Mine now" })).status, 403);
      // A missing salon answers exactly like a rival's one.
      const missing = await send("PATCH", `/salons/${crypto.randomUUID()}`, rival, { name: "Mine now" });
      assert.equal(missing.status, 404);
      assert.equal(missing.body.detail, "No such salon");
      const [row] = await db.select().from(salons).where(eq(salons.id, salon.id));
      assert.notEqual(row.name, "Mine now");
      const admins = await send("PATCH", `/salons/${salon.id}`, admin, { active: true });
      assert.equal(admins.status, 200);
      const events = await db.select().from(auditEvents).where(eq(auditEvents.entityId, salon.id));
      assert.deepEqual(events.map((e) => e.action).sort(), ["salon.activate", "salon.create", "salon.deactivate"]);
    });

    await t.step("PATCH cannot move a salon to another owner", async () => {
      const salon = await makeSalon(send, owner);
      const res = await send("PATCH", `/salons/${salon.id}`, owner, { owner_id: rival.id });
      assert.equal(res.status, 400);
      assert.equal((await send("PATCH", `/salons/${salon.id}`, owner, {})).status, 400);
    });

    await t.step("mine=true lists the caller's salons, inactive included; clients get 403", async () => {
      const fresh = await makeUser(testApp, "SALON_OWNER");
      const a = await makeSalon(send, fresh, { name: "A salon" });
      const b = await makeSalon(send, fresh, { name: "B salon" });
      await send("PATCH", `/salons/${b.id}`, fresh, { active: false });
      const mine = await send("GET", "/salons?mine=true", fresh);
      assert.deepEqual(mine.body.data.map((s: { id: string }) => s.id), [a.id, b.id]);
      assert.equal((await send("GET", "/salons?mine=true", client)).status, 403);
      assert.equal((await send("GET", "/salons?mine=true", null)).status, 401);
      const everyone = await send("GET", `/salons?q=${encodeURIComponent("B salon")}`, null);
      assert.equal(everyone.body.data.length, 0);
    });

    await t.step("near= orders by distance within the radius and reports it", async () => {
      const geoOwner = await makeUser(testApp, "SALON_OWNER");
      const paulista = await makeSalon(send, geoOwner, {
        name: "Geo Paulista",
        latitude: -23.5614,
        longitude: -46.6559,
      });
      const pinheiros = await makeSalon(send, geoOwner, {
        name: "Geo Pinheiros",
        latitude: -23.5667,
        longitude: -46.6927,
      });
      await makeSalon(send, geoOwner, { name: "Geo Rio", latitude: -22.9068, longitude: -43.1729 });
      const res = await send("GET", "/salons?near=-23.5505,-46.6333&radius_km=10&q=Geo", null);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual(res.body.data.map((s: { id: string }) => s.id), [paulista.id, pinheiros.id]);
      // Praça da Sé to Av. Paulista is about 2.7 km.
      assert.ok(Math.abs(res.body.data[0].distance_km - 2.7) < 0.3, String(res.body.data[0].distance_km));
      const wide = await send("GET", "/salons?near=-23.5505,-46.6333&radius_km=500&q=Geo&limit=2", null);
      assert.equal(wide.body.data.length, 2);
      const rest = await send(
        "GET",
        `/salons?near=-23.5505,-46.6333&radius_km=500&q=Geo&limit=2&cursor=${wide.body.next_cursor}`,
        null,
      );
      assert.deepEqual(rest.body.data.map((s: { name: string }) => s.name), ["Geo Rio"]);
      assert.equal(rest.body.next_cursor, null);
      const bad = await send("GET", "/salons?near=north", null);
      assert.equal(bad.status, 400);
      assert.equal(bad.body.errors[0].path, "query.near");
    });

    await t.step("pages follow a stable order without repeats or gaps", async () => {
      const pageOwner = await makeUser(testApp, "SALON_OWNER");
      const names = ["Page Cedar", "Page Aspen", "Page Birch", "Page Aspen", "Page Elm"];
      const created: { id: string; name: string }[] = [];
      for (const name of names) created.push(await makeSalon(send, pageOwner, { name }));
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const res = await send("GET", `/salons?q=Page&limit=2${cursor ? `&cursor=${cursor}` : ""}`, null);
        assert.equal(res.status, 200);
        seen.push(...res.body.data.map((s: { id: string }) => s.id));
        cursor = res.body.next_cursor;
      } while (cursor);
      assert.equal(seen.length, names.length);
      assert.equal(new Set(seen).size, names.length);
      const expected = [...created].sort((x, y) => x.name.localeCompare(y.name) || (x.id < y.id ? -1 : 1));
      assert.deepEqual(seen.map((id) => created.find((s) => s.id === id)!.name), expected.map((s) => s.name));
      const bad = await send("GET", "/salons?cursor=abc", null);
      assert.equal(bad.status, 400);
      assert.equal((await send("GET", "/salons?min_price=10&max_price=5", null)).status, 400);
    });
  } finally {
    await testApp.close();
  }
});
