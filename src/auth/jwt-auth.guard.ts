import { ExecutionContext, Injectable, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import { setRefusalReason } from '../common/logging';
import { RateLimitGuard } from '../rate-limit/rate-limit.guard';
import { IS_PUBLIC_KEY } from './public.decorator';
import { SessionCheckUnavailableError } from './session-token';
import { TOKEN_STRATEGY_NAMES } from './token-strategies';
import { InvalidTokenError, toInvalidTokenError } from './token-rules';

/**
 * The global guard: every route needs a verified token unless it is marked `@Public()`. It is
 * passport's own flow (`AuthGuard`, `passport.authenticate`) over our token strategies, tried in
 * order until one accepts the token.
 *
 * It runs before the rate limit, which then counts the request as the verified user's, and
 * before the body is read, so a request without a valid token never gets its body parsed.
 * A request it refuses must still be counted, per client address (guessing tokens is not free),
 * and never reaches the rate limit's own turn: so on a 401 (or a 503 for a session Better Auth
 * could not check) it asks the rate limit to count the address's hit first, which answers 429
 * instead once the address is over its limit. One explicit call at the one place where a refusal
 * is decided, rather than a middleware that verifies early or a refusal left on the request for a
 * later guard to throw.
 */
@Injectable()
export class JwtAuthGuard extends AuthGuard(TOKEN_STRATEGY_NAMES) {
  constructor(
    private readonly reflector: Reflector,
    private readonly rateLimit: RateLimitGuard,
  ) {
    super();
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const isPublic = this.reflector.getAllAndOverride<boolean | undefined>(IS_PUBLIC_KEY, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (isPublic) return true;
    try {
      return (await super.canActivate(context)) as boolean;
    } catch (error) {
      // A session token Better Auth could not check (503) counts too: while it is down, a flood
      // of session tokens must not turn into a flood of calls to it.
      if (error instanceof UnauthorizedException || error instanceof SessionCheckUnavailableError) {
        await this.rateLimit.countRefused(context);
      }
      throw error;
    }
  }

  /**
   * passport's verdict: the user, or why not. `error` is a strategy's refusal from `validate`
   * (or a fault, thrown as it is); `info` holds each strategy's `fail` challenge in order, empty
   * for a strategy that declined the token as not its kind.
   */
  override handleRequest<TUser>(
    error: unknown,
    user: TUser | false,
    info: unknown,
    context?: ExecutionContext,
  ): TUser {
    if (user) return user;
    if (error instanceof SessionCheckUnavailableError && context) {
      setRefusalReason(context.switchToHttp().getResponse<object>(), 'session_check_unavailable');
    }
    if (error instanceof Error && !(error instanceof InvalidTokenError)) throw error;
    const refusal = refusalOf(error ?? info);
    // The request's log line says why; the client gets the coarse message only.
    if (context) setRefusalReason(context.switchToHttp().getResponse<object>(), refusal.reason);
    throw new UnauthorizedException(refusal.message);
  }
}

function refusalOf(challenge: unknown): InvalidTokenError {
  const challenges: unknown[] = Array.isArray(challenge) ? challenge : [challenge];
  const reason = challenges.find((candidate) => candidate !== undefined && candidate !== null);
  return reason === undefined
    ? new InvalidTokenError('Token algorithm not accepted', 'algorithm_not_accepted')
    : toInvalidTokenError(reason);
}
