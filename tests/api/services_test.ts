/** Service routes: ownership, validation, variations, professionals, search and pagination. */
import assert from "node:assert/strict";
import { and, eq } from "drizzle-orm";
import { auditEvents, professionals, professionalServices, services, serviceVariations } from "../../db/schema.ts";
import { apiClient } from "../support/api.ts";
import { makeTestApp } from "../support/app.ts";
import { makeSalon, makeService } from "../support/catalog.ts";
import { makeUser } from "../support/users.ts";

const HAIRCUT = { name: "Haircut", category: "Hair", duration_minutes: 45, price_amount: 8000 };

Deno.test("services", async (t) => {
  const testApp = await makeTestApp({ LOG_LEVEL: "silent" });
  const send = apiClient(testApp);
  const db = testApp.deps.database.db;
  const owner = await makeUser(testApp, "SALON_OWNER");
  const rival = await makeUser(testApp, "SALON_OWNER");
  const client = await makeUser(testApp, "CLIENT");
  const admin = await makeUser(testApp, "ADMIN");
  const salon = await makeSalon(send, owner, { currency: "EUR", time_zone: "Europe/Lisbon" });
  const rivalSalon = await makeSalon(send, rival);

  /** A professional of the salon, inserted directly: professionals have no fixture route here. */
  const addProfessional = async (salonId: string, active = true) => {
    const user = await makeUser(testApp, "PROFESSIONAL");
    const [row] = await db.insert(professionals)
      .values({ userId: user.id, salonId, displayName: `Pro ${user.id.slice(0, 8)}`, active }).returning();
    return row.id;
  };
  const counts = async () => ({
    services: (await db.select().from(services)).length,
    variations: (await db.select().from(serviceVariations)).length,
    links: (await db.select().from(professionalServices)).length,
  });
  const ids = (res: { body: { data: { id: string }[] } }) => res.body.data.map((s) => s.id);

  const ana = await addProfessional(salon.id);
  const bruno = await addProfessional(salon.id);
  const carla = await addProfessional(salon.id);
  const retired = await addProfessional(salon.id, false);
  const rivalsPro = await addProfessional(rivalSalon.id);

  try {
    await t.step("an owner creates a service with variations and professionals: 201, Location, audited", async () => {
      const res = await send("POST", "/services", owner, {
        ...HAIRCUT,
        salon_id: salon.id,
        description: "Wash, cut and dry",
        category: "  Hair ",
        deposit: { kind: "PERCENTAGE", value: 2500 },
        buffer_after_minutes: 10,
        variations: [
          { name: "Short hair", duration_minutes: 30, price_amount: 6000 },
          { name: "Long hair", duration_minutes: 60, price_amount: 10000 },
        ],
        professional_ids: [ana, bruno],
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      assert.equal(res.headers.get("location"), `/api/v1/services/${res.body.id}`);
      assert.equal(res.body.salon_id, salon.id);
      assert.equal(res.body.category, "Hair");
      assert.deepEqual(res.body.price, { amount: 8000, currency: "EUR" });
      assert.deepEqual(res.body.deposit, { kind: "PERCENTAGE", value: 2500 });
      assert.equal(res.body.buffer_before_minutes, 0);
      assert.equal(res.body.buffer_after_minutes, 10);
      assert.equal(res.body.active, true);
      assert.deepEqual(
        res.body.variations.map((v: { name: string; price: unknown }) => [v.name, v.price]).sort(),
        [["Long hair", { amount: 10000, currency: "EUR" }], ["Short hair", { amount: 6000, currency: "EUR" }]],
      );
      assert.deepEqual(res.body.professional_ids, [ana, bruno].sort());
      const events = await db.select().from(auditEvents)
        .where(and(eq(auditEvents.entityId, res.body.id), eq(auditEvents.action, "service.create")));
      assert.equal(events.length, 1);
      assert.equal(events[0].actorId, owner.id);
      const read = await send("GET", `/services/${res.body.id}`, null);
      assert.equal(read.status, 200);
      assert.deepEqual(read.body, res.body);
    });

    await t.step("clients cannot create services; anonymous callers must sign in", async () => {
      const body = { ...HAIRCUT, salon_id: salon.id };
      assert.equal((await send("POST", "/services", client, body)).status, 403);
      assert.equal((await send("POST", "/services", null, body)).status, 401);
    });

    await t.step("another owner's salon is not found and nothing is written", async () => {
      const before = await counts();
      const res = await send("POST", "/services", rival, {
        ...HAIRCUT,
        salon_id: salon.id,
        variations: [{ name: "Short", duration_minutes: 30, price_amount: 5000 }],
      });
      assert.equal(res.status, 404);
      assert.equal(res.body.detail, "No such salon");
      assert.deepEqual(await counts(), before);
    });

    await t.step("bad input names the field and writes nothing", async () => {
      const before = await counts();
      const base = { ...HAIRCUT, salon_id: salon.id };
      const cases: [Record<string, unknown>, string][] = [
        [{ ...base, duration_minutes: 0 }, "duration_minutes"],
        [{ ...base, price_amount: -1 }, "price_amount"],
        [{ ...base, deposit: { kind: "PERCENTAGE", value: 10001 } }, "deposit.value"],
        [{ ...base, deposit: { kind: "FIXED", value: 8001 } }, "deposit.value"],
        [{ ...base, deposit: { kind: "NONE", value: 500 } }, "deposit.value"],
        [{ ...base, buffer_before_minutes: 241 }, "buffer_before_minutes"],
        [{ ...base, category: "   " }, "category"],
        [
          { ...base, variations: [{ name: "Short", duration_minutes: 2, price_amount: 10 }] },
          "variations.0.duration_minutes",
        ],
        [{ ...base, professional_ids: [ana, rivalsPro] }, "professional_ids.1"],
        [{ ...base, professional_ids: [retired] }, "professional_ids.0"],
        [{ ...base, professional_ids: [ana, ana] }, "professional_ids.1"],
        [{ ...base, professional_ids: [ana.toUpperCase(), ana] }, "professional_ids.1"],
      ];
      for (const [body, path] of cases) {
        const res = await send("POST", "/services", owner, body);
        assert.equal(res.status, 400, JSON.stringify(body));
        assert.ok(
          res.body.errors.some((e: { path: string }) => e.path === path),
          `${path}: ${JSON.stringify(res.body.errors)}`,
        );
      }
      const currency = await send("POST", "/services", owner, { ...base, currency: "USD" });
      assert.equal(currency.status, 400);
      assert.match(JSON.stringify(currency.body.errors), /currency/);
      assert.deepEqual(await counts(), before);
    });

    await t.step("an owner edits a service; the edit is audited with the changed fields", async () => {
      const service = await makeService(send, owner, salon.id, { deposit: { kind: "FIXED", value: 2000 } });
      const res = await send("PATCH", `/services/${service.id}`, owner, {
        name: "Colour",
        description: null,
        duration_minutes: 90,
        price_amount: 12000,
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.name, "Colour");
      assert.equal(res.body.description, null);
      assert.deepEqual(res.body.price, { amount: 12000, currency: "EUR" });
      assert.deepEqual(res.body.deposit, { kind: "FIXED", value: 2000 });
      const [event] = await db.select().from(auditEvents)
        .where(and(eq(auditEvents.entityId, service.id), eq(auditEvents.action, "service.update")));
      assert.deepEqual(
        (event.data as { fields: string[] }).fields.sort(),
        ["description", "durationMinutes", "name", "priceAmount"],
      );
    });

    await t.step("PATCH checks the deposit against the resulting price and refuses fixed fields", async () => {
      const service = await makeService(send, owner, salon.id, { deposit: { kind: "FIXED", value: 5000 } });
      const cheaper = await send("PATCH", `/services/${service.id}`, owner, { price_amount: 4000 });
      assert.equal(cheaper.status, 400);
      assert.equal(cheaper.body.errors[0].path, "price_amount");
      const tooMuch = await send("PATCH", `/services/${service.id}`, owner, {
        deposit: { kind: "FIXED", value: 9000 },
      });
      assert.equal(tooMuch.status, 400);
      assert.equal(tooMuch.body.errors[0].path, "deposit.value");
      const both = await send("PATCH", `/services/${service.id}`, owner, {
        price_amount: 4000,
        deposit: { kind: "PERCENTAGE", value: 5000 },
      });
      assert.equal(both.status, 200, JSON.stringify(both.body));
      for (const field of [{ salon_id: rivalSalon.id }, { currency: "USD" }, { id: crypto.randomUUID() }, {}]) {
        const res = await send("PATCH", `/services/${service.id}`, owner, field);
        assert.equal(res.status, 400, JSON.stringify(field));
      }
      const [row] = await db.select().from(services).where(eq(services.id, service.id));
      assert.equal(row.salonId, salon.id);
      assert.equal(row.currency, "EUR");
      assert.equal(row.priceAmount, 4000);
    });

    await t.step("BOLA: a rival owner's PATCH is not found, a client's is forbidden, an admin's works", async () => {
      const service = await makeService(send, owner, salon.id);
      const rivals = await send("PATCH", `/services/${service.id}`, rival, { name: "Mine now" });
      assert.equal(rivals.status, 404);
      assert.equal(rivals.body.detail, "No such service");
      const missing = await send("PATCH", `/services/${crypto.randomUUID()}`, rival, { name: "Mine now" });
      assert.equal(missing.status, 404);
      assert.equal(missing.body.detail, rivals.body.detail);
      assert.equal((await send("PATCH", `/services/${service.id}`, client, { name: "Mine now" })).status, 403);
      assert.equal((await send("PATCH", `/services/${service.id}`, null, { name: "Mine now" })).status, 401);
      const [row] = await db.select().from(services).where(eq(services.id, service.id));
      assert.notEqual(row.name, "Mine now");
      const admins = await send("PATCH", `/services/${service.id}`, admin, { buffer_before_minutes: 5 });
      assert.equal(admins.status, 200);
      assert.equal(admins.body.buffer_before_minutes, 5);
    });

    await t.step("an inactive service is hidden from the public and shown to its owner", async () => {
      const service = await makeService(send, owner, salon.id, { name: "Hidden perm" });
      const off = await send("PATCH", `/services/${service.id}`, owner, { active: false });
      assert.equal(off.status, 200);
      assert.equal(off.body.active, false);
      const [event] = await db.select().from(auditEvents)
        .where(and(eq(auditEvents.entityId, service.id), eq(auditEvents.action, "service.deactivate")));
      assert.deepEqual([event.fromState, event.toState], ["active", "inactive"]);

      assert.equal((await send("GET", `/services/${service.id}`, null)).status, 404);
      assert.equal((await send("GET", `/services/${service.id}`, rival)).status, 404);
      assert.equal((await send("GET", `/services/${service.id}`, owner)).status, 200);
      assert.equal((await send("GET", `/services/${service.id}`, admin)).status, 200);
      const publicList = await send("GET", `/services?salon_id=${salon.id}&limit=100`, null);
      assert.ok(!ids(publicList).includes(service.id));
      const ownerList = await send("GET", `/services?salon_id=${salon.id}&include_inactive=true&limit=100`, owner);
      assert.equal(ownerList.status, 200);
      assert.ok(ids(ownerList).includes(service.id));

      const inactive = `/services?salon_id=${salon.id}&include_inactive=true`;
      assert.equal((await send("GET", inactive, rival)).status, 404);
      assert.equal((await send("GET", inactive, client)).status, 403);
      assert.equal((await send("GET", inactive, null)).status, 401);
      const noSalon = await send("GET", "/services?include_inactive=true", owner);
      assert.equal(noSalon.status, 400);
      assert.equal(noSalon.body.errors[0].path, "query.salon_id");
    });

    await t.step("services of an inactive salon are hidden from the public", async () => {
      const closing = await makeSalon(send, owner);
      const service = await makeService(send, owner, closing.id);
      assert.equal((await send("GET", `/services/${service.id}`, null)).status, 200);
      await send("PATCH", `/salons/${closing.id}`, owner, { active: false });
      assert.equal((await send("GET", `/services/${service.id}`, null)).status, 404);
      assert.equal((await send("GET", `/services?salon_id=${closing.id}`, null)).body.data.length, 0);
      assert.equal((await send("GET", `/services/${service.id}`, owner)).status, 200);
    });

    await t.step("list filters by salon, category, price range, text and professional", async () => {
      const listOwner = await makeUser(testApp, "SALON_OWNER");
      const shop = await makeSalon(send, listOwner);
      const dana = await addProfessional(shop.id);
      const cut = await makeService(send, listOwner, shop.id, {
        name: "Filter cut",
        category: "Hair",
        price_amount: 5000,
        professional_ids: [dana],
      });
      const nails = await makeService(send, listOwner, shop.id, {
        name: "Filter manicure",
        category: "Nails",
        description: "Includes 100% natural polish_remover",
        price_amount: 3000,
      });
      const colour = await makeService(send, listOwner, shop.id, {
        name: "Filter colour",
        category: "hair",
        price_amount: 15000,
      });
      await makeService(send, owner, salon.id, { name: "Filter elsewhere", category: "Hair", price_amount: 5000 });
      const list = async (query: string) => {
        const res = await send("GET", `/services?salon_id=${shop.id}&${query}`, null);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        return ids(res);
      };

      assert.deepEqual(await list(""), [colour.id, cut.id, nails.id]);
      assert.deepEqual(await list("category=HAIR"), [colour.id, cut.id]);
      assert.deepEqual(await list("min_price=4000&max_price=6000"), [cut.id]);
      assert.deepEqual(await list("min_price=5000"), [colour.id, cut.id]);
      assert.deepEqual(await list("max_price=3000"), [nails.id]);
      assert.deepEqual(await list("q=manicure"), [nails.id]);
      assert.deepEqual(await list(`q=${encodeURIComponent("100%")}`), [nails.id]);
      assert.deepEqual(await list(`q=${encodeURIComponent("h_ir")}`), []);
      assert.deepEqual(await list(`q=${encodeURIComponent("%")}`), [nails.id]);
      assert.deepEqual(await list(`professional_id=${dana}`), [cut.id]);
      const anywhere = await send("GET", `/services?professional_id=${dana}`, null);
      assert.deepEqual(ids(anywhere), [cut.id]);
      const everywhere = await send("GET", "/services?q=Filter&category=hair&min_price=5000&max_price=5000", null);
      assert.equal(everywhere.body.data.length, 2);
      assert.equal((await send("GET", "/services?min_price=10&max_price=5", null)).status, 400);
      assert.equal((await send("GET", "/services?salon_id=not-a-uuid", null)).status, 400);
    });

    await t.step("pages follow a stable order without repeats or gaps", async () => {
      const pageOwner = await makeUser(testApp, "SALON_OWNER");
      const shop = await makeSalon(send, pageOwner);
      const names = ["Page Cedar", "Page Aspen", "Page Birch", "Page Aspen", "Page Elm"];
      for (const name of names) await makeService(send, pageOwner, shop.id, { name });
      const all = await send("GET", `/services?salon_id=${shop.id}&limit=100`, null);
      assert.equal(all.body.next_cursor, null);
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const res = await send(
          "GET",
          `/services?salon_id=${shop.id}&limit=2${cursor ? `&cursor=${cursor}` : ""}`,
          null,
        );
        assert.equal(res.status, 200);
        assert.ok(res.body.data.length <= 2);
        seen.push(...ids(res));
        cursor = res.body.next_cursor;
      } while (cursor);
      assert.equal(new Set(seen).size, names.length);
      assert.deepEqual(seen, ids(all));
      assert.deepEqual(
        all.body.data.map((s: { name: string }) => s.name),
        ["Page Aspen", "Page Aspen", "Page Birch", "Page Cedar", "Page Elm"],
      );
      assert.equal((await send("GET", "/services?cursor=abc", null)).status, 400);
      assert.equal((await send("GET", "/services?limit=101", null)).status, 400);
    });

    await t.step("variations are added and edited; one under another service is not found", async () => {
      const service = await makeService(send, owner, salon.id);
      const other = await makeService(send, owner, salon.id);
      const added = await send("POST", `/services/${service.id}/variations`, owner, {
        name: "Express",
        duration_minutes: 20,
        price_amount: 4000,
      });
      assert.equal(added.status, 201, JSON.stringify(added.body));
      assert.equal(added.headers.get("location"), `/api/v1/services/${service.id}/variations/${added.body.id}`);
      assert.deepEqual(added.body.price, { amount: 4000, currency: "EUR" });
      const path = `/services/${service.id}/variations/${added.body.id}`;

      const edited = await send("PATCH", path, owner, { price_amount: 4500, name: "Express plus" });
      assert.equal(edited.status, 200);
      assert.equal(edited.body.name, "Express plus");
      assert.equal(edited.body.price.amount, 4500);

      const wrongService = `/services/${other.id}/variations/${added.body.id}`;
      assert.equal((await send("PATCH", wrongService, owner, { name: "Moved" })).status, 404);
      assert.equal((await send("PATCH", path, rival, { name: "Stolen" })).status, 404);
      assert.equal(
        (await send("POST", `/services/${service.id}/variations`, rival, {
          name: "Rival",
          duration_minutes: 30,
          price_amount: 100,
        })).status,
        404,
      );
      assert.equal((await send("PATCH", path, client, { name: "Nope" })).status, 403);
      const bad = await send("PATCH", path, owner, { duration_minutes: 2000 });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.errors[0].path, "duration_minutes");

      const off = await send("PATCH", path, owner, { active: false });
      assert.equal(off.status, 200);
      assert.equal(off.body.active, false);
      const publicView = await send("GET", `/services/${service.id}`, null);
      assert.equal(publicView.body.variations.length, 0);
      const ownerView = await send("GET", `/services/${service.id}`, owner);
      assert.deepEqual(ownerView.body.variations.map((v: { active: boolean }) => v.active), [false]);
      const actions = (await db.select().from(auditEvents).where(eq(auditEvents.entityId, added.body.id)))
        .map((e) => e.action).sort();
      assert.deepEqual(actions, [
        "service_variation.create",
        "service_variation.deactivate",
        "service_variation.update",
      ]);
    });

    await t.step("PUT professionals replaces the set; only active professionals of the salon", async () => {
      const service = await makeService(send, owner, salon.id, { professional_ids: [ana, bruno] });
      const path = `/services/${service.id}/professionals`;
      const replaced = await send("PUT", path, owner, { professional_ids: [bruno, carla] });
      assert.equal(replaced.status, 200, JSON.stringify(replaced.body));
      assert.deepEqual(replaced.body.professional_ids, [bruno, carla].sort());
      assert.equal(replaced.body.id, service.id);
      const links = await db.select().from(professionalServices).where(eq(professionalServices.serviceId, service.id));
      assert.deepEqual(links.map((l) => l.professionalId).sort(), [bruno, carla].sort());
      const byCarla = await send("GET", `/services?professional_id=${carla}&salon_id=${salon.id}&limit=100`, null);
      assert.ok(ids(byCarla).includes(service.id));
      const byAna = await send("GET", `/services?professional_id=${ana}&salon_id=${salon.id}&limit=100`, null);
      assert.ok(!ids(byAna).includes(service.id));

      const refused: [string[], string][] = [[[carla, rivalsPro], "professional_ids.1"], [
        [retired],
        "professional_ids.0",
      ]];
      for (const [professionalIds, field] of refused) {
        const res = await send("PUT", path, owner, { professional_ids: professionalIds });
        assert.equal(res.status, 400);
        assert.equal(res.body.errors[0].path, field);
      }
      assert.equal((await send("PUT", path, rival, { professional_ids: [] })).status, 404);
      assert.equal((await send("PUT", path, client, { professional_ids: [] })).status, 403);
      const unchanged = await db.select().from(professionalServices)
        .where(eq(professionalServices.serviceId, service.id));
      assert.equal(unchanged.length, 2);

      const emptied = await send("PUT", path, owner, { professional_ids: [] });
      assert.equal(emptied.status, 200);
      assert.deepEqual(emptied.body.professional_ids, []);
      const events = await db.select().from(auditEvents)
        .where(and(eq(auditEvents.entityId, service.id), eq(auditEvents.action, "service.professionals.replace")));
      assert.equal(events.length, 2);
    });
  } finally {
    await testApp.close();
  }
});
