/**
 * The signed-in user's in-app notifications and per-channel preferences, and, in development mode
 * only, the developer's view of the email and SMS messages the log senders did not send.
 */
import { createRoute, z } from "@hono/zod-openapi";
import {
  CHANNELS,
  inbox,
  markAllRead,
  markRead,
  type NotificationRow,
  preferences,
  setPreferences,
  unreadCount,
} from "../db/notifications.ts";
import type { App } from "./app.ts";
import { json, problem401, requireUser } from "./auth.ts";
import { bodyErrorResponses, errorResponses, notFound } from "./errors.ts";
import { decodeCursor, encodeCursor, listSchema, pageQuery } from "./pagination.ts";
import { booleanQuery, idParam } from "./schemas.ts";
import { developmentOnly } from "./development.ts";

const tags = ["Notifications"];

const notificationSchema = z.object({
  id: z.uuid(),
  template: z.string(),
  subject: z.string().nullable(),
  body: z.string(),
  booking_id: z.uuid().nullable(),
  read: z.boolean(),
  created_at: z.string(),
}).openapi("Notification");

function toNotification(row: NotificationRow): z.infer<typeof notificationSchema> {
  return {
    id: row.id,
    template: row.template,
    subject: row.subject,
    body: row.body,
    booking_id: row.bookingId,
    read: row.readAt !== null,
    created_at: row.createdAt.toISOString(),
  };
}

const preferencesSchema = z.object({
  EMAIL: z.boolean(),
  SMS: z.boolean(),
  PUSH: z.boolean(),
  IN_APP: z.boolean(),
}).openapi("NotificationPreferences", {
  description: "Channels on or off. Account emails (verification, reset, invitation) are always sent.",
});

const list = createRoute({
  method: "get",
  path: "/api/v1/notifications",
  operationId: "listNotifications",
  summary: "Your in-app notifications, newest first",
  tags,
  middleware: [requireUser] as const,
  request: { query: z.object({ unread: booleanQuery.optional(), ...pageQuery }) },
  responses: {
    200: { description: "A page", ...json(listSchema(notificationSchema, "NotificationList")) },
    401: problem401,
    ...errorResponses,
  },
});

const count = createRoute({
  method: "get",
  path: "/api/v1/notifications/unread-count",
  operationId: "countUnreadNotifications",
  summary: "How many in-app notifications you have not read",
  tags,
  middleware: [requireUser] as const,
  responses: {
    200: { description: "The count", ...json(z.object({ unread: z.number().int() })) },
    401: problem401,
    ...errorResponses,
  },
});

const read = createRoute({
  method: "patch",
  path: "/api/v1/notifications/{id}/read",
  operationId: "readNotification",
  summary: "Mark one of your notifications read",
  tags,
  middleware: [requireUser] as const,
  request: { params: idParam },
  responses: { 200: { description: "Read", ...json(notificationSchema) }, 401: problem401, ...errorResponses },
});

const readAll = createRoute({
  method: "post",
  path: "/api/v1/notifications/read-all",
  operationId: "readAllNotifications",
  summary: "Mark all your notifications read",
  tags,
  middleware: [requireUser] as const,
  responses: {
    200: { description: "How many were marked", ...json(z.object({ marked: z.number().int() })) },
    401: problem401,
    ...errorResponses,
  },
});

const getPreferences = createRoute({
  method: "get",
  path: "/api/v1/users/me/notification-preferences",
  operationId: "getNotificationPreferences",
  summary: "Which channels you receive booking messages on",
  tags,
  middleware: [requireUser] as const,
  responses: { 200: { description: "Preferences", ...json(preferencesSchema) }, 401: problem401, ...errorResponses },
});

const patchPreferences = createRoute({
  method: "patch",
  path: "/api/v1/users/me/notification-preferences",
  operationId: "updateNotificationPreferences",
  summary: "Switch channels on or off",
  tags,
  middleware: [requireUser] as const,
  request: {
    body: { required: true, ...json(preferencesSchema.partial().strict().openapi("NotificationPreferencesUpdate")) },
  },
  responses: {
    200: { description: "Preferences", ...json(preferencesSchema) },
    401: problem401,
    ...bodyErrorResponses,
  },
});

const devOutbox = createRoute({
  method: "get",
  path: "/dev/outbox",
  operationId: "devOutbox",
  summary:
    "Development mode only, from this machine: the latest email and SMS messages the log senders did not send, to you (an admin: to anyone)",
  tags: ["Development"],
  middleware: [developmentOnly, requireUser] as const,
  responses: {
    200: {
      description: "Newest first",
      ...json(z.object({
        data: z.array(z.object({
          channel: z.enum(["EMAIL", "SMS"]),
          to: z.string(),
          subject: z.string().nullable(),
          body: z.string(),
          created_at: z.string(),
        })),
      })),
    },
    401: problem401,
    ...errorResponses,
  },
});

const positionSchema = z.object({ createdAt: z.string().max(40), id: z.uuid() }).strict();

/** Registers the notification routes. */
export function registerNotifications(app: App): void {
  app.openapi(list, async (c) => {
    const query = c.req.valid("query");
    const after = decodeCursor(query.cursor, positionSchema);
    const rows = await inbox(c.var.services.database.db, c.var.auth!.userId, {
      unreadOnly: query.unread === true,
      limit: query.limit + 1,
      after,
    });
    const page = rows.slice(0, query.limit);
    const last = page.at(-1);
    const next = rows.length > query.limit && last ? encodeCursor({ createdAt: last.at, id: last.row.id }) : null;
    return c.json({ data: page.map((r) => toNotification(r.row)), next_cursor: next }, 200);
  });

  app.openapi(
    count,
    async (c) => c.json({ unread: await unreadCount(c.var.services.database.db, c.var.auth!.userId) }, 200),
  );

  app.openapi(read, async (c) => {
    const { database, now } = c.var.services;
    const row = await markRead(database.db, c.var.auth!.userId, c.req.valid("param").id, now());
    if (!row) throw notFound("notification");
    return c.json(toNotification(row), 200);
  });

  app.openapi(readAll, async (c) => {
    const { database, now } = c.var.services;
    return c.json({ marked: await markAllRead(database.db, c.var.auth!.userId, now()) }, 200);
  });

  app.openapi(
    getPreferences,
    async (c) => c.json(await preferences(c.var.services.database.db, c.var.auth!.userId), 200),
  );

  app.openapi(patchPreferences, async (c) => {
    const { database, now } = c.var.services;
    const body = c.req.valid("json");
    const changes = Object.fromEntries(CHANNELS.filter((ch) => body[ch] !== undefined).map((ch) => [ch, body[ch]!]));
    await setPreferences(database.db, c.var.auth!.userId, changes, now());
    return c.json(await preferences(database.db, c.var.auth!.userId), 200);
  });

  app.openapi(devOutbox, (c) => {
    const { user, role } = c.var.auth!;
    // A single-use code is for its recipient: only they (or an admin) read it here.
    const addresses = role === "ADMIN" ? undefined : [user.email, ...(user.phone ? [user.phone] : [])];
    const messages = c.var.services.devMailbox!.list(addresses);
    return c.json({
      data: messages.slice(0, 50).map((m) => ({
        channel: m.channel,
        to: m.to,
        subject: m.subject,
        body: m.body,
        created_at: m.at.toISOString(),
      })),
    }, 200);
  });
}
