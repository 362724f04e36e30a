import assert from "node:assert/strict";
import { ConfigError, loadConfig } from "../../adapters/config.ts";

Deno.test("loadConfig", async (t) => {
  await t.step("runs on embedded defaults when nothing is set", () => {
    const config = loadConfig({});
    assert.equal(config.PORT, 8000);
    assert.equal(config.DATABASE_URL, undefined);
    assert.equal(config.DATA_DIR, ".data/pglite");
    assert.deepEqual(config.CORS_ORIGINS, []);
  });

  await t.step("treats an empty variable as unset", () => {
    assert.equal(loadConfig({ PORT: "", DATABASE_URL: "" }).PORT, 8000);
  });

  await t.step("parses lists and numbers", () => {
    const config = loadConfig({ PORT: "9000", CORS_ORIGINS: "https://a.example, https://b.example" });
    assert.equal(config.PORT, 9000);
    assert.deepEqual(config.CORS_ORIGINS, ["https://a.example", "https://b.example"]);
  });

  await t.step("names the variable that is malformed", () => {
    assert.throws(() => loadConfig({ PORT: "eighty" }), (error: Error) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /PORT/);
      return true;
    });
    assert.throws(() => loadConfig({ DATABASE_URL: "mysql://x" }), /DATABASE_URL/);
    assert.throws(() => loadConfig({ LOG_LEVEL: "loud" }), /LOG_LEVEL/);
  });

  await t.step("requires the Upstash URL and token together", () => {
    assert.throws(() => loadConfig({ UPSTASH_REDIS_REST_URL: "https://x.upstash.io" }), /UPSTASH_REDIS_REST_TOKEN/);
  });

  await t.step("listens on loopback and is not in development mode unless told", () => {
    const config = loadConfig({});
    assert.equal(config.HOST, "127.0.0.1");
    assert.equal(config.DEV_MODE, false);
    assert.equal(loadConfig({ DEV_MODE: "1" }).DEV_MODE, true);
    assert.equal(loadConfig({ DEV_MODE: "false" }).DEV_MODE, false);
    assert.throws(() => loadConfig({ DEV_MODE: "yes please" }), /DEV_MODE/);
  });

  await t.step("a real database needs the server's secrets and, outside development mode, a mail provider", () => {
    const url = "postgres://app@db.example/app";
    assert.throws(() => loadConfig({ DATABASE_URL: url }), (error: Error) => {
      for (const name of ["JWT_SECRET", "QSTASH_CURRENT_SIGNING_KEY", "QSTASH_NEXT_SIGNING_KEY", "MAIL_HTTP_URL"]) {
        assert.match(error.message, new RegExp(name));
      }
      return true;
    });
    const secrets = {
      DATABASE_URL: url,
      JWT_SECRET: "s".repeat(32),
      QSTASH_CURRENT_SIGNING_KEY: "c".repeat(16),
      QSTASH_NEXT_SIGNING_KEY: "n".repeat(16),
    };
    assert.throws(() => loadConfig(secrets), /MAIL_HTTP_URL/);
    assert.equal(loadConfig({ ...secrets, DEV_MODE: "1" }).DATABASE_URL, url);
    assert.equal(
      loadConfig({ ...secrets, MAIL_HTTP_URL: "https://mail.example/send", MAIL_HTTP_TOKEN: "t" }).DATABASE_URL,
      url,
    );
    // Tools that serve nothing (seed, migrate) need only the database.
    assert.equal(loadConfig({ DATABASE_URL: url }, { server: false }).DATABASE_URL, url);
  });
});

Deno.test("the server refuses to start on a real database without its secrets, naming each", async () => {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts"],
    env: { DATABASE_URL: "postgres://app@127.0.0.1:1/app", LOG_LEVEL: "silent" },
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(code, 1);
  const message = new TextDecoder().decode(stderr);
  for (const name of ["JWT_SECRET", "QSTASH_CURRENT_SIGNING_KEY", "MAIL_HTTP_URL"]) {
    assert.match(message, new RegExp(name));
  }
});
