/**
 * Professionals: an owner adds one to their salon by inviting an email (the person links their
 * account, or makes one, by accepting), edits and deactivates them; a professional edits their own
 * profile; anyone reads active ones. Inviting never reveals whether the email has an account.
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { hashToken, newOpaqueToken } from "../adapters/tokens.ts";
import { acceptInvitation, findUserByEmail } from "../db/auth.ts";
import { isUniqueViolation, pgErrorOf } from "../db/errors.ts";
import {
  acceptProfessionalInvitation,
  findPendingInvitation,
  findProfessional,
  type InvitedAccount,
  inviteProfessional,
  lastInvitationEmail,
  linkConflicts,
  listProfessionals,
  type NewInvitation,
  type ProfessionalRecord,
  type ProfessionalRow,
  reinviteProfessional,
  salonProfessionalForEmail,
  updateProfessional,
} from "../db/professionals.ts";
import { passwordProblems } from "../domain/credentials.ts";
import type { App, AppEnv } from "./app.ts";
import {
  auditContext,
  json,
  optionalUser,
  problem401,
  requireUser,
  spendAccountMessage,
  unauthorized,
} from "./auth.ts";
import { ApiError, bodyErrorResponses, errorResponses, forbidden, notFound, problem403, problem409 } from "./errors.ts";
import { rateLimited } from "./rate_limit.ts";
import { managedSalon, managesSalon, requirePermission } from "./ownership.ts";
import { decodeCursor, encodeCursor, listSchema, pageQuery } from "./pagination.ts";
import { optionalBearer } from "./salons.ts";
import { booleanQuery, emailSchema, idParam } from "./schemas.ts";

const tags = ["Professionals"];

/** How long an invitation stays usable. */
export const INVITATION_SECONDS = 7 * 24 * 60 * 60;

const profileFields = {
  display_name: z.string().trim().min(1).max(120),
  specialties: z.array(z.string().trim().min(1).max(60)).max(20),
  bio: z.string().trim().max(2000).nullable(),
};
const salonFields = {
  license_number: z.string().trim().min(1).max(60).nullable(),
  commission_percent: z.number().min(0).max(100).multipleOf(0.01)
    .openapi({ description: "Share of the service price, in percent with up to two decimals", example: 40 }),
};

const createBody = z.object({
  salon_id: z.uuid(),
  email: emailSchema,
  display_name: profileFields.display_name,
  specialties: profileFields.specialties.default([]),
  bio: profileFields.bio.optional(),
  license_number: salonFields.license_number.optional(),
  commission_percent: salonFields.commission_percent.default(0),
}).strict().openapi("ProfessionalCreate");

const updateBody = z.object({
  display_name: profileFields.display_name.optional(),
  specialties: profileFields.specialties.optional(),
  bio: profileFields.bio.optional(),
  license_number: salonFields.license_number.optional(),
  commission_percent: salonFields.commission_percent.optional(),
  active: z.boolean().optional(),
}).strict().refine((body) => Object.keys(body).length > 0, { message: "must change at least one field" })
  .openapi("ProfessionalUpdate", {
    description: "A professional may change their name, specialties and bio; the rest is the salon's",
  });

const acceptBody = z.object({
  token: z.string().min(1).max(512),
  password: z.string().min(1).max(1024).openapi({
    description: "The password of your account with the invited email; without one, the password of the " +
      "account this creates (8 to 128 characters with a lower-case letter, an upper-case letter and a digit)",
    example: "Secret123",
  }),
  full_name: z.string().trim().min(1).max(200).optional()
    .openapi({ description: "For a new account; the salon's display name for you when absent" }),
}).strict().openapi("InvitationAccept");

export const professionalSchema = z.object({
  id: z.uuid(),
  salon_id: z.uuid(),
  user_id: z.uuid().nullable().openapi({ description: "The person's account, once they accept the invitation" }),
  display_name: z.string(),
  specialties: z.array(z.string()),
  bio: z.string().nullable(),
  license_number: z.string().nullable(),
  commission_percent: z.number().optional()
    .openapi({ description: "Only for the professional and the salon's managers" }),
  active: z.boolean(),
  created_at: z.string(),
  updated_at: z.string(),
}).openapi("Professional");

