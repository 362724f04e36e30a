/** The signed-in user's profile and password, and the admin's user list and role/active changes. */
import { createRoute, z } from "@hono/zod-openapi";
import { adminUpdateUser, changePassword, findUserById, listUsers, updateProfile } from "../db/auth.ts";
import { can, ROLES } from "../domain/access.ts";
import { samePhone } from "../domain/message_limits.ts";
import type { App } from "./app.ts";
import {
  auditContext,
  json,
  newPasswordSchema,
  phoneSchema,
  problem401,
  requireUser,
  toUser,
  unauthorized,
  userSchema,
} from "./auth.ts";
import { ApiError, bodyErrorResponses, errorResponses, forbidden, problem403 } from "./errors.ts";
import { decodeCursor, encodeCursor, listSchema, pageQuery } from "./pagination.ts";
import { registerPhoneVerification } from "./phone_verification.ts";

const tags = ["Users"];

const profileBody = z.object({
  full_name: z.string().trim().min(1).max(200).optional(),
  phone: phoneSchema.nullable().optional(),
  locale: z.enum(["pt-BR", "en"]).optional(),
}).strict().openapi("ProfileUpdate", {
  description: "Only these fields; role, email and verification are not yours to set",
});

const passwordBody = z.object({
  current_password: z.string().min(1).max(1024),
  new_password: newPasswordSchema,
}).strict().openapi("PasswordChange");

const adminUserBody = z.object({
  role: z.enum(ROLES).optional(),
  active: z.boolean().optional(),
}).strict().refine((body) => body.role !== undefined || body.active !== undefined, {
  message: "must set role or active",
}).openapi("AdminUserUpdate");

const me = createRoute({
  method: "get",
  path: "/api/v1/users/me",
  operationId: "getMe",
  summary: "The signed-in user",
  tags,
  middleware: [requireUser] as const,
  responses: { 200: { description: "The user", ...json(userSchema) }, 401: problem401, ...errorResponses },
});

const patchMe = createRoute({
  method: "patch",
  path: "/api/v1/users/me",
  operationId: "updateMe",
  summary: "Change your own name, phone or language",
  tags,
  middleware: [requireUser] as const,
  request: { body: { required: true, ...json(profileBody) } },
  responses: { 200: { description: "Updated", ...json(userSchema) }, 401: problem401, ...bodyErrorResponses },
});

const changeMyPassword = createRoute({
  method: "post",
  path: "/api/v1/users/me/password",
  operationId: "changeMyPassword",
  summary: "Change your password; every other session ends",
  tags,
  middleware: [requireUser] as const,
  request: { body: { required: true, ...json(passwordBody) } },
  responses: { 204: { description: "Changed" }, 401: problem401, ...bodyErrorResponses },
});

const list = createRoute({
  method: "get",
  path: "/api/v1/users",
  operationId: "listUsers",
  summary: "Users, newest first (admins)",
  tags,
  middleware: [requireUser] as const,
  request: {
    query: z.object({
      role: z.enum(ROLES).optional(),
      active: z.enum(["true", "false"]).transform((v) => v === "true").optional(),
      q: z.string().trim().min(1).max(100).optional().openapi({ description: "Part of the email or name" }),
      ...pageQuery,
    }),
  },
  responses: {
    200: { description: "A page of users", ...json(listSchema(userSchema, "UserList")) },
    401: problem401,
    403: problem403,
    ...errorResponses,
  },
});

const patchUser = createRoute({
  method: "patch",
  path: "/api/v1/users/{id}",
  operationId: "updateUser",
  summary: "Change a user's role or active flag (admins); deactivation ends their sessions at once",
  tags,
  middleware: [requireUser] as const,
  request: { params: z.object({ id: z.uuid() }), body: { required: true, ...json(adminUserBody) } },
  responses: {
    200: { description: "Updated", ...json(userSchema) },
    401: problem401,
    403: problem403,
    ...bodyErrorResponses,
  },
});

const positionSchema = z.object({ createdAt: z.string().min(1).max(40), id: z.uuid() }).strict();

/** Registers the user routes (and the phone verification under `/users/me/phone`). */
export function registerUsers(app: App): void {
  registerPhoneVerification(app);
  app.openapi(me, (c) => c.json(toUser(c.var.auth!.user), 200));

  app.openapi(patchMe, async (c) => {
    const body = c.req.valid("json");
    const { database, now } = c.var.services;
    // A new number starts unverified; the same number written differently keeps its verification.
    const phoneChanged = body.phone !== undefined && !samePhone(body.phone, c.var.auth!.user.phone);
    const user = await updateProfile(
      database.db,
      c.var.auth!.userId,
      {
        ...(body.full_name !== undefined ? { fullName: body.full_name } : {}),
        ...(body.phone !== undefined ? { phone: body.phone } : {}),
        ...(body.locale !== undefined ? { locale: body.locale } : {}),
      },
      now(),
      { phoneChanged },
    );
    if (!user) throw unauthorized();
    return c.json(toUser(user), 200);
  });

  app.openapi(changeMyPassword, async (c) => {
    const body = c.req.valid("json");
    const { database, passwords, now } = c.var.services;
    const auth = c.var.auth!;
    const user = auth.user;
    if (!(await passwords.verify(user.passwordHash, body.current_password))) {
      throw new ApiError("validation", "Cannot change password: the current password is wrong", {
        errors: [{ path: "current_password", message: "is wrong" }],
      });
    }
    const hash = await passwords.hash(body.new_password);
    await changePassword(database.db, user.id, hash, auth.sessionId, "password_change", {
      ...auditContext(c),
      now: now(),
    });
    return c.body(null, 204);
  });

  app.openapi(list, async (c) => {
    if (!can(c.var.auth!.role, "users:read")) throw forbidden();
    const query = c.req.valid("query");
    const after = decodeCursor(query.cursor, positionSchema);
    const rows = await listUsers(c.var.services.database.db, query, { limit: query.limit + 1, after });
    const page = rows.slice(0, query.limit);
    const next = rows.length > query.limit ? encodeCursor(page.at(-1)!.position) : null;
    return c.json({ data: page.map((row) => toUser(row.user)), next_cursor: next }, 200);
  });

  app.openapi(patchUser, async (c) => {
    const auth = c.var.auth!;
    if (!can(auth.role, "users:manage")) throw forbidden();
    const { id } = c.req.valid("param");
    const body = c.req.valid("json");
    const { database, now } = c.var.services;
    const target = await findUserById(database.db, id);
    if (!target) throw new ApiError("not_found", "No such user");
    if (target.id === auth.userId && (body.active === false || (body.role && body.role !== "ADMIN"))) {
      throw new ApiError("conflict", "Cannot change your own role or deactivate yourself: ask another admin");
    }
    const user = await adminUpdateUser(database.db, target, body, auth.userId, { ...auditContext(c), now: now() });
    return c.json(toUser(user), 200);
  });
}
