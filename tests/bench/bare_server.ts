/** The baseline for the HTTP benchmark: a bare Hono app answering GET /health with no middleware. */
import { Hono } from "hono";

const app = new Hono();
app.get("/health", (c) => c.json({ status: "ok" }));
app.get("/health/live", (c) => c.json({ status: "ok" }));
Deno.serve({ hostname: "127.0.0.1", port: Number(Deno.env.get("PORT") ?? 8001), onListen: () => {} }, app.fetch);
