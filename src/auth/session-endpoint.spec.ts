import { Logger } from '@nestjs/common';
import { createHmac, createSecretKey } from 'node:crypto';
import { BetterAuthSessionEndpoint } from './session-endpoint';
import { SessionCheckUnavailableError } from './session-token';

const SECRET = 'endpoint-secret-endpoint-secret-endpoint';
const TOKEN = 'Q3Jb8x2mPzT7vLk0aWc9dEfGhIjKlMnO';
const SIGNED = `${TOKEN}.${createHmac('sha256', SECRET).update(TOKEN).digest('base64')}`;
const URL_ = new URL('http://auth.test:3000/api/auth/get-session?disableRefresh=true');
const EXPIRES_AT = '2030-01-01T00:00:00.000Z';

type FetchArgs = Parameters<typeof fetch>;

describe(BetterAuthSessionEndpoint.name, () => {
  let fetchFn: jest.Mock<Promise<Response>, FetchArgs>;
  let warn: jest.SpyInstance;
  let log: jest.SpyInstance;

  const endpoint = (secret: string | null = SECRET) =>
    new BetterAuthSessionEndpoint(
      {
        url: URL_,
        timeoutMs: 1000,
        secret: secret === null ? undefined : createSecretKey(Buffer.from(secret)),
      },
      fetchFn,
    );
  const json = (body: unknown, status = 200) =>
    new Response(JSON.stringify(body), {
      status,
      headers: { 'content-type': 'application/json' },
    });
  const sent = () => {
    const [url, init] = fetchFn.mock.calls[0];
    return { url, init: init as RequestInit & { headers: Record<string, string> } };
  };

  beforeEach(() => {
    fetchFn = jest.fn<Promise<Response>, FetchArgs>(() =>
      Promise.resolve(
        json({ session: { userId: 'user-1', expiresAt: EXPIRES_AT, token: TOKEN }, user: {} }),
      ),
    );
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    log = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
  });
  afterEach(() => jest.restoreAllMocks());

  it('should send a signed token as the session cookie, under both names, and as Bearer', async () => {
    await expect(endpoint().find({ token: TOKEN, signed: SIGNED })).resolves.toEqual({
      userId: 'user-1',
      expiresAt: new Date(EXPIRES_AT),
    });

    const { url, init } = sent();
    expect(url).toBe(URL_);
    expect(init.redirect).toBe('error');
    expect(init.signal).toBeInstanceOf(AbortSignal);
    const value = encodeURIComponent(SIGNED);
    expect(init.headers).toEqual({
      accept: 'application/json',
      authorization: `Bearer ${SIGNED}`,
      cookie: `better-auth.session_token=${value}; __Secure-better-auth.session_token=${value}`,
    });
  });

  it('should sign a bare token itself for the cookie when it knows the secret', async () => {
    await endpoint().find({ token: TOKEN });

    const { headers } = sent().init;
    expect(headers.cookie).toContain(`better-auth.session_token=${encodeURIComponent(SIGNED)}`);
    // As presented, for the bearer plugin (which signs it with its own secret).
    expect(headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it('should send a bare token as Bearer only (the bearer plugin) without the secret', async () => {
    await endpoint(null).find({ token: TOKEN });

    expect(sent().init.headers).toEqual({
      accept: 'application/json',
      authorization: `Bearer ${TOKEN}`,
    });
  });

  it("should answer no session for Better Auth's null", async () => {
    fetchFn.mockResolvedValue(json(null));

    await expect(endpoint().find({ token: TOKEN })).resolves.toBeUndefined();
  });

  it.each([
    ['a refused connection', () => Promise.reject(fetchFailed('ECONNREFUSED'))],
    [
      'a timeout',
      () => Promise.reject(new DOMException('The operation was aborted', 'TimeoutError')),
    ],
    ['a 500', () => Promise.resolve(json({ message: 'boom' }, 500))],
    ['a 429 (its rate limit)', () => Promise.resolve(json({ message: 'slow down' }, 429))],
    [
      'a 404 (a wrong BETTER_AUTH_URL)',
      () => Promise.resolve(new Response('Not Found', { status: 404 })),
    ],
    ['a body that is not JSON', () => Promise.resolve(new Response('<html>', { status: 200 }))],
    ['a body that is no session', () => Promise.resolve(json({ session: { userId: 1 } }))],
  ])('should call %s unavailable (503), not a refusal', async (_case, answer) => {
    fetchFn.mockImplementation(answer);

    await expect(endpoint().find({ token: TOKEN, signed: SIGNED })).rejects.toBeInstanceOf(
      SessionCheckUnavailableError,
    );
  });

  it('should warn once per outage, say when it is over, and never log the token', async () => {
    const sessions = endpoint();
    fetchFn.mockImplementation(() => Promise.reject(fetchFailed('ECONNREFUSED')));
    for (let i = 0; i < 3; i++) {
      await expect(sessions.find({ token: TOKEN, signed: SIGNED })).rejects.toThrow();
    }
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn).toHaveBeenCalledWith(
      expect.stringContaining(
        'Better Auth session check at http://auth.test:3000 failed (TypeError: fetch failed (ECONNREFUSED))',
      ),
    );

    fetchFn.mockImplementation(() => Promise.resolve(json(null)));
    await sessions.find({ token: TOKEN, signed: SIGNED });
    expect(log).toHaveBeenCalledWith(expect.stringContaining('answers session checks again'));

    const logged = JSON.stringify([...warn.mock.calls, ...log.mock.calls]);
    expect(logged).not.toContain(TOKEN);
  });
});

function fetchFailed(code: string): TypeError {
  return new TypeError('fetch failed', { cause: Object.assign(new Error(code), { code }) });
}
