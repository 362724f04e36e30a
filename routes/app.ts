/**
 * `createApp(deps)`: the one place that assembles middleware, error handling, the OpenAPI document
 * and the routes. `main.ts` serves it; every test calls it through `app.request`.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { HTTPException } from "hono/http-exception";
import { matchedRoutes } from "hono/route";
import { secureHeaders } from "hono/secure-headers";
import { SpanStatusCode, trace } from "@opentelemetry/api";
import type { Config } from "../adapters/config.ts";
import type { Logger } from "../adapters/logger.ts";
import type { PasswordHasher } from "../adapters/passwords.ts";
import type { KeyValueStore } from "../adapters/store.ts";
import type { TokenIssuer } from "../adapters/tokens.ts";
import type { Role } from "../domain/access.ts";
import type { UserRow } from "../db/auth.ts";
import type { Database } from "../db/client.ts";
import { isDatabaseUnavailable } from "../db/errors.ts";
import { ApiError, type ErrorCode, fieldErrors, problemBody, problemResponse } from "./errors.ts";
import { registerAuth } from "./auth.ts";
import { clientIp } from "./client_address.ts";
import { apiRateLimit, refusedCallLimit } from "./rate_limit.ts";
import { registerDocs } from "./docs.ts";
import { registerUsers } from "./users.ts";
import { registerSalons } from "./salons.ts";
import { registerServices } from "./services.ts";
import { registerProfessionals } from "./professionals.ts";
import { registerAvailability } from "./availability.ts";
import { registerScheduling } from "./scheduling.ts";
import { registerCancellationPolicies } from "./cancellation_policies.ts";
import { registerBookings } from "./bookings.ts";
import { registerOverbooking } from "./overbooking.ts";
import { registerHealth } from "./health.ts";
import { registerJobs } from "./jobs.ts";
import { registerAdminJobs } from "./admin_jobs.ts";
import { registerNotifications } from "./notifications.ts";
import { requestRelay } from "../jobs/handlers.ts";
import type { JobPublisher } from "../jobs/dispatcher.ts";
import type { SigningKeys } from "../jobs/signature.ts";
import type { DevMailbox, MessageSender } from "../adapters/messaging.ts";
import type { PaymentProvider } from "../adapters/payments.ts";
import { registerPayments } from "./payments.ts";
import { registerAdminPayments } from "./admin_payments.ts";
import { registerPaymentMetrics } from "./payment_metrics.ts";

/** What the app is built from: configuration and the adapters `main.ts` chose. */
export interface AppDeps {
  config: Config;
  database: Database;
  store: KeyValueStore;
  logger: Logger;
  /** Where follow-up jobs go (QStash, or the embedded dispatcher). */
  jobs: JobPublisher;
  /** Keys that verify job callbacks (QStash's, or the embedded dispatcher's). */
  signingKeys: SigningKeys;
  /** Deposits and refunds (Stripe, or the mock provider). */
  payments: PaymentProvider;
  /** Verifies `Stripe-Signature` on webhooks (Stripe's secret, or the one the mock signs with). */
  stripeWebhookSecret: string;
  /** Email and SMS senders (HTTP providers, or the log). */
  messages: { email: MessageSender; sms: MessageSender };
  /** Development mode only: what the log senders did not send, for `GET /dev/outbox`. */
  devMailbox?: DevMailbox;
  passwords: PasswordHasher;
  tokens: TokenIssuer;
  /** The clock: the only place the app reads the time. */
  now: () => Date;
}

export interface AppEnv {
  Variables: {
    services: AppDeps;
    requestId: string;
    userId?: string;
    /** The signed-in user, read with their session when the request was authenticated. */
    auth?: { userId: string; role: Role; sessionId: string; user: UserRow };
  };
}

export type App = OpenAPIHono<AppEnv>;

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const BODY_METHODS = new Set(["POST", "PUT", "PATCH"]);
const KNOWN_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"];
/** When a caller refused because the database is unreachable should try again. */
const DATABASE_RETRY_AFTER_SECONDS = 5;

function isJson(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const mediaType = contentType.split(";")[0].trim().toLowerCase();
  return mediaType === "application/json" || /^application\/[a-z0-9.+-]+\+json$/.test(mediaType);
}

function hasBody(request: Request): boolean {
  const length = request.headers.get("content-length");
  if (length !== null) return Number(length) > 0;
  return request.body !== null;
}

