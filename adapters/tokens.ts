/**
 * Tokens: access tokens are HS256 JWTs (30 minutes) with a pinned algorithm, `iss`, `aud`, `exp`,
 * `iat`, `jti` and `kid`; two secrets are accepted at once (current and previous) so keys rotate
 * without logging everyone out. Each kind has its own `typ`, so one can never pass for another.
 * Refresh and single-use tokens are opaque random strings stored only as SHA-256 hashes.
 */
import { errors, jwtVerify, SignJWT } from "jose";

export const ACCESS_TOKEN_SECONDS = 30 * 60;
export const REFRESH_TOKEN_SECONDS = 7 * 24 * 60 * 60;

export type TokenKind = "access" | "callback";
const TYP: Record<TokenKind, string> = { access: "at+jwt", callback: "callback+jwt" };

export interface SigningKey {
  kid: string;
  secret: string;
}

export interface TokenIssuerOptions {
  issuer: string;
  audience: string;
  /** The current key first; any others are still accepted for verification. */
  keys: SigningKey[];
}

export interface AccessClaims {
  sub: string;
  role: string;
  /** The session (refresh-token family) the token belongs to: revoking it denies the token at once. */
  sid: string;
  jti: string;
  exp: number;
  iat: number;
}

/** Why a token was refused, without saying more than the caller needs. */
export class InvalidToken extends Error {
  override name = "InvalidToken";
}

const encoder = new TextEncoder();

/** Signs and verifies JWTs for one issuer and audience. */
export class TokenIssuer {
  readonly #options: TokenIssuerOptions;
  readonly #keys: Map<string, Uint8Array>;

  constructor(options: TokenIssuerOptions) {
    if (options.keys.length === 0) throw new Error("Cannot issue tokens: no signing key");
    for (const key of options.keys) {
      if (encoder.encode(key.secret).length < 32) throw new Error(`Signing key ${key.kid} is shorter than 32 bytes`);
    }
    this.#options = options;
    this.#keys = new Map(options.keys.map((key) => [key.kid, encoder.encode(key.secret)]));
  }

  /** Signs an access token for a user; `now` is seconds since the epoch. */
  async signAccess(claims: { sub: string; role: string; sid: string; jti: string }, now: number): Promise<string> {
    const [current] = this.#options.keys;
    return await new SignJWT({ role: claims.role, sid: claims.sid })
      .setProtectedHeader({ alg: "HS256", kid: current.kid, typ: TYP.access })
      .setSubject(claims.sub)
      .setJti(claims.jti)
      .setIssuer(this.#options.issuer)
      .setAudience(this.#options.audience)
      .setIssuedAt(now)
      .setExpirationTime(now + ACCESS_TOKEN_SECONDS)
      .sign(this.#keys.get(current.kid)!);
  }

  /** Verifies an access token and returns its claims, or throws `InvalidToken`. */
  async verifyAccess(token: string, now: number): Promise<AccessClaims> {
    try {
      const { payload } = await jwtVerify(token, (header) => {
        const key = header.kid ? this.#keys.get(header.kid) : undefined;
        if (!key) throw new InvalidToken("unknown key");
        return key;
      }, {
        algorithms: ["HS256"],
        issuer: this.#options.issuer,
        audience: this.#options.audience,
        typ: TYP.access,
        requiredClaims: ["exp", "iat", "jti", "sub"],
        currentDate: new Date(now * 1000),
      });
      if (typeof payload.role !== "string" || typeof payload.sid !== "string") throw new InvalidToken("claims");
      return payload as unknown as AccessClaims;
    } catch (error) {
      if (error instanceof InvalidToken) throw error;
      if (error instanceof errors.JOSEError) throw new InvalidToken(error.code);
      throw new InvalidToken("malformed");
    }
  }
}

/** Returns a new opaque token (256 random bits, base64url). */
export function newOpaqueToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** Returns the SHA-256 hex of a token: what is stored instead of the token. */
export async function hashToken(token: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", encoder.encode(token));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}
