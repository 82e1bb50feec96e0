import { Inject, Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { Request } from 'express';
import { Strategy } from 'passport-strategy';
import { authConfig, AuthConfig } from '../config/configuration';
import { AuthUser } from './auth-user';
import { SESSION_TOKEN, SessionRecord } from './session-token';
import { SessionVerifier } from './session-verifier';
import { NO_TOKEN, TokenGate, TokenSource } from './token-gate';
import { extractBearerToken, InvalidTokenError } from './token-rules';

type VerifyCallback = (
  request: Request,
  session: SessionRecord,
  done: (error: unknown, user?: AuthUser | false) => void,
) => void;

/**
 * The shape of passport-jwt's strategy, for a token that is looked up rather than verified by
 * signature: reads the bearer token, has `check` find its live session, then hands the session to
 * the verify callback (the strategy's `validate`). A refusal fails the strategy (401); anything
 * else (Better Auth unreachable: 503) is an error, which passport passes on as it is.
 */
class SessionLookupStrategy extends Strategy {
  constructor(
    private readonly check: (token: string) => Promise<SessionRecord>,
    private readonly verify: VerifyCallback,
  ) {
    super();
  }

  override authenticate(request: Request): void {
    const token = extractBearerToken(request.headers.authorization);
    if (token === undefined) return this.fail(NO_TOKEN, 401);
    this.check(token)
      .then(
        (session) =>
          this.verify(request, session, (error, user) => {
            if (error) this.error(error as Error);
            else if (user) this.success(user);
            else this.fail(401);
          }),
        (refusal: unknown) => {
          if (refusal instanceof InvalidTokenError) this.fail(refusal, 401);
          else this.error(refusal as Error);
        },
      )
      .catch((error: Error) => this.error(error));
  }
}

/**
 * Better Auth session tokens (BETTER_AUTH_SESSION_TOKENS), the third token source: the session
 * cookie's value or the `bearer` plugin's token, sent as Bearer by a frontend's server code. The
 * user is the session's user. {@link SessionVerifier} checks it (Better Auth's endpoint or its
 * table); {@link TokenGate} screens it and caches the user briefly (BETTER_AUTH_SESSION_CACHE_SECONDS,
 * never past the session's expiry), so a signed-out session stops working within that time.
 * Off, it declines every token and session tokens are refused as malformed, as before.
 */
@Injectable()
export class SessionTokenStrategy extends PassportStrategy(
  SessionLookupStrategy,
  'better-auth-session',
) {
  static readonly strategyName = 'better-auth-session';
  private readonly source: TokenSource;

  constructor(
    @Inject(authConfig.KEY) auth: AuthConfig,
    private readonly gate: TokenGate,
    sessions: SessionVerifier,
  ) {
    super((token: string) => sessions.check(token));
    this.source = {
      strategyName: SessionTokenStrategy.strategyName,
      algorithms: auth.sessionTokens ? [SESSION_TOKEN] : [],
    };
  }

  override authenticate(request: Request): void {
    if (this.gate.admit(this, request, this.source) !== undefined) super.authenticate(request);
  }

  validate(request: Request, session: SessionRecord): AuthUser {
    return this.gate.acceptSession(
      extractBearerToken(request.headers.authorization)!,
      session,
      this.source,
    );
  }
}
