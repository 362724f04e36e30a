/** A JSON client for the app under test. */
import type { TestApp } from "./app.ts";
import { bearer, type SignedInUser } from "./users.ts";

export interface ApiResponse {
  status: number;
  headers: Headers;
  // deno-lint-ignore no-explicit-any
  body: any;
}

export type Send = (method: string, path: string, user?: SignedInUser | null, body?: unknown) => Promise<ApiResponse>;

/** Returns `send(method, "/salons", user, body)` against `/api/v1`, parsing the JSON answer. */
export function apiClient({ app }: Pick<TestApp, "app">): Send {
  return async (method, path, user, body) => {
    const res = await app.request(`/api/v1${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...(user ? bearer(user) : {}),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
  };
}
