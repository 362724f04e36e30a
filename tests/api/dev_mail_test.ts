/** On the embedded database a developer reads account messages in the log; elsewhere nothing of them is logged. */
import assert from "node:assert/strict";
import { makeTestApp } from "../support/app.ts";
import { createScratchDatabase, postgresAvailable } from "../support/postgres.ts";
import { makeUser } from "../support/users.ts";

async function requestReset(url?: string) {
  const testApp = await makeTestApp({ LOG_LEVEL: "info" }, { url });
  try {
    const user = await makeUser(testApp);
    const res = await testApp.app.request("/api/v1/auth/password-reset/request", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: user.email }),
    });
    assert.equal(res.status, 202);
    return { email: user.email, lines: testApp.logLines.filter((line) => String(line.message).startsWith("dev mail")) };
  } finally {
    await testApp.close();
  }
}

Deno.test("embedded database: the reset message, code included, is in the log", async () => {
  const { email, lines } = await requestReset();
  assert.equal(lines.length, 1);
  assert.equal(lines[0].to, email);
  assert.equal(lines[0].topic, "email.password_reset");
  assert.match(String(lines[0].single_use_code), /^[A-Za-z0-9_-]{20,}$/);
});

Deno.test({
  name: "a real PostgreSQL: no message is logged and /dev/outbox does not exist",
  ignore: !postgresAvailable,
  async fn() {
    const scratch = await createScratchDatabase();
    try {
      const { lines } = await requestReset(scratch.url);
      assert.equal(lines.length, 0);
      const testApp = await makeTestApp({ LOG_LEVEL: "silent" }, { url: scratch.url });
      try {
        assert.equal((await testApp.app.request("/dev/outbox")).status, 404);
      } finally {
        await testApp.close();
      }
    } finally {
      await scratch.drop();
    }
  },
});
