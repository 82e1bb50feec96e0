import { NestExpressApplication } from '@nestjs/platform-express';
import { randomBytes, randomInt } from 'node:crypto';
import { Pool } from 'pg';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { BetterAuthSessionRepository } from '../src/auth/session.repository';
import { createLogger } from '../src/common/logging';
import { createTestApp, useTestApp } from './support/app';
import {
  sessionAuthUrl,
  sessionServer,
  sessionServerJwt,
  sessionUser,
  SessionUser,
  signOut,
} from './support/sessions';
import { newUser } from './support/tokens';
import { captureOutput } from './support/captured-output';

// Several apps per suite and waits measured in seconds, on a busy machine.
jest.setTimeout(60_000);

type Http = ReturnType<typeof request>;

/** Every form a frontend's server code sends a Better Auth session in. */
const FORMS: [string, (user: SessionUser) => string][] = [
  ['the bare token', (user) => user.token],
  ['the signed token (set-auth-token)', (user) => user.signed],
  ['the cookie value, URL-encoded', (user) => user.cookieValue],
];

const FAMILIES: [string, (id: string) => string][] = [
  ['/api/tasks', () => '/api/tasks'],
  ['/api/{user_id}/tasks', (id) => `/api/${encodeURIComponent(id)}/tasks`],
];

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

/** The API pointed at the session server, session tokens on, checked the `verify` way. */
const sessionEnv = (
  verify: 'endpoint' | 'database',
  cacheSeconds: number,
  extra: Record<string, string | undefined> = {},
) => ({
  BETTER_AUTH_URL: sessionAuthUrl(),
  BETTER_AUTH_SESSION_TOKENS: 'true',
  BETTER_AUTH_SESSION_VERIFY: verify,
  BETTER_AUTH_SESSION_TABLE: process.env.SESSION_AUTH_TABLE,
  BETTER_AUTH_SESSION_CACHE_SECONDS: String(cacheSeconds),
  ...extra,
});

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** A token of a session's shape that Better Auth never handed out. */
const unknownSessionToken = () =>
  Array.from({ length: 32 }, () => ALPHANUMERIC[randomInt(ALPHANUMERIC.length)]).join('');
/** The user's token with a signature made with another secret. */
const forged = (user: SessionUser) => `${user.token}.${randomBytes(32).toString('base64')}`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function statuses(http: Http, path: string, tokens: string[]): Promise<number[]> {
  return Promise.all(tokens.map(async (token) => (await http.get(path).set(bearer(token))).status));
}

let database: Pool;
beforeAll(() => {
  database = new Pool({ connectionString: process.env.DATABASE_URL, max: 1 });
});
afterAll(() => database.end());

/** Moves the session's expiry (Better Auth's own table, shared by both modes' Better Auth). */
async function expireSessionIn(user: SessionUser, seconds: number): Promise<void> {
  const { rowCount } = await database.query(
    `UPDATE better_auth.session SET "expiresAt" = now() + make_interval(secs => $2) WHERE token = $1`,
    [user.token, seconds],
  );
  expect(rowCount).toBe(1);
}

// One app at a time in each block: strategies register with passport's global instance as they
// are built, so in one process the last app built verifies for all of them.
describe.each(['endpoint', 'database'] as const)('Better Auth session tokens (%s)', (verify) => {
  const short = useTestApp(sessionEnv(verify, 1));
  /** get-session calls reach Better Auth in endpoint mode only. */
  const lookups = (count: number) => (verify === 'endpoint' ? count : 0);

  it.each(FAMILIES)(
    "should accept the session in every form, as the session's user (%s)",
    async (_family, path) => {
      const user = await sessionUser();
      for (const [form, tokenOf] of FORMS) {
        const created = await short.http
          .post(path(user.id))
          .set(bearer(tokenOf(user)))
          .send({ title: form })
          .expect(201);
        expect(created.body.user_id).toBe(user.id);
      }
      const list = await short.http.get(path(user.id)).set(bearer(user.signed)).expect(200);
      expect((list.body as { title: string }[]).map((task) => task.title).sort()).toEqual(
        FORMS.map(([form]) => form).sort(),
      );
      await short.http.get('/api/someone-else/tasks').set(bearer(user.token)).expect(403);
    },
  );

  it('should stop accepting a signed-out session within the cache time (1 s)', async () => {
    const user = await sessionUser();
    const tokens = FORMS.map(([, tokenOf]) => tokenOf(user));
    expect(await statuses(short.http, '/api/tasks', tokens)).toEqual([200, 200, 200]);

    await signOut(user);
    const signedOutAt = Date.now();
    let answers = await statuses(short.http, '/api/tasks', tokens);
    while (answers.some((status) => status !== 401) && Date.now() - signedOutAt < 5_000) {
      await sleep(100);
      answers = await statuses(short.http, '/api/tasks', tokens);
    }
    expect(answers).toEqual([401, 401, 401]);
    // The cache time, plus the time a request takes on a busy machine.
    expect(Date.now() - signedOutAt).toBeLessThan(3_000);
    for (const token of tokens) {
      const res = await short.http.get(`/api/${user.id}/tasks`).set(bearer(token)).expect(401);
      expect(res.body).toEqual({ detail: 'Session not found or signed out' });
      expect(res.headers['www-authenticate']).toBe('Bearer');
    }
  });

  it('should refuse an unknown session, and a forged signature before any lookup', async () => {
    const user = await sessionUser();
    const before = await sessionServer.getSessionCalls();

    const unknown = await short.http.get('/api/tasks').set(bearer(unknownSessionToken()));
    expect(unknown.status).toBe(401);
    expect(unknown.body).toEqual({ detail: 'Session not found or signed out' });
    expect(await sessionServer.getSessionCalls()).toBe(before + lookups(1));

    for (const token of [forged(user), encodeURIComponent(forged(user))]) {
      const res = await short.http.get('/api/tasks').set(bearer(token)).expect(401);
      expect(res.body).toEqual({ detail: 'Invalid token' });
    }
    // Two more spellings that are not the session's: refused as malformed, never looked up.
    for (const token of [user.token.slice(1), user.cookieValue.toLowerCase()]) {
      await short.http.get('/api/tasks').set(bearer(token)).expect(401);
    }
    expect(await sessionServer.getSessionCalls()).toBe(before + lookups(1));
    // The session itself is fine.
    await short.http.get('/api/tasks').set(bearer(user.token)).expect(200);
  });

  it('should keep JWT users served beside session users', async () => {
    const user = await sessionUser();
    const hs256 = await newUser();
    await short.http.get('/api/tasks').set(hs256.auth).expect(200);
    await short.http
      .get('/api/tasks')
      .set(bearer(await sessionServerJwt(user)))
      .expect(200);
    await short.http.get('/api/tasks').set(bearer(user.token)).expect(200);
  });
});

