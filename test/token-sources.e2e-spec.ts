import { NestExpressApplication } from '@nestjs/platform-express';
import { generateKeyPair, SignJWT } from 'jose';
import request from 'supertest';
import { createLogger } from '../src/common/logging';
import { createTestApp } from './support/app';
import { betterAuthSigned, betterAuthUser, hs256Token, newUser, TestUser } from './support/tokens';
import { useCapturedOutput } from './support/captured-output';

jest.setTimeout(60_000);

const FAMILIES: [string, (id: string) => string][] = [
  ['/api/tasks', () => '/api/tasks'],
  ['/api/{user_id}/tasks', (id) => `/api/${encodeURIComponent(id)}/tasks`],
];

const betterAuthUrl = () => process.env.BETTER_AUTH_URL as string;

/** A Better Auth (EdDSA, JWKS) token for `sub` with this audience and Better Auth's issuer. */
const jwksToken = (sub: string, aud: string) =>
  betterAuthSigned({ sub, iss: betterAuthUrl(), aud, exp: Math.floor(Date.now() / 1000) + 600 });

/**
 * Issuer and audience are checked per token source: JWT_ISSUER / JWT_AUDIENCE bind the JWKS
 * tokens only, HS256_ISSUER / HS256_AUDIENCE the HS256 tokens when set. One instance accepts every
 * style its settings name, at once; real Better Auth tokens and real HS256 tokens, both families.
 */
describe('Issuer and audience per token source', () => {
  let apps: NestExpressApplication[] = [];
  const boot = async (env: Record<string, string>) => {
    const app = await createTestApp(env);
    apps.push(app);
    return request(app.getHttpServer());
  };
  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
    apps = [];
  });

  describe.each(FAMILIES)('%s', (_family, path) => {
    const expectStatus = async (
      http: ReturnType<typeof request>,
      sub: string,
      token: string,
      status: number,
    ) => {
      const res = await http.get(path(sub)).set('Authorization', `Bearer ${token}`);
      expect(res.status).toBe(status);
      if (status === 401) expect(res.headers['www-authenticate']).toBe('Bearer');
    };

    it('should, with the defaults, accept HS256 with or without aud and Better Auth tokens with its own', async () => {
      const http = await boot({});
      const hs256User = await newUser();
      const baUser = await betterAuthUser();

      await expectStatus(http, hs256User.id, hs256User.token, 200); // no iss, no aud
      await expectStatus(
        http,
        'custom-aud-user',
        await hs256Token({ sub: 'custom-aud-user', iss: 'https://app.example', aud: 'todo-api' }),
        200,
      );
      await expectStatus(http, baUser.id, baUser.token, 200); // iss = aud = BETTER_AUTH_URL
      await expectStatus(http, baUser.id, await jwksToken(baUser.id, 'https://other.example'), 401);
    });

    it('should bind JWKS tokens to a JWT_AUDIENCE list and HS256 tokens to HS256_AUDIENCE/ISSUER, independently', async () => {
      const http = await boot({
        JWT_AUDIENCE: `${betterAuthUrl()}, https://custom-audience.example`,
        HS256_ISSUER: 'https://app.example',
        HS256_AUDIENCE: 'todo-api,https://api.example',
      });
      const { id } = await betterAuthUser();
      const hs256 = (claims: { iss?: string; aud?: string }) =>
        hs256Token({ sub: 'hs256-user', ...claims });

      // JWKS: either listed audience; an HS256 audience means nothing to it.
      await expectStatus(http, id, await jwksToken(id, betterAuthUrl()), 200);
      await expectStatus(http, id, await jwksToken(id, 'https://custom-audience.example'), 200);
      await expectStatus(http, id, await jwksToken(id, 'todo-api'), 401);
      // HS256: now both claims are required and must be listed.
      await expectStatus(
        http,
        'hs256-user',
        await hs256({ iss: 'https://app.example', aud: 'todo-api' }),
        200,
      );
      await expectStatus(
        http,
        'hs256-user',
        await hs256({ iss: 'https://app.example', aud: 'https://api.example' }),
        200,
      );
      await expectStatus(http, 'hs256-user', await hs256({}), 401);
      await expectStatus(
        http,
        'hs256-user',
        await hs256({ iss: 'https://app.example', aud: betterAuthUrl() }),
        401,
      );
      await expectStatus(
        http,
        'hs256-user',
        await hs256({ iss: betterAuthUrl(), aud: 'todo-api' }),
        401,
      );
    });
  });
});

