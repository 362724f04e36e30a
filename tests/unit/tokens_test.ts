import assert from "node:assert/strict";
import { SignJWT, UnsecuredJWT } from "jose";
import { ACCESS_TOKEN_SECONDS, hashToken, InvalidToken, newOpaqueToken, TokenIssuer } from "../../adapters/tokens.ts";

const CURRENT = { kid: "k2", secret: "current-secret-current-secret-current!" };
const PREVIOUS = { kid: "k1", secret: "previous-secret-previous-secret-previous" };
const NOW = 1_800_000_000;
const options = { issuer: "salon-booking", audience: "salon-booking-api", keys: [CURRENT, PREVIOUS] };
const issuer = new TokenIssuer(options);
const claims = { sub: crypto.randomUUID(), role: "CLIENT", sid: crypto.randomUUID(), jti: crypto.randomUUID() };

async function refused(token: string, now = NOW) {
  await assert.rejects(() => issuer.verifyAccess(token, now), InvalidToken);
}

Deno.test("access tokens", async (t) => {
  await t.step("round-trip with subject, role, jti and a 30-minute expiry", async () => {
    const verified = await issuer.verifyAccess(await issuer.signAccess(claims, NOW), NOW + 60);
    assert.equal(verified.sub, claims.sub);
    assert.equal(verified.role, "CLIENT");
    assert.equal(verified.jti, claims.jti);
    assert.equal(verified.sid, claims.sid);
    assert.equal(verified.exp, NOW + ACCESS_TOKEN_SECONDS);
  });

  await t.step("tokens signed with the previous key still pass, so keys rotate without logouts", async () => {
    const old = new TokenIssuer({ ...options, keys: [PREVIOUS] });
    const verified = await issuer.verifyAccess(await old.signAccess(claims, NOW), NOW);
    assert.equal(verified.sub, claims.sub);
  });

  await t.step("an expired token is refused", async () => {
    await refused(await issuer.signAccess(claims, NOW), NOW + ACCESS_TOKEN_SECONDS + 1);
  });

  await t.step("alg none is refused", async () => {
    const unsigned = new UnsecuredJWT({ role: "ADMIN" }).setSubject(claims.sub).setJti("x")
      .setIssuer(options.issuer).setAudience(options.audience).setIssuedAt(NOW).setExpirationTime(NOW + 60).encode();
    await refused(unsigned);
  });

  await t.step("a token signed with an unknown key or the wrong secret is refused", async () => {
    const stranger = new TokenIssuer({ ...options, keys: [{ kid: "k2", secret: "x".repeat(40) }] });
    await refused(await stranger.signAccess(claims, NOW));
    const unknownKid = new TokenIssuer({ ...options, keys: [{ kid: "k9", secret: CURRENT.secret }] });
    await refused(await unknownKid.signAccess(claims, NOW));
  });

  await t.step("a token for another audience or issuer is refused", async () => {
    await refused(await new TokenIssuer({ ...options, audience: "other" }).signAccess(claims, NOW));
    await refused(await new TokenIssuer({ ...options, issuer: "other" }).signAccess(claims, NOW));
  });

  await t.step("a token of another type (a callback token) never passes for an access token", async () => {
    const callback = await new SignJWT({ role: "ADMIN" })
      .setProtectedHeader({ alg: "HS256", kid: CURRENT.kid, typ: "callback+jwt" })
      .setSubject(claims.sub).setJti("x").setIssuer(options.issuer).setAudience(options.audience)
      .setIssuedAt(NOW).setExpirationTime(NOW + 60).sign(new TextEncoder().encode(CURRENT.secret));
    await refused(callback);
  });

  await t.step("a tampered payload is refused", async () => {
    const [header, , signature] = (await issuer.signAccess(claims, NOW)).split(".");
    const forged = btoa(
      JSON.stringify({ ...claims, role: "ADMIN", iss: options.issuer, aud: options.audience, exp: NOW + 60, iat: NOW }),
    )
      .replaceAll("=", "").replaceAll("+", "-").replaceAll("/", "_");
    await refused(`${header}.${forged}.${signature}`);
    await refused("not-a-jwt");
  });

  await t.step("an opaque refresh token is never a JWT", async () => {
    await refused(newOpaqueToken());
  });
});

Deno.test("opaque tokens are random and stored only as their hash", async () => {
  const a = newOpaqueToken();
  const b = newOpaqueToken();
  assert.notEqual(a, b);
  assert.match(a, /^[A-Za-z0-9_-]{43}$/);
  assert.match(await hashToken(a), /^[0-9a-f]{64}$/);
  assert.equal(await hashToken(a), await hashToken(a));
  assert.notEqual(await hashToken(a), await hashToken(b));
});

Deno.test("a signing key shorter than 32 bytes is refused at start-up", () => {
  assert.throws(() => new TokenIssuer({ ...options, keys: [{ kid: "k", secret: "short" }] }), /32 bytes/);
});
