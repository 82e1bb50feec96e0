import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { Request } from 'express';
import { errors, JWTPayload, jwtVerify, JWTVerifyGetKey, JWTVerifyOptions } from 'jose';
import { Strategy } from 'passport-strategy';
import { authConfig, AuthConfig } from '../config/configuration';
import { AuthUser } from './auth-user';
import { JwksKeyStore } from './jwks-key-store';
import { NO_TOKEN, TokenGate, TokenSource } from './token-gate';
import { extractBearerToken } from './token-rules';

/** Algorithms Better Auth's jwt plugin can sign with; only ever checked against JWKS keys. */
export const ASYMMETRIC_ALGORITHMS = ['EdDSA', 'ES256', 'ES512', 'RS256', 'PS256'];

type VerifyCallback = (
  request: Request,
  payload: JWTPayload,
  done: (error: unknown, user?: AuthUser | false) => void,
) => void;

/**
 * passport-jwt's shape on `jose`: jsonwebtoken cannot verify EdDSA, Better Auth's default.
 * Reads the bearer token, verifies it against `getKey` with the pinned options, then hands the
 * claims to the verify callback (the strategy's `validate`).
 */
class JoseJwtStrategy extends Strategy {
  constructor(
    private readonly getKey: JWTVerifyGetKey,
    private readonly verifyOptions: JWTVerifyOptions,
    private readonly verify: VerifyCallback,
  ) {
    super();
  }

  override authenticate(request: Request): void {
    const token = extractBearerToken(request.headers.authorization);
    if (token === undefined) return this.fail(NO_TOKEN, 401);
    jwtVerify(token, this.getKey, this.verifyOptions)
      .then(
        ({ payload }) =>
          this.verify(request, payload, (error, user) => {
            if (error) this.error(error as Error);
            else if (user) this.success(user);
            else this.fail(401);
          }),
        (refusal: unknown) => this.fail(refusal, 401),
      )
      .catch((error: Error) => this.error(error));
  }
}

const noKeys: JWTVerifyGetKey = () => {
  throw new errors.JWKSNoMatchingKey();
};

/**
 * Better Auth `jwt` plugin tokens (EdDSA by default), verified with `jose` against the JWKS of
 * the Better Auth server, with its issuer and audience. {@link TokenGate} adds the cache and the
 * rules shared with the other sources.
 */
@Injectable()
export class JwksStrategy
  extends PassportStrategy(JoseJwtStrategy, 'jwks')
  implements OnModuleInit
{
  static readonly strategyName = 'jwks';
  private readonly source: TokenSource;
  private readonly keys?: JwksKeyStore;

  constructor(
    @Inject(authConfig.KEY) auth: AuthConfig,
    private readonly gate: TokenGate,
  ) {
    const keys = auth.jwks && new JwksKeyStore(auth.jwks);
    // Without a JWKS, `admit` declines every token first (no algorithm is ours): `noKeys` is
    // never asked, and refuses if it were.
    super(keys?.getKey ?? noKeys, {
      algorithms: ASYMMETRIC_ALGORITHMS,
      issuer: auth.jwks?.issuer,
      audience: auth.jwks?.audience,
      clockTolerance: auth.clockToleranceSeconds,
    });
    this.keys = keys;
    this.source = {
      strategyName: JwksStrategy.strategyName,
      algorithms: keys ? ASYMMETRIC_ALGORITHMS : [],
    };
  }

  onModuleInit(): void {
    // Warm the key cache without holding up start-up: Better Auth may start after us.
    void this.keys?.refresh();
  }

  override authenticate(request: Request): void {
    if (this.gate.admit(this, request, this.source) !== undefined) super.authenticate(request);
  }

  validate(request: Request, payload: JWTPayload): AuthUser {
    return this.gate.accept(
      extractBearerToken(request.headers.authorization)!,
      payload,
      this.source,
    );
  }
}