type Line = Record<string, unknown> & {
  level: string;
  context?: string;
  message?: { status?: number; reason?: string; request_id?: string };
};

/** A 401's request line names why (item 7 of issue 12), never the token. */
describe('Refusal reasons on request lines', () => {
  let app: NestExpressApplication;
  let http: ReturnType<typeof request>;
  const output = useCapturedOutput();

  beforeAll(async () => {
    const quiet = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      app = await createTestApp(
        { LOG_LEVEL: 'info', LOG_FORMAT: 'json', HS256_AUDIENCE: 'todo-api' },
        { logger: createLogger({ level: 'info', json: true }) },
      );
    } finally {
      quiet.mockRestore();
    }
    http = request(app.getHttpServer());
  });
  afterAll(() => app?.close());

  const requestLine = (id: string): Line | undefined =>
    output
      .lines()
      .join('')
      .split('\n')
      .filter((text) => text.startsWith('{'))
      .map((text) => JSON.parse(text) as Line)
      .find((line) => line.context === 'HTTP' && line.message?.request_id === id);

  it.each(FAMILIES)('should name the reason of each 401 (%s)', async (_family, path) => {
    const user: TestUser = await newUser();
    const now = Math.floor(Date.now() / 1000);
    const { privateKey } = await generateKeyPair('EdDSA');
    const { id: baId } = await betterAuthUser();
    const cases: [string, string | undefined, string][] = [
      ['no_token', undefined, user.id],
      ['malformed', 'Bearer not-a-jwt', user.id],
      [
        'expired',
        `Bearer ${await hs256Token({ sub: user.id, aud: 'todo-api', exp: now - 600 }, { expiresIn: 0 })}`,
        user.id,
      ],
      [
        'bad_signature',
        `Bearer ${await hs256Token({ sub: user.id, aud: 'todo-api' }, { key: new TextEncoder().encode('x'.repeat(40)) })}`,
        user.id,
      ],
      ['wrong_audience', `Bearer ${await hs256Token({ sub: user.id, aud: 'other-api' })}`, user.id],
      ['wrong_audience', `Bearer ${await jwksToken(baId, 'todo-api')}`, baId],
      [
        'wrong_issuer',
        `Bearer ${await betterAuthSigned({ sub: baId, iss: 'https://evil.example', aud: betterAuthUrl() })}`,
        baId,
      ],
      [
        'unknown_kid',
        `Bearer ${await new SignJWT({ sub: baId, iss: betterAuthUrl(), aud: betterAuthUrl() })
          .setProtectedHeader({ alg: 'EdDSA', kid: 'never-published' })
          .setExpirationTime('10m')
          .sign(privateKey)}`,
        baId,
      ],
      ['algorithm_not_accepted', `Bearer ${await hs384Token(user.id)}`, user.id],
    ];

    for (const [reason, authorization, sub] of cases) {
      const id = `e2e-reason-${reason}-${Math.random().toString(36).slice(2)}`;
      const req = http.get(path(sub)).set('X-Request-Id', id);
      if (authorization !== undefined) void req.set('Authorization', authorization);
      const res = await req;
      expect({ reason, status: res.status }).toEqual({ reason, status: 401 });
      // The client's message is the same coarse one as ever.
      expect(typeof res.body.detail).toBe('string');
      expect(res.body.detail).not.toMatch(/_/);
      expect({ reason, line: requestLine(id)?.message }).toEqual({
        reason,
        line: expect.objectContaining({ status: 401, reason }) as unknown,
      });
      if (authorization !== undefined) {
        const token = authorization.slice('Bearer '.length);
        expect(output.lines().join('')).not.toContain(token);
        for (const part of token.split('.')) expect(output.lines().join('')).not.toContain(part);
      }
    }
  });

  it('should write no reason on the lines of served requests', async () => {
    const token = await hs256Token({ sub: 'served-user', aud: 'todo-api' });
    const id = `e2e-served-${Date.now()}`;
    await http
      .get('/api/tasks')
      .set('Authorization', `Bearer ${token}`)
      .set('X-Request-Id', id)
      .expect(200);
    const line = requestLine(id);
    expect(line?.message).toMatchObject({ status: 200 });
    expect(line?.message).not.toHaveProperty('reason');
  });
});

/** A token of a kind no source takes (HS384), properly signed with the shared secret. */
function hs384Token(sub: string): Promise<string> {
  return new SignJWT({ sub })
    .setProtectedHeader({ alg: 'HS384' })
    .setExpirationTime('10m')
    .sign(new TextEncoder().encode(process.env.BETTER_AUTH_SECRET));
}
