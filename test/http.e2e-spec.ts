import { Agent, get, IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { useTestApp } from './support/app';
import { newUser, TestUser } from './support/tokens';

describe('HTTP surface', () => {
  const suite = useTestApp({ BODY_LIMIT: '2kb' });
  let user: TestUser;
  beforeEach(async () => {
    user = await newUser();
  });

  describe('CORS', () => {
    it('should allow a listed origin with credentials and the contract headers', async () => {
      const res = await suite.http
        .options('/api/tasks')
        .set('Origin', 'http://localhost:3000')
        .set('Access-Control-Request-Method', 'POST')
        .set(
          'Access-Control-Request-Headers',
          'authorization,content-type,idempotency-key,if-match',
        )
        .expect(204);
      expect(res.headers['access-control-allow-origin']).toBe('http://localhost:3000');
      expect(res.headers['access-control-allow-credentials']).toBe('true');
      const allowed = res.headers['access-control-allow-headers'].toLowerCase();
      for (const header of ['authorization', 'content-type', 'idempotency-key', 'if-match']) {
        expect(allowed).toContain(header);
      }
    });

    it('should expose the paging and concurrency headers on real responses', async () => {
      const res = await suite.http
        .get('/api/tasks')
        .set(user.auth)
        .set('Origin', 'https://app.example.com')
        .expect(200);
      expect(res.headers['access-control-allow-origin']).toBe('https://app.example.com');
      const exposed = res.headers['access-control-expose-headers'].toLowerCase();
      for (const header of ['etag', 'x-total-count', 'link', 'retry-after'])
        expect(exposed).toContain(header);
    });

    it('should never reflect an origin that is not listed', async () => {
      const preflight = await suite.http
        .options('/api/tasks')
        .set('Origin', 'https://evil.example')
        .set('Access-Control-Request-Method', 'DELETE');
      expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
      const res = await suite.http
        .get('/api/tasks')
        .set(user.auth)
        .set('Origin', 'https://evil.example');
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
    });
  });

  describe('bodies', () => {
    it('should answer 422 json_invalid to malformed JSON and create nothing', async () => {
      const res = await suite.http
        .post('/api/tasks')
        .set(user.auth)
        .set('Content-Type', 'application/json')
        .send('{"title": "x",')
        .expect(422);
      expect(res.body.detail[0]).toMatchObject({ loc: ['body'], type: 'json_invalid' });
      expect((await suite.http.get('/api/tasks').set(user.auth)).body).toEqual([]);
    });

    it('should answer 422 when the body is not an object', async () => {
      for (const body of ['[]', '"title"', '42', 'null']) {
        const res = await suite.http
          .post('/api/tasks')
          .set(user.auth)
          .set('Content-Type', 'application/json')
          .send(body);
        expect([body, res.status]).toEqual([body, 422]);
      }
    });

    it('should answer 413 to a body over the limit', async () => {
      const res = await suite.http
        .post('/api/tasks')
        .set(user.auth)
        .send({ title: 'big', description: 'x'.repeat(4096) })
        .expect(413);
      expect(res.body).toEqual({ detail: expect.stringMatching(/larger than/) });
    });

    it('should answer 415 to a declared non-JSON body, and read JSON sent without a Content-Type', async () => {
      await suite.http
        .post('/api/tasks')
        .set(user.auth)
        .set('Content-Type', 'text/plain')
        .send('title=x')
        .expect(415);
      await suite.http
        .post('/api/tasks')
        .set(user.auth)
        .set('Content-Type', 'application/x-www-form-urlencoded')
        .send('title=x')
        .expect(415);
      const raw = await fetch(`${await suite.app.getUrl()}/api/tasks`, {
        method: 'POST',
        headers: { Authorization: user.auth.Authorization },
        body: JSON.stringify({ title: 'no content type' }),
      });
      // fetch() labels a string body text/plain: FastAPI would refuse it too.
      expect(raw.status).toBe(415);
    });
  });

  describe('JSON replies', () => {
    it('should label them UTF-8 JSON with their exact byte length, and HEAD with no body', async () => {
      const title = 'Çà et là: 日本語 ✓';
      await suite.http
        .post('/api/tasks')
        .set(user.auth)
        .set('Content-Type', 'application/json')
        .send({ title })
        .expect(201);

      const raw = await fetch(`${await suite.app.getUrl()}/api/tasks`, { headers: user.auth });
      const bytes = Buffer.from(await raw.arrayBuffer());
      expect(raw.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(Number(raw.headers.get('content-length'))).toBe(bytes.length);
      expect(JSON.parse(bytes.toString('utf8'))).toEqual([expect.objectContaining({ title })]);

      const head = await fetch(`${await suite.app.getUrl()}/api/tasks`, {
        method: 'HEAD',
        headers: user.auth,
      });
      expect(head.status).toBe(200);
      expect(head.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(head.headers.get('content-length')).toBe(String(bytes.length));
      expect((await head.arrayBuffer()).byteLength).toBe(0);
    });
  });

  describe('errors', () => {
    it('should answer 404 with a detail to an unknown route', async () => {
      const res = await suite.http.get('/api/nothing-here').set(user.auth).expect(404);
      expect(res.body).toEqual({ detail: expect.any(String) });
    });

    it('should never leak a stack trace or SQL in an error body', async () => {
      const responses = await Promise.all([
        suite.http.get('/api/tasks/abc').set(user.auth),
        suite.http
          .post('/api/tasks')
          .set(user.auth)
          .set('Content-Type', 'application/json')
          .send('{'),
        suite.http.get('/api/tasks/%E0%A4%A').set(user.auth),
        suite.http.get('/api/tasks?limit=abc&offset=xyz').set(user.auth),
      ]);
      for (const res of responses) {
        expect(res.status).toBeLessThan(500);
        expect(res.text).not.toMatch(/\bat .+\.(js|ts):\d+|SELECT|INSERT|QueryFailedError/);
      }
    });
  });

  describe('request ids', () => {
    it('should return the caller X-Request-Id or a generated one', async () => {
      const echoed = await suite.http.get('/health').set('X-Request-Id', 'req-123').expect(200);
      expect(echoed.headers['x-request-id']).toBe('req-123');
      const generated = await suite.http
        .get('/health')
        .set('X-Request-Id', 'bad id with spaces')
        .expect(200);
      expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    });
  });

  describe('public routes', () => {
    it('should serve liveness and readiness without a token', async () => {
      await suite.http.get('/health').expect(200, { status: 'ok' });
      await suite.http.get('/health/ready').expect(200, { status: 'ok', database: 'up' });
    });

    it('should serve Swagger UI at /docs and the document at /openapi.json', async () => {
      const ui = await suite.http.get('/docs').redirects(1).expect(200);
      expect(ui.text).toContain('swagger-ui');
      const doc = (await suite.http.get('/openapi.json').expect(200)).body;
      expect(doc.components.securitySchemes.bearer).toMatchObject({
        type: 'http',
        scheme: 'bearer',
      });
      for (const path of ['/api/tasks', '/api/tasks/{id}', '/api/{user_id}/tasks/{id}/complete']) {
        expect(doc.paths).toHaveProperty([path]);
      }
      for (const [path, item] of Object.entries(doc.paths as Record<string, object>)) {
        const templated = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
        for (const operation of Object.values(item) as {
          parameters: { in: string; name: string }[];
        }[]) {
          const declared = operation.parameters.filter((p) => p.in === 'path').map((p) => p.name);
          expect([path, declared.sort()]).toEqual([path, [...templated].sort()]);
        }
      }
      const create = doc.paths['/api/tasks'].post;
      expect(Object.keys(create.responses)).toEqual(
        expect.arrayContaining(['201', '401', '403', '422']),
      );
      expect(Object.keys(doc.paths['/api/tasks/{id}'].get.responses)).toEqual(
        expect.arrayContaining(['200', '401', '404', '422']),
      );
    });
  });

  describe('keep-alive', () => {
    it('should keep idle sockets open longer than a load balancer does (65 s by default)', async () => {
      const server: Server = suite.app.getHttpServer();
      expect(server.keepAliveTimeout).toBe(65000);
      expect(server.headersTimeout).toBe(66000);

      const { port } = server.address() as AddressInfo;
      const agent = new Agent({ keepAlive: true });
      try {
        const headers = await new Promise<IncomingHttpHeaders>((resolve, reject) =>
          get({ host: '127.0.0.1', port, path: '/health', agent }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.headers));
          }).on('error', reject),
        );
        expect(headers.connection).toBe('keep-alive');
        expect(headers['keep-alive']).toBe('timeout=65');
      } finally {
        agent.destroy();
      }
    });
  });
});
