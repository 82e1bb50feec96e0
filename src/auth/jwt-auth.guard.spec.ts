import { ExecutionContext, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ThrottlerException } from '@nestjs/throttler';
import { SignJWT } from 'jose';
import { authConfig, AuthConfig } from '../config/configuration';
import { RateLimitGuard } from '../rate-limit/rate-limit.guard';
import { AuthUser } from './auth-user';
import { JwksStrategy } from './jwks.strategy';
import { JwtAuthGuard } from './jwt-auth.guard';
import { JwtStrategy } from './jwt.strategy';
import { SessionCheckUnavailableError, SessionLookup } from './session-token';
import { SessionTokenStrategy } from './session-token.strategy';
import { SessionVerifier } from './session-verifier';
import { TokenGate } from './token-gate';

const SECRET = 'guard-secret-guard-secret-guard-secret-01';

interface FakeRequest {
  headers: { authorization?: string };
  params?: Record<string, string>;
  user?: AuthUser;
}

function contextFor(request: FakeRequest): ExecutionContext {
  return {
    getHandler: () => contextFor,
    getClass: () => JwtAuthGuard,
    switchToHttp: () => ({ getRequest: () => request, getResponse: () => ({}) }),
  } as unknown as ExecutionContext;
}

function hs256(sub: string): Promise<string> {
  return new SignJWT({ sub })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt()
    .setExpirationTime('15m')
    .sign(new TextEncoder().encode(SECRET));
}

describe(JwtAuthGuard.name, () => {
  let reflector: Reflector;
  let rateLimit: { countRefused: jest.Mock };
  let guard: JwtAuthGuard;
  let jwtAuthenticate: jest.SpyInstance;
  let jwksAuthenticate: jest.SpyInstance;

  beforeEach(() => {
    const config = authConfig({ BETTER_AUTH_SECRET: SECRET });
    registerStrategies(config, { find: () => Promise.resolve(undefined) });
    jwtAuthenticate = jest.spyOn(JwtStrategy.prototype, 'authenticate');
    jwksAuthenticate = jest.spyOn(JwksStrategy.prototype, 'authenticate');
    reflector = new Reflector();
    rateLimit = { countRefused: jest.fn().mockResolvedValue(undefined) };
    guard = new JwtAuthGuard(reflector, rateLimit as unknown as RateLimitGuard);
  });

  afterEach(() => jest.restoreAllMocks());

  it("should verify the token through passport's flow and attach the user", async () => {
    const request: FakeRequest = { headers: { authorization: `Bearer ${await hs256('user-1')}` } };

    await expect(guard.canActivate(contextFor(request))).resolves.toBe(true);

    expect(request.user).toEqual({ id: 'user-1' });
    // passport called the strategy on its own per-request copy (Object.create(strategy)).
    expect(jwtAuthenticate).toHaveBeenCalledTimes(1);
    expect(Object.getPrototypeOf(jwtAuthenticate.mock.contexts[0])).toBeInstanceOf(JwtStrategy);
    expect(jwksAuthenticate).not.toHaveBeenCalled();
    expect(rateLimit.countRefused).not.toHaveBeenCalled();
  });

  it('should answer a second request with the same token from the cache, still through passport', async () => {
    const authorization = `Bearer ${await hs256('user-1')}`;
    await guard.canActivate(contextFor({ headers: { authorization } }));
    const verify = jest.spyOn(JwtStrategy.prototype, 'validate');

    const request: FakeRequest = { headers: { authorization } };
    await expect(guard.canActivate(contextFor(request))).resolves.toBe(true);

    expect(request.user).toEqual({ id: 'user-1' });
    expect(jwtAuthenticate).toHaveBeenCalledTimes(2);
    expect(verify).not.toHaveBeenCalled();
  });

  it.each([
    ['no Authorization header', undefined, 'Not authenticated'],
    ['another scheme', 'Basic dXNlcjpwYXNz', 'Not authenticated'],
    ['a malformed token', 'Bearer forged.token.here', 'Malformed token'],
  ])(
    'should answer 401 to %s and have the address counted',
    async (_case, authorization, message) => {
      const request: FakeRequest = { headers: { authorization } };
      const context = contextFor(request);

      const refusal = guard.canActivate(context);

      await expect(refusal).rejects.toBeInstanceOf(UnauthorizedException);
      await expect(refusal).rejects.toThrow(message);
      expect(request.user).toBeUndefined();
      expect(jwtAuthenticate).toHaveBeenCalled();
      expect(jwksAuthenticate).toHaveBeenCalled();
      expect(rateLimit.countRefused).toHaveBeenCalledWith(context);
    },
  );

  it('should have a request counted whose session Better Auth could not check (503)', async () => {
    const config = authConfig({
      BETTER_AUTH_SECRET: SECRET,
      BETTER_AUTH_SESSION_TOKENS: 'true',
      BETTER_AUTH_SESSION_VERIFY: 'database',
    });
    registerStrategies(config, { find: () => Promise.reject(new SessionCheckUnavailableError()) });
    const context = contextFor({
      headers: { authorization: 'Bearer Q3Jb8x2mPzT7vLk0aWc9dEfGhIjKlMnO' },
    });

    await expect(guard.canActivate(context)).rejects.toBeInstanceOf(SessionCheckUnavailableError);
    expect(rateLimit.countRefused).toHaveBeenCalledWith(context);
  });

  it('should answer 429 instead of 401 when the address is over its limit', async () => {
    rateLimit.countRefused.mockRejectedValue(new ThrottlerException('Too many requests'));

    await expect(guard.canActivate(contextFor({ headers: {} }))).rejects.toBeInstanceOf(
      ThrottlerException,
    );
  });

  it('should let a public route through without running passport', async () => {
    jest.spyOn(reflector, 'getAllAndOverride').mockReturnValue(true);

    await expect(guard.canActivate(contextFor({ headers: {} }))).resolves.toBe(true);
    expect(jwtAuthenticate).not.toHaveBeenCalled();
    expect(rateLimit.countRefused).not.toHaveBeenCalled();
  });

  it("should leave the path's {user_id} to the service (no 403 here)", async () => {
    const request: FakeRequest = {
      headers: { authorization: `Bearer ${await hs256('user-1')}` },
      params: { user_id: 'user-2' },
    };

    await expect(guard.canActivate(contextFor(request))).resolves.toBe(true);
  });
});

/**
 * The token strategies, built as Nest builds them: each registers itself with the global passport
 * by its name, which is where AuthGuard's `passport.authenticate(['jwt', 'jwks', …])` finds them.
 */
function registerStrategies(config: AuthConfig, sessions: SessionLookup): void {
  const gate = new TokenGate(config);
  new JwtStrategy(config, gate);
  new JwksStrategy(config, gate);
  new SessionTokenStrategy(config, gate, new SessionVerifier(config, sessions));
}
