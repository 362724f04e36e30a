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
});
