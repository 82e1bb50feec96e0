import { UnauthorizedException } from '@nestjs/common';
import { Response } from 'express';
import { authenticate, AuthenticatedRequest } from './authenticate.middleware';
import { JwtStrategy } from './bearer-token.strategy';

function run(strategy: Partial<JwtStrategy>, authorization?: string) {
  const request = { headers: { authorization } } as unknown as AuthenticatedRequest;
  return new Promise<{ request: AuthenticatedRequest; error: unknown }>((resolve) => {
    authenticate(strategy as JwtStrategy)(request, {} as Response, (error) =>
      resolve({ request, error }),
    );
  });
}

describe(authenticate.name, () => {
  it('should leave the verified user on the request', async () => {
    const validate = jest.fn().mockResolvedValue({ id: 'user-1' });
    const { request, error } = await run({ validate }, 'Bearer a.b.c');
    expect(error).toBeUndefined();
    expect(request.user).toEqual({ id: 'user-1' });
    expect(validate).toHaveBeenCalledWith('a.b.c');
  });

  it('should leave a refusal for the guard to answer, and refuse nothing itself', async () => {
    const refusal = new UnauthorizedException('Invalid token');
    const { request, error } = await run(
      { validate: jest.fn().mockRejectedValue(refusal) },
      'Bearer a.b.c',
    );
    expect(error).toBeUndefined();
    expect(request.user).toBeUndefined();
    expect(request.authFailure).toBe(refusal);
  });

  it('should not verify anything without a bearer token', async () => {
    const validate = jest.fn();
    const { request } = await run({ validate }, 'Basic abc');
    expect(validate).not.toHaveBeenCalled();
    expect(request.user).toBeUndefined();
    expect(request.authFailure).toBeUndefined();
  });

  it('should pass on errors that are not refusals (e.g. a bug) as errors', async () => {
    const bug = new TypeError('boom');
    const { error } = await run({ validate: jest.fn().mockRejectedValue(bug) }, 'Bearer a.b.c');
    expect(error).toBe(bug);
  });
});