const invitationSchema = z.object({
  email: z.string().openapi({ example: "ana@example.com" }),
  expires_at: z.string().openapi({
    description: "The invitation works once, until then",
    example: "2026-03-15T15:00:00Z",
  }),
}).openapi("ProfessionalInvitation");

const createdSchema = professionalSchema.extend({
  invitation: invitationSchema,
}).openapi("ProfessionalCreated", {
  description: "Added unlinked (`user_id` null) until the person accepts the invitation sent to the email",
});

/** Shapes a professional for the API; the commission only for those allowed to see it. */
export function toProfessional(row: ProfessionalRow, showPrivate: boolean): z.infer<typeof professionalSchema> {
  return {
    id: row.id,
    salon_id: row.salonId,
    user_id: row.userId,
    display_name: row.displayName,
    specialties: row.specialties,
    bio: row.bio,
    license_number: row.licenseNumber,
    ...(showPrivate ? { commission_percent: row.commissionBasisPoints / 100 } : {}),
    active: row.active,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

/** True when the caller is this professional or manages their salon. */
export function isSelfOrManager(c: Context<AppEnv>, record: ProfessionalRecord): boolean {
  const auth = c.var.auth;
  return !!auth && (auth.userId === record.professional.userId || managesSalon(auth, record.salon));
}

/** Loads a professional the caller may see: active (in an active salon), or theirs to manage. */
export async function visibleProfessional(c: Context<AppEnv>, id: string): Promise<ProfessionalRecord> {
  const record = await findProfessional(c.var.services.database.db, id);
  if (!record) throw notFound("professional");
  const visible = record.professional.active && record.salon.active;
  if (!visible && !isSelfOrManager(c, record)) throw notFound("professional");
  return record;
}

const positionSchema = z.object({ name: z.string().max(120), id: z.uuid() }).strict();

/** The 503 of the routes that send invitations: their limits fail closed when the store cannot count. */
const invitationsUnavailable = {
  description: "The invitation limits cannot be counted right now: nothing changed, retry shortly",
  content: problem409.content,
} as const;

const create = createRoute({
  method: "post",
  path: "/api/v1/professionals",
  operationId: "addProfessional",
  summary: "Add a professional to your salon: invites the email; the person links their account by accepting",
  description: "The answer is the same whether or not the email has an account. Invitations are limited per " +
    "recipient and per caller (429).",
  tags,
  middleware: [requireUser] as const,
  request: { body: { required: true, ...json(createBody) } },
  responses: {
    201: { description: "Added and invited; `Location` names the professional", ...json(createdSchema) },
    401: problem401,
    403: problem403,
    409: {
      description: "The salon already has a professional with this email, or one invited to it",
      content: problem409.content,
    },
    503: invitationsUnavailable,
    ...bodyErrorResponses,
  },
});

const reinvite = createRoute({
  method: "post",
  path: "/api/v1/professionals/{id}/invitation",
  operationId: "reinviteProfessional",
  summary: "Send a professional who has not accepted yet a new invitation (earlier ones stop working)",
  tags,
  middleware: [requireUser] as const,
  request: { params: idParam },
  responses: {
    202: { description: "Sent", ...json(invitationSchema) },
    401: problem401,
    403: problem403,
    409: { description: "The professional has accepted already", content: problem409.content },
    503: invitationsUnavailable,
    ...errorResponses,
  },
});

const list = createRoute({
  method: "get",
  path: "/api/v1/professionals",
  operationId: "listProfessionals",
  summary: "Active professionals, by salon, service or name",
  tags,
  security: optionalBearer,
  middleware: [optionalUser] as const,
  request: {
    query: z.object({
      salon_id: z.uuid().optional(),
      service_id: z.uuid().optional().openapi({ description: "Only those who perform this service" }),
      q: z.string().trim().min(1).max(100).optional().openapi({ description: "Part of the name or a specialty" }),
      include_inactive: booleanQuery.optional()
        .openapi({ description: "With `salon_id`, for the salon's managers: inactive ones too" }),
      ...pageQuery,
    }),
  },
  responses: {
    200: { description: "A page of professionals", ...json(listSchema(professionalSchema, "ProfessionalList")) },
    401: problem401,
    403: problem403,
    ...errorResponses,
  },
});

const read = createRoute({
  method: "get",
  path: "/api/v1/professionals/{id}",
  operationId: "getProfessional",
  summary: "A professional",
  tags,
  security: optionalBearer,
  middleware: [optionalUser] as const,
  request: { params: idParam },
  responses: {
    200: { description: "The professional", ...json(professionalSchema) },
    401: problem401,
    ...errorResponses,
  },
});

const update = createRoute({
  method: "patch",
  path: "/api/v1/professionals/{id}",
  operationId: "updateProfessional",
  summary: "Edit a professional (the salon's managers), or your own profile (the professional)",
  tags,
  middleware: [requireUser] as const,
  request: { params: idParam, body: { required: true, ...json(updateBody) } },
  responses: {
    200: { description: "Updated", ...json(professionalSchema) },
    401: problem401,
    403: problem403,
    ...bodyErrorResponses,
  },
});

const accept = createRoute({
  method: "post",
  path: "/api/v1/auth/invitation/accept",
  operationId: "acceptInvitation",
  summary: "Accept a salon's invitation with its token: links your account with the invited email, or makes one",
  description: "With an account for the invited email, `password` must be its password (a client becomes a " +
    "professional; other roles stay); without one, the account is made with this password. The token works once.",
  tags: ["Auth"],
  security: [],
  request: { body: { required: true, ...json(acceptBody) } },
  responses: {
    204: { description: "Accepted: sign in with the invited email and the password" },
    401: { description: "Not the password of the account with this email", content: problem401.content },
    403: { description: "The account with this email is deactivated", content: problem403.content },
    409: {
      description: "You already work at this salon, or its bookings overlap yours elsewhere; nothing changed",
      content: problem409.content,
    },
    ...bodyErrorResponses,
  },
});

/**
 * Spends one invitation from the caller's and the recipient's budgets (the shared message budgets),
 * or refuses with 429. The recipient's budget counts every invitation to the address, with or
 * without an account, so a refusal says nothing about one. Fails closed (503).
 */
async function spendInvitationBudget(c: Context<AppEnv>, email: string): Promise<void> {
  const verdict = await spendAccountMessage(c, "professional_invitation", {
    recipient: email,
    caller: c.var.auth!.userId,
  });
  if (verdict.allowed) return;
  const { scope, limit, windowMinutes } = verdict.window;
  const what = scope === "recipient" ? "invitations to this address" : "invitations from you";
  throw rateLimited(verdict.decision, `${what} (at most ${limit} in ${formatWindow(windowMinutes)})`);
}

function formatWindow(minutes: number): string {
  if (minutes % (24 * 60) === 0) return minutes === 24 * 60 ? "24 hours" : `${minutes / (24 * 60)} days`;
  if (minutes % 60 === 0) return minutes === 60 ? "1 hour" : `${minutes / 60} hours`;
  return `${minutes} minutes`;
}

async function newInvitation(now: Date): Promise<NewInvitation> {
  const token = newOpaqueToken();
  return {
    token,
    tokenHash: await hashToken(token),
    expiresAt: new Date(now.getTime() + INVITATION_SECONDS * 1000),
  };
}

function invalidInvitation(): ApiError {
  return new ApiError("validation", "The invitation is unknown, used or expired: ask the salon for a new one", {
    errors: [{ path: "token", message: "is unknown, used or expired" }],
  });
}

/** True for what Postgres raises when the exclusion constraint refuses (or a deadlock breaks) a write. */
function isOverlap(error: unknown): boolean {
  const code = pgErrorOf(error)?.code;
  return code === "23P01" || code === "40P01";
}

/** Registers the professional routes. */
export function registerProfessionals(app: App): void {
  app.openapi(create, async (c) => {
    const body = c.req.valid("json");
    const { database, now } = c.var.services;
    const db = database.db;
    const salon = await managedSalon(c, db, body.salon_id, "professionals:manage");
    // Judged from the salon's own records only: whether the email has an account is never read here.
    const existing = await salonProfessionalForEmail(db, salon.id, body.email);
    if (existing) {
      throw new ApiError(
        "conflict",
        existing.linked
          ? `This email belongs to a professional of this salon already (${existing.id})`
          : `This salon has invited this email already (${existing.id}): send a new invitation with POST /api/v1/professionals/${existing.id}/invitation`,
        {
          errors: [{
            path: "email",
            message: existing.linked ? "is a professional of this salon" : "is invited already",
          }],
        },
      );
    }
    await spendInvitationBudget(c, body.email);
    const invitation = await newInvitation(now());
    const row = await inviteProfessional(db, {
      salon: { id: salon.id, name: salon.name, locale: salon.locale },
      email: body.email,
      invitation,
      actorId: c.var.auth!.userId,
      fields: {
        displayName: body.display_name,
        specialties: body.specialties,
        bio: body.bio ?? null,
        licenseNumber: body.license_number ?? null,
        commissionBasisPoints: Math.round(body.commission_percent * 100),
      },
    }, auditContext(c));
    c.header("Location", `/api/v1/professionals/${row.id}`);
    return c.json({
      ...toProfessional(row, true),
      invitation: { email: body.email, expires_at: invitation.expiresAt.toISOString() },
    }, 201);
  });

  app.openapi(reinvite, async (c) => {
    const { id } = c.req.valid("param");
    const { database, now } = c.var.services;
    const db = database.db;
    const auth = requirePermission(c, "professionals:manage");
    const record = await findProfessional(db, id);
    if (!record || !managesSalon(auth, record.salon)) throw notFound("professional");
    if (record.professional.userId !== null) {
      throw new ApiError("conflict", "This professional has accepted already: there is nothing to resend");
    }
    const email = await lastInvitationEmail(db, id);
    if (!email) throw new ApiError("conflict", "This professional was never invited: add them again by email");
    const salon = record.salon;
    await spendInvitationBudget(c, email);
    const invitation = await newInvitation(now());
    await reinviteProfessional(db, {
      professional: record.professional,
      salon: { id: salon.id, name: salon.name, locale: salon.locale },
      email,
      invitation,
      actorId: auth.userId,
      now: now(),
    }, auditContext(c));
    return c.json({ email, expires_at: invitation.expiresAt.toISOString() }, 202);
  });

  app.openapi(list, async (c) => {
    const query = c.req.valid("query");
    const db = c.var.services.database.db;
    if (query.include_inactive) {
      if (!query.salon_id) {
        throw new ApiError("validation", "Invalid query: include_inactive needs salon_id", {
          errors: [{ path: "query.salon_id", message: "is required with include_inactive" }],
        });
      }
      if (!c.var.auth) throw unauthorized();
      await managedSalon(c, db, query.salon_id, "professionals:manage");
    }
    const after = decodeCursor(query.cursor, positionSchema);
    const rows = await listProfessionals(db, {
      salonId: query.salon_id,
      serviceId: query.service_id,
      q: query.q,
      includeInactive: query.include_inactive,
    }, { limit: query.limit + 1, after });
    const page = rows.slice(0, query.limit);
    const last = page.at(-1);
    const next = rows.length > query.limit && last ? encodeCursor({ name: last.displayName, id: last.id }) : null;
    const auth = c.var.auth;
    const manager = query.include_inactive === true;
    return c.json({
      data: page.map((row) => toProfessional(row, manager || row.userId === auth?.userId)),
      next_cursor: next,
    }, 200);
  });

  app.openapi(read, async (c) => {
    const { id } = c.req.valid("param");
    const record = await visibleProfessional(c, id);
    return c.json(toProfessional(record.professional, isSelfOrManager(c, record)), 200);
  });

  app.openapi(update, async (c) => {
    const { id } = c.req.valid("param");
    const body = c.req.valid("json");
    const auth = c.var.auth!;
    const { database, now } = c.var.services;
    const record = await findProfessional(database.db, id);
    const manager = record !== undefined && managesSalon(auth, record.salon);
    const self = record !== undefined && record.professional.userId === auth.userId;
    if (!record || (!manager && !self)) {
      if (auth.role === "CLIENT") throw forbidden();
      throw notFound("professional");
    }
    if (!manager) {
      const salonOnly = (["license_number", "commission_percent", "active"] as const).filter((key) => key in body);
      if (salonOnly.length > 0) {
        throw new ApiError("forbidden", `Only the salon can change ${salonOnly.join(", ")}`, {
          errors: salonOnly.map((path) => ({ path, message: "is set by the salon" })),
        });
      }
    }
    const row = await updateProfessional(
      database.db,
      record.professional,
      {
        ...(body.display_name !== undefined ? { displayName: body.display_name } : {}),
        ...(body.specialties !== undefined ? { specialties: body.specialties } : {}),
        ...(body.bio !== undefined ? { bio: body.bio } : {}),
        ...(body.license_number !== undefined ? { licenseNumber: body.license_number } : {}),
        ...(body.commission_percent !== undefined
          ? { commissionBasisPoints: Math.round(body.commission_percent * 100) }
          : {}),
        ...(body.active !== undefined ? { active: body.active } : {}),
      },
      auth.userId,
      { ...auditContext(c), now: now() },
    );
    return c.json(toProfessional(row, true), 200);
  });

  app.openapi(accept, async (c) => {
    const body = c.req.valid("json");
    const { database, passwords, now } = c.var.services;
    const db = database.db;
    const at = now();
    const tokenHash = await hashToken(body.token);
    // The token first: an unknown one costs a lookup, never a password hash.
    const invitation = await findPendingInvitation(db, tokenHash, at);
    if (!invitation) {
      // Invitations of the older kind came with an account still without a password.
      const userId = await acceptInvitation(db, tokenHash, () => passwords.hash(body.password), {
        ...auditContext(c),
        now: at,
      });
      if (!userId) throw invalidInvitation();
      return c.body(null, 204);
    }
    const user = await findUserByEmail(db, invitation.email);
    if (user && !user.active) throw forbidden("The account with the invited email is deactivated");
    let account: InvitedAccount;
    if (!user) {
      const problems = passwordProblems(body.password);
      if (problems.length > 0) {
        throw new ApiError("validation", "Choose a password for your new account: see errors", {
          errors: problems.map((message) => ({ path: "password", message })),
        });
      }
      account = {
        kind: "new",
        id: crypto.randomUUID(),
        passwordHash: await passwords.hash(body.password),
        fullName: body.full_name ?? invitation.professional.displayName,
      };
    } else if (!user.passwordHash.startsWith("$argon2")) {
      // An account an older invitation made, whose person never chose a password: the token proves
      // the mailbox as that invitation's would have.
      account = { kind: "existing", id: user.id, passwordHash: await passwords.hash(body.password) };
    } else {
      if (!(await passwords.verify(user.passwordHash, body.password))) {
        throw new ApiError("unauthorized", "This is not the password of your account with the invited email", {
          errors: [{ path: "password", message: "is not the account's password" }],
        });
      }
      account = { kind: "existing", id: user.id };
    }
    let result;
    try {
      result = await acceptProfessionalInvitation(db, {
        invitationId: invitation.id,
        email: invitation.email,
        account,
      }, { ...auditContext(c), now: at });
    } catch (error) {
      if (isOverlap(error)) {
        const clashes = await linkConflicts(db, invitation.professional.id, account.id);
        throw new ApiError(
          "conflict",
          `${invitation.salon.name} has bookings with you at times you are booked at another salon: ` +
            "ask the salon to move them, then accept again",
          {
            errors: (clashes.length > 0 ? clashes : [null]).map((startsAt) => ({
              path: "token",
              message: startsAt
                ? `the salon's booking at ${startsAt.toISOString()} overlaps one of yours`
                : "a booking of the salon overlaps one of yours",
            })),
          },
        );
      }
      if (isUniqueViolation(error, "professionals_user_salon_key")) {
        throw new ApiError("conflict", `You are a professional of ${invitation.salon.name} already`, {
          errors: [{ path: "token", message: "is for a salon you work at already" }],
        });
      }
      if (isUniqueViolation(error, "users_email_key")) {
        throw new ApiError("conflict", "An account with this email was created at the same moment: try again");
      }
      throw error;
    }
    if (!result.linked) throw invalidInvitation();
    return c.body(null, 204);
  });
}
