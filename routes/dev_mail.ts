/**
 * Until mail delivery exists, a developer on the embedded database reads verification, reset and
 * invitation messages in the log. Only there: with a real database (a deployment) nothing about
 * the message is logged, and the code itself stays in the outbox.
 */
import type { Context } from "hono";
import type { AppEnv } from "./app.ts";

/** Logs an outbox email when running on the embedded database. */
export function showDevMail(c: Context<AppEnv>, message: { topic: string; to: string; code: string }): void {
  const { database, logger } = c.var.services;
  if (database.kind !== "pglite") return;
  logger.info("dev mail: written to the outbox, shown here because the database is the embedded one", {
    topic: message.topic,
    to: message.to,
    single_use_code: message.code,
  });
}
