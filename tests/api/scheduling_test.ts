/** Slot routes over the embedded database: rules, bookings, holds, time off, closures, DST and limits. */
import assert from "node:assert/strict";
import { bookings, professionalServices, services, serviceVariations } from "../../db/schema.ts";
import { apiClient } from "../support/api.ts";
import { makeTestApp } from "../support/app.ts";
import { makeProfessional, makeSalon } from "../support/catalog.ts";
import { makeUser } from "../support/users.ts";

const NOW = new Date("2026-03-02T12:00:00Z"); // Monday 07:00 in New York

Deno.test("slots", async (t) => {
  const testApp = await makeTestApp({ LOG_LEVEL: "silent" }, { now: () => NOW });
  const send = apiClient(testApp);
  const db = testApp.deps.database.db;
  const owner = await makeUser(testApp, "SALON_OWNER");
  const client = await makeUser(testApp, "CLIENT");
  const salon = await makeSalon(send, owner, { time_zone: "America/New_York", currency: "USD" });
  const ana = await makeProfessional(send, owner, salon.id, { display_name: "Ana" });
  const bia = await makeProfessional(send, owner, salon.id, { display_name: "Bia" });
  const idle = await makeProfessional(send, owner, salon.id, { display_name: "Idle" });
  const [service] = await db.insert(services).values({
    salonId: salon.id,
    name: "Cut",
    category: "hair",
    durationMinutes: 60,
    priceAmount: 5000,
    currency: "USD",
    bufferAfterMinutes: 15,
  }).returning();
  const [short] = await db.insert(serviceVariations).values({
    serviceId: service.id,
    name: "Short",
    durationMinutes: 30,
    priceAmount: 3000,
  }).returning();
  await db.insert(professionalServices).values([
    { professionalId: ana.id, serviceId: service.id },
    { professionalId: bia.id, serviceId: service.id },
  ]);
  const everyDay = [1, 2, 3, 4, 5, 6, 7].map((day) => ({ day_of_week: day, start: "09:00", end: "12:00" }));
  for (const pro of [ana, bia]) {
    const res = await send("PUT", `/professionals/${pro.id}/availability/rules`, owner, { rules: everyDay });
    assert.equal(res.status, 200);
  }
  const slotsOf = async (path: string) => {
    const res = await send("GET", path, client);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };
  const localStarts = (body: { data: { local_start: string }[] }) => body.data.map((s) => s.local_start.slice(11, 16));

  try {
    await t.step("a day of weekly hours: 60-minute service, 15-minute step, in the salon's zone", async () => {
      const body = await slotsOf(
        `/scheduling/professionals/${ana.id}/slots?service=${service.id}&from=2026-03-03&to=2026-03-03`,
      );
      assert.deepEqual(localStarts(body), [
        "09:00",
        "09:15",
        "09:30",
        "09:45",
        "10:00",
        "10:15",
        "10:30",
        "10:45",
        "11:00",
      ]);
      assert.equal(body.data[0].start, "2026-03-03T14:00:00Z");
      assert.equal(body.data[0].end, "2026-03-03T15:00:00Z");
      assert.equal(body.data[0].offset, "-05:00");
      assert.equal(body.time_zone, "America/New_York");
      assert.equal(body.duration_minutes, 60);
    });

    await t.step("a variation's duration is used", async () => {
      const body = await slotsOf(
        `/scheduling/professionals/${ana.id}/slots?service=${service.id}&variation=${short.id}&from=2026-03-03&to=2026-03-03`,
      );
      assert.equal(body.duration_minutes, 30);
      assert.equal(localStarts(body).at(-1), "11:30");
    });

    await t.step("confirmed bookings and live holds block their time with buffers; lapsed holds do not", async () => {
      const base = {
        salonId: salon.id,
        clientId: client.id,
        professionalId: ana.id,
        serviceId: service.id,
        priceAmount: 5000,
        currency: "USD",
      };
      await db.insert(bookings).values([
        {
          ...base,
          startsAt: new Date("2026-03-04T14:00:00Z"), // 09:00-10:00, held to 10:15
          endsAt: new Date("2026-03-04T15:00:00Z"),
          blockStartsAt: new Date("2026-03-04T14:00:00Z"),
          blockEndsAt: new Date("2026-03-04T15:15:00Z"),
          status: "CONFIRMED",
        },
        {
          ...base,
          startsAt: new Date("2026-03-05T14:00:00Z"),
          endsAt: new Date("2026-03-05T15:00:00Z"),
          blockStartsAt: new Date("2026-03-05T14:00:00Z"),
          blockEndsAt: new Date("2026-03-05T15:15:00Z"),
          status: "PENDING",
          holdExpiresAt: new Date(NOW.getTime() + 10 * 60_000),
        },
        {
          ...base,
          startsAt: new Date("2026-03-06T14:00:00Z"),
          endsAt: new Date("2026-03-06T15:00:00Z"),
          blockStartsAt: new Date("2026-03-06T14:00:00Z"),
          blockEndsAt: new Date("2026-03-06T15:15:00Z"),
          status: "PENDING",
          holdExpiresAt: new Date(NOW.getTime() - 60_000),
        },
      ]);
      const confirmed = await slotsOf(
        `/scheduling/professionals/${ana.id}/slots?service=${service.id}&from=2026-03-04&to=2026-03-04`,
      );
      // The new slot's own 15-minute buffer after must end by the booking: 10:15 is the first free start.
      assert.deepEqual(localStarts(confirmed), ["10:15", "10:30", "10:45", "11:00"]);
      const held = await slotsOf(
        `/scheduling/professionals/${ana.id}/slots?service=${service.id}&from=2026-03-05&to=2026-03-05`,
      );
      assert.deepEqual(localStarts(held), ["10:15", "10:30", "10:45", "11:00"]);
      const lapsed = await slotsOf(
        `/scheduling/professionals/${ana.id}/slots?service=${service.id}&from=2026-03-06&to=2026-03-06`,
      );
      assert.equal(lapsed.data.length, 9);
    });

    await t.step("time off, closed dates and salon closures remove slots", async () => {
      const off = await send("POST", `/professionals/${bia.id}/time-off`, owner, {
        starts_at: "2026-03-03T15:00:00Z", // 10:00-12:00 local
        ends_at: "2026-03-03T17:00:00Z",
      });
      assert.equal(off.status, 201);
      const body = await slotsOf(
        `/scheduling/professionals/${bia.id}/slots?service=${service.id}&from=2026-03-03&to=2026-03-03`,
      );
      assert.deepEqual(localStarts(body), []);
      await send("PUT", `/professionals/${bia.id}/availability/overrides/2026-03-04`, owner, { closed: true });
      const closedDay = await slotsOf(
        `/scheduling/professionals/${bia.id}/slots?service=${service.id}&from=2026-03-04&to=2026-03-04`,
      );
      assert.equal(closedDay.data.length, 0);
      await send("POST", `/salons/${salon.id}/closures`, owner, { start_date: "2026-03-10", end_date: "2026-03-11" });
      const holiday = await slotsOf(
        `/scheduling/salons/${salon.id}/slots?service=${service.id}&from=2026-03-10&to=2026-03-11`,
      );
      assert.equal(holiday.data.length, 0);
    });

    await t.step("spring forward: no start in the missing hour, a crossing service lasts 60 real minutes", async () => {
      const res = await send("PUT", `/professionals/${ana.id}/availability/overrides/2026-03-08`, owner, {
        windows: [{ start: "01:00", end: "04:00" }],
      });
      assert.equal(res.status, 200);
      const body = await slotsOf(
        `/scheduling/professionals/${ana.id}/slots?service=${service.id}&from=2026-03-08&to=2026-03-08`,
      );
      assert.deepEqual(
        body.data.map((s: { local_start: string; offset: string }) => `${s.local_start.slice(11, 16)}${s.offset}`),
        [
          "01:00-05:00",
          "01:15-05:00",
          "01:30-05:00",
          "01:45-05:00",
          "03:00-04:00",
        ],
      );
      const crossing = body.data.find((s: { local_start: string }) => s.local_start.endsWith("01:30:00"));
      assert.equal(Date.parse(crossing.end) - Date.parse(crossing.start), 60 * 60_000);
    });

    await t.step("any professional: one slot per start, offered by the least booked professional", async () => {
      const body = await slotsOf(
        `/scheduling/salons/${salon.id}/slots?service=${service.id}&from=2026-03-12&to=2026-03-12`,
      );
      assert.deepEqual(body.professionals.map((p: { display_name: string }) => p.display_name).sort(), ["Ana", "Bia"]);
      assert.deepEqual(localStarts(body), [
        "09:00",
        "09:15",
        "09:30",
        "09:45",
        "10:00",
        "10:15",
        "10:30",
        "10:45",
        "11:00",
      ]);
      assert.ok(body.data.every((s: { available_count: number }) => s.available_count === 2));
      // Nobody is booked that day: the tie goes to the same professional every time.
      assert.equal(new Set(body.data.map((s: { professional_id: string }) => s.professional_id)).size, 1);

      // Ana is booked 09:00-10:00 on the 13th: Bia, less booked, is offered; after Ana's block both are free.
      await db.insert(bookings).values({
        salonId: salon.id,
        clientId: client.id,
        professionalId: ana.id,
        serviceId: service.id,
        // New York keeps daylight time since 8 March: 09:00 local is 13:00Z.
        startsAt: new Date("2026-03-13T13:00:00Z"),
        endsAt: new Date("2026-03-13T14:00:00Z"),
        blockStartsAt: new Date("2026-03-13T13:00:00Z"),
        blockEndsAt: new Date("2026-03-13T14:15:00Z"),
        status: "CONFIRMED",
        priceAmount: 5000,
        currency: "USD",
      });
      const busyDay = await slotsOf(
        `/scheduling/salons/${salon.id}/slots?service=${service.id}&from=2026-03-13&to=2026-03-13`,
      );
      assert.ok(busyDay.data.every((s: { professional_id: string }) => s.professional_id === bia.id));
      assert.deepEqual(
        busyDay.data.map((s: { local_start: string; available_count: number }) =>
          `${s.local_start.slice(11, 16)}:${s.available_count}`
        ),
        ["09:00:1", "09:15:1", "09:30:1", "09:45:1", "10:00:1", "10:15:2", "10:30:2", "10:45:2", "11:00:2"],
      );
    });

    await t.step("minimum notice and the booking horizon bound the search", async () => {
      // Now is 07:00 local on Monday 2 March; the first slot needs 60 minutes' notice, and the day opens at 09:00.
      const today = await slotsOf(
        `/scheduling/professionals/${ana.id}/slots?service=${service.id}&from=2026-03-02&to=2026-03-02`,
      );
      assert.equal(localStarts(today)[0], "09:00");
      const beyond = await slotsOf(
        `/scheduling/professionals/${ana.id}/slots?service=${service.id}&from=2026-05-02&to=2026-05-03`,
      );
      assert.equal(beyond.data.length, 0);
    });

    await t.step("bad searches are 400s naming the parameter; unknown or inactive professionals 404", async () => {
      const path = `/scheduling/professionals/${ana.id}/slots`;
      const tooLong = await send("GET", `${path}?service=${service.id}&from=2026-03-03&to=2026-05-30`, client);
      assert.equal(tooLong.status, 400);
      assert.equal(tooLong.body.errors[0].path, "query.to");
      const reversed = await send("GET", `${path}?service=${service.id}&from=2026-03-05&to=2026-03-03`, client);
      assert.equal(reversed.body.errors[0].path, "query.to");
      const unknown = await send("GET", `${path}?service=${crypto.randomUUID()}`, client);
      assert.equal(unknown.status, 400);
      assert.equal(unknown.body.errors[0].path, "query.service");
      const notTheirs = await send("GET", `/scheduling/professionals/${idle.id}/slots?service=${service.id}`, client);
      assert.equal(notTheirs.status, 400);
      assert.equal(notTheirs.body.errors[0].path, "query.service");
      const wrongVariation = await send(
        "GET",
        `${path}?service=${service.id}&variation=${crypto.randomUUID()}`,
        client,
      );
      assert.equal(wrongVariation.body.errors[0].path, "query.variation");
      assert.equal((await send("GET", `${path}?service=nope`, client)).status, 400);
      assert.equal(
        (await send("GET", `/scheduling/professionals/${crypto.randomUUID()}/slots?service=${service.id}`)).status,
        404,
      );
      assert.equal(
        (await send("GET", `/scheduling/salons/${crypto.randomUUID()}/slots?service=${service.id}`)).status,
        404,
      );
      await send("PATCH", `/professionals/${bia.id}`, owner, { active: false });
      assert.equal((await send("GET", `/scheduling/professionals/${bia.id}/slots?service=${service.id}`)).status, 404);
      const salonWide = await slotsOf(
        `/scheduling/salons/${salon.id}/slots?service=${service.id}&from=2026-03-12&to=2026-03-12`,
      );
      assert.deepEqual(salonWide.professionals.map((p: { id: string }) => p.id), [ana.id]);
      await send("PATCH", `/professionals/${bia.id}`, owner, { active: true });
    });
  } finally {
    await testApp.close();
  }
});
