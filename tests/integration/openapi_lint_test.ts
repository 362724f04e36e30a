/** The OpenAPI document passes Redocly's recommended rules with no errors (warnings are allowed). */
import assert from "node:assert/strict";
import { makeTestApp } from "../support/app.ts";

async function npxAvailable(): Promise<boolean> {
  try {
    const { success } = await new Deno.Command("npx", { args: ["--version"], stdout: "null", stderr: "null" }).output();
    return success;
  } catch {
    return false;
  }
}

Deno.test({
  name: "GET /openapi.json passes `redocly lint` with the recommended rules",
  ignore: !(await npxAvailable()),
  async fn() {
    const { app, close } = await makeTestApp({ LOG_LEVEL: "silent" });
    const dir = await Deno.makeTempDir();
    try {
      const doc = await (await app.request("http://localhost:8000/openapi.json")).text();
      await Deno.writeTextFile(`${dir}/openapi.json`, doc);
      const { code, stdout, stderr } = await new Deno.Command("npx", {
        args: ["-y", "@redocly/cli@2.77.0", "lint", "--extends=recommended", `${dir}/openapi.json`],
        cwd: dir,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const output = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
      assert.equal(code, 0, output);
      assert.match(output, /valid/);
    } finally {
      await close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
