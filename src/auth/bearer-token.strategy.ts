import { Injectable, UnauthorizedException } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { Request } from 'express';
import { Strategy } from 'passport-strategy';
import { AuthUser } from './auth-user';
import { InvalidTokenError, TokenVerifier } from './token-verifier';

type VerifyCallback = (token: string, done: (error: unknown, user?: AuthUser) => void) => void;

const BEARER = /^bearer[ \t]+([A-Za-z0-9\-_.~+/]+=*)[ \t]*$/i;

/** Reads `Authorization: Bearer <token>` (scheme case-insensitive) and nothing else. */
export function extractBearerToken(header: string | undefined): string | undefined {
  return header ? BEARER.exec(header)?.[1] : undefined;
}

/**
 * A passport strategy whose verification is ours (`jose`, through {@link TokenVerifier}).
 * passport-jwt would verify with jsonwebtoken, which cannot check Better Auth's EdDSA tokens.
 */
class BearerTokenStrategy extends Strategy {
  constructor(private readonly verifyToken: VerifyCallback) {
    super();
  }

  override authenticate(req: Request): void {
    const token = extractBearerToken(req.headers.authorization);
    if (!token) return this.fail('Not authenticated', 401);
    this.verifyToken(token, (error, user) => {
      if (error) return this.error(error as Error);
      if (!user) return this.fail('Not authenticated', 401);
      this.success(user);
    });
  }
}

@Injectable()
export class JwtStrategy extends PassportStrategy(BearerTokenStrategy, 'jwt') {
  constructor(private readonly verifier: TokenVerifier) {
    super();
  }

  async validate(token: string): Promise<AuthUser> {
    try {
      return await this.verifier.verify(token);
    } catch (error) {
      if (error instanceof InvalidTokenError) throw new UnauthorizedException(error.message);
      throw error;
    }
  }
}
