import { Inject, Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { Request } from 'express';
import { Strategy, StrategyOptionsWithRequest } from 'passport-jwt';
import { authConfig, AuthConfig } from '../config/configuration';
import { AuthUser } from './auth-user';
import { TokenGate, TokenSource } from './token-gate';
import { extractBearerToken, InvalidTokenError } from './token-rules';

const fromBearerHeader = (request: Request) =>
  extractBearerToken(request.headers.authorization) ?? null;

/**
 * HS256 tokens signed with `BETTER_AUTH_SECRET` (what hackathon frontends mint in a Next.js
 * route), verified by passport-jwt: jsonwebtoken checks the signature, `exp`, `nbf`, and `iss` and
 * `aud` when HS256_ISSUER / HS256_AUDIENCE name them; {@link TokenGate} adds the cache and the rules shared with the other sources.
 */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  static readonly strategyName = 'jwt';
  private readonly source: TokenSource;

  constructor(
    @Inject(authConfig.KEY) auth: AuthConfig,
    private readonly gate: TokenGate,
  ) {
    const options = {
      jwtFromRequest: fromBearerHeader,
      algorithms: ['HS256'],
      // Their own, never the JWKS source's: unset, a token's iss and aud are not checked.
      issuer: auth.hs256.issuer,
      audience: auth.hs256.audience,
      jsonWebTokenOptions: { clockTolerance: auth.clockToleranceSeconds },
      passReqToCallback: true,
      ...(auth.sharedSecretKey
        ? {
            // A KeyObject, built once (see authConfig): jsonwebtoken uses it as it is.
            secretOrKey: auth.sharedSecretKey as unknown as Buffer,
          }
        : {
            // No secret configured: `admit` declines every token first (no algorithm is ours),
            // so this is never asked; were it asked, it refuses.
            secretOrKeyProvider: (
              _request: Request,
              _token: string,
              done: (error: Error) => void,
            ) => done(new InvalidTokenError('Invalid token')),
          }),
    } as StrategyOptionsWithRequest;
    super(options);
    this.source = {
      strategyName: JwtStrategy.strategyName,
      algorithms: auth.sharedSecret ? ['HS256'] : [],
    };
  }

  override authenticate(request: Request, options?: object): void {
    if (this.gate.admit(this, request, this.source) !== undefined) {
      super.authenticate(request, options);
    }
  }

  validate(request: Request, payload: unknown): AuthUser {
    return this.gate.accept(fromBearerHeader(request)!, payload, this.source);
  }
}
