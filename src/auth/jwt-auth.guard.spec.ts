import { ExecutionContext, ForbiddenException, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import passport from 'passport';
import { AuthUser } from './auth-user';
import { JwtStrategy } from './bearer-token.strategy';
import { JwtAuthGuard } from './jwt-auth.guard';
import { InvalidTokenError, TokenVerifier } from './token-verifier';

const GOOD = 'header.payload.signature';

/** Our verifier, mocked: GOOD is user-1, anything else is refused as an invalid token. */
function fakeVerifier(): TokenVerifier {
  return {
    verify: jest.fn((token: string) =>
      token === GOOD
        ? Promise.resolve({ id: 'user-1' })
        : Promise.reject(new InvalidTokenError('Invalid token')),
    ),
  } as unknown as TokenVerifier;
}

interface FakeRequest {
  headers: { authorization?: string };
  params?: Record<string, string>;
  user?: AuthUser;
  authFailure?: UnauthorizedException;
}

function contextFor(request: FakeRequest): ExecutionContext {
  return {
    getHandler: () => contextFor,
    getClass: () => JwtAuthGuard,
    switchToHttp: () => ({ getRequest: () => request }),
  } as unknown as ExecutionContext;
}

describe(JwtAuthGuard.name, () => {
  let verifier: TokenVerifier;
  let reflector: Reflector;
  let guard: JwtAuthGuard;

  beforeEach(() => {
    verifier = fakeVerifier();
    reflector = new Reflector();
    guard = new JwtAuthGuard(reflector, new JwtStrategy(verifier));
  });

  it('should take the outcome of the early `authenticate` middleware without verifying again', async () => {
    const accepted: FakeRequest = {
      headers: { authorization: `Bearer ${GOOD}` },
      user: { id: 'u' },
    };
    await expect(guard.canActivate(contextFor(accepted))).resolves.toBe(true);
    const refused: FakeRequest = {
      headers: { authorization: `Bearer ${GOOD}` },
      authFailure: new UnauthorizedException('Token has expired'),
    };
    await expect(guard.canActivate(contextFor(refused))).rejects.toThrow('Token has expired');
    expect(verifier.verify).not.toHaveBeenCalled();
  });

  it('should attach the verified user', async () => {
    const request: FakeRequest = { headers: { authorization: `Bearer ${GOOD}` } };

    await expect(guard.canActivate(contextFor(request))).resolves.toBe(true);
    expect(request.user).toEqual({ id: 'user-1' });
  });

  it.each([
    ['no Authorization header', undefined, 'Not authenticated'],
    ['another scheme', `Basic ${GOOD}`, 'Not authenticated'],
    ['an invalid token', 'Bearer forged.token.here', 'Invalid token'],
  ])('should answer 401 to %s', async (_case, authorization, message) => {
    const request: FakeRequest = { headers: { authorization } };

    const refusal = guard.canActivate(contextFor(request));

    await expect(refusal).rejects.toBeInstanceOf(UnauthorizedException);
    await expect(refusal).rejects.toThrow(message);
    expect(request.user).toBeUndefined();
  });

  it("should answer 403 when the path names another user's tasks", async () => {
    const request: FakeRequest = {
      headers: { authorization: `Bearer ${GOOD}` },
      params: { user_id: 'user-2' },
    };

    await expect(guard.canActivate(contextFor(request))).rejects.toBeInstanceOf(ForbiddenException);
  });

  it('should let a public route through without looking at the token', async () => {
    jest.spyOn(reflector, 'getAllAndOverride').mockReturnValue(true);

    await expect(guard.canActivate(contextFor({ headers: {} }))).resolves.toBe(true);
    expect(verifier.verify).not.toHaveBeenCalled();
  });
});

describe(JwtStrategy.name, () => {
  /** Runs passport's own flow, as `AuthGuard('jwt')` does. */
  function authenticate(authorization?: string) {
    return new Promise<{ error: unknown; user: unknown; info: unknown }>((resolve) => {
      const request = { headers: { authorization } };
      passport.authenticate(
        'jwt',
        { session: false },
        (error: unknown, user: unknown, info: unknown) => resolve({ error, user, info }),
      )(request, {}, () => undefined);
    });
  }

  beforeEach(() => {
    new JwtStrategy(fakeVerifier()); // registers itself with passport as 'jwt'
  });

  it("should stay usable through passport's own flow", async () => {
    await expect(authenticate(`Bearer ${GOOD}`)).resolves.toMatchObject({
      error: null,
      user: { id: 'user-1' },
    });
    await expect(authenticate()).resolves.toMatchObject({ user: false, info: 'Not authenticated' });
    const refused = await authenticate('Bearer forged.token.here');
    expect(refused.error).toBeInstanceOf(UnauthorizedException);
  });
});
