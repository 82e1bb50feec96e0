import { NestExpressApplication } from '@nestjs/platform-express';
import { IncomingMessage } from 'node:http';
import request from 'supertest';
import { createTestApp } from './support/app';
import { buildIfStale, startBuiltApi } from './support/built-api';
import { newUser } from './support/tokens';

/** Headers that must not differ between the tuned path and the framework's own. */
const COMPARED_HEADERS = [
  'content-type',
  'content-length',
  'etag',
  'x-total-count',
  'cache-control',
  'x-content-type-options',
  'ratelimit-limit',
  'www-authenticate',
  'retry-after',
];

/**
 * FRAMEWORK_TUNING_OFF=all: every reliance on framework internals that has a switch is off, the
 * plain framework path runs (common/framework-internals.ts), and the wire is the same.
 */
describe('Framework tuning off (FRAMEWORK_TUNING_OFF=all)', () => {
  let tuned: NestExpressApplication;
  let plain: NestExpressApplication;
  beforeAll(async () => {
    // One after the other: each reads process.env while it is created.
    tuned = await createTestApp({ FRAMEWORK_TUNING_OFF: undefined });
    plain = await createTestApp({ FRAMEWORK_TUNING_OFF: 'all' });
  });
  afterAll(async () => {
    await Promise.all([tuned?.close(), plain?.close()]);
  });

  /** The same requests, from a fresh user, to one app: what came back, minus what must vary. */
  async function conversation(app: NestExpressApplication) {
    const http = request(app.getHttpServer());
    const user = await newUser();
    const answers: unknown[] = [];
    const keep = (response: request.Response) => {
      const headers = Object.fromEntries(
        COMPARED_HEADERS.filter((name) => response.headers[name] !== undefined).map((name) => [
          name,
          name === 'etag' ? 'present' : response.headers[name],
        ]),
      );
      const body = JSON.stringify(response.body, (key, value: unknown) =>
        ['id', 'created_at', 'updated_at', 'completed_at', 'user_id'].includes(key) ? key : value,
      );
      answers.push({ status: response.status, headers, body, text: (response.text ?? '').length });
      return response.body as { id: number };
    };
    const created = keep(
      await http
        .post('/api/tasks')
        .set(user.auth)
        .send({ title: 'Grüße ✓', tags: ['a'] }),
    );
    keep(await http.get('/api/tasks').set(user.auth));
    keep(await http.get(`/api/tasks/${created.id}`).set(user.auth));
    keep(await http.patch(`/api/tasks/${created.id}`).set(user.auth).send({ completed: true }));
    keep(await http.head(`/api/tasks/${created.id}`).set(user.auth));
    keep(await http.get('/api/tasks/2147483000').set(user.auth));
    keep(await http.post('/api/tasks').set(user.auth).send({ title: '' }));
    keep(await http.post('/api/tasks').set(user.auth).set('Content-Type', 'text/plain').send('x'));
    keep(await http.get('/api/tasks'));
    keep(await http.get('/health'));
    keep(await http.delete(`/api/tasks/${created.id}`).set(user.auth));
    keep(await http.get('/no/such/route'));
    return answers;
  }

  it('should answer a conversation exactly as with the tunings on', async () => {
    const [withTuning, without] = await Promise.all([conversation(tuned), conversation(plain)]);

    expect(without).toEqual(withTuning);
  });

  it("should build requests with Node's prototypes only when off", async () => {
    const seen = async (app: NestExpressApplication) => {
      const server = app.getHttpServer();
      let prototype: object | undefined;
      const listener = (req: object) => (prototype = Object.getPrototypeOf(req) as object);
      server.prependListener('request', listener);
      await request(server).get('/health').expect(200);
      server.off('request', listener);
      return prototype;
    };

    expect((await seen(plain)) === IncomingMessage.prototype).toBe(true);
    expect((await seen(tuned)) === IncomingMessage.prototype).toBe(false);
  });

  it('should start the built API (V8 defaults) and serve', async () => {
    buildIfStale();
    const api = await startBuiltApi({ FRAMEWORK_TUNING_OFF: 'all' });
    try {
      const user = await newUser();
      const created = await fetch(`${api.base}/api/tasks`, {
        method: 'POST',
        headers: { ...user.auth, 'Content-Type': 'application/json' },
        body: JSON.stringify({ title: 'plain path' }),
      });
      expect(created.status).toBe(201);
      expect(await created.json()).toMatchObject({ title: 'plain path' });
    } finally {
      api.child.kill('SIGTERM');
      expect((await api.exited).code).toBe(0);
    }
  }, 180000);
});
