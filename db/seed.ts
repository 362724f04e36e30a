/**
 * `deno task db:seed`: fills the configured database (the embedded one under .data/ by default)
 * with a demo marketplace: salons in three time zones, professionals with weekly hours, services
 * with variations and deposits, a holiday, and some bookings. Prints the accounts to sign in with.
 * Run it with the dev server stopped (the embedded database has one writer). Running it again
 * changes nothing.
 */
import { eq } from "drizzle-orm";
import { loadConfig } from "../adapters/config.ts";
import { PasswordHasher } from "../adapters/passwords.ts";
import { hashToken, newOpaqueToken } from "../adapters/tokens.ts";
import { type Db, openDatabase } from "./client.ts";
import { migrate } from "./migrate.ts";
import { acceptProfessionalInvitation } from "./professionals.ts";
import {
  availabilityRules,
  bookings,
  professionalInvitations,
  professionals,
  professionalServices,
  salonClosures,
  salons,
  services,
  serviceVariations,
  users,
} from "./schema.ts";

export const DEMO_PASSWORD = "Demo1234";

interface DemoService {
  name: string;
  category: string;
  minutes: number;
  price: number;
  deposit?: { kind: "PERCENTAGE" | "FIXED"; value: number };
  bufferAfter?: number;
  variations?: { name: string; minutes: number; price: number }[];
}

interface DemoSalon {
  key: string;
  name: string;
  description: string;
  timeZone: string;
  currency: string;
  city: string;
  countryCode: string;
  latitude: number;
  longitude: number;
  holiday: string;
  professionals: { name: string; specialties: string[] }[];
  services: DemoService[];
}

const SALONS: DemoSalon[] = [
  {
    key: "paulista",
    name: "Studio Paulista",
    description: "Cortes, coloração e barbearia a dois passos da Avenida Paulista.",
    timeZone: "America/Sao_Paulo",
    currency: "BRL",
    city: "São Paulo",
    countryCode: "BR",
    latitude: -23.5614,
    longitude: -46.6559,
    holiday: "12-25",
    professionals: [
      { name: "Bruna Costa", specialties: ["coloração", "mechas"] },
      { name: "Rafael Lima", specialties: ["barba", "corte masculino"] },
    ],
    services: [
      {
        name: "Corte feminino",
        category: "hair",
        minutes: 60,
        price: 12000,
        bufferAfter: 10,
        variations: [{ name: "Cabelo longo", minutes: 75, price: 15000 }],
      },
      { name: "Barba", category: "barber", minutes: 30, price: 5000 },
      {
        name: "Coloração",
        category: "hair",
        minutes: 120,
        price: 28000,
        deposit: { kind: "PERCENTAGE", value: 3000 },
        bufferAfter: 15,
      },
    ],
  },
  {
    key: "lisboa",
    name: "Lisboa Hair Lab",
    description: "Hair and nails in Baixa, with walk-in friendly hours.",
    timeZone: "Europe/Lisbon",
    currency: "EUR",
    city: "Lisboa",
    countryCode: "PT",
    latitude: 38.7101,
    longitude: -9.1366,
    holiday: "12-24",
    professionals: [
      { name: "Inês Rocha", specialties: ["manicure", "nail art"] },
      { name: "Tiago Alves", specialties: ["corte", "styling"] },
    ],
    services: [
      {
        name: "Manicure",
        category: "nails",
        minutes: 45,
        price: 2500,
        variations: [{ name: "Gel", minutes: 60, price: 3500 }],
      },
      { name: "Corte e styling", category: "hair", minutes: 60, price: 4000, deposit: { kind: "FIXED", value: 1000 } },
    ],
  },
  {
    key: "brooklyn",
    name: "Brooklyn Nail Bar",
    description: "Nails, brows and lashes on Bedford Avenue.",
    timeZone: "America/New_York",
    currency: "USD",
    city: "New York",
    countryCode: "US",
    latitude: 40.7181,
    longitude: -73.9571,
    holiday: "11-26",
    professionals: [
      { name: "Maya Chen", specialties: ["lashes", "brows"] },
      { name: "Jordan Reyes", specialties: ["pedicure"] },
    ],
    services: [
      { name: "Lash lift", category: "lashes", minutes: 60, price: 9000, deposit: { kind: "FIXED", value: 2000 } },
      {
        name: "Pedicure",
        category: "nails",
        minutes: 50,
        price: 5500,
        bufferAfter: 10,
        variations: [{ name: "Spa pedicure", minutes: 70, price: 7500 }],
      },
      { name: "Brow shaping", category: "brows", minutes: 30, price: 3500 },
    ],
  },
];

