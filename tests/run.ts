/**
 * Runs the whole suite (`deno task test`) and ends with one plain line: `N passed, N failed, N skipped`
 * (test steps included). Tests that need the machine's PostgreSQL or Redis skip themselves when
 * those do not answer. Extra arguments go to `deno test` (a file or `--filter`).
 */
const args = ["test", "-A", "--unstable-kv", "--reporter=dot", "--junit-path=.data/junit.xml", ...Deno.args];
await Deno.mkdir(".data", { recursive: true });
await Deno.remove(".data/junit.xml").catch(() => {});
const child = new Deno.Command(Deno.execPath(), { args, stdout: "inherit", stderr: "inherit" }).spawn();
const { code } = await child.status;

let passed = 0, failed = 0, skipped = 0;
try {
  const junit = await Deno.readTextFile(".data/junit.xml");
  for (const match of junit.matchAll(/<testcase\b[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g)) {
    const inner = match[2] ?? "";
    if (/<failure\b|<error\b/.test(inner)) failed++;
    else if (/<skipped\b/.test(inner)) skipped++;
    else passed++;
  }
} catch {
  // No report: the runner failed before running anything; the exit code tells.
}
if (code !== 0 && failed === 0) failed = 1;
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
Deno.exit(code);
