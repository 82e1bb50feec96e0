import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { createSecretKey, KeyObject } from 'node:crypto';
import { decodeProtectedHeader, errors, JWTPayload, jwtVerify, JWTVerifyOptions } from 'jose';
import { authConfig, AuthConfig } from '../config/configuration';
import { AuthUser } from './auth-user';
import { JwksKeyStore } from './jwks-key-store';
import { VerifiedTokenCache } from './verified-token-cache';

/** Algorithms Better Auth's jwt plugin can sign with; only ever checked against JWKS keys. */
export const ASYMMETRIC_ALGORITHMS = ['EdDSA', 'ES256', 'ES512', 'RS256', 'PS256'];

/**
 * A user id we can store, log and compare: 1–255 characters, none of them a control character,
 * a lone surrogate or a line/paragraph separator (Better Auth ids are 32 alphanumerics).
 */
const SANE_SUBJECT = /^[^\p{Cc}\p{Cs}\p{Zl}\p{Zp}]{1,255}$/u;

/**
 * The latest `exp` taken seriously: 9999-12-31T23:59:59Z, the last instant an ISO 8601 timestamp
 * can name. Beyond it (`1e308`) the claim is nonsense, and the token is refused.
 */
const MAX_EXP_SECONDS = 253_402_300_799;

const BASE64URL_SEGMENT = /^[A-Za-z0-9_-]+$/;

/**
 * Three base64url segments in their one canonical spelling (RFC 7515 §2, RFC 4648 §3.5): no
 * padding, no characters outside the alphabet, and zero unused bits in each segment's last
 * character. Otherwise one token has many spellings, and each would be verified (and cached) anew.
 */
export function isCanonicalCompactJws(token: string): boolean {
  const parts = token.split('.');
  if (parts.length !== 3) return false;
  return parts.every(
    (part) =>
      BASE64URL_SEGMENT.test(part) && Buffer.from(part, 'base64url').toString('base64url') === part,
  );
}

/** A token we refuse. The message is safe to show the client: it never echoes the token. */
export class InvalidTokenError extends Error {
  override readonly name = 'InvalidTokenError';
}

/**
 * Verifies bearer tokens from the two sources Better Auth frontends use. The algorithm decides
 * the source, and each source pins its own algorithms, so an HMAC token can never be checked
 * against a public key (RFC 8725 §2.1, §3.1). Keys never come from the token itself.
 */
@Injectable()
export class TokenVerifier implements OnModuleInit {
  private readonly jwks?: JwksKeyStore;
  private readonly sharedSecret?: KeyObject;
  private readonly jwksOptions: JWTVerifyOptions;
  private readonly secretOptions: JWTVerifyOptions;
  private readonly cache: VerifiedTokenCache;
  private readonly clockToleranceMs: number;

  constructor(@Inject(authConfig.KEY) auth: AuthConfig) {
    this.cache = new VerifiedTokenCache(auth.tokenCacheSize, auth.tokenCacheMaxAgeMs);
    this.clockToleranceMs = auth.clockToleranceSeconds * 1000;
    const common = { clockTolerance: auth.clockToleranceSeconds, requiredClaims: ['sub', 'exp'] };
    if (auth.jwks) {
      this.jwks = new JwksKeyStore(auth.jwks);
      this.jwksOptions = {
        ...common,
        algorithms: ASYMMETRIC_ALGORITHMS,
        issuer: auth.jwks.issuer,
        audience: auth.jwks.audience,
      };
    }
    if (auth.sharedSecret) {
      // Built once: turning the secret into a key per request is what made jsonwebtoken slow.
      this.sharedSecret = createSecretKey(Buffer.from(auth.sharedSecret, 'utf8'));
      this.secretOptions = {
        ...common,
        algorithms: ['HS256'],
        issuer: auth.issuer,
        audience: auth.audience,
      };
    }
  }

  onModuleInit(): void {
    // Warm the key cache without holding up start-up: Better Auth may start after us.
    void this.jwks?.refresh();
  }

  async verify(token: string): Promise<AuthUser> {
    const cached = this.cache.get(token);
    if (cached) return cached;
    // Only tokens that were verified are cached, so the checks below run once per token.
    if (!isCanonicalCompactJws(token)) throw new InvalidTokenError('Malformed token');
    const payload = await this.verifyPayload(token);
    if (typeof payload.sub !== 'string' || payload.sub.trim() === '') {
      throw new InvalidTokenError('Token has no subject');
    }
    if (!SANE_SUBJECT.test(payload.sub))
      throw new InvalidTokenError('Token claim "sub" is invalid');
    const nowSeconds = Date.now() / 1000;
    if (
      typeof payload.iat === 'number' &&
      payload.iat > nowSeconds + this.clockToleranceMs / 1000
    ) {
      throw new InvalidTokenError('Token claim "iat" is invalid');
    }
    if ((payload.exp as number) > MAX_EXP_SECONDS) {
      throw new InvalidTokenError('Token claim "exp" is invalid');
    }
    const user = { id: payload.sub };
    // `exp` is required by both sources, so it is a number here; honour the clock tolerance
    // exactly as jwtVerify just did, and no longer.
    this.cache.set(token, user, (payload.exp as number) * 1000 + this.clockToleranceMs);
    return user;
  }

  private async verifyPayload(token: string): Promise<JWTPayload> {
    let alg: unknown;
    try {
      const header = decodeProtectedHeader(token);
      if ('jwk' in header || 'jku' in header || 'x5u' in header || 'x5c' in header) {
        throw new InvalidTokenError('Token header names its own key');
      }
      alg = header.alg;
    } catch (error) {
      if (error instanceof InvalidTokenError) throw error;
      throw new InvalidTokenError('Malformed token');
    }

    try {
      if (alg === 'HS256' && this.sharedSecret) {
        return (await jwtVerify(token, this.sharedSecret, this.secretOptions)).payload;
      }
      if (typeof alg === 'string' && ASYMMETRIC_ALGORITHMS.includes(alg) && this.jwks) {
        return (await jwtVerify(token, this.jwks.getKey, this.jwksOptions)).payload;
      }
    } catch (error) {
      throw toInvalidTokenError(error);
    }
    throw new InvalidTokenError('Token algorithm not accepted');
  }
}

function toInvalidTokenError(error: unknown): InvalidTokenError {
  if (error instanceof errors.JWTExpired) return new InvalidTokenError('Token has expired');
  if (error instanceof errors.JWTClaimValidationFailed) {
    return new InvalidTokenError(`Token claim "${error.claim}" is invalid`);
  }
  return new InvalidTokenError('Invalid token');
}
