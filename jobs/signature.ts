/**
 * QStash's request signature: an HS256 JWT in `Upstash-Signature` with `iss` "Upstash", `sub` the
 * destination URL, `body` the base64url SHA-256 of the raw body, and a five-minute life. The
 * embedded dispatcher signs exactly so, and every callback verifies with @upstash/qstash's own
 * Receiver (current key, then next), so one verification path runs in every environment.
 */
import { Receiver } from "@upstash/qstash";
import { base64url, SignJWT } from "jose";

/** How long a signature is valid, as QStash issues them. */
export const SIGNATURE_SECONDS = 5 * 60;

async function bodyHash(body: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(body));
  return base64url.encode(new Uint8Array(digest));
}

/** Signs a delivery of `body` to `url` with `key`, as QStash does. */
export async function signLikeQStash(options: { url: string; body: string; key: string; nowSeconds: number }) {
  return await new SignJWT({ body: await bodyHash(options.body) })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuer("Upstash")
    .setSubject(options.url)
    .setIssuedAt(options.nowSeconds)
    .setNotBefore(options.nowSeconds)
    .setExpirationTime(options.nowSeconds + SIGNATURE_SECONDS)
    .setJti(`jwt_${crypto.randomUUID().replaceAll("-", "")}`)
    .sign(new TextEncoder().encode(options.key));
}

/** A short, stable id of a signature (its SHA-256): every signing makes a new one (`jti`, `iat`). */
export async function signatureDigest(signature: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(signature));
  return `sig_${base64url.encode(new Uint8Array(digest))}`;
}

export interface SigningKeys {
  current: string;
  next: string;
}

/** Verifies a callback; false for a missing, altered, expired or foreign signature. */
export async function verifyCallback(
  keys: SigningKeys,
  request: { signature: string | undefined; body: string; url: string },
): Promise<boolean> {
  if (!request.signature) return false;
  const receiver = new Receiver({ currentSigningKey: keys.current, nextSigningKey: keys.next });
  try {
    return await receiver.verify({ signature: request.signature, body: request.body, url: request.url });
  } catch {
    return false;
  }
}
