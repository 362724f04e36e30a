/**
 * Every route with every role: the status each gets. Later issues add their routes here.
 * `anonymous` sends no token.
 */
import assert from "node:assert/strict";
import { bookings } from "../../db/schema.ts";
import { apiClient } from "../support/api.ts";
import { makeTestApp } from "../support/app.ts";
import { makeProfessional, makeSalon, makeService } from "../support/catalog.ts";
import { makeUser, type SignedInUser } from "../support/users.ts";

type Who = "anonymous" | "CLIENT" | "PROFESSIONAL" | "SALON_OWNER" | "ADMIN";

interface Row {
  method: string;
  path: string;
  body?: unknown;
  expect: Record<Who, number>;
}

const everyone = (status: number): Record<Who, number> => ({
  anonymous: status,
  CLIENT: status,
  PROFESSIONAL: status,
  SALON_OWNER: status,
  ADMIN: status,
});
const signedIn = (status: number): Record<Who, number> => ({ ...everyone(status), anonymous: 401 });
const adminOnly = (status: number): Record<Who, number> => ({ ...everyone(403), anonymous: 401, ADMIN: status });
/** Owners and admins may; an owner acting on another owner's object gets `ownerStatus` (404: not theirs). */
const ownersAndAdmins = (status: number, ownerStatus = status): Record<Who, number> => ({
  anonymous: 401,
  CLIENT: 403,
  PROFESSIONAL: 403,
  SALON_OWNER: ownerStatus,
  ADMIN: status,
});

/** The professional themself or the salon's managers; another professional or owner gets 404. */
const selfOrManagers = (status: number): Record<Who, number> => ({
  anonymous: 401,
  CLIENT: 403,
  PROFESSIONAL: 404,
  SALON_OWNER: 404,
  ADMIN: status,
});

const NEW_SALON = { name: "Table salon", time_zone: "America/Sao_Paulo", currency: "BRL" };
const TABLE_TIER = { hours_before_min: 0, hours_before_max: null, fee_percent: 50, fee_fixed_amount: 0 };