describe.each(['endpoint', 'database'] as const)('Better Auth sessions cached (%s)', (verify) => {
  const long = useTestApp(sessionEnv(verify, 30));
  const lookups = (count: number) => (verify === 'endpoint' ? count : 0);

  it('should answer repeats from the cache, with one lookup for parallel requests', async () => {
    const user = await sessionUser();
    const before = await sessionServer.getSessionCalls();

    const parallel = await statuses(long.http, '/api/tasks', Array(6).fill(user.cookieValue));
    expect(parallel).toEqual(Array(6).fill(200));
    await long.http.get(`/api/${user.id}/tasks`).set(bearer(user.cookieValue)).expect(200);

    expect(await sessionServer.getSessionCalls()).toBe(before + lookups(1));
  });

  it('should never trust a session past its expiry, however long the cache time', async () => {
    const user = await sessionUser();
    await expireSessionIn(user, 3);
    await long.http.get('/api/tasks').set(bearer(user.signed)).expect(200);

    await sleep(3_500);
    const res = await long.http.get('/api/tasks').set(bearer(user.signed)).expect(401);
    // Better Auth's get-session answers null for an expired session (and deletes it).
    expect(res.body).toEqual({
      detail: verify === 'database' ? 'Session has expired' : 'Session not found or signed out',
    });
  });
});

describe('Better Auth session tokens from a snake_case session table (database)', () => {
  // As Drizzle or Prisma schemas often name them; no BETTER_AUTH_URL: database is the default.
  const token = unknownSessionToken();
  beforeAll(async () => {
    await database.query(`CREATE SCHEMA IF NOT EXISTS drizzle_auth;
      CREATE TABLE IF NOT EXISTS drizzle_auth.sessions (id text PRIMARY KEY, token text NOT NULL
        UNIQUE, user_id text NOT NULL, expires_at timestamptz NOT NULL)`);
    await database.query(
      `INSERT INTO drizzle_auth.sessions VALUES ($1, $1, 'snake-user', now() + interval '1 hour')`,
      [token],
    );
  });
  const suite = useTestApp({
    BETTER_AUTH_URL: undefined,
    BETTER_AUTH_SESSION_TOKENS: 'true',
    BETTER_AUTH_SESSION_TABLE: 'drizzle_auth.sessions',
  });

  it("should find the session by the table's own column names", async () => {
    const res = await suite.http.get('/api/snake-user/tasks').set(bearer(token)).expect(200);
    expect(res.body).toEqual([]);
    await suite.http.get('/api/tasks').set(bearer(unknownSessionToken())).expect(401);
  });

  it('should stop start-up, naming BETTER_AUTH_SESSION_TABLE, for a table it cannot read', async () => {
    const manager = suite.app.get(DataSource).manager;
    for (const table of ['nowhere.sessions', 'drizzle_auth.missing', 'better_auth.user']) {
      await expect(
        new BetterAuthSessionRepository(manager, table).onApplicationBootstrap(),
      ).rejects.toThrow(/^BETTER_AUTH_SESSION_TABLE: no table \S+ with the columns token/);
    }
  });
});

