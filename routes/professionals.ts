/**
 * Professionals: an owner adds one to their salon by email (linking an account or inviting the
 * person), edits and deactivates them; a professional edits their own profile; anyone reads
 * active ones.
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { hashToken, newOpaqueToken } from "../adapters/tokens.ts";
import { acceptInvitation, findUserByEmail } from "../db/auth.ts";
import { isUniqueViolation } from "../db/errors.ts";
import {
  addProfessional,
  findProfessional,
  listProfessionals,
  type ProfessionalRecord,
  type ProfessionalRow,
  updateProfessional,
} from "../db/professionals.ts";
import type { App, AppEnv } from "./app.ts";
import { showDevMail } from "./dev_mail.ts";
import { auditContext, json, newPasswordSchema, optionalUser, problem401, requireUser, unauthorized } from "./auth.ts";
import { ApiError, bodyErrorResponses, errorResponses, forbidden, notFound, problem403, problem409 } from "./errors.ts";
import { managedSalon, managesSalon } from "./ownership.ts";
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

const acceptBody = z.object({ token: z.string().min(1).max(512), password: newPasswordSchema }).strict()
  .openapi("InvitationAccept");

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

const createdSchema = professionalSchema.extend({
  invited: z.boolean().openapi({ description: "True when a new account was created and an invitation sent" }),
}).openapi("ProfessionalCreated");

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

const create = createRoute({
  method: "post",
  path: "/api/v1/professionals",
  operationId: "addProfessional",
  summary: "Add a professional to your salon by email: links their account or invites them",
  tags,
  middleware: [requireUser] as const,
  request: { body: { required: true, ...json(createBody) } },
  responses: {
    201: { description: "Added; `Location` names the professional", ...json(createdSchema) },
    401: problem401,
    403: problem403,
    409: problem409,
    ...bodyErrorResponses,
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
  summary: "Choose a password with the token of a salon's invitation; then sign in",
  tags: ["Auth"],
  security: [],
  request: { body: { required: true, ...json(acceptBody) } },
  responses: { 204: { description: "Accepted: sign in with the email and this password" }, ...bodyErrorResponses },
});

/** Registers the professional routes. */
export function registerProfessionals(app: App): void {
  app.openapi(create, async (c) => {
    const body = c.req.valid("json");
    const { database, now } = c.var.services;
    const db = database.db;
    const salon = await managedSalon(c, db, body.salon_id, "professionals:manage");
    const existing = await findUserByEmail(db, body.email);
    if (existing && !existing.active) {
      throw new ApiError("conflict", "This account is deactivated: ask an admin to reactivate it first", {
        errors: [{ path: "email", message: "belongs to a deactivated account" }],
      });
    }
    let invitation;
    if (!existing) {
      const token = newOpaqueToken();
      invitation = {
        token,
        tokenHash: await hashToken(token),
        expiresAt: new Date(now().getTime() + INVITATION_SECONDS * 1000),
      };
    }
    let row;
    try {
      row = await addProfessional(db, {
        salonId: salon.id,
        salonName: salon.name,
        email: body.email,
        existing,
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
    } catch (error) {
      if (isUniqueViolation(error, "professionals_user_salon_key")) {
        throw new ApiError("conflict", "This person is already a professional of this salon", {
          errors: [{ path: "email", message: "is already a professional of this salon" }],
        });
      }
      if (isUniqueViolation(error, "users_email_key")) {
        throw new ApiError("conflict", "The account was created at the same moment: try again");
      }
      throw error;
    }
    if (invitation) {
      showDevMail(c, { topic: "email.professional_invitation", to: body.email, code: invitation.token });
    }
    c.header("Location", `/api/v1/professionals/${row.id}`);
    return c.json({ ...toProfessional(row, true), invited: invitation !== undefined }, 201);
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
    const hash = await passwords.hash(body.password);
    const userId = await acceptInvitation(database.db, await hashToken(body.token), hash, {
      ...auditContext(c),
      now: now(),
    });
    if (!userId) {
      throw new ApiError("validation", "The invitation is unknown, used or expired: ask the salon for a new one", {
        errors: [{ path: "token", message: "is unknown, used or expired" }],
      });
    }
    return c.body(null, 204);
  });
}
