import { HttpException } from '@nestjs/common';
import { NextFunction, Request, RequestHandler, Response } from 'express';
import { AuthUser } from './auth-user';
import { extractBearerToken, JwtStrategy } from './bearer-token.strategy';

/** What {@link authenticate} leaves on the request for the guards after it. */
export interface AuthenticatedRequest extends Omit<Request, 'user'> {
  user?: AuthUser;
  /** Why the token was refused (the guard answers 401 with it on protected routes). */
  authFailure?: HttpException;
}

/**
 * Verifies the bearer token before anything else looks at the request, so that the rate limit
 * knows who is asking (the user, or an address without a valid token) and the body of a request
 * without a valid token is never read. It refuses nothing itself: the global guard decides per
 * route (`@Public()` routes ignore the outcome).
 */
export function authenticate(strategy: JwtStrategy): RequestHandler {
  return function authenticate(incoming: Request, _response: Response, next: NextFunction) {
    const request = incoming as AuthenticatedRequest;
    const token = extractBearerToken(request.headers.authorization);
    if (token === undefined) return next();
    strategy.validate(token).then(
      (user) => {
        request.user = user;
        next();
      },
      (error: unknown) => {
        if (error instanceof HttpException) {
          request.authFailure = error;
          next();
        } else {
          next(error);
        }
      },
    );
  };
}
