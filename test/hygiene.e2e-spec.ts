import { SignJWT } from 'jose';
import { Response } from 'supertest';
import { createTask, useTestApp } from './support/app';
import { rawRequest } from './support/raw-http';
import { betterAuthUser, hs256Token, newUser, TestUser } from './support/tokens';

// Several tests boot extra app instances; a busy machine can take seconds for that.
jest.setTimeout(30_000);

const FAMILIES: [string, (user: TestUser) => string][] = [
  ['/api/tasks', () => '/api/tasks'],
  ['/api/{user_id}/tasks', (user) => `/api/${encodeURIComponent(user.id)}/tasks`],
];

const nested = (depth: number, inner = '1') => '['.repeat(depth) + inner + ']'.repeat(depth);

describe('Input refused early and cleanly', () => {
  const suite = useTestApp();
  let user: TestUser;
  beforeEach(async () => {
    user = await newUser();
  });
  const server = () => suite.app.getHttpServer();

  function expectDepthRefusal(res: Response): void {
    expect(res.status).toBe(422);
    expect(res.body.detail).toEqual([
      expect.objectContaining({ loc: ['body'], type: 'json_too_deep' }),
    ]);
  }

  describe.each(FAMILIES)('deeply nested JSON (%s)', (_family, path) => {
    it('should answer 422 on create, update, complete and bulk, and change nothing', async () => {
      const task = await createTask(suite.http, user, { title: 'keep me' });
      const deep = `{"title": "x", "tags": ${nested(5000)}}`; // ~10 KB
      const send = (method: 'post' | 'put' | 'patch', url: string) =>
        suite.http[method](url).set(user.auth).set('Content-Type', 'application/json').send(deep);
      expectDepthRefusal(await send('post', path(user)));
      expectDepthRefusal(await send('put', `${path(user)}/${task.id}`));
      expectDepthRefusal(await send('patch', `${path(user)}/${task.id}`));
      expectDepthRefusal(await send('patch', `${path(user)}/${task.id}/complete`));
      expectDepthRefusal(await send('post', `${path(user)}/bulk`));
      const list = await suite.http.get(path(user)).set(user.auth).expect(200);
      expect(list.body).toEqual([expect.objectContaining({ title: 'keep me', completed: false })]);
    });

    it('should accept nesting up to the limit, and brackets inside strings', async () => {
      const res = await suite.http
        .post(path(user))
        .set(user.auth)
        .set('Content-Type', 'application/json')
        .send(`{"title": "${'[{'.repeat(50)}", "extra": ${nested(31)}}`);
      expect(res.status).toBe(201);
      expect(res.body.title).toBe('[{'.repeat(50));
    });
  });

  describe.each(FAMILIES)('charsets (%s)', (_family, path) => {
    it.each(['utf-16', 'UTF-16LE', 'utf-7', 'iso-8859-1'])(
      'should answer 415 to charset=%s',
      async (charset) => {
        const res = await suite.http
          .post(path(user))
          .set(user.auth)
          .set('Content-Type', `application/json; charset=${charset}`)
          .send('{"title":"x"}');
        expect(res.status).toBe(415);
        expect(typeof res.body.detail).toBe('string');
      },
    );

    it('should not decode UTF-16 or UTF-7 bytes sent without a charset', async () => {
      for (const body of [
        Buffer.from('\ufeff{"title":"sixteen"}', 'utf16le'),
        Buffer.from('{"title":"sixteen"}', 'utf16le'),
        Buffer.from('+AHsAIg-title+ACIAOgAi-seven+ACIAfQ-'),
      ]) {
        const head =
          `POST ${path(user)} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${user.token}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
        const res = await rawRequest(server(), Buffer.concat([Buffer.from(head), body]));
        expect(res.status).toBe(422);
        expect(JSON.parse(res.body).detail[0]).toMatchObject({ type: 'json_invalid' });
      }
      const list = await suite.http.get(path(user)).set(user.auth).expect(200);
      expect(list.body).toEqual([]);
    });

    it('should accept charset=utf-8 in any spelling', async () => {
      for (const charset of ['utf-8', 'UTF-8', '"utf-8"']) {
        await suite.http
          .post(path(user))
          .set(user.auth)
          .set('Content-Type', `application/json; charset=${charset}`)
          .send('{"title":"ok"}')
          .expect(201);
      }
    });
  });

  describe.each(FAMILIES)('bodies left unread (%s)', (_family, path) => {
    const post = (url: string, headers: string, length: number) =>
      `POST ${url} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n` +
      `${headers}Content-Length: ${length}\r\n\r\n{"title": "`;

    it('should answer 401 without a valid token before the body arrives', async () => {
      for (const auth of ['', 'Authorization: Bearer forged.token.value\r\n']) {
        // 1 MB announced, 11 bytes sent: an answer proves the server did not wait for the rest.
        const res = await rawRequest(server(), post(path(user), auth, 1_000_000));
        expect(res.status).toBe(401);
        expect(JSON.parse(res.body)).toEqual({ detail: expect.any(String) });
        expect(res.headers.connection).toBe('close');
      }
    });

    it('should answer 413 at once to a Content-Length over the limit', async () => {
      for (const auth of ['', `Authorization: Bearer ${user.token}\r\n`]) {
        const res = await rawRequest(server(), post(path(user), auth, 99_999_999_999));
        expect(res.status).toBe(413);
        expect(JSON.parse(res.body)).toEqual({ detail: expect.any(String) });
      }
    });
  });
});

describe('Token hygiene', () => {
  const suite = useTestApp();

  /** Flips the lowest bit of the segment's last base64url character (an unused bit there). */
  function flipUnusedBit(segment: string): string {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(segment[segment.length - 1]);
    return segment.slice(0, -1) + alphabet[last ^ 1];
  }

  async function expect401(token: string, path = '/api/tasks'): Promise<void> {
    const res = await suite.http.get(path).set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer');
    expect(typeof res.body.detail).toBe('string');
  }

  it.each(FAMILIES)('should accept one spelling of a token only (%s)', async (_family, path) => {
    const user = await newUser();
    const [header, payload, signature] = user.token.split('.');
    // HS256: 43 characters, the last one carries 2 unused bits.
    expect(signature).toHaveLength(43);
    await suite.http.get(path(user)).set(user.auth).expect(200);
    await expect401(`${user.token}=`, path(user));
    await expect401(`${header}.${payload}.${signature}==`, path(user));
    await expect401(`${header}.${payload}.${flipUnusedBit(signature)}`, path(user));
    await expect401(`${header}=.${payload}.${signature}`, path(user));
    // The canonical token still works afterwards (nothing was cached under another spelling).
    await suite.http.get(path(user)).set(user.auth).expect(200);
  });

  it('should refuse flipped unused bits in a Better Auth (EdDSA) signature', async () => {
    const user = await betterAuthUser();
    const [header, payload, signature] = user.token.split('.');
    expect(signature).toHaveLength(86); // 64 bytes: the last character carries 4 unused bits
    await suite.http.get('/api/tasks').set(user.auth).expect(200);
    await expect401(`${header}.${payload}.${flipUnusedBit(signature)}`);
    await expect401(`${user.token}==`);
  });

  it.each([
    ['a NUL character', 'user\u0000one'],
    ['a newline', 'user\none'],
    ['a control character', 'user\u001bone'],
    ['300 characters', 'u'.repeat(300)],
  ])('should answer 401 to a sub with %s, on both families', async (_case, sub) => {
    const token = await hs256Token({ sub });
    await expect401(token);
    await expect401(token, `/api/${encodeURIComponent(sub)}/tasks`);
    const post = await suite.http
      .post('/api/tasks')
      .set('Authorization', `Bearer ${token}`)
      .send({ title: 'x' });
    expect(post.status).toBe(401);
  });

  it('should accept a sub of 255 printable characters, any script', async () => {
    const sub = `ユーザー-${'x'.repeat(250)}`;
    const token = await hs256Token({ sub });
    await suite.http.get('/api/tasks').set('Authorization', `Bearer ${token}`).expect(200);
  });

  it('should answer 401 to an iat in the future beyond the clock tolerance', async () => {
    const now = Math.floor(Date.now() / 1000);
    const issuedAt = (iat: number) =>
      new SignJWT({ sub: `issued-${iat}` })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setIssuedAt(iat)
        .setExpirationTime(now + 900)
        .sign(new TextEncoder().encode(process.env.BETTER_AUTH_SECRET));
    await expect401(await issuedAt(now + 3600));
    const token = await issuedAt(now + 2); // within the tolerance (5 s)
    await suite.http.get('/api/tasks').set('Authorization', `Bearer ${token}`).expect(200);
  });

  it('should answer 401 to an absurd exp', async () => {
    for (const exp of [1e308, 253_402_300_800]) {
      await expect401(await hs256Token({ sub: 'forever' }, { expiresIn: exp }));
    }
  });
});

describe('HTTP hygiene', () => {
  const suite = useTestApp();
  const server = () => suite.app.getHttpServer();

  it("should answer Node's own parser errors with a JSON detail", async () => {
    const tooLarge = await rawRequest(
      server(),
      `GET /api/tasks HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    );
    expect(tooLarge.status).toBe(431);
    expect(tooLarge.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(tooLarge.body)).toEqual({ detail: 'Request Header Fields Too Large' });

    const malformed = await rawRequest(
      server(),
      'GET /api/tasks HTTP/1.1\r\nHost localhost\r\n\r\n',
    );
    expect(malformed.status).toBe(400);
    expect(JSON.parse(malformed.body)).toEqual({ detail: 'Bad Request' });

    const expectation = await rawRequest(
      server(),
      'GET /health HTTP/1.1\r\nHost: localhost\r\nExpect: something-else\r\n\r\n',
    );
    expect(expectation.status).toBe(417);
    expect(JSON.parse(expectation.body)).toEqual({ detail: expect.any(String) });
  });

  it.each(['/api/nope/<script>alert(1)</script>', '/secret-admin', '/api/tasks/1/2/3'])(
    'should answer 404 Not Found to %s without echoing the path',
    async (path) => {
      const res = await suite.http.get(path).expect(404);
      expect(res.body).toEqual({ detail: 'Not Found' });
    },
  );

  it.each(FAMILIES)('should mark answers private and not sniffable (%s)', async (_family, path) => {
    const user = await newUser();
    const task = await createTask(suite.http, user, { title: 'private' });
    for (const res of [
      await suite.http.get(path(user)).set(user.auth),
      await suite.http.get(`${path(user)}/${task.id}`).set(user.auth),
      await suite.http.get(path(user)),
      await suite.http.get(`${path(user)}/999999999`).set(user.auth),
    ]) {
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['cache-control']).toBe('no-store');
    }
  });

  it('should give a refused origin no CORS headers at all', async () => {
    const user = await newUser();
    const preflight = await suite.http
      .options('/api/tasks')
      .set('Origin', 'https://evil.example')
      .set('Access-Control-Request-Method', 'DELETE');
    const res = await suite.http
      .get('/api/tasks')
      .set(user.auth)
      .set('Origin', 'https://evil.example');
    for (const answer of [preflight, res]) {
      expect(answer.headers['access-control-allow-credentials']).toBeUndefined();
      expect(answer.headers['access-control-allow-origin']).toBeUndefined();
    }
    const allowed = await suite.http
      .get('/api/tasks')
      .set(user.auth)
      .set('Origin', 'http://localhost:3000');
    expect(allowed.headers['access-control-allow-credentials']).toBe('true');
  });

  it('should list If-Match once per operation in the OpenAPI document', async () => {
    const document = (await suite.http.get('/openapi.json').expect(200)).body as {
      paths: Record<string, Record<string, { parameters?: { name: string; in: string }[] }>>;
    };
    let operationsWithIfMatch = 0;
    for (const item of Object.values(document.paths)) {
      for (const operation of Object.values(item)) {
        const names = (operation.parameters ?? [])
          .filter((parameter) => parameter.in === 'header')
          .map((parameter) => parameter.name.toLowerCase());
        expect(names).toEqual([...new Set(names)]);
        if (names.includes('if-match')) operationsWithIfMatch++;
      }
    }
    // PUT, PATCH, complete and DELETE of one task, in both families.
    expect(operationsWithIfMatch).toBe(8);
  });
});
