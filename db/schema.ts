/**
 * The whole data model. Money is integer minor units beside an ISO 4217 currency; instants are
 * `timestamptz`; wall-clock rules are `time`/`date` read in the salon's IANA zone. Constraints that
 * Drizzle cannot express (exclusion constraints, materialized views) live in hand-written migrations.
 */
import { sql } from "drizzle-orm";
import {
  bigint,
  boolean,
  char,
  check,
  date,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  primaryKey,
  smallint,
  text,
  time,
  timestamp,
  unique,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";

const id = () => uuid().primaryKey().default(sql`gen_random_uuid()`);
const instant = () => timestamp({ withTimezone: true, mode: "date" });
const createdAt = () => instant().notNull().defaultNow();
const updatedAt = () => instant().notNull().defaultNow();

export const userRole = pgEnum("user_role", ["CLIENT", "PROFESSIONAL", "SALON_OWNER", "ADMIN"]);
export const bookingStatus = pgEnum("booking_status", [
  "PENDING",
  "CONFIRMED",
  "COMPLETED",
  "CANCELLED",
  "NO_SHOW",
  "EXPIRED",
]);
export const depositKind = pgEnum("deposit_kind", ["NONE", "PERCENTAGE", "FIXED"]);
export const paymentStatus = pgEnum("payment_status", [
  "PENDING",
  "REQUIRES_ACTION",
  "PROCESSING",
  "SUCCEEDED",
  "FAILED",
  "CANCELLED",
  "PARTIALLY_REFUNDED",
  "REFUNDED",
]);
export const paymentProvider = pgEnum("payment_provider", ["STRIPE", "MOCK"]);
export const refundStatus = pgEnum("refund_status", ["PENDING", "SUCCEEDED", "FAILED", "CANCELLED"]);
export const notificationChannel = pgEnum("notification_channel", ["EMAIL", "SMS", "PUSH", "IN_APP"]);
/** SENDING: a delivery has claimed it and is calling the provider; SUPPRESSED: not sent (message limit reached, or the phone is unverified). */
export const notificationStatus = pgEnum("notification_status", [
  "PENDING",
  "SENDING",
  "SENT",
  "FAILED",
  "READ",
  "SUPPRESSED",
]);
export const waitlistStatus = pgEnum("waitlist_status", ["WAITING", "OFFERED", "BOOKED", "EXPIRED", "CANCELLED"]);
export const cancelledBy = pgEnum("cancelled_by", ["CLIENT", "SALON", "SYSTEM"]);
export const overrideKind = pgEnum("availability_override_kind", ["CLOSED", "OPEN"]);
export const jobStatus = pgEnum("job_status", ["PENDING", "DELIVERED", "DEAD"]);

// ---------------------------------------------------------------------------------------------
// Identity

export const users = pgTable("users", {
  id: id(),
  email: text().notNull(),
  passwordHash: text().notNull(),
  fullName: text().notNull(),
  phone: text(),
  /** When the current phone number was proven with an SMS code; a new number starts unverified. SMS go only to a verified phone. */
  phoneVerifiedAt: instant(),
  role: userRole().notNull().default("CLIENT"),
  active: boolean().notNull().default(true),
  verified: boolean().notNull().default(false),
  locale: text().notNull().default("pt-BR"),
  lastLoginAt: instant(),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
}, (t) => [
  uniqueIndex("users_email_key").on(t.email),
  index("users_role_idx").on(t.role),
  check("users_email_normalised", sql`${t.email} = lower(btrim(${t.email}))`),
]);

/** One refresh-token family per login; rotation keeps the family, reuse revokes it whole. */
export const refreshTokenFamilies = pgTable("refresh_token_families", {
  id: id(),
  userId: uuid().notNull().references(() => users.id),
  createdAt: createdAt(),
  revokedAt: instant(),
  revokedReason: text(),
}, (t) => [index("refresh_token_families_user_idx").on(t.userId)]);

export const refreshTokens = pgTable("refresh_tokens", {
  id: id(),
  familyId: uuid().notNull().references(() => refreshTokenFamilies.id),
  tokenHash: text().notNull(),
  expiresAt: instant().notNull(),
  usedAt: instant(),
  createdAt: createdAt(),
}, (t) => [
  uniqueIndex("refresh_tokens_hash_key").on(t.tokenHash),
  index("refresh_tokens_family_idx").on(t.familyId),
]);

/** Single-use tokens (email verification, password reset, invitation), stored hashed. */
export const userTokens = pgTable("user_tokens", {
  id: id(),
  userId: uuid().notNull().references(() => users.id),
  purpose: text().notNull(),
  tokenHash: text().notNull(),
  expiresAt: instant().notNull(),
  usedAt: instant(),
  createdAt: createdAt(),
}, (t) => [
  uniqueIndex("user_tokens_hash_key").on(t.tokenHash),
  index("user_tokens_user_purpose_idx").on(t.userId, t.purpose),
  check(
    "user_tokens_purpose",
    sql`${t.purpose} in ('VERIFY_EMAIL', 'RESET_PASSWORD', 'INVITATION', 'VERIFY_PHONE')`,
  ),
]);

/** Access tokens denied before they expire (logout). */
export const revokedAccessTokens = pgTable("revoked_access_tokens", {
  jti: text().primaryKey(),
  userId: uuid().notNull().references(() => users.id),
  expiresAt: instant().notNull(),
}, (t) => [index("revoked_access_tokens_expires_idx").on(t.expiresAt)]);

// ---------------------------------------------------------------------------------------------
// Catalog

export const salons = pgTable("salons", {
  id: id(),
  ownerId: uuid().notNull().references(() => users.id),
  name: text().notNull(),
  description: text(),
  taxId: text(),
  phone: text(),
  email: text(),
  addressLine: text(),
  city: text(),
  region: text(),
  postalCode: text(),
  countryCode: char({ length: 2 }),
  latitude: doublePrecision(),
  longitude: doublePrecision(),
  timeZone: text().notNull(),
  currency: char({ length: 3 }).notNull(),
  locale: text().notNull().default("pt-BR"),
  slotStepMinutes: smallint().notNull().default(15),
  minimumNoticeMinutes: integer().notNull().default(60),
  bookingHorizonDays: integer().notNull().default(60),
  holdMinutes: smallint().notNull().default(15),
  /** How late a client may be before a confirmed booking counts as a no-show. */
  noShowToleranceMinutes: smallint().notNull().default(15),
  /** Hours before a confirmed booking's start at which the client is reminded. */
  reminderHours: smallint().array().notNull().default(sql`'{24,2}'::smallint[]`),
  /** Unpaid holds (PENDING bookings) one client may keep open at this salon at once. */
  maxOpenHoldsPerClient: smallint().notNull().default(2),
  /** Upcoming bookings (PENDING or CONFIRMED, not yet started) one client may have at this salon. */
  maxFutureBookingsPerClient: smallint().notNull().default(10),
  stripeAccountId: text(),
  active: boolean().notNull().default(true),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
}, (t) => [
  uniqueIndex("salons_tax_id_key").on(t.taxId),
  index("salons_owner_idx").on(t.ownerId),
  index("salons_active_idx").on(t.active),
  index("salons_location_idx").on(t.latitude, t.longitude),
  check("salons_slot_step", sql`${t.slotStepMinutes} between 5 and 240`),
  check("salons_minimum_notice", sql`${t.minimumNoticeMinutes} >= 0`),
  check("salons_no_show_tolerance", sql`${t.noShowToleranceMinutes} between 0 and 240`),
  check("salons_booking_horizon", sql`${t.bookingHorizonDays} between 1 and 730`),
  check(
    "salons_client_limits",
    sql`${t.maxOpenHoldsPerClient} between 1 and 100 and ${t.maxFutureBookingsPerClient} between 1 and 500`,
  ),
  check("salons_latitude", sql`${t.latitude} between -90 and 90`),
  check("salons_longitude", sql`${t.longitude} between -180 and 180`),
  check("salons_currency", sql`${t.currency} ~ '^[A-Z]{3}$'`),
]);

export const professionals = pgTable("professionals", {
  id: id(),
  /** The person's account: null until they accept the salon's invitation. */
  userId: uuid().references(() => users.id),
  salonId: uuid().notNull().references(() => salons.id),
  displayName: text().notNull(),
  specialties: text().array().notNull().default(sql`'{}'::text[]`),
  bio: text(),
  licenseNumber: text(),
  commissionBasisPoints: integer().notNull().default(0),
  active: boolean().notNull().default(true),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
}, (t) => [
  uniqueIndex("professionals_user_salon_key").on(t.userId, t.salonId),
  index("professionals_salon_idx").on(t.salonId),
  index("professionals_user_idx").on(t.userId),
  check("professionals_commission", sql`${t.commissionBasisPoints} between 0 and 10000`),
]);

/**
 * A salon's invitation to the person behind an email to work as one of its professionals. Nothing
 * is linked and no account or role changes until the person accepts with the token (stored hashed).
 */
export const professionalInvitations = pgTable("professional_invitations", {
  id: id(),
  professionalId: uuid().notNull().references(() => professionals.id),
  email: text().notNull(),
  tokenHash: text().notNull(),
  expiresAt: instant().notNull(),
  usedAt: instant(),
  createdAt: createdAt(),
}, (t) => [
  uniqueIndex("professional_invitations_hash_key").on(t.tokenHash),
  index("professional_invitations_professional_idx").on(t.professionalId),
  check("professional_invitations_email_normalised", sql`${t.email} = lower(btrim(${t.email}))`),
]);

export const services = pgTable("services", {
  id: id(),
  salonId: uuid().notNull().references(() => salons.id),
  name: text().notNull(),
  description: text(),
  category: text().notNull(),
  durationMinutes: integer().notNull(),
  priceAmount: bigint({ mode: "number" }).notNull(),
  currency: char({ length: 3 }).notNull(),
  depositKind: depositKind().notNull().default("NONE"),
  /** Percentage in basis points (PERCENTAGE) or minor units (FIXED). */
  depositValue: bigint({ mode: "number" }).notNull().default(0),
  bufferBeforeMinutes: integer().notNull().default(0),
  bufferAfterMinutes: integer().notNull().default(0),
  active: boolean().notNull().default(true),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
}, (t) => [
  index("services_salon_idx").on(t.salonId),
  index("services_category_idx").on(t.category),
  index("services_price_idx").on(t.priceAmount),
  check("services_duration", sql`${t.durationMinutes} between 5 and 1440`),
  check("services_price", sql`${t.priceAmount} >= 0`),
  check("services_deposit", sql`${t.depositValue} >= 0`),
  check(
    "services_deposit_rule",
    sql`(${t.depositKind} = 'NONE' and ${t.depositValue} = 0)
      or (${t.depositKind} = 'PERCENTAGE' and ${t.depositValue} <= 10000)
      or (${t.depositKind} = 'FIXED' and ${t.depositValue} <= ${t.priceAmount})`,
  ),
  check(
    "services_buffers",
    sql`${t.bufferBeforeMinutes} between 0 and 240 and ${t.bufferAfterMinutes} between 0 and 240`,
  ),
]);

export const serviceVariations = pgTable("service_variations", {
  id: id(),
  serviceId: uuid().notNull().references(() => services.id),
  name: text().notNull(),
  durationMinutes: integer().notNull(),
  priceAmount: bigint({ mode: "number" }).notNull(),
  active: boolean().notNull().default(true),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
}, (t) => [
  index("service_variations_service_idx").on(t.serviceId),
  check("service_variations_duration", sql`${t.durationMinutes} between 5 and 1440`),
  check("service_variations_price", sql`${t.priceAmount} >= 0`),
]);

/** Which professionals perform a service. */
export const professionalServices = pgTable("professional_services", {
  professionalId: uuid().notNull().references(() => professionals.id),
  serviceId: uuid().notNull().references(() => services.id),
  createdAt: createdAt(),
}, (t) => [
  primaryKey({ columns: [t.professionalId, t.serviceId] }),
  index("professional_services_service_idx").on(t.serviceId),
]);

// ---------------------------------------------------------------------------------------------
// Availability (wall-clock rules in the salon's zone; time off and closures as instants or dates)

export const availabilityRules = pgTable("availability_rules", {
  id: id(),
  professionalId: uuid().notNull().references(() => professionals.id),
  /** ISO day of week: 1 = Monday ... 7 = Sunday. */
  dayOfWeek: smallint().notNull(),
  startTime: time().notNull(),
  endTime: time().notNull(),
  createdAt: createdAt(),
}, (t) => [
  index("availability_rules_professional_idx").on(t.professionalId, t.dayOfWeek),
  check("availability_rules_day", sql`${t.dayOfWeek} between 1 and 7`),
  check("availability_rules_range", sql`${t.startTime} < ${t.endTime}`),
]);

export const availabilityOverrides = pgTable("availability_overrides", {
  id: id(),
  professionalId: uuid().notNull().references(() => professionals.id),
  date: date().notNull(),
  kind: overrideKind().notNull(),
  startTime: time(),
  endTime: time(),
  createdAt: createdAt(),
}, (t) => [
  index("availability_overrides_professional_date_idx").on(t.professionalId, t.date),
  check(
    "availability_overrides_hours",
    sql`(${t.kind} = 'CLOSED' and ${t.startTime} is null and ${t.endTime} is null)
      or (${t.kind} = 'OPEN' and ${t.startTime} < ${t.endTime})`,
  ),
]);

export const timeOff = pgTable("time_off", {
  id: id(),
  professionalId: uuid().notNull().references(() => professionals.id),
  startsAt: instant().notNull(),
  endsAt: instant().notNull(),
  reason: text(),
  createdAt: createdAt(),
}, (t) => [
  index("time_off_professional_idx").on(t.professionalId, t.startsAt),
  check("time_off_range", sql`${t.startsAt} < ${t.endsAt}`),
]);

export const salonClosures = pgTable("salon_closures", {
  id: id(),
  salonId: uuid().notNull().references(() => salons.id),
  startDate: date().notNull(),
  endDate: date().notNull(),
  reason: text(),
  createdAt: createdAt(),
}, (t) => [
  index("salon_closures_salon_idx").on(t.salonId, t.startDate),
  check("salon_closures_range", sql`${t.startDate} <= ${t.endDate}`),
]);

// ---------------------------------------------------------------------------------------------
// Policies

export const cancellationPolicies = pgTable("cancellation_policies", {
  id: id(),
  salonId: uuid().notNull().references(() => salons.id),
  name: text().notNull(),
  /**
   * What a client's reschedule inside a fee tier does: CHARGE carries that tier's fee onto the
   * booking as the least it will cost to cancel later; REFUSE refuses the move.
   */
  rescheduleInFeeWindow: text().notNull().default("CHARGE"),
  active: boolean().notNull().default(true),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
}, (t) => [
  index("cancellation_policies_salon_idx").on(t.salonId),
  check("cancellation_policies_reschedule", sql`${t.rescheduleInFeeWindow} in ('CHARGE', 'REFUSE')`),
  // One active policy per salon: the one new bookings snapshot.
  uniqueIndex("cancellation_policies_one_active_key").on(t.salonId).where(sql`${t.active}`),
]);

export const cancellationPolicyTiers = pgTable("cancellation_policy_tiers", {
  id: id(),
  policyId: uuid().notNull().references(() => cancellationPolicies.id),
  /** Hours before the start: the tier applies for min <= hours left < max (max null: no upper bound). */
  hoursBeforeMin: integer().notNull(),
  hoursBeforeMax: integer(),
  feeBasisPoints: integer().notNull().default(0),
  feeFixedAmount: bigint({ mode: "number" }).notNull().default(0),
}, (t) => [
  index("cancellation_policy_tiers_policy_idx").on(t.policyId),
  check(
    "cancellation_policy_tiers_hours",
    sql`${t.hoursBeforeMin} >= 0 and (${t.hoursBeforeMax} is null or ${t.hoursBeforeMax} > ${t.hoursBeforeMin})`,
  ),
  check("cancellation_policy_tiers_fee", sql`${t.feeBasisPoints} between 0 and 10000 and ${t.feeFixedAmount} >= 0`),
]);

/**
 * Overbooking per salon (professionalId null) or per professional: how many bookings beyond the
 * capacity one time range may hold, as a percentage of that capacity (a professional's own rule:
 * 1; a salon's rule: its active professionals). A professional's rule replaces the salon's.
 */
export const overbookingConfigs = pgTable("overbooking_configs", {
  id: id(),
  salonId: uuid().notNull().references(() => salons.id),
  professionalId: uuid().references(() => professionals.id),
  maxOverbookingPercent: smallint().notNull().default(0),
  /** Without it an overbooked booking waits for the owner's approval. */
  autoAccept: boolean().notNull().default(false),
  /** Only returning clients (a completed booking at the salon) may take an overbooked place. */
  vipPriority: boolean().notNull().default(false),
  active: boolean().notNull().default(true),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
}, (t) => [
  unique("overbooking_configs_scope_key").on(t.salonId, t.professionalId).nullsNotDistinct(),
  check("overbooking_configs_percent", sql`${t.maxOverbookingPercent} between 0 and 1000`),
]);

// ---------------------------------------------------------------------------------------------
// Bookings

export const bookings = pgTable("bookings", {
  id: id(),
  salonId: uuid().notNull().references(() => salons.id),
  clientId: uuid().notNull().references(() => users.id),
  professionalId: uuid().notNull().references(() => professionals.id),
  /**
   * The person who serves: the professional's account, or the professional record while it is
   * unlinked. Set by the `bookings_set_person` trigger (NOT NULL in the database, never written by
   * code); the exclusion constraint compares it, so one person is never in two salons at once.
   */
  personId: uuid(),
  serviceId: uuid().notNull().references(() => services.id),
  variationId: uuid().references(() => serviceVariations.id),
  startsAt: instant().notNull(),
  endsAt: instant().notNull(),
  /** The time the booking holds, buffers included: what the exclusion constraint compares. */
  blockStartsAt: instant().notNull(),
  blockEndsAt: instant().notNull(),
  status: bookingStatus().notNull(),
  holdExpiresAt: instant(),
  priceAmount: bigint({ mode: "number" }).notNull(),
  depositAmount: bigint({ mode: "number" }).notNull().default(0),
  feeAmount: bigint({ mode: "number" }).notNull().default(0),
  /** A fee a client's reschedule inside a fee tier carried over: cancelling later costs at least this. */
  carriedFeeAmount: bigint({ mode: "number" }).notNull().default(0),
  currency: char({ length: 3 }).notNull(),
  policySnapshot: jsonb(),
  notes: text(),
  overbooked: boolean().notNull().default(false),
  /** An overbooked booking the salon has not approved yet (PENDING, held until its start). */
  approvalRequired: boolean().notNull().default(false),
  cancelledAt: instant(),
  cancelledBy: cancelledBy(),
  cancellationReason: text(),
  noShowAt: instant(),
  /** When the client arrived: a checked-in booking is never marked as a no-show. */
  checkedInAt: instant(),
  completedAt: instant(),
  rescheduledFromId: uuid(),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
}, (t) => [
  index("bookings_client_idx").on(t.clientId, t.startsAt),
  index("bookings_professional_idx").on(t.professionalId, t.startsAt),
  index("bookings_person_idx").on(t.personId, t.startsAt),
  index("bookings_salon_idx").on(t.salonId, t.startsAt),
  index("bookings_status_idx").on(t.status, t.holdExpiresAt),
  check("bookings_range", sql`${t.startsAt} < ${t.endsAt}`),
  check("bookings_block", sql`${t.blockStartsAt} <= ${t.startsAt} and ${t.blockEndsAt} >= ${t.endsAt}`),
  // Bounds the slot search relies on to read busy time through the (professional, starts_at) index.
  check(
    "bookings_block_bounds",
    sql`${t.blockStartsAt} >= ${t.startsAt} - interval '240 minutes'
      and ${t.blockEndsAt} <= ${t.endsAt} + interval '240 minutes'
      and ${t.endsAt} <= ${t.startsAt} + interval '1440 minutes'`,
  ),
  check(
    "bookings_amounts",
    sql`${t.priceAmount} >= 0 and ${t.depositAmount} >= 0 and ${t.feeAmount} >= 0 and ${t.carriedFeeAmount} >= 0`,
  ),
  check("bookings_hold", sql`${t.status} <> 'PENDING' or ${t.holdExpiresAt} is not null`),
]);

// ---------------------------------------------------------------------------------------------
// Payments

export const payments = pgTable("payments", {
  id: id(),
  bookingId: uuid().notNull().references(() => bookings.id),
  provider: paymentProvider().notNull(),
  providerPaymentId: text(),
  status: paymentStatus().notNull().default("PENDING"),
  amount: bigint({ mode: "number" }).notNull(),
  refundedAmount: bigint({ mode: "number" }).notNull().default(0),
  currency: char({ length: 3 }).notNull(),
  platformFeeAmount: bigint({ mode: "number" }).notNull().default(0),
  failureCode: text(),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
}, (t) => [
  index("payments_booking_idx").on(t.bookingId),
  uniqueIndex("payments_provider_id_key").on(t.provider, t.providerPaymentId),
  index("payments_status_idx").on(t.status, t.createdAt),
  check("payments_amounts", sql`${t.amount} > 0 and ${t.refundedAmount} between 0 and ${t.amount}`),
]);

export const refunds = pgTable("refunds", {
  id: id(),
  paymentId: uuid().notNull().references(() => payments.id),
  providerRefundId: text(),
  amount: bigint({ mode: "number" }).notNull(),
  status: refundStatus().notNull().default("PENDING"),
  reason: text(),
  requestedBy: uuid().references(() => users.id),
  /** Numbers the attempts at this payment's refunds: the provider's idempotency key is built from it. */
  sequence: integer().notNull(),
  /** Why the provider refused it for good (its error code or reported reason), while FAILED. */
  failureReason: text(),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
}, (t) => [
  index("refunds_payment_idx").on(t.paymentId),
  index("refunds_status_idx").on(t.status, t.updatedAt),
  uniqueIndex("refunds_payment_sequence_key").on(t.paymentId, t.sequence),
  check("refunds_amount", sql`${t.amount} > 0`),
]);

/** Every provider call and webhook: ids, status, latency, error code; never card data or secrets. */
export const paymentLogs = pgTable("payment_logs", {
  id: id(),
  paymentId: uuid().references(() => payments.id),
  refundId: uuid().references(() => refunds.id),
  kind: text().notNull(),
  provider: paymentProvider().notNull(),
  providerObjectId: text(),
  status: text().notNull(),
  latencyMs: integer(),
  errorCode: text(),
  createdAt: createdAt(),
}, (t) => [
  index("payment_logs_payment_idx").on(t.paymentId, t.createdAt),
  index("payment_logs_created_idx").on(t.createdAt),
]);

/** Each reconciliation run: what it compared with the provider and what did not match. */
export const paymentReconciliations = pgTable("payment_reconciliations", {
  id: id(),
  since: instant().notNull(),
  startedAt: instant().notNull(),
  finishedAt: instant(),
  checked: integer().notNull().default(0),
  repaired: integer().notNull().default(0),
  mismatches: jsonb().notNull().default(sql`'[]'::jsonb`),
}, (t) => [index("payment_reconciliations_started_idx").on(t.startedAt)]);

/**
 * The mock provider's own books (it stands in for Stripe's side when no key is set): in the
 * database so that a restart does not forget what was paid and refunds still find their charge.
 * Kept apart from `payments`, our record of the same money, which reconciliation compares with it.
 * Ids are the provider's (`pi_mock_…`, `re_mock_…`); instants are epoch seconds as Stripe gives them.
 */
export const mockPaymentIntents = pgTable("mock_payment_intents", {
  id: text().primaryKey(),
  idempotencyKey: text().notNull(),
  status: text().notNull(),
  amount: bigint({ mode: "number" }).notNull(),
  refundedAmount: bigint({ mode: "number" }).notNull().default(0),
  currency: char({ length: 3 }).notNull(),
  clientSecret: text().notNull(),
  bookingId: uuid(),
  failureCode: text(),
  created: bigint({ mode: "number" }).notNull(),
}, (t) => [
  uniqueIndex("mock_payment_intents_idempotency_key").on(t.idempotencyKey),
  index("mock_payment_intents_created_idx").on(t.created),
  check("mock_payment_intents_amounts", sql`${t.amount} > 0 and ${t.refundedAmount} between 0 and ${t.amount}`),
]);

export const mockRefunds = pgTable("mock_refunds", {
  id: text().primaryKey(),
  idempotencyKey: text().notNull(),
  paymentIntentId: text().notNull().references(() => mockPaymentIntents.id),
  amount: bigint({ mode: "number" }).notNull(),
  currency: char({ length: 3 }).notNull(),
  status: text().notNull(),
  created: bigint({ mode: "number" }).notNull(),
}, (t) => [
  uniqueIndex("mock_refunds_idempotency_key").on(t.idempotencyKey),
  index("mock_refunds_created_idx").on(t.created),
]);

// ---------------------------------------------------------------------------------------------
// Engagement

export const notifications = pgTable("notifications", {
  id: id(),
  /** The recipient's account; null only for a message to someone without one yet (an invitation). */
  userId: uuid().references(() => users.id),
  /** Where an email or SMS goes when there is no account to read the address from. */
  address: text(),
  channel: notificationChannel().notNull(),
  template: text().notNull(),
  locale: text().notNull(),
  subject: text(),
  body: text().notNull(),
  status: notificationStatus().notNull().default("PENDING"),
  bookingId: uuid().references(() => bookings.id),
  dedupeKey: text(),
  attempts: integer().notNull().default(0),
  lastError: text(),
  /**
   * When a delivery claimed it (SENDING): a claim older than the send deadline may have been sent.
   * Cleared when it leaves SENDING, so the sweep for lost sends reads a small index.
   */
  sendingStartedAt: instant(),
  sentAt: instant(),
  readAt: instant(),
  createdAt: createdAt(),
}, (t) => [
  index("notifications_user_idx").on(t.userId, t.createdAt),
  uniqueIndex("notifications_dedupe_key").on(t.dedupeKey),
  index("notifications_booking_idx").on(t.bookingId),
  index("notifications_sending_idx").on(t.sendingStartedAt).where(sql`${t.sendingStartedAt} is not null`),
  check("notifications_recipient", sql`${t.userId} is not null or ${t.address} is not null`),
]);

export const notificationPreferences = pgTable("notification_preferences", {
  userId: uuid().notNull().references(() => users.id),
  channel: notificationChannel().notNull(),
  enabled: boolean().notNull().default(true),
  updatedAt: updatedAt(),
}, (t) => [primaryKey({ columns: [t.userId, t.channel] })]);

/** Append-only points ledger: the balance is the sum. */
export const loyaltyLedger = pgTable("loyalty_ledger", {
  id: id(),
  userId: uuid().notNull().references(() => users.id),
  salonId: uuid().references(() => salons.id),
  bookingId: uuid().references(() => bookings.id),
  points: integer().notNull(),
  reason: text().notNull(),
  createdAt: createdAt(),
}, (t) => [
  index("loyalty_ledger_user_idx").on(t.userId, t.createdAt),
  uniqueIndex("loyalty_ledger_booking_reason_key").on(t.bookingId, t.reason),
  check("loyalty_ledger_points", sql`${t.points} <> 0`),
]);

export const waitlistEntries = pgTable("waitlist_entries", {
  id: id(),
  clientId: uuid().notNull().references(() => users.id),
  salonId: uuid().notNull().references(() => salons.id),
  serviceId: uuid().notNull().references(() => services.id),
  professionalId: uuid().references(() => professionals.id),
  desiredFrom: instant().notNull(),
  desiredTo: instant().notNull(),
  status: waitlistStatus().notNull().default("WAITING"),
  offeredStartsAt: instant(),
  offerExpiresAt: instant(),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
}, (t) => [
  index("waitlist_entries_lookup_idx").on(t.salonId, t.serviceId, t.status, t.desiredFrom),
  index("waitlist_entries_client_idx").on(t.clientId),
  check("waitlist_entries_range", sql`${t.desiredFrom} < ${t.desiredTo}`),
]);

// ---------------------------------------------------------------------------------------------
// Bookkeeping

/** Who changed what, from which state to which, and why: written in the same batch as the change. */
export const auditEvents = pgTable("audit_events", {
  id: id(),
  actorId: uuid().references(() => users.id),
  action: text().notNull(),
  entityType: text().notNull(),
  entityId: uuid(),
  fromState: text(),
  toState: text(),
  reason: text(),
  ip: text(),
  requestId: text(),
  data: jsonb(),
  createdAt: createdAt(),
}, (t) => [
  index("audit_events_entity_idx").on(t.entityType, t.entityId, t.createdAt),
  index("audit_events_actor_idx").on(t.actorId, t.createdAt),
]);

/** `ADMIN_BOOTSTRAP_EMAIL` promotions made: each email is promoted once, never again after a demotion. */
export const adminBootstrapGrants = pgTable("admin_bootstrap_grants", {
  email: text().primaryKey(),
  userId: uuid().notNull().references(() => users.id),
  grantedAt: createdAt(),
});

/** Idempotency-Key records, scoped per user, kept 24 hours. */
export const idempotencyKeys = pgTable("idempotency_keys", {
  userId: uuid().notNull().references(() => users.id),
  key: text().notNull(),
  requestHash: text().notNull(),
  responseStatus: integer(),
  responseBody: jsonb(),
  /** Which request holds the claim: only its answer may be stored (a taken-over claim fences the old one out). */
  claimId: uuid(),
  /** Until when an unanswered claim belongs to its request; after it a retry takes the claim over (a crash). */
  leaseExpiresAt: instant(),
  createdAt: createdAt(),
  expiresAt: instant().notNull(),
}, (t) => [
  primaryKey({ columns: [t.userId, t.key] }),
  index("idempotency_keys_expires_idx").on(t.expiresAt),
]);

/** Callback and webhook ids already acted on (QStash message ids, Stripe event ids). */
export const processedMessages = pgTable("processed_messages", {
  source: text().notNull(),
  messageId: text().notNull(),
  processedAt: createdAt(),
}, (t) => [primaryKey({ columns: [t.source, t.messageId] })]);

/** Follow-ups written in the same batch as a change, published to the job dispatcher after commit. */
export const outbox = pgTable("outbox", {
  id: id(),
  topic: text().notNull(),
  payload: jsonb().notNull(),
  deduplicationId: text().notNull(),
  availableAt: createdAt(),
  publishedAt: instant(),
  attempts: integer().notNull().default(0),
  createdAt: createdAt(),
}, (t) => [
  uniqueIndex("outbox_deduplication_key").on(t.deduplicationId),
  index("outbox_unpublished_idx").on(t.availableAt).where(sql`${t.publishedAt} is null`),
]);

/** The embedded job dispatcher's queue (production uses QStash). */
export const jobs = pgTable("jobs", {
  id: id(),
  name: text().notNull(),
  payload: jsonb().notNull(),
  deduplicationId: text(),
  notBefore: instant().notNull().defaultNow(),
  status: jobStatus().notNull().default("PENDING"),
  attempts: integer().notNull().default(0),
  lastError: text(),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
}, (t) => [
  uniqueIndex("jobs_deduplication_key").on(t.deduplicationId),
  index("jobs_due_idx").on(t.status, t.notBefore),
]);
