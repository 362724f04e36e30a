/**
 * Development conveniences exist only in development mode (`DEV_MODE`, which `task dev` sets) and
 * answer only to this machine: anywhere else their routes do not exist.
 */
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "./app.ts";
import { isLoopbackPeer } from "./client_address.ts";
import { notFound } from "./errors.ts";

/** 404 unless the app runs in development mode and the caller is on loopback. */
export const developmentOnly = createMiddleware<AppEnv>(async (c, next) => {
  if (!c.var.services.config.DEV_MODE || !c.var.services.devMailbox || !isLoopbackPeer(c)) throw notFound("route");
  await next();
});
