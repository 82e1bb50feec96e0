import {
  CanActivate,
  ExecutionContext,
  ForbiddenException,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthenticatedRequest } from './authenticate.middleware';
import { extractBearerToken, JwtStrategy } from './bearer-token.strategy';
import { IS_PUBLIC_KEY } from './public.decorator';

/**
 * The global guard: every route needs a verified token unless it is marked `@Public()`.
 * It also enforces the user-scoped routes' rule: a `{user_id}` in the path must be the caller.
 *
 * The token is verified earlier, before the body is read and the rate limit counts the request
 * (`authenticate`, app.setup.ts); this guard turns that outcome into 401 on protected routes.
 * Both hand the bearer token straight to the passport strategy's `validate` (the one step that
 * turns a token into a user) instead of going through `AuthGuard('jwt')`, whose
 * `passport.authenticate(…)` builds a middleware, a strategy object and request methods on every
 * request: measured at ~17 KB of garbage and ~10 % of the API's CPU per request
 * (docs/benchmarks.md). The strategy stays registered, so `AuthGuard('jwt')` works wherever a
 * route-level guard wants passport's own flow.
 */
@Injectable()
export class JwtAuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly strategy: JwtStrategy,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const isPublic = this.reflector.getAllAndOverride<boolean | undefined>(IS_PUBLIC_KEY, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (isPublic) return true;

    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    if (request.authFailure) throw request.authFailure;
    // Normally `authenticate` (app.setup.ts) has verified the token already; the guard also
    // works on its own (unit tests, an app configured without the middleware).
    if (!request.user) {
      const token = extractBearerToken(request.headers.authorization);
      if (!token) throw new UnauthorizedException('Not authenticated');
      request.user = await this.strategy.validate(token);
    }

    const pathUserId = request.params?.user_id;
    if (pathUserId !== undefined && pathUserId !== request.user.id) {
      throw new ForbiddenException('Not allowed to access tasks of another user');
    }
    return true;
  }
}
