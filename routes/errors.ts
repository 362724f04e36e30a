/**
 * One error vocabulary for the whole API, answered as RFC 9457 `application/problem+json`.
 */
import { z } from "@hono/zod-openapi";

export type ErrorCode =
  | "bad_request"
  | "validation"
  | "malformed_json"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "method_not_allowed"
  | "conflict"
  | "slot_taken"
  | "payload_too_large"
  | "unsupported_media_type"
  | "unprocessable"
  | "rate_limited"
  | "internal"
  | "unavailable";

/** Returns the HTTP status a code is answered with. */
export function codeToStatus(code: ErrorCode): 400 | 401 | 403 | 404 | 405 | 409 | 413 | 415 | 422 | 429 | 500 | 503 {
  switch (code) {
    case "bad_request":
    case "validation":
    case "malformed_json":
      return 400;
    case "unauthorized":
      return 401;
    case "forbidden":
      return 403;
    case "not_found":
      return 404;
    case "method_not_allowed":
      return 405;
    case "conflict":
    case "slot_taken":
      return 409;
    case "payload_too_large":
      return 413;
    case "unsupported_media_type":
      return 415;
    case "unprocessable":
      return 422;
    case "rate_limited":
      return 429;
    case "internal":
      return 500;
    case "unavailable":
      return 503;
  }
}

const TITLES: Record<ErrorCode, string> = {
  bad_request: "Bad request",
  validation: "Invalid request",
  malformed_json: "Malformed JSON",
  unauthorized: "Unauthorized",
  forbidden: "Forbidden",
  not_found: "Not found",
  method_not_allowed: "Method not allowed",
  conflict: "Conflict",
  slot_taken: "Slot taken",
  payload_too_large: "Payload too large",
  unsupported_media_type: "Unsupported media type",
  unprocessable: "Unprocessable request",
  rate_limited: "Too many requests",
  internal: "Internal server error",
  unavailable: "Service unavailable",
};

/** One invalid field: its dotted path and what is wrong with it. */
export interface FieldError {
  path: string;
  message: string;
}

/** An error the API answers with a problem document. */
export class ApiError extends Error {
  override name = "ApiError";
  readonly code: ErrorCode;
  readonly errors?: FieldError[];
  readonly headers?: Record<string, string>;

  constructor(
    code: ErrorCode,
    detail: string,
    options: { errors?: FieldError[]; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(detail, { cause: options.cause });
    this.code = code;
    this.errors = options.errors;
    this.headers = options.headers;
  }
}

export const problemSchema = z.object({
  type: z.string().openapi({ example: "https://docs.salon-booking.dev/problems/validation" }),
  title: z.string().openapi({ example: "Invalid request" }),
  status: z.number().int().openapi({ example: 400 }),
  detail: z.string().openapi({ example: "Request body is invalid: see errors" }),
  instance: z.string().openapi({ description: "The request id", example: "01J9Z3K5V1W2X3Y4Z5A6B7C8D9" }),
  code: z.string().openapi({ example: "validation" }),
  errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
}).openapi("Problem");

export type Problem = z.infer<typeof problemSchema>;

const PROBLEM_BASE = "https://docs.salon-booking.dev/problems/";

/** Builds the problem document for an error code. */
export function problemBody(code: ErrorCode, detail: string, requestId: string, errors?: FieldError[]): Problem {
  return {
    type: PROBLEM_BASE + code,
    title: TITLES[code],
    status: codeToStatus(code),
    detail,
    instance: requestId,
    code,
    ...(errors ? { errors } : {}),
  };
}

/** Writes a problem response. */
export function problemResponse(
  problem: Problem,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify(problem), {
    status: problem.status,
    headers: { "content-type": "application/problem+json", ...headers },
  });
}

/** Turns zod issues into field errors with dotted paths (`services.0.price`). */
export function fieldErrors(issues: readonly { path: readonly PropertyKey[]; message: string }[]): FieldError[] {
  return issues.map((issue) => ({
    path: issue.path.map(String).join(".") || "(root)",
    message: issue.message,
  }));
}

const problemContent = { "application/problem+json": { schema: problemSchema } };

/** Error responses shared by every route's OpenAPI description. */
export const errorResponses = {
  400: { description: "The request is invalid; `errors` names each bad field", content: problemContent },
  404: { description: "Not found", content: problemContent },
  429: { description: "Rate limit exceeded", content: problemContent },
  500: { description: "Unexpected error; `instance` is the request id to report", content: problemContent },
} as const;

/** Error responses of routes that take a JSON body. */
export const bodyErrorResponses = {
  ...errorResponses,
  413: { description: "The body is larger than the limit", content: problemContent },
  415: { description: "The body is not `application/json`", content: problemContent },
} as const;

/** The 403 response of routes some roles may not use at all. */
export const problem403 = { description: "Your role does not allow this", content: problemContent } as const;
/** The 409 response of routes whose change can clash with existing data. */
export const problem409 = { description: "Conflicts with existing data", content: problemContent } as const;

/** The caller's role does not allow the action at all (ownership misses answer 404 instead). */
export function forbidden(detail = "Your role does not allow this"): ApiError {
  return new ApiError("forbidden", detail);
}

/** The object does not exist or is not the caller's: the answer does not tell which. */
export function notFound(what: string): ApiError {
  return new ApiError("not_found", `No such ${what}`);
}
