/** The HTTP email/SMS sender against a local provider: what it sends, and which failures are permanent. */
import assert from "node:assert/strict";
import { HttpSender, PermanentSendError } from "../../adapters/messaging.ts";

Deno.test("HttpSender posts JSON with the token and tells permanent refusals from passing trouble", async () => {
  const seen: { auth: string | null; key: string | null; body: unknown }[] = [];
  let answer = 200;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    seen.push({
      auth: req.headers.get("authorization"),
      key: req.headers.get("idempotency-key"),
      body: await req.json(),
    });
    return new Response(answer === 200 ? "ok" : "nope", { status: answer });
  });
  try {
    const sender = new HttpSender({ url: `http://127.0.0.1:${server.addr.port}/send`, token: "provider-token" });
    const message = { to: "ana@example.com", subject: "Hello", body: "Your booking…" };
    await sender.send(message);
    assert.deepEqual(seen[0], {
      auth: "Bearer provider-token",
      key: null,
      body: { to: "ana@example.com", subject: "Hello", text: "Your booking…" },
    });
    answer = 422;
    await assert.rejects(sender.send(message), PermanentSendError);
    for (const status of [503, 429, 408]) {
      answer = status;
      await assert.rejects(sender.send(message), (error) => !(error instanceof PermanentSendError));
    }
  } finally {
    await server.shutdown();
  }
});

Deno.test("HttpSender sends the message's Idempotency-Key, the same on every attempt", async () => {
  const keys: (string | null)[] = [];
  let answer = 503;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    keys.push(req.headers.get("idempotency-key"));
    await req.body?.cancel();
    return new Response(answer === 200 ? "ok" : "busy", { status: answer });
  });
  try {
    const sender = new HttpSender({ url: `http://127.0.0.1:${server.addr.port}/send`, token: "t" });
    const message = { to: "ana@example.com", subject: "Hi", body: "…", idempotencyKey: "notification:42" };
    await assert.rejects(sender.send(message));
    answer = 200;
    await sender.send(message);
    assert.deepEqual(keys, ["notification:42", "notification:42"]);
    // The deadline the send claim is measured against is the provider call's timeout.
    assert.equal(sender.deadlineMs, 10_000);
    assert.equal(new HttpSender({ url: "http://127.0.0.1:1", token: "t", timeoutMs: 3_000 }).deadlineMs, 3_000);
  } finally {
    await server.shutdown();
  }
});