const TABLE: Row[] = [
  { method: "GET", path: "/health", expect: everyone(200) },
  { method: "GET", path: "/health/live", expect: everyone(200) },
  { method: "GET", path: "/health/ready", expect: everyone(200) },
  { method: "GET", path: "/health/db", expect: everyone(200) },
  { method: "GET", path: "/health/redis", expect: everyone(200) },
  { method: "GET", path: "/openapi.json", expect: everyone(200) },
  { method: "POST", path: "/api/v1/auth/refresh", body: { refresh_token: "unknown" }, expect: everyone(401) },
  { method: "POST", path: "/api/v1/auth/verify-email/request", expect: signedIn(202) },
  { method: "POST", path: "/api/v1/auth/verify-email/confirm", body: { token: "unknown" }, expect: everyone(400) },
  {
    method: "POST",
    path: "/api/v1/auth/password-reset/request",
    body: { email: "someone@example.com" },
    expect: everyone(202),
  },
  {
    method: "POST",
    path: "/api/v1/auth/password-reset/confirm",
    body: { token: "unknown", new_password: "Secret123" },
    expect: everyone(400),
  },
  { method: "GET", path: "/api/v1/users/me", expect: signedIn(200) },
  { method: "PATCH", path: "/api/v1/users/me", body: { locale: "en" }, expect: signedIn(200) },
  {
    method: "POST",
    path: "/api/v1/users/me/password",
    body: { current_password: "Secret123", new_password: "Secret123" },
    expect: signedIn(204),
  },
  // Fixture users have no phone number: nothing to verify.
  { method: "POST", path: "/api/v1/users/me/phone/verification", expect: signedIn(409) },
  {
    method: "POST",
    path: "/api/v1/users/me/phone/verification/confirm",
    body: { code: "123456" },
    expect: signedIn(409),
  },
  { method: "GET", path: "/api/v1/users", expect: adminOnly(200) },
  { method: "PATCH", path: "/api/v1/users/{target}", body: { active: true }, expect: adminOnly(200) },
  // Catalog. `{salon}` belongs to another owner than the caller.
  { method: "POST", path: "/api/v1/salons", body: NEW_SALON, expect: ownersAndAdmins(201) },
  { method: "GET", path: "/api/v1/salons", expect: everyone(200) },
  { method: "GET", path: "/api/v1/salons?mine=true", expect: ownersAndAdmins(200) },
  { method: "GET", path: "/api/v1/salons/{salon}", expect: everyone(200) },
  {
    method: "PATCH",
    path: "/api/v1/salons/{salon}",
    body: { description: "Updated" },
    expect: ownersAndAdmins(200, 404),
  },
  // `{service}` is an active service of `{salon}` and `{variation}` one of its variations.
  {
    method: "POST",
    path: "/api/v1/services",
    body: { salon_id: "{salon}", name: "Table cut", category: "Hair", duration_minutes: 30, price_amount: 5000 },
    expect: ownersAndAdmins(201, 404),
  },
  { method: "GET", path: "/api/v1/services", expect: everyone(200) },
  {
    method: "GET",
    path: "/api/v1/services?salon_id={salon}&include_inactive=true",
    expect: ownersAndAdmins(200, 404),
  },
  { method: "GET", path: "/api/v1/services/{service}", expect: everyone(200) },
  {
    method: "PATCH",
    path: "/api/v1/services/{service}",
    body: { description: "Updated" },
    expect: ownersAndAdmins(200, 404),
  },
  {
    method: "POST",
    path: "/api/v1/services/{service}/variations",
    body: { name: "Table variation", duration_minutes: 45, price_amount: 6000 },
    expect: ownersAndAdmins(201, 404),
  },
  {
    method: "PATCH",
    path: "/api/v1/services/{service}/variations/{variation}",
    body: { price_amount: 5500 },
    expect: ownersAndAdmins(200, 404),
  },
  {
    method: "PUT",
    path: "/api/v1/services/{service}/professionals",
    body: { professional_ids: ["{professional}"] },
    expect: ownersAndAdmins(200, 404),
  },
  // `{professional}` works at `{salon}` and performs `{service}`; the caller is never that person.
  {
    method: "POST",
    path: "/api/v1/professionals",
    body: { salon_id: "{salon}", email: "table-pro@example.com", display_name: "Table pro" },
    expect: ownersAndAdmins(201, 404),
  },
  { method: "GET", path: "/api/v1/professionals", expect: everyone(200) },
  {
    method: "GET",
    path: "/api/v1/professionals?salon_id={salon}&include_inactive=true",
    expect: ownersAndAdmins(200, 404),
  },
  { method: "GET", path: "/api/v1/professionals/{professional}", expect: everyone(200) },
  { method: "PATCH", path: "/api/v1/professionals/{professional}", body: { bio: "Hi" }, expect: selfOrManagers(200) },
  // `{professional}` has not accepted their invitation: the salon's managers may send a new one.
  { method: "POST", path: "/api/v1/professionals/{professional}/invitation", expect: ownersAndAdmins(202, 404) },
  {
    method: "POST",
    path: "/api/v1/auth/invitation/accept",
    body: { token: "unknown", password: "Secret123" },
    expect: everyone(400),
  },
  { method: "GET", path: "/api/v1/professionals/{professional}/availability/rules", expect: everyone(200) },
  {
    method: "PUT",
    path: "/api/v1/professionals/{professional}/availability/rules",
    body: { rules: [{ day_of_week: 1, start: "09:00", end: "17:00" }] },
    expect: selfOrManagers(200),
  },
  { method: "GET", path: "/api/v1/professionals/{professional}/availability/overrides", expect: everyone(200) },
  {
    method: "PUT",
    path: "/api/v1/professionals/{professional}/availability/overrides/2026-12-24",
    body: { closed: true },
    expect: selfOrManagers(200),
  },
  {
    method: "DELETE",
    path: "/api/v1/professionals/{professional}/availability/overrides/2026-12-24",
    expect: selfOrManagers(204),
  },
  { method: "GET", path: "/api/v1/professionals/{professional}/time-off", expect: selfOrManagers(200) },
  {
    method: "POST",
    path: "/api/v1/professionals/{professional}/time-off",
    body: { starts_at: "2026-12-01T10:00:00Z", ends_at: "2026-12-01T12:00:00Z" },
    expect: selfOrManagers(201),
  },
  { method: "DELETE", path: "/api/v1/professionals/{professional}/time-off/{timeOff}", expect: selfOrManagers(204) },
  { method: "GET", path: "/api/v1/salons/{salon}/closures", expect: everyone(200) },
  {
    method: "POST",
    path: "/api/v1/salons/{salon}/closures",
    body: { start_date: "2026-12-25", end_date: "2026-12-25" },
    expect: ownersAndAdmins(201, 404),
  },
  { method: "DELETE", path: "/api/v1/salons/{salon}/closures/{closure}", expect: ownersAndAdmins(204, 404) },
  {
    method: "GET",
    path: "/api/v1/scheduling/professionals/{professional}/slots?service={service}",
    expect: everyone(200),
  },
  { method: "GET", path: "/api/v1/scheduling/salons/{salon}/slots?service={service}", expect: everyone(200) },
  // `{policy}` is the active cancellation policy of `{salon}`; `{booking}` a booking there of another client.
  {
    method: "POST",
    path: "/api/v1/cancellation-policies",
    body: { salon_id: "{salon}", name: "Table policy", tiers: [TABLE_TIER], active: false },
    expect: ownersAndAdmins(201, 404),
  },
  { method: "GET", path: "/api/v1/cancellation-policies?salon_id={salon}", expect: everyone(200) },
  {
    method: "GET",
    path: "/api/v1/cancellation-policies?salon_id={salon}&include_inactive=true",
    expect: ownersAndAdmins(200, 404),
  },
  { method: "GET", path: "/api/v1/cancellation-policies/{policy}", expect: everyone(200) },
  {
    method: "PATCH",
    path: "/api/v1/cancellation-policies/{policy}",
    body: { name: "Table policy" },
    expect: ownersAndAdmins(200, 404),
  },
  {
    method: "GET",
    path: "/api/v1/cancellation-policies/{policy}/quote?booking={booking}",
    expect: { ...signedIn(404), ADMIN: 200 },
  },
  // Bookings: `{booking}` is another client's; every caller but an admin is a stranger to it.
  {
    method: "POST",
    path: "/api/v1/bookings",
    body: { service_id: "{service}", professional_id: "{professional}", starts_at: "2020-01-06T12:00:00Z" },
    expect: signedIn(422),
  },
  { method: "GET", path: "/api/v1/bookings", expect: signedIn(200) },
  { method: "GET", path: "/api/v1/bookings/{booking}", expect: { ...signedIn(404), ADMIN: 200 } },
  {
    method: "PATCH",
    path: "/api/v1/bookings/{booking}/reschedule",
    body: { starts_at: "2020-01-06T12:00:00Z" },
    expect: { ...signedIn(404), ADMIN: 422 },
  },
  { method: "PATCH", path: "/api/v1/bookings/{booking}/complete", expect: { ...signedIn(404), ADMIN: 409 } },
  { method: "PATCH", path: "/api/v1/bookings/{booking}/no-show", expect: { ...signedIn(404), ADMIN: 409 } },
  { method: "PATCH", path: "/api/v1/bookings/{booking}/cancel", body: {}, expect: { ...signedIn(404), ADMIN: 200 } },
  { method: "PATCH", path: "/api/v1/bookings/{booking}/approve", expect: { ...signedIn(404), ADMIN: 409 } },
  { method: "GET", path: "/api/v1/overbooking?salon_id={salon}", expect: ownersAndAdmins(200, 404) },
  {
    method: "PUT",
    path: "/api/v1/overbooking/salons/{salon}",
    body: { max_overbooking_percent: 0 },
    expect: ownersAndAdmins(200, 404),
  },
  {
    method: "PUT",
    path: "/api/v1/overbooking/professionals/{professional}",
    body: { max_overbooking_percent: 0 },
    expect: ownersAndAdmins(200, 404),
  },
  { method: "PATCH", path: "/api/v1/bookings/{booking}/check-in", expect: { ...signedIn(404), ADMIN: 409 } },
  // Job callbacks answer only to a valid QStash signature, whoever calls.
  { method: "POST", path: "/jobs/detect-no-shows", body: {}, expect: everyone(401) },
  { method: "GET", path: "/api/v1/admin/jobs", expect: adminOnly(200) },
  { method: "POST", path: "/api/v1/admin/jobs/{target}/redrive", expect: { ...adminOnly(404) } },
  { method: "GET", path: "/api/v1/notifications", expect: signedIn(200) },
  { method: "GET", path: "/api/v1/notifications/unread-count", expect: signedIn(200) },
  { method: "PATCH", path: "/api/v1/notifications/{target}/read", expect: signedIn(404) },
  { method: "POST", path: "/api/v1/notifications/read-all", expect: signedIn(200) },
  { method: "GET", path: "/api/v1/users/me/notification-preferences", expect: signedIn(200) },
  { method: "PATCH", path: "/api/v1/users/me/notification-preferences", body: { SMS: false }, expect: signedIn(200) },
  // The developer's view exists only in development mode, from loopback (tests/api/development_test.ts).
  { method: "GET", path: "/dev/outbox", expect: everyone(404) },
  { method: "GET", path: "/api/v1/payments", expect: signedIn(200) },
  { method: "GET", path: "/api/v1/payments/{target}", expect: signedIn(404) },
  {
    method: "POST",
    path: "/api/v1/payments/{target}/mock-confirm",
    body: { card_number: "4242424242424242" },
    expect: signedIn(404),
  },
  { method: "GET", path: "/api/v1/payments/metrics?salon_id={salon}", expect: ownersAndAdmins(200, 404) },
  {
    method: "POST",
    path: "/api/v1/refunds",
    body: { payment_id: "{target}", amount: 100, reason: "Goodwill" },
    expect: ownersAndAdmins(404),
  },
  { method: "POST", path: "/api/v1/admin/payments/reconcile", expect: adminOnly(200) },
  { method: "GET", path: "/api/v1/admin/payments/reconciliation", expect: adminOnly(200) },
  { method: "GET", path: "/api/v1/admin/refunds?status=FAILED", expect: adminOnly(200) },
  { method: "POST", path: "/api/v1/admin/refunds/{target}/retry", expect: adminOnly(404) },
  // Stripe's webhook answers only to a valid Stripe-Signature, whoever calls.
  { method: "POST", path: "/webhooks/stripe", body: {}, expect: everyone(400) },
  { method: "POST", path: "/api/v1/auth/logout", expect: signedIn(204) },
];

