/**
 * Job callbacks (`POST /jobs/{name}`), delivered by QStash or the embedded dispatcher: the raw body
 * is verified against `Upstash-Signature` first (401 otherwise), the payload validated, and the
 * effect committed in one batch with the `Upstash-Message-Id` and the signature's digest, so a
 * second delivery (or a replay of a captured request under a new message id) is acknowledged
 * without acting. 2xx only once the batch commits; 5xx asks for a retry.
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { JOB_NAMES } from "../jobs/dispatcher.ts";
import { HANDLERS } from "../jobs/handlers.ts";
import { signatureDigest, verifyCallback } from "../jobs/signature.ts";
import type { App, AppEnv } from "./app.ts";
import { json } from "./auth.ts";
import { isDatabaseUnavailable } from "../db/errors.ts";
import { ApiError, errorResponses, problemBody, problemSchema } from "./errors.ts";

const resultSchema = z.object({
  outcome: z.enum(["done", "noop", "duplicate"]),
  changed: z.number().int().openapi({ description: "How many records the job changed" }),
}).openapi("JobResult");

const callback = createRoute({
  method: "post",
  path: "/jobs/{name}",
  operationId: "runJob",
  summary: "A job callback, signed as QStash signs (`Upstash-Signature`)",
  tags: ["Jobs"],
  security: [],
  request: { params: z.object({ name: z.enum(JOB_NAMES) }) },
  responses: {
    200: { description: "Acknowledged: done, nothing to do, or already done", ...json(resultSchema) },
    401: { description: "Missing or invalid signature", content: errorResponses[400].content },
    ...errorResponses,
    500: {
      description:
        "The job failed and is to be retried; `job_error` names the handler's error (bounded, URLs' credentials masked)",
      content: { "application/problem+json": { schema: problemSchema.extend({ job_error: z.string().optional() }) } },
    },
  },
});

/** The URL QStash signed: this API's public origin (or the request's) and the path. */
function signedUrl(c: Context<AppEnv>): string {
  const base = c.var.services.config.PUBLIC_BASE_URL;
  const url = new URL(c.req.url);
  return base ? `${base.replace(/\/$/, "")}${url.pathname}` : `${url.origin}${url.pathname}`;
}

/** Registers the job callback route. */
export function registerJobs(app: App): void {
  app.openapi(callback, async (c) => {
    const { name } = c.req.valid("param");
    const { database, signingKeys, now: clock } = c.var.services;
    // The signature covers the raw body: read it before any parsing.
    const body = await c.req.text();
    const valid = await verifyCallback(signingKeys, {
      signature: c.req.header("upstash-signature"),
      body,
      url: signedUrl(c),
    });
    if (!valid) throw new ApiError("unauthorized", "Missing or invalid Upstash-Signature");
    const signatureId = await signatureDigest(c.req.header("upstash-signature")!);
    const handler = HANDLERS[name];
    let parsed;
    try {
      parsed = handler.payload.safeParse(body ? JSON.parse(body) : {});
    } catch {
      parsed = null;
    }
    if (!parsed?.success) {
      // A payload that can never be processed: acknowledged, so it is not retried forever.
      c.var.services.logger.warn("job payload rejected", { job: name });
      return c.json({ outcome: "noop" as const, changed: 0 }, 200);
    }
    try {
      const result = await handler.run({
        deps: c.var.services,
        db: database.db,
        now: clock(),
        requestId: c.var.requestId,
        messageId: c.req.header("upstash-message-id") ?? crypto.randomUUID(),
        signatureId,
      }, parsed.data);
      return c.json(result, 200);
    } catch (error) {
      if (error instanceof ApiError || isDatabaseUnavailable(error)) throw error;
      // Only signed callers (the dispatcher, QStash) read this: the handler's error, so the dead
      // letter says what failed; credentials in URLs are masked and the text is bounded.
      const jobError = `${error instanceof Error ? error.name : "Error"}: ${
        error instanceof Error ? error.message : String(error)
      }`.replace(/\/\/[^/\s:@]+:[^/\s@]+@/g, "//***@").replace(/\s+/g, " ").slice(0, 300);
      c.var.services.logger.error("job failed", { job: name, request_id: c.var.requestId, error: jobError });
      const problem = {
        ...problemBody("internal", "The job failed: it will be retried", c.var.requestId),
        job_error: jobError,
      };
      return c.json(problem, 500, { "content-type": "application/problem+json" });
    }
  });
}
