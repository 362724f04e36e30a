import assert from "node:assert/strict";
import { createLogger } from "../../adapters/logger.ts";
import { MemoryStore } from "../../adapters/store.ts";

Deno.test("the logger writes JSON lines at or above its level and redacts secret fields", () => {
  const lines: string[] = [];
  const logger = createLogger("info", (line) => lines.push(line));
  logger.debug("hidden");
  logger.info("shown", { password: "hunter2", access_token: "abc", user_id: "u1" });
  assert.equal(lines.length, 1);
  const line = JSON.parse(lines[0]);
  assert.equal(line.level, "info");
  assert.equal(line.message, "shown");
  assert.equal(line.password, "[redacted]");
  assert.equal(line.access_token, "[redacted]");
  assert.equal(line.user_id, "u1");
});

Deno.test("the logger never writes message texts or codes, whoever passes them", () => {
  const lines: string[] = [];
  const logger = createLogger("info", (line) => lines.push(line));
  logger.info("sent", { to: "a@example.com", body: "code 123456", text: "t", code: "654321", single_use_code: "x" });
  const line = JSON.parse(lines[0]);
  assert.equal(line.to, "a@example.com");
  for (const field of ["body", "text", "code", "single_use_code"]) assert.equal(line[field], "[redacted]", field);
  assert.doesNotMatch(lines[0], /123456|654321/);
});

Deno.test("the embedded store counts within a window and forgets after it", async () => {
  let now = 0;
  const store = new MemoryStore(() => now);
  assert.equal(await store.increment("k", 60), 1);
  assert.equal(await store.increment("k", 60), 2);
  now = 59_999;
  assert.equal(await store.increment("k", 60), 3);
  now = 60_000;
  assert.equal(await store.increment("k", 60), 1);
  await store.set("v", "x", 1);
  assert.equal(await store.get("v"), "x");
  now += 1000;
  assert.equal(await store.get("v"), null);
});