Deno.test("access by role for every route", async (t) => {
  const testApp = await makeTestApp({ LOG_LEVEL: "silent" });
  try {
    const target = await makeUser(testApp);
    const send = apiClient(testApp);
    const salonOwner = await makeUser(testApp, "SALON_OWNER");
    const salon = await makeSalon(send, salonOwner);
    const professional = await makeProfessional(send, salonOwner, salon.id);
    const service = await makeService(send, salonOwner, salon.id, {
      variations: [{ name: "Short", duration_minutes: 30, price_amount: 5000 }],
      professional_ids: [professional.id],
    });
    const timeOff = await send("POST", `/professionals/${professional.id}/time-off`, salonOwner, {
      starts_at: "2026-12-02T10:00:00Z",
      ends_at: "2026-12-02T12:00:00Z",
    });
    const closure = await send("POST", `/salons/${salon.id}/closures`, salonOwner, {
      start_date: "2026-12-31",
      end_date: "2026-12-31",
    });
    const policy = await send("POST", "/cancellation-policies", salonOwner, {
      salon_id: salon.id,
      name: "Table",
      tiers: [TABLE_TIER],
    });
    const startsAt = new Date("2026-12-03T13:00:00Z");
    const endsAt = new Date("2026-12-03T14:00:00Z");
    const [booking] = await testApp.deps.database.db.insert(bookings).values({
      salonId: salon.id,
      clientId: target.id,
      professionalId: professional.id,
      serviceId: service.id,
      startsAt,
      endsAt,
      blockStartsAt: startsAt,
      blockEndsAt: endsAt,
      status: "CONFIRMED",
      priceAmount: 5000,
      currency: "BRL",
    }).returning();
    // Fills paths and bodies alike: a body may name the salon too.
    const fill = (text: string) =>
      text.replace("{target}", target.id).replace("{salon}", salon.id).replace("{service}", service.id)
        .replace("{variation}", service.variations[0].id).replace("{professional}", professional.id)
        .replace("{timeOff}", timeOff.body.id).replace("{closure}", closure.body.id)
        .replace("{policy}", policy.body.id).replace("{booking}", booking.id);
    for (const row of TABLE) {
      await t.step(`${row.method} ${row.path}`, async () => {
        for (const who of Object.keys(row.expect) as Who[]) {
          // A fresh user per call: logout and password change must not leak into other rows.
          const user: SignedInUser | undefined = who === "anonymous" ? undefined : await makeUser(testApp, who);
          const res = await testApp.app.request(fill(row.path), {
            method: row.method,
            headers: {
              ...(row.body ? { "content-type": "application/json" } : {}),
              ...(user ? { authorization: `Bearer ${user.accessToken}` } : {}),
            },
            ...(row.body ? { body: fill(JSON.stringify(row.body)) } : {}),
          });
          assert.equal(res.status, row.expect[who], `${who}: ${await res.text()}`);
        }
      });
    }
  } finally {
    await testApp.close();
  }
});
