import { decodeJwt } from 'jose';
import passport from 'passport';
import request from 'supertest';
import { JwksStrategy } from '../src/auth/jwks.strategy';
import { JwtStrategy } from '../src/auth/jwt.strategy';
import { SessionTokenStrategy } from '../src/auth/session-token.strategy';
import { createTestApp, useTestApp } from './support/app';
import { betterAuthSigned, betterAuthUser, hs256Token, newUser } from './support/tokens';

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('Authentication (real Better Auth tokens)', () => {
  const suite = useTestApp();

  const expect401 = async (authorization: string | undefined) => {
    const req = suite.http.get('/api/tasks');
    if (authorization !== undefined) void req.set('Authorization', authorization);
    const res = await req.expect(401);
    expect(res.headers['www-authenticate']).toBe('Bearer');
    expect(typeof res.body.detail).toBe('string');
    return res;
  };

  it('should accept an EdDSA token from Better Auth jwt plugin, verified through the JWKS', async () => {
    const user = await betterAuthUser();
    const header = JSON.parse(Buffer.from(user.token.split('.')[0], 'base64url').toString());
    expect(header.alg).toBe('EdDSA');
    expect(decodeJwt(user.token).iss).toBe(process.env.BETTER_AUTH_URL);

    const created = await suite.http
      .post('/api/tasks')
      .set(user.auth)
      .send({ title: 'From Better Auth' })
      .expect(201);
    expect(created.body.user_id).toBe(user.id);
    await suite.http.get(`/api/${user.id}/tasks`).set(user.auth).expect(200);
  });

  it("should run passport's own flow on every protected request, and not on public ones", async () => {
    const flow = jest.spyOn(passport, 'authenticate');
    const jwt = jest.spyOn(JwtStrategy.prototype, 'authenticate');
    const jwks = jest.spyOn(JwksStrategy.prototype, 'authenticate');
    const session = jest.spyOn(SessionTokenStrategy.prototype, 'authenticate');
    try {
      const [hs256User, baUser] = await Promise.all([newUser(), betterAuthUser()]);
      await suite.http.get('/api/tasks').set(hs256User.auth).expect(200);
      expect(flow).toHaveBeenCalledTimes(1);
      expect(flow.mock.calls[0][0]).toEqual(['jwt', 'jwks', 'better-auth-session']);
      expect(jwt).toHaveBeenCalledTimes(1);
      expect(jwks).not.toHaveBeenCalled(); // the first strategy accepted the token

      await suite.http.get('/api/tasks').set(baUser.auth).expect(200);
      expect(flow).toHaveBeenCalledTimes(2);
      expect(jwt).toHaveBeenCalledTimes(2); // declined it: not HS256
      expect(jwks).toHaveBeenCalledTimes(1);
      // Session tokens come last: a JWT that one of the first two accepts never reaches them.
      expect(session).not.toHaveBeenCalled();

      await suite.http.get('/health').expect(200);
      expect(flow).toHaveBeenCalledTimes(2);
    } finally {
      [flow, jwt, jwks, session].forEach((spy) => spy.mockRestore());
    }
  });

  it('should accept an HS256 token signed with BETTER_AUTH_SECRET', async () => {
    const user = await newUser();
    const res = await suite.http.get('/api/tasks').set(user.auth).expect(200);
    expect(res.body).toEqual([]);
  });

  it('should accept the scheme word in any case', async () => {
    const user = await newUser();
    await suite.http.get('/api/tasks').set('Authorization', `bearer ${user.token}`).expect(200);
    await suite.http.get('/api/tasks').set('Authorization', `BEARER ${user.token}`).expect(200);
  });

  it('should refuse a missing or malformed Authorization header', async () => {
    await expect401(undefined);
    await expect401('');
    await expect401('Bearer');
    await expect401('Basic dXNlcjpwYXNz');
    await expect401('Bearer not-a-jwt');
  });

  it('should never read a token from the query string', async () => {
    const user = await newUser();
    await suite.http.get(`/api/tasks?token=${user.token}&access_token=${user.token}`).expect(401);
  });

  it('should refuse an expired Better Auth token', async () => {
    const { id } = await betterAuthUser();
    const now = Math.floor(Date.now() / 1000);
    const token = await betterAuthSigned({ sub: id, iat: now - 3600, exp: now - 600 });
    const res = await expect401(`Bearer ${token}`);
    expect(res.body.detail).toMatch(/expired/i);
  });

  it('should refuse a tampered Better Auth token', async () => {
    const user = await betterAuthUser();
    const victim = await newUser();
    const [header, payload, signature] = user.token.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const forged = `${header}.${b64({ ...claims, sub: victim.id })}.${signature}`;
    await expect401(`Bearer ${forged}`);
  });

  it('should refuse a Better Auth token for another issuer or audience', async () => {
    const { id } = await betterAuthUser();
    const wrongIssuer = await expect401(
      `Bearer ${await betterAuthSigned({ sub: id, iss: 'https://evil.example' })}`,
    );
    expect(wrongIssuer.body.detail).toMatch(/"iss"/);
    const wrongAudience = await expect401(
      `Bearer ${await betterAuthSigned({ sub: id, aud: 'https://other-api.example' })}`,
    );
    expect(wrongAudience.body.detail).toMatch(/"aud"/);
  });

  it('should refuse a Better Auth token whose sub is empty', async () => {
    await expect401(`Bearer ${await betterAuthSigned({ sub: '' })}`);
  });

  it('should refuse alg none, a wrong secret, and HS256 without exp or sub', async () => {
    const user = await newUser();
    await expect401(
      `Bearer ${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: user.id, exp: 9999999999 })}.`,
    );
    await expect401(
      `Bearer ${await hs256Token({ sub: user.id }, { key: new TextEncoder().encode('x'.repeat(40)) })}`,
    );
    await expect401(`Bearer ${await hs256Token({ sub: user.id }, { expiresIn: 0 })}`);
    await expect401(`Bearer ${await hs256Token({})}`);
    await expect401(`Bearer ${await hs256Token({ sub: user.id }, { expiresIn: '-1h' })}`);
  });

  it('should refuse an HS256 token whose secret is the JWKS public key (algorithm confusion)', async () => {
    const jwks = (await (await fetch(`${process.env.BETTER_AUTH_URL}/api/auth/jwks`)).json()) as {
      keys: { x: string }[];
    };
    const user = await newUser();
    for (const candidate of [jwks.keys[0].x, JSON.stringify(jwks.keys[0])]) {
      const token = await hs256Token(
        { sub: user.id },
        { key: new TextEncoder().encode(candidate) },
      );
      await expect401(`Bearer ${token}`);
    }
  });

  it('should not accept HS256 tokens when no shared secret is configured', async () => {
    const jwksOnly = await createTestApp({ BETTER_AUTH_SECRET: undefined });
    try {
      const user = await newUser();
      await request(jwksOnly.getHttpServer()).get('/api/tasks').set(user.auth).expect(401);
      const baUser = await betterAuthUser();
      await request(jwksOnly.getHttpServer()).get('/api/tasks').set(baUser.auth).expect(200);
    } finally {
      await jwksOnly.close();
    }
  });

  it('should not accept JWKS tokens when only a shared secret is configured', async () => {
    const secretOnly = await createTestApp({ BETTER_AUTH_URL: undefined });
    try {
      const baUser = await betterAuthUser();
      await request(secretOnly.getHttpServer()).get('/api/tasks').set(baUser.auth).expect(401);
      const user = await newUser();
      await request(secretOnly.getHttpServer()).get('/api/tasks').set(user.auth).expect(200);
    } finally {
      await secretOnly.close();
    }
  });
});