function pathPattern(path: string): RegExp {
  const source = path.split("/").map((part) => {
    if (part === "*") return ".*";
    if (part.startsWith(":")) return "[^/]+";
    return part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }).join("/");
  return new RegExp(`^${source}/?$`);
}

/** The methods some route answers for this path (for 405 and `Allow`). */
function allowedMethods(app: App, path: string): string[] {
  const methods = new Set<string>();
  for (const route of app.routes) {
    if (route.method === "ALL" || route.path.endsWith("*")) continue;
    if (pathPattern(route.path).test(path)) methods.add(route.method);
  }
  if (methods.has("GET")) methods.add("HEAD");
  return KNOWN_METHODS.filter((m) => methods.has(m));
}

/** Builds the API. */
export function createApp(deps: AppDeps): App {
  const app: App = new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) {
        const target = (result as { target?: string }).target ?? "request";
        const errors = fieldErrors(result.error.issues);
        throw new ApiError("validation", `Invalid ${target}: ${errors.map((e) => e.path).join(", ")}`, {
          errors: target === "json" ? errors : errors.map((e) => ({ ...e, path: `${target}.${e.path}` })),
        });
      }
      return undefined;
    },
  });
  const tracer = trace.getTracer("salon-booking-api");

  app.use("*", async (c, next) => {
    const offered = c.req.header("x-request-id");
    const requestId = offered && SAFE_REQUEST_ID.test(offered) ? offered : crypto.randomUUID();
    c.set("requestId", requestId);
    c.set("services", deps);
    const started = performance.now();
    await tracer.startActiveSpan(`${c.req.method} ${c.req.path}`, async (span) => {
      try {
        await next();
      } finally {
        const route = matchedRoutes(c).filter((r) => r.method !== "ALL").at(-1)?.path ?? "(unmatched)";
        span.updateName(`${c.req.method} ${route}`);
        span.setAttributes({
          "http.request.method": c.req.method,
          "http.route": route,
          "http.response.status_code": c.res.status,
          "request.id": requestId,
        });
        if (c.res.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
        span.end();
        c.res.headers.set("X-Request-Id", requestId);
        deps.logger.info("request", {
          method: c.req.method,
          route,
          status: c.res.status,
          duration_ms: Math.round((performance.now() - started) * 100) / 100,
          request_id: requestId,
          ...(c.get("userId") ? { user_id: c.get("userId") } : {}),
        });
      }
    });
  });

  app.use("*", secureHeaders({ crossOriginResourcePolicy: "cross-origin" }));
  app.use(
    "*",
    cors({
      origin: deps.config.CORS_ORIGINS,
      allowHeaders: ["Authorization", "Content-Type", "Idempotency-Key", "X-Request-Id"],
      exposeHeaders: [
        "X-Request-Id",
        "RateLimit-Limit",
        "RateLimit-Remaining",
        "RateLimit-Reset",
        "Retry-After",
        "Location",
      ],
      maxAge: 600,
    }),
  );
  app.use("*", async (c, next) => {
    if (!BODY_METHODS.has(c.req.method)) return await next();
    return await bodyLimit({
      maxSize: deps.config.BODY_LIMIT_BYTES,
      onError: () => {
        throw new ApiError(
          "payload_too_large",
          `Request body is too large: the limit is ${deps.config.BODY_LIMIT_BYTES} bytes`,
        );
      },
    })(c, next);
  });
  app.use("/api/*", async (c, next) => {
    if (BODY_METHODS.has(c.req.method) && hasBody(c.req.raw) && !isJson(c.req.header("content-type"))) {
      throw new ApiError("unsupported_media_type", "Request body must be application/json");
    }
    await next();
  });

  app.use("/api/*", apiRateLimit(clientIp, "api-ip"));
  // Outside /api: public pages per address; callbacks and webhooks only count badly signed calls.
  // `/health/live` is left out on purpose: it does no I/O (cheaper than counting it), and a refused
  // liveness probe would get a healthy instance restarted.
  const publicLimit = apiRateLimit(clientIp, "public-ip", (config) => config.RATE_LIMIT_PUBLIC_PER_MINUTE);
  const limitedPublic = ["/health", "/health/ready", "/health/db", "/health/redis", "/docs", "/openapi.json", "/dev/*"];
  for (const path of limitedPublic) app.use(path, publicLimit);
  app.use("/jobs/*", refusedCallLimit("jobs-refused"));
  app.use("/webhooks/*", refusedCallLimit("webhooks-refused"));
  // A change may have written outbox rows: ask for them to be relayed now rather than at the next
  // sweep. Losing this request loses nothing; the every-minute sweep relays them anyway.
  app.use("/api/*", async (c, next) => {
    await next();
    if (c.req.method === "GET" || c.res.status >= 400) return;
    await requestRelay(c.var.services.jobs).catch((error) =>
      c.var.services.logger.warn("outbox relay not requested; the sweep will relay", { error: String(error) })
    );
  });

  app.onError((error, c) => {
    const requestId = c.get("requestId") ?? crypto.randomUUID();
    if (error instanceof ApiError) {
      return problemResponse(problemBody(error.code, error.message, requestId, error.errors), error.headers);
    }
    if (error instanceof HTTPException) {
      const code: ErrorCode = error.status === 400 && /json/i.test(error.message)
        ? "malformed_json"
        : statusToCode(error.status);
      const detail = code === "malformed_json" ? "Request body is not valid JSON" : error.message || "Request failed";
      return problemResponse(problemBody(code, detail, requestId));
    }
    if (isDatabaseUnavailable(error)) {
      // Down, closed, restarting or unreachable: the request may well succeed shortly, so say when.
      deps.logger.error("database unavailable", {
        request_id: requestId,
        error_message: error instanceof Error ? error.message : String(error),
      });
      return problemResponse(
        problemBody("unavailable", "The database cannot be reached right now: retry shortly", requestId),
        { "Retry-After": String(DATABASE_RETRY_AFTER_SECONDS) },
      );
    }
    deps.logger.error("unhandled error", {
      request_id: requestId,
      error: error instanceof Error ? error.name : "unknown",
      error_message: error instanceof Error ? error.message : String(error),
    });
    return problemResponse(problemBody("internal", "Unexpected error: report the request id", requestId));
  });

  app.notFound((c) => {
    const requestId = c.get("requestId") ?? crypto.randomUUID();
    const allowed = allowedMethods(app, c.req.path);
    if (allowed.length > 0 && !allowed.includes(c.req.method)) {
      return problemResponse(
        problemBody(
          "method_not_allowed",
          `Method ${c.req.method} is not allowed here: use ${allowed.join(", ")}`,
          requestId,
        ),
        { Allow: allowed.join(", ") },
      );
    }
    return problemResponse(problemBody("not_found", `No route matches ${c.req.method} ${c.req.path}`, requestId));
  });

  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
  });

  registerHealth(app);
  registerAuth(app);
  registerUsers(app);
  registerSalons(app);
  registerServices(app);
  registerProfessionals(app);
  registerAvailability(app);
  registerScheduling(app);
  registerCancellationPolicies(app);
  registerBookings(app);
  registerOverbooking(app);
  registerJobs(app);
  registerAdminJobs(app);
  registerNotifications(app);
  registerPaymentMetrics(app);
  registerPayments(app);
  registerAdminPayments(app);

  const publicOrigin = (deps.config.PUBLIC_BASE_URL ?? `http://127.0.0.1:${deps.config.PORT}`).replace(/\/$/, "");
  app.doc31("/openapi.json", () => ({
    openapi: "3.1.0",
    info: {
      title: "Salon booking API",
      version: "1.0.0",
      description: "Book beauty salons and local service providers: catalog, free slots, bookings, deposits, " +
        "cancellation policies, waitlists and loyalty points.",
      license: { name: "Proprietary", url: "https://salon-booking.dev/terms" },
    },
    // The configured origin, never the request's Host header (which the caller chooses).
    servers: [{ url: publicOrigin, description: "This server" }],
    security: [{ bearerAuth: [] }],
  }));
  registerDocs(app);

  return app;
}

function statusToCode(status: number): ErrorCode {
  switch (status) {
    case 401:
      return "unauthorized";
    case 403:
      return "forbidden";
    case 404:
      return "not_found";
    case 405:
      return "method_not_allowed";
    case 409:
      return "conflict";
    case 413:
      return "payload_too_large";
    case 415:
      return "unsupported_media_type";
    case 422:
      return "unprocessable";
    case 429:
      return "rate_limited";
    case 503:
      return "unavailable";
    default:
      return status >= 500 ? "internal" : "bad_request";
  }
}
