/** Many wrong passwords for one account at once, over a given store: how many were verified, and the answers. */
import type { KeyValueStore } from "../../adapters/store.ts";
import { makeTestApp } from "./app.ts";
import { makeUser } from "./users.ts";

/**
 * Sends `attempts` concurrent logins with a wrong password for one registered email, each from its
 * own address (so only the per-email limit binds), with the login limit at `limit` per minute.
 * Counts the argon2 verifications with a spy on the password hasher.
 */
export async function concurrentWrongLogins(
  store: KeyValueStore,
  options: { attempts: number; limit: number },
): Promise<{ statuses: number[]; verified: number }> {
  // Mid-minute, fixed: the attempts must not straddle a window boundary.
  const fixed = new Date("2026-11-23T12:00:20Z");
  const testApp = await makeTestApp({
    LOG_LEVEL: "silent",
    TRUSTED_PROXY_IP_HEADER: "X-Client-IP",
    RATE_LIMIT_LOGIN_PER_MINUTE: String(options.limit),
  }, { store, now: () => fixed });
  try {
    const user = await makeUser(testApp);
    const passwords = testApp.deps.passwords;
    const verify = passwords.verify.bind(passwords);
    let verified = 0;
    passwords.verify = (hash, password) => {
      verified++;
      return verify(hash, password);
    };
    const responses = await Promise.all(
      Array.from({ length: options.attempts }, (_, i) =>
        testApp.app.request("/api/v1/auth/login", {
          method: "POST",
          headers: { "content-type": "application/json", "X-Client-IP": `198.51.100.${i + 1}` },
          body: JSON.stringify({ email: user.email, password: "Wrong1234" }),
        })),
    );
    const statuses = await Promise.all(responses.map(async (res) => {
      await res.body?.cancel();
      return res.status;
    }));
    return { statuses: statuses.sort((a, b) => a - b), verified };
  } finally {
    await testApp.close();
  }
}
