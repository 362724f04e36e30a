/** Cancellation policy routes: tier validation, one active policy per salon, visibility, and quotes. */
import assert from "node:assert/strict";
import { isUniqueViolation } from "../../db/errors.ts";
import { and, eq } from "drizzle-orm";
import { auditEvents, bookings, cancellationPolicies, cancellationPolicyTiers, payments } from "../../db/schema.ts";
import { loadActivePolicyTiers } from "../../db/policies.ts";
import { apiClient } from "../support/api.ts";
import { makeTestApp } from "../support/app.ts";
import { makeLinkedProfessional, makeSalon, makeService } from "../support/catalog.ts";
import { makeUser, type SignedInUser } from "../support/users.ts";

const HOUR = 3_600_000;

const tier = (min: number, max: number | null, feePercent = 0, feeFixedAmount = 0) => ({
  hours_before_min: min,
  hours_before_max: max,
  fee_percent: feePercent,
  fee_fixed_amount: feeFixedAmount,
});

/** Free from 48 h before; 12.5% plus 3.00 from 24 h; the whole price inside 24 h. Listed out of order on purpose. */
const STANDARD = [tier(48, null), tier(24, 48, 12.5, 300), tier(0, 24, 100)];

Deno.test("cancellation policies", async (t) => {
  let clock = new Date("2026-06-01T12:00:00Z");
  const testApp = await makeTestApp({ LOG_LEVEL: "silent" }, { now: () => clock });
  const send = apiClient(testApp);
  const db = testApp.deps.database.db;
  const owner = await makeUser(testApp, "SALON_OWNER");
  const rival = await makeUser(testApp, "SALON_OWNER");
  const client = await makeUser(testApp, "CLIENT");
  const otherClient = await makeUser(testApp, "CLIENT");
  const admin = await makeUser(testApp, "ADMIN");
  const stylist = await makeUser(testApp, "PROFESSIONAL");
  const colleague = await makeUser(testApp, "PROFESSIONAL");
  const salon = await makeSalon(send, owner);
  const rivalSalon = await makeSalon(send, rival);

  const policyCount = async () => (await db.select().from(cancellationPolicies)).length;
  const activeIds = async (salonId: string) =>
    (await db.select().from(cancellationPolicies)
      .where(and(eq(cancellationPolicies.salonId, salonId), eq(cancellationPolicies.active, true))))
      .map((row) => row.id);
  const createPolicy = async (
    user: SignedInUser,
    salonId: string,
    fields: Record<string, unknown> = {},
  ) => {
    const res = await send("POST", "/cancellation-policies", user, {
      salon_id: salonId,
      name: "Standard",
      tiers: STANDARD,
      ...fields,
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body;
  };

  try {
    await t.step("an owner creates a policy: 201, Location, tiers by hours, audited, publicly readable", async () => {
      const res = await send("POST", "/cancellation-policies", owner, {
        salon_id: salon.id,
        name: "  Standard  ",
        tiers: STANDARD,
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      assert.equal(res.headers.get("location"), `/api/v1/cancellation-policies/${res.body.id}`);
      assert.equal(res.body.salon_id, salon.id);
      assert.equal(res.body.name, "Standard");
      assert.equal(res.body.active, true);
      assert.equal(res.body.currency, "BRL");
      assert.deepEqual(res.body.tiers, [tier(0, 24, 100), tier(24, 48, 12.5, 300), tier(48, null)]);
      const stored = await db.select().from(cancellationPolicyTiers)
        .where(eq(cancellationPolicyTiers.policyId, res.body.id));
      assert.deepEqual(stored.map((row) => row.feeBasisPoints).sort((a, b) => a - b), [0, 1250, 10000]);
      const events = await db.select().from(auditEvents)
        .where(and(eq(auditEvents.entityId, res.body.id), eq(auditEvents.action, "cancellation_policy.create")));
      assert.equal(events.length, 1);
      assert.equal(events[0].actorId, owner.id);
      const read = await send("GET", `/cancellation-policies/${res.body.id}`, null);
      assert.equal(read.status, 200);
      assert.deepEqual(read.body, res.body);
    });

    await t.step(
      "anonymous callers sign in, clients and professionals may not, a rival's salon is not found",
      async () => {
        const before = await policyCount();
        const body = { salon_id: salon.id, name: "Mine", tiers: STANDARD };
        assert.equal((await send("POST", "/cancellation-policies", null, body)).status, 401);
        assert.equal((await send("POST", "/cancellation-policies", client, body)).status, 403);
        assert.equal((await send("POST", "/cancellation-policies", stylist, body)).status, 403);
        const rivals = await send("POST", "/cancellation-policies", rival, body);
        assert.equal(rivals.status, 404);
        assert.equal(rivals.body.detail, "No such salon");
        assert.equal(await policyCount(), before);
      },
    );

    await t.step("tiers with a gap, an overlap or no open end are refused, naming the tier as sent", async () => {
      const before = await policyCount();
      const cases: [unknown[], string, RegExp][] = [
        [[tier(0, 24), tier(48, null)], "tiers.1.hours_before_min", /gap: no tier covers 24–48 h/],
        [[tier(24, null), tier(0, 30)], "tiers.0.hours_before_min", /overlaps tiers.1/],
        [[tier(0, 24), tier(24, null), tier(0, 24)], "tiers.2.hours_before_min", /overlaps tiers.0/],
        [[tier(24, 48), tier(0, 24)], "tiers.0.hours_before_max", /must be null on the last tier/],
        [[tier(6, null)], "tiers.0.hours_before_min", /gap: no tier covers 0–6 h/],
        [[tier(0, 24), tier(24, 24), tier(24, null)], "tiers.1.hours_before_max", /above hours_before_min/],
        [[tier(0, null, 12.345)], "tiers.0.fee_percent", /./],
        [[tier(0, null, 100.01)], "tiers.0.fee_percent", /./],
        [[tier(0, null, 10, -1)], "tiers.0.fee_fixed_amount", /./],
        [[tier(0.5, null)], "tiers.0.hours_before_min", /./],
        [[], "tiers", /./],
      ];
      for (const [tiers, path, message] of cases) {
        const res = await send("POST", "/cancellation-policies", owner, { salon_id: salon.id, name: "Bad", tiers });
        assert.equal(res.status, 400, JSON.stringify(tiers));
        const error = res.body.errors.find((e: { path: string }) => e.path === path);
        assert.ok(error, `${path}: ${JSON.stringify(res.body.errors)}`);
        assert.match(error.message, message);
      }
      const eleven = Array.from({ length: 11 }, (_, i) => tier(i, i === 10 ? null : i + 1));
      assert.equal(
        (await send("POST", "/cancellation-policies", owner, { salon_id: salon.id, name: "Long", tiers: eleven }))
          .status,
        400,
      );
      assert.equal(await policyCount(), before);
    });

    await t.step("a salon has one active policy: a new active one deactivates the others, audited", async () => {
      const shopOwner = await makeUser(testApp, "SALON_OWNER");
      const shop = await makeSalon(send, shopOwner);
      const first = await createPolicy(shopOwner, shop.id, { name: "First" });
      const second = await createPolicy(shopOwner, shop.id, { name: "Second" });
      assert.deepEqual(await activeIds(shop.id), [second.id]);
      const [event] = await db.select().from(auditEvents).where(
        and(eq(auditEvents.entityId, first.id), eq(auditEvents.action, "cancellation_policy.deactivate")),
      );
      assert.deepEqual([event.fromState, event.toState, event.actorId], ["active", "inactive", shopOwner.id]);

      const draft = await createPolicy(shopOwner, shop.id, { name: "Draft", active: false });
      assert.equal(draft.active, false);
      assert.deepEqual(await activeIds(shop.id), [second.id]);
      assert.equal((await loadActivePolicyTiers(db, shop.id))?.policyId, second.id);

      const reactivated = await send("PATCH", `/cancellation-policies/${first.id}`, shopOwner, { active: true });
      assert.equal(reactivated.status, 200, JSON.stringify(reactivated.body));
      assert.equal(reactivated.body.active, true);
      assert.deepEqual(await activeIds(shop.id), [first.id]);

      const publicList = await send("GET", `/cancellation-policies?salon_id=${shop.id}`, null);
      assert.equal(publicList.status, 200);
      assert.deepEqual(publicList.body.data.map((p: { id: string }) => p.id), [first.id]);
      const everything = await send(
        "GET",
        `/cancellation-policies?salon_id=${shop.id}&include_inactive=true`,
        shopOwner,
      );
      assert.equal(everything.status, 200);
      assert.deepEqual(everything.body.data.map((p: { name: string }) => p.name), ["Draft", "First", "Second"]);
      const third = await createPolicy(shopOwner, shop.id, { name: "Third" });
      assert.deepEqual(await activeIds(shop.id), [third.id]);
      // Other salons keep their active policy.
      assert.equal((await activeIds(salon.id)).length, 1);
    });

    await t.step("the active policy a booking copies: the salon's only active one, or none", async () => {
      const empty = await makeSalon(send, owner);
      assert.equal(await loadActivePolicyTiers(db, empty.id), null);
      const created = await createPolicy(owner, empty.id, { name: "Copy me" });
      const loaded = await loadActivePolicyTiers(db, empty.id);
      assert.deepEqual(loaded, {
        policyId: created.id,
        name: "Copy me",
        tiers: [
          { hoursBeforeMin: 0, hoursBeforeMax: 24, feeBasisPoints: 10000, feeFixedAmount: 0 },
          { hoursBeforeMin: 24, hoursBeforeMax: 48, feeBasisPoints: 1250, feeFixedAmount: 300 },
          { hoursBeforeMin: 48, hoursBeforeMax: null, feeBasisPoints: 0, feeFixedAmount: 0 },
        ],
        rescheduleInFeeWindow: "CHARGE",
      });
      // Two active policies in one salon cannot exist: the database refuses the second.
      const older = await createPolicy(owner, empty.id, { name: "Older", active: false });
      await assert.rejects(
        db.update(cancellationPolicies).set({ active: true }).where(eq(cancellationPolicies.id, older.id)),
        (error) => isUniqueViolation(error, "cancellation_policies_one_active_key"),
      );
      assert.equal((await loadActivePolicyTiers(db, empty.id))?.policyId, created.id);
    });

    await t.step("inactive policies and those of inactive salons are only for the salon's managers", async () => {
      const shop = await makeSalon(send, owner);
      const active = await createPolicy(owner, shop.id, { name: "Live" });
      const inactive = await createPolicy(owner, shop.id, { name: "Old", active: false });
      for (const user of [null, client, rival, stylist]) {
        assert.equal((await send("GET", `/cancellation-policies/${inactive.id}`, user)).status, 404);
        assert.equal((await send("GET", `/cancellation-policies/${active.id}`, user)).status, 200);
      }
      for (const user of [owner, admin]) {
        assert.equal((await send("GET", `/cancellation-policies/${inactive.id}`, user)).status, 200);
      }
      const inactiveList = `/cancellation-policies?salon_id=${shop.id}&include_inactive=true`;
      assert.equal((await send("GET", inactiveList, null)).status, 401);
      assert.equal((await send("GET", inactiveList, client)).status, 403);
      assert.equal((await send("GET", inactiveList, rival)).status, 404);
      assert.equal((await send("GET", inactiveList, admin)).body.data.length, 2);
      assert.equal((await send("GET", `/cancellation-policies/${crypto.randomUUID()}`, owner)).status, 404);
      assert.equal((await send("GET", "/cancellation-policies", null)).status, 400);

      assert.equal((await send("PATCH", `/salons/${shop.id}`, owner, { active: false })).status, 200);
      assert.equal((await send("GET", `/cancellation-policies/${active.id}`, null)).status, 404);
      assert.deepEqual((await send("GET", `/cancellation-policies?salon_id=${shop.id}`, null)).body.data, []);
      assert.equal((await send("GET", `/cancellation-policies/${active.id}`, owner)).status, 200);
    });

    await t.step("lists page by name without repeats", async () => {
      const shop = await makeSalon(send, owner);
      for (const name of ["Cedar", "Aspen", "Birch", "Aspen"]) {
        await createPolicy(owner, shop.id, { name, active: false });
      }
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const res = await send(
          "GET",
          `/cancellation-policies?salon_id=${shop.id}&include_inactive=true&limit=3${
            cursor ? `&cursor=${cursor}` : ""
          }`,
          owner,
        );
        assert.equal(res.status, 200);
        seen.push(...res.body.data.map((p: { name: string }) => p.name));
        cursor = res.body.next_cursor;
      } while (cursor);
      assert.deepEqual(seen, ["Aspen", "Aspen", "Birch", "Cedar"]);
      assert.equal((await send("GET", `/cancellation-policies?salon_id=${shop.id}&cursor=abc`, null)).status, 400);
    });

    await t.step("managers rename and replace tiers, audited; others cannot", async () => {
      const policy = await createPolicy(owner, salon.id, { name: "Editable", active: false });
      const path = `/cancellation-policies/${policy.id}`;
      const edited = await send("PATCH", path, owner, { name: "Edited", tiers: [tier(0, 12, 50), tier(12, null)] });
      assert.equal(edited.status, 200, JSON.stringify(edited.body));
      assert.equal(edited.body.name, "Edited");
      assert.equal(edited.body.active, false);
      assert.deepEqual(edited.body.tiers, [tier(0, 12, 50), tier(12, null)]);
      assert.equal(
        (await db.select().from(cancellationPolicyTiers).where(eq(cancellationPolicyTiers.policyId, policy.id)))
          .length,
        2,
      );
      const [event] = await db.select().from(auditEvents)
        .where(and(eq(auditEvents.entityId, policy.id), eq(auditEvents.action, "cancellation_policy.update")));
      assert.deepEqual((event.data as { fields: string[] }).fields.sort(), ["name", "tiers"]);

      const bad = await send("PATCH", path, owner, { tiers: [tier(0, 12), tier(13, null)] });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.errors[0].path, "tiers.1.hours_before_min");
      assert.equal((await send("PATCH", path, owner, {})).status, 400);
      assert.equal((await send("PATCH", path, owner, { salon_id: rivalSalon.id })).status, 400);

      const rivals = await send("PATCH", path, rival, { name: "Mine now" });
      assert.equal(rivals.status, 404);
      assert.equal(rivals.body.detail, "No such cancellation policy");
      assert.equal((await send("PATCH", path, client, { name: "Mine now" })).status, 403);
      assert.equal((await send("PATCH", path, stylist, { name: "Mine now" })).status, 403);
      assert.equal((await send("PATCH", path, null, { name: "Mine now" })).status, 401);
      assert.equal(
        (await send("PATCH", `/cancellation-policies/${crypto.randomUUID()}`, owner, { name: "X" })).status,
        404,
      );
      const admins = await send("PATCH", path, admin, { name: "By admin" });
      assert.equal(admins.status, 200);
      const [row] = await db.select().from(cancellationPolicies).where(eq(cancellationPolicies.id, policy.id));
      assert.equal(row.name, "By admin");
    });

    await t.step("quotes use the booking's copy of the policy, by the hours left", async (step) => {
      const quoteOwner = await makeUser(testApp, "SALON_OWNER");
      const shop = await makeSalon(send, quoteOwner);
      const professional = await makeLinkedProfessional(testApp, send, quoteOwner, shop.id, stylist);
      await makeLinkedProfessional(testApp, send, quoteOwner, shop.id, colleague);
      const service = await makeService(send, quoteOwner, shop.id, { professional_ids: [professional.id] });
      const policy = await createPolicy(quoteOwner, shop.id);
      const loaded = await loadActivePolicyTiers(db, shop.id);
      const snapshot = { policy_id: loaded!.policyId, name: loaded!.name, tiers: loaded!.tiers };

      const T0 = clock.getTime();
      let day = 0;
      /** A booking of the shop for `client`, an hour long, each on its own day so none overlap. */
      const addBooking = async (fields: Partial<typeof bookings.$inferInsert> = {}) => {
        day++;
        const startsAt = new Date(T0 + 72 * HOUR + day * 24 * HOUR);
        const endsAt = new Date(startsAt.getTime() + HOUR);
        const [row] = await db.insert(bookings).values({
          salonId: shop.id,
          clientId: client.id,
          professionalId: professional.id,
          serviceId: service.id,
          startsAt,
          endsAt,
          blockStartsAt: startsAt,
          blockEndsAt: endsAt,
          status: "CONFIRMED",
          priceAmount: 8000,
          depositAmount: 2000,
          currency: "BRL",
          policySnapshot: snapshot,
          ...fields,
        }).returning();
        // A confirmed booking here paid its deposit: the quote refunds from what was captured.
        if (row.status === "CONFIRMED") {
          await db.insert(payments).values({
            bookingId: row.id,
            provider: "MOCK",
            providerPaymentId: `pi_quote_${row.id}`,
            status: "SUCCEEDED",
            amount: row.depositAmount,
            currency: "BRL",
          });
        }
        return row;
      };
      /** The user signed in again at the current clock: moving the clock by hours outlives access tokens. */
      const fresh = async (user: SignedInUser): Promise<SignedInUser> => {
        const login = await send("POST", "/auth/login", null, { email: user.email, password: user.password });
        assert.equal(login.status, 200);
        return { ...user, accessToken: login.body.access_token };
      };
      const quoteAs = async (user: SignedInUser | null, bookingId: string, policyId = policy.id) =>
        await send(
          "GET",
          `/cancellation-policies/${policyId}/quote?booking=${bookingId}`,
          user && await fresh(user),
        );
      const money = (amount: number) => ({ amount, currency: "BRL" });

      const booking = await addBooking();
      const startsAt = booking.startsAt.getTime();
      const at = async (time: number) => {
        clock = new Date(time);
        const res = await quoteAs(client, booking.id);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        return res.body;
      };
      try {
        // Tiers by index in the copy: 0 is 0–24 h (100%), 1 is 24–48 h (12.5% + 300), 2 is 48 h or more (free).
        assert.deepEqual(await at(startsAt - 96 * HOUR), {
          booking_id: booking.id,
          policy_id: policy.id,
          hours_before: 96,
          allowed: true,
          fee: money(0),
          refund: money(2000),
          carried_fee: money(0),
          tier_index: 2,
        });
        const edge48 = await at(startsAt - 48 * HOUR);
        assert.deepEqual([edge48.hours_before, edge48.tier_index, edge48.fee], [48, 2, money(0)]);
        const under48 = await at(startsAt - 48 * HOUR + 1);
        assert.deepEqual(
          [under48.hours_before, under48.tier_index, under48.fee, under48.refund],
          [47.99, 1, money(1300), money(700)],
        );
        const edge24 = await at(startsAt - 24 * HOUR);
        assert.deepEqual([edge24.hours_before, edge24.tier_index, edge24.fee], [24, 1, money(1300)]);
        const late = await at(startsAt - HOUR / 2);
        assert.deepEqual(
          [late.hours_before, late.tier_index, late.fee, late.refund],
          [0.5, 0, money(8000), money(0)],
        );
        for (const time of [startsAt, startsAt + 1, startsAt + 2 * HOUR]) {
          const after = await at(time);
          assert.equal(after.allowed, false);
          assert.match(after.reason, /contact the salon/);
          assert.deepEqual([after.fee, after.refund, after.tier_index], [money(0), money(0), null]);
        }

        clock = new Date(startsAt - 30 * HOUR);
        // Editing the policy later changes nothing for the booking: it keeps its copy.
        const edited = await send("PATCH", `/cancellation-policies/${policy.id}`, await fresh(quoteOwner), {
          tiers: [tier(0, null, 100)],
        });
        assert.equal(edited.status, 200);
        const kept = await quoteAs(client, booking.id);
        assert.deepEqual([kept.body.tier_index, kept.body.fee], [1, money(1300)]);

        // Pending bookings have paid nothing yet; bookings made without a policy cost nothing.
        const pending = await addBooking({ status: "PENDING", holdExpiresAt: new Date(clock.getTime() + HOUR) });
        clock = new Date(pending.startsAt.getTime() - 30 * HOUR);
        const pendingQuote = await quoteAs(client, pending.id);
        assert.deepEqual([pendingQuote.body.fee, pendingQuote.body.refund], [money(1300), money(0)]);
        const noPolicy = await addBooking({ policySnapshot: null });
        clock = new Date(noPolicy.startsAt.getTime() - HOUR);
        const free = await quoteAs(client, noPolicy.id);
        assert.equal(free.status, 200);
        assert.deepEqual(
          [free.body.policy_id, free.body.tier_index, free.body.fee, free.body.refund, free.body.allowed],
          [null, null, money(0), money(2000), true],
        );
        const done = await addBooking({ status: "COMPLETED" });
        const doneQuote = await quoteAs(client, done.id);
        assert.equal(doneQuote.body.allowed, false);
        assert.equal(doneQuote.body.reason, "a COMPLETED booking cannot be cancelled");
        assert.deepEqual([doneQuote.body.fee, doneQuote.body.refund], [money(0), money(0)]);
      } finally {
        clock = new Date(T0);
      }

      await step.step("the client, the assigned professional, the salon's managers and admins see it", async () => {
        for (const user of [client, stylist, quoteOwner, admin]) {
          assert.equal((await quoteAs(user, booking.id)).status, 200, user.role);
        }
        for (const user of [otherClient, colleague, rival, owner]) {
          const res = await quoteAs(user, booking.id);
          assert.equal(res.status, 404, user.role);
          assert.equal(res.body.detail, "No such booking");
        }
        assert.equal((await quoteAs(null, booking.id)).status, 401);
        assert.equal((await quoteAs(client, crypto.randomUUID())).status, 404);
        assert.equal((await send("GET", `/cancellation-policies/${policy.id}/quote`, client)).status, 400);
      });

      await step.step("the path names a policy of the booking's salon or the one it was made under", async () => {
        const rivalPolicy = await createPolicy(rival, rivalSalon.id);
        const wrong = await quoteAs(client, booking.id, rivalPolicy.id);
        assert.equal(wrong.status, 404);
        assert.equal(wrong.body.detail, "No such cancellation policy");
        assert.equal((await quoteAs(client, booking.id, crypto.randomUUID())).status, 404);
        // A later policy of the salon works too, and the copy still decides the fee.
        const newer = await createPolicy(quoteOwner, shop.id, { name: "Newer", tiers: [tier(0, null, 100)] });
        const viaNewer = await quoteAs(client, booking.id, newer.id);
        assert.equal(viaNewer.status, 200);
        assert.equal(viaNewer.body.policy_id, policy.id);
        assert.equal(viaNewer.body.tier_index, 2);
        // The policy the booking was made under, now inactive, still answers.
        assert.equal((await quoteAs(client, booking.id, policy.id)).status, 200);
      });
    });
  } finally {
    await testApp.close();
  }
});