/** Tuesday to Saturday, with a lunch break. */
const WEEK = [2, 3, 4, 5, 6].flatMap((day) => [
  { dayOfWeek: day, startTime: "09:00", endTime: "12:00" },
  { dayOfWeek: day, startTime: "13:00", endTime: "19:00" },
]);

export interface SeedResult {
  created: boolean;
  accounts: { role: string; email: string }[];
}

/** Seeds the demo unless its owner account exists already. */
export async function seed(
  db: Db,
  options: { passwords: PasswordHasher; now: Date },
): Promise<SeedResult> {
  const accounts = [
    { role: "ADMIN", email: "admin@demo.salon" },
    { role: "SALON_OWNER", email: "owner@demo.salon" },
    { role: "CLIENT", email: "client@demo.salon" },
    ...SALONS.flatMap((s) =>
      s.professionals.map((_, i) => ({ role: "PROFESSIONAL", email: `pro${i + 1}.${s.key}@demo.salon` }))
    ),
  ];
  const [existing] = await db.select({ id: users.id }).from(users).where(eq(users.email, "owner@demo.salon"));
  if (existing) return { created: false, accounts };

  const hash = await options.passwords.hash(DEMO_PASSWORD);
  const userIds = new Map(accounts.map((a) => [a.email, crypto.randomUUID()]));
  await db.insert(users).values(accounts.map((a) => ({
    id: userIds.get(a.email)!,
    email: a.email,
    passwordHash: hash,
    fullName: a.email.split("@")[0].replace(/[.\d]+/g, " ").trim().replace(/^\w/, (c) => c.toUpperCase()),
    role: a.role as "ADMIN" | "SALON_OWNER" | "CLIENT" | "PROFESSIONAL",
    verified: true,
  })));
  const ownerId = userIds.get("owner@demo.salon")!;
  const clientId = userIds.get("client@demo.salon")!;

  for (const demo of SALONS) {
    const salonId = crypto.randomUUID();
    const proIds = demo.professionals.map(() => crypto.randomUUID());
    const proEmails = demo.professionals.map((_, i) => `pro${i + 1}.${demo.key}@demo.salon`);
    // Professionals join as anyone does: invited, then linked by the invitation's acceptance
    // (these tokens are never sent; the demo accounts accept at once, below).
    const invitationIds = demo.professionals.map(() => crypto.randomUUID());
    const tokenHashes = await Promise.all(demo.professionals.map(() => hashToken(newOpaqueToken())));
    const serviceIds = demo.services.map(() => crypto.randomUUID());
    const year = Temporal.Instant.fromEpochMilliseconds(options.now.getTime()).toZonedDateTimeISO(demo.timeZone).year;
    await db.batch([
      db.insert(salons).values({
        id: salonId,
        ownerId,
        name: demo.name,
        description: demo.description,
        timeZone: demo.timeZone,
        currency: demo.currency,
        city: demo.city,
        countryCode: demo.countryCode,
        latitude: demo.latitude,
        longitude: demo.longitude,
        email: `hello.${demo.key}@demo.salon`,
      }),
      db.insert(professionals).values(demo.professionals.map((p, i) => ({
        id: proIds[i],
        userId: null,
        salonId,
        displayName: p.name,
        specialties: p.specialties,
        commissionBasisPoints: 4000,
      }))),
      db.insert(professionalInvitations).values(demo.professionals.map((_, i) => ({
        id: invitationIds[i],
        professionalId: proIds[i],
        email: proEmails[i],
        tokenHash: tokenHashes[i],
        expiresAt: new Date(options.now.getTime() + 7 * 24 * 3_600_000),
      }))),
      db.insert(services).values(demo.services.map((s, i) => ({
        id: serviceIds[i],
        salonId,
        name: s.name,
        category: s.category,
        durationMinutes: s.minutes,
        priceAmount: s.price,
        currency: demo.currency,
        depositKind: s.deposit?.kind ?? ("NONE" as const),
        depositValue: s.deposit?.value ?? 0,
        bufferAfterMinutes: s.bufferAfter ?? 0,
      }))),
      db.insert(serviceVariations).values(demo.services.flatMap((s, i) =>
        (s.variations ?? []).map((v) => ({
          serviceId: serviceIds[i],
          name: v.name,
          durationMinutes: v.minutes,
          priceAmount: v.price,
        }))
      )),
      db.insert(professionalServices).values(
        proIds.flatMap((professionalId) => serviceIds.map((serviceId) => ({ professionalId, serviceId }))),
      ),
      db.insert(availabilityRules).values(
        proIds.flatMap((professionalId) => WEEK.map((w) => ({ ...w, professionalId }))),
      ),
      db.insert(salonClosures).values(
        [year, year + 1].map((y) => ({
          salonId,
          startDate: `${y}-${demo.holiday}`,
          endDate: `${y}-${demo.holiday}`,
          reason: "Holiday",
        })),
      ),
    ]);

    for (const [i, email] of proEmails.entries()) {
      await acceptProfessionalInvitation(db, {
        invitationId: invitationIds[i],
        email,
        account: { kind: "existing", id: userIds.get(email)! },
      }, { ip: null, userAgent: null, requestId: "seed", now: options.now });
    }

    // A few bookings for the demo client: at 10:00 on the next working days, one with each professional.
    const first = demo.services[0];
    const today = Temporal.Instant.fromEpochMilliseconds(options.now.getTime()).toZonedDateTimeISO(demo.timeZone)
      .toPlainDate();
    const rows = [];
    for (let offset = 1, made = 0; made < 4 && offset < 14; offset++) {
      const date = today.add({ days: offset });
      if (date.dayOfWeek === 1 || date.dayOfWeek === 7) continue;
      const start = date.toZonedDateTime({ timeZone: demo.timeZone, plainTime: "10:00" }).toInstant();
      const startsAt = new Date(start.epochMilliseconds);
      const endsAt = new Date(start.epochMilliseconds + first.minutes * 60_000);
      rows.push({
        salonId,
        clientId,
        professionalId: proIds[made % proIds.length],
        serviceId: serviceIds[0],
        startsAt,
        endsAt,
        blockStartsAt: startsAt,
        blockEndsAt: new Date(endsAt.getTime() + (first.bufferAfter ?? 0) * 60_000),
        status: "CONFIRMED" as const,
        priceAmount: first.price,
        currency: demo.currency,
      });
      made++;
    }
    if (rows.length > 0) await db.insert(bookings).values(rows);
  }
  return { created: true, accounts };
}

if (import.meta.main) {
  const config = loadConfig(Deno.env.toObject(), { server: false });
  if (!config.DATABASE_URL) await Deno.mkdir(config.DATA_DIR, { recursive: true });
  const database = await openDatabase({ url: config.DATABASE_URL, dataDir: config.DATA_DIR });
  try {
    await migrate(database.sql);
    const passwords = new PasswordHasher({
      memoryCost: config.ARGON2_MEMORY_KIB,
      timeCost: config.ARGON2_ITERATIONS,
      parallelism: 1,
    });
    const result = await seed(database.db, { passwords, now: new Date() });
    console.log(result.created ? `Demo data written to ${database.location}.` : "Demo data is already there.");
    console.log(`Sign in (POST /api/v1/auth/login) with any of these, password ${DEMO_PASSWORD}:`);
    for (const account of result.accounts) console.log(`  ${account.role.padEnd(12)} ${account.email}`);
  } finally {
    await database.close();
  }
}
