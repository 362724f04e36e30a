/** Cursor pagination shared by list endpoints: opaque base64url cursors, a capped `limit`. */
import { z } from "@hono/zod-openapi";
import { ApiError } from "./errors.ts";

export const MAX_PAGE_SIZE = 100;

export const pageQuery = {
  limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(20)
    .openapi({ description: `Page size, at most ${MAX_PAGE_SIZE}` }),
  cursor: z.string().max(500).optional().openapi({ description: "`next_cursor` of the previous page" }),
};

/** Encodes a position in a list as an opaque cursor. */
export function encodeCursor(position: object): string {
  return btoa(JSON.stringify(position)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** Decodes a cursor against the shape its list expects; a bad cursor is a 400 naming `cursor`. */
export function decodeCursor<T extends z.ZodType>(cursor: string | undefined, shape: T): z.infer<T> | undefined {
  if (cursor === undefined) return undefined;
  try {
    const json = atob(cursor.replaceAll("-", "+").replaceAll("_", "/"));
    return shape.parse(JSON.parse(json));
  } catch {
    throw new ApiError("validation", "Invalid query: cursor", {
      errors: [{ path: "query.cursor", message: "is not a cursor this list returned" }],
    });
  }
}

/** A list response schema: `{data, next_cursor}`. */
export function listSchema<T extends z.ZodType>(item: T, name: string) {
  return z.object({ data: z.array(item), next_cursor: z.string().nullable() }).openapi(name);
}
