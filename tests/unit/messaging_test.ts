/** The HTTP email/SMS sender against a local provider: what it sends, and which failures are permanent. */
import assert from "node:assert/strict";
import { HttpSender, PermanentSendError } from "../../adapters/messaging.ts";

Deno.test("HttpSender posts JSON with the token and tells permanent refusals from passing trouble", async () => {
  const seen: { auth: string | null; body: unknown }[] = [];
  let answer = 200;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    seen.push({ auth: req.headers.get("authorization"), body: await req.json() });
    return new Response(answer === 200 ? "ok" : "nope", { status: answer });
  });
  try {
    const sender = new HttpSender({ url: `http://127.0.0.1:${server.addr.port}/send`, token: "provider-token" });
    const message = { to: "ana@example.com", subject: "Hello", body: "Your booking…" };
    await sender.send(message);
    assert.deepEqual(seen[0], {
      auth: "Bearer provider-token",
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