describe('Better Auth session tokens while Better Auth is stopped (endpoint)', () => {
  const suite = useTestApp(sessionEnv('endpoint', 1));

  it('should answer 503 for session tokens only, and recover when it is back', async () => {
    const [user, other] = await Promise.all([sessionUser(), sessionUser()]);
    // The API has the JWKS keys once it verified one token; `fresh` it has never seen.
    await suite.http
      .get('/api/tasks')
      .set(bearer(await sessionServerJwt(other)))
      .expect(200);
    const fresh = await sessionServerJwt(user);
    const hs256 = await newUser();

    await sessionServer.stop();
    try {
      for (const token of [user.token, user.cookieValue]) {
        const res = await suite.http.get('/api/tasks').set(bearer(token)).expect(503);
        expect(res.body).toEqual({ detail: expect.stringMatching(/try again/) as unknown });
        expect(res.headers['retry-after']).toBe('5');
      }
      await suite.http.get('/api/tasks').set(hs256.auth).expect(200);
      await suite.http.get(`/api/${user.id}/tasks`).set(bearer(fresh)).expect(200);
    } finally {
      await sessionServer.start();
    }
    await suite.http.get(`/api/${user.id}/tasks`).set(bearer(user.token)).expect(200);
  });
});

describe('Better Auth session tokens without the secret (endpoint)', () => {
  // Better Auth checks the cookie's signature; a bare token goes as Bearer (its bearer plugin).
  const suite = useTestApp(sessionEnv('endpoint', 1, { BETTER_AUTH_SECRET: undefined }));

  it('should accept every form, and have Better Auth refuse a forged signature', async () => {
    const user = await sessionUser();
    for (const [, tokenOf] of FORMS) {
      await suite.http
        .get('/api/tasks')
        .set(bearer(tokenOf(user)))
        .expect(200);
    }
    const before = await sessionServer.getSessionCalls();
    await suite.http
      .get('/api/tasks')
      .set(bearer(forged(user)))
      .expect(401);
    expect(await sessionServer.getSessionCalls()).toBe(before + 1);
  });
});

describe('Better Auth session tokens off (the default)', () => {
  const suite = useTestApp({ BETTER_AUTH_URL: sessionAuthUrl() });

  it('should refuse them as before, and still serve JWT users', async () => {
    const user = await sessionUser();
    const before = await sessionServer.getSessionCalls();
    for (const [, tokenOf] of FORMS) {
      const res = await suite.http
        .get('/api/tasks')
        .set(bearer(tokenOf(user)))
        .expect(401);
      expect(res.body).toEqual({ detail: 'Malformed token' });
    }
    expect(await sessionServer.getSessionCalls()).toBe(before);
    await suite.http
      .get('/api/tasks')
      .set((await newUser()).auth)
      .expect(200);
    await suite.http
      .get('/api/tasks')
      .set(bearer(await sessionServerJwt(user)))
      .expect(200);
  });
});

type Line = Record<string, unknown> & {
  level: string;
  context?: string;
  message?: { status?: number; reason?: string; request_id?: string } | string;
};

describe('Better Auth session tokens in the log', () => {
  let app: NestExpressApplication;
  let http: Http;
  let written: string[] = [];

  beforeAll(async () => {
    const quiet = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      app = await createTestApp(
        { ...sessionEnv('endpoint', 1), LOG_LEVEL: 'info', LOG_FORMAT: 'json' },
        { logger: createLogger({ level: 'info', json: true }) },
      );
    } finally {
      quiet.mockRestore();
    }
    http = request(app.getHttpServer());
  });
  afterAll(() => app?.close());

  it('should name why a session was refused or could not be checked, never the token', async () => {
    const user = await sessionUser();
    const signedOut = await sessionUser();
    await signOut(signedOut);
    const cases: [string, string, number][] = [
      ['session_unknown', signedOut.token, 401],
      ['session_unknown', unknownSessionToken(), 401],
      ['bad_signature', forged(user), 401],
      ['malformed', `${user.token}x.y`, 401],
    ];
    const captured = captureOutput();
    written = captured.lines;
    try {
      for (const [reason, token, status] of cases) {
        await expectLine(reason, token, status);
      }
      await sessionServer.stop();
      try {
        await expectLine('session_check_unavailable', user.cookieValue, 503);
      } finally {
        await sessionServer.start();
      }
    } finally {
      captured.restore();
    }

    const output = written.join('');
    expect(output).toMatch(/Better Auth session check at http:\/\/127\.0\.0\.1:\d+ failed/);
    for (const token of [user.token, user.signed, user.cookieValue, signedOut.token]) {
      expect(output).not.toContain(token);
    }
  });

  async function expectLine(reason: string, token: string, status: number): Promise<void> {
    const id = `e2e-session-${reason}-${randomInt(1e9)}`;
    await http.get('/api/tasks').set(bearer(token)).set('X-Request-Id', id).expect(status);
    const line = written
      .join('')
      .split('\n')
      .filter((text) => text.startsWith('{'))
      .map((text) => JSON.parse(text) as Line)
      .find(
        (candidate) =>
          candidate.context === 'HTTP' &&
          typeof candidate.message === 'object' &&
          candidate.message.request_id === id,
      );
    expect({ reason, line: line?.message }).toEqual({
      reason,
      line: expect.objectContaining({ status, reason }) as unknown,
    });
  }
});
