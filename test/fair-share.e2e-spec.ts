import { NestExpressApplication } from '@nestjs/platform-express';
import request, { Response } from 'supertest';
import { createTask, createTestApp, Task, useTestApp } from './support/app';
import { newUser, TestUser } from './support/tokens';

// Several tests boot extra app instances; a busy machine can take seconds for that.
jest.setTimeout(30_000);

type Http = ReturnType<typeof request>;

/** The collection path of each route family, for `user`. */
const FAMILIES: [string, (user: TestUser) => string][] = [
  ['/api/tasks', () => '/api/tasks'],
  ['/api/{user_id}/tasks', (user) => `/api/${encodeURIComponent(user.id)}/tasks`],
];

function expectLimitHeaders(res: Response, limit: number, remaining: number): void {
  expect(res.headers['ratelimit-limit']).toBe(String(limit));
  expect(res.headers['ratelimit-remaining']).toBe(String(remaining));
  const reset = Number(res.headers['ratelimit-reset']);
  expect(reset).toBeGreaterThanOrEqual(1);
  expect(reset).toBeLessThanOrEqual(60);
}

function expectRefused429(res: Response): void {
  expect(res.status).toBe(429);
  expect(typeof res.body.detail).toBe('string');
  expect(res.body.detail).toMatch(/too many requests/i);
  const retryAfter = Number(res.headers['retry-after']);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(60);
  expect(res.headers['ratelimit-remaining']).toBe('0');
}

describe('Fair share: rate limits', () => {
  describe('in-process counters', () => {
    const suite = useTestApp({ RATE_LIMIT_USER_PER_MINUTE: '5', RATE_LIMIT_ANON_PER_MINUTE: '3' });

    it.each(FAMILIES)(
      'should count each user across both families and answer 429 past the limit (%s last)',
      async (_family, path) => {
        const [user, other] = await Promise.all([newUser(), newUser()]);
        // Alternate the families: one counter per user, whatever the route.
        for (let i = 0; i < 4; i++) {
          const target = i % 2 === 0 ? '/api/tasks' : `/api/${user.id}/tasks`;
          const res = await suite.http.get(target).set(user.auth).expect(200);
          expectLimitHeaders(res, 5, 4 - i);
        }
        const fifth = await suite.http.post(path(user)).set(user.auth).send({ title: 'last' });
        expect(fifth.status).toBe(201);
        expectLimitHeaders(fifth, 5, 0);

        const refused = await suite.http.post(path(user)).set(user.auth).send({ title: 'no' });
        expectRefused429(refused);
        // Another user is not affected, and nothing was created by the refused request.
        const theirs = await suite.http.get(path(other)).set(other.auth).expect(200);
        expectLimitHeaders(theirs, 5, 4);
      },
    );

    it('should count requests without a valid token per address, 401s included', async () => {
      const app = await createTestApp({ RATE_LIMIT_ANON_PER_MINUTE: '3' });
      try {
        const http = request(app.getHttpServer());
        const user = await newUser();
        const first = await http.get('/api/tasks').expect(401);
        expectLimitHeaders(first, 3, 2);
        await http
          .get(`/api/${user.id}/tasks`)
          .set('Authorization', 'Bearer not.a.token')
          .expect(401);
        await http.post('/api/tasks').send({ title: 'x' }).expect(401);
        expectRefused429(await http.get('/api/tasks'));
        expectRefused429(await http.get(`/api/${user.id}/tasks`));
        // A valid token is counted as its user, not as the address.
        const res = await http.get('/api/tasks').set(user.auth).expect(200);
        expect(res.headers['ratelimit-limit']).toBe('600');
      } finally {
        await app.close();
      }
    });

    it('should never limit health checks or the API documents', async () => {
      for (let i = 0; i < 8; i++) {
        for (const path of ['/health', '/health/ready', '/openapi.json']) {
          const res = await suite.http.get(path).expect(200);
          expect(res.headers['ratelimit-limit']).toBeUndefined();
        }
      }
      await suite.http.get('/docs/').expect(200);
    });
  });

  describe('settings', () => {
    it('should turn a limit off with 0', async () => {
      const app = await createTestApp({
        RATE_LIMIT_USER_PER_MINUTE: '0',
        RATE_LIMIT_ANON_PER_MINUTE: '0',
      });
      try {
        const http = request(app.getHttpServer());
        const user = await newUser();
        for (let i = 0; i < 10; i++) {
          const res = await http.get('/api/tasks').set(user.auth).expect(200);
          expect(res.headers['ratelimit-limit']).toBeUndefined();
          await http.get('/api/tasks').expect(401);
        }
      } finally {
        await app.close();
      }
    });

    async function anonymousFrom(http: Http, forwardedFor: string) {
      return http.get('/api/tasks').set('X-Forwarded-For', forwardedFor);
    }

    it('should ignore X-Forwarded-For unless trusted proxies are configured', async () => {
      const app = await createTestApp({ RATE_LIMIT_ANON_PER_MINUTE: '2' });
      try {
        const http = request(app.getHttpServer());
        expect((await anonymousFrom(http, '203.0.113.1')).status).toBe(401);
        expect((await anonymousFrom(http, '203.0.113.2')).status).toBe(401);
        expectRefused429(await anonymousFrom(http, '203.0.113.3'));
      } finally {
        await app.close();
      }
    });

    it('should count by X-Forwarded-For behind a trusted proxy (TRUST_PROXY)', async () => {
      const app = await createTestApp({ RATE_LIMIT_ANON_PER_MINUTE: '2', TRUST_PROXY: 'loopback' });
      try {
        const http = request(app.getHttpServer());
        for (const address of ['203.0.113.1', '203.0.113.1', '203.0.113.2', '203.0.113.2']) {
          expect((await anonymousFrom(http, address)).status).toBe(401);
        }
        expectRefused429(await anonymousFrom(http, '203.0.113.1'));
      } finally {
        await app.close();
      }
    });
  });

  describe('counters shared through Redis', () => {
    const redisEnv = {
      REDIS_URL: process.env.TEST_REDIS_URL,
      RATE_LIMIT_USER_PER_MINUTE: '4',
      RATE_LIMIT_ANON_PER_MINUTE: '3',
    };
    let apps: NestExpressApplication[];
    let replicas: Http[];

    beforeAll(async () => {
      expect(process.env.TEST_REDIS_URL).toMatch(/^redis:\/\//);
      apps = [await createTestApp(redisEnv), await createTestApp(redisEnv)];
      replicas = apps.map((app) => request(app.getHttpServer()));
    });
    afterAll(() => Promise.all(apps.map((app) => app.close())));

    it.each(FAMILIES)(
      "should share one user's limit between two API instances (%s)",
      async (_family, path) => {
        const user = await newUser();
        const remaining: string[] = [];
        for (let i = 0; i < 4; i++) {
          const res = await replicas[i % 2].get(path(user)).set(user.auth).expect(200);
          remaining.push(res.headers['ratelimit-remaining']);
        }
        expect(remaining).toEqual(['3', '2', '1', '0']);
        expectRefused429(await replicas[0].get(path(user)).set(user.auth));
        expectRefused429(await replicas[1].get(path(user)).set(user.auth));
      },
    );

    it('should share the anonymous limit between instances', async () => {
      // A fresh address for this test: X-Forwarded-For is trusted on these instances.
      const apps2 = [
        await createTestApp({ ...redisEnv, TRUST_PROXY: 'loopback' }),
        await createTestApp({ ...redisEnv, TRUST_PROXY: 'loopback' }),
      ];
      try {
        const [a, b] = apps2.map((app) => request(app.getHttpServer()));
        const address = `198.51.100.${Math.floor(Math.random() * 250) + 1}`;
        await a.get('/api/tasks').set('X-Forwarded-For', address).expect(401);
        await b.get('/api/tasks').set('X-Forwarded-For', address).expect(401);
        await a.get('/api/tasks').set('X-Forwarded-For', address).expect(401);
        expectRefused429(await b.get('/api/tasks').set('X-Forwarded-For', address));
      } finally {
        await Promise.all(apps2.map((app) => app.close()));
      }
    });

    it('should let requests through when Redis cannot be reached', async () => {
      const app = await createTestApp({ ...redisEnv, REDIS_URL: 'redis://127.0.0.1:1' });
      try {
        const http = request(app.getHttpServer());
        const user = await newUser();
        for (let i = 0; i < 6; i++) await http.get('/api/tasks').set(user.auth).expect(200);
      } finally {
        await app.close();
      }
    });
  });
});

describe('Fair share: task quota', () => {
  const suite = useTestApp({ MAX_TASKS_PER_USER: '3' });

  function expectQuotaRefusal(res: Response): void {
    expect(res.status).toBe(409);
    expect(res.body.detail).toMatch(/at most 3 tasks/);
  }

  it.each(FAMILIES)('should refuse a create past the quota with 409 (%s)', async (_f, path) => {
    const user = await newUser();
    const created: Task[] = [];
    for (let i = 0; i < 3; i++)
      created.push(await createTask(suite.http, user, { title: `t${i}` }));
    expectQuotaRefusal(await suite.http.post(path(user)).set(user.auth).send({ title: 'fourth' }));
    expectQuotaRefusal(
      await suite.http
        .post(path(user))
        .set(user.auth)
        .set('Idempotency-Key', 'quota-key')
        .send({ title: 'fourth' }),
    );
    const list = await suite.http.get(path(user)).set(user.auth).expect(200);
    expect(list.body).toHaveLength(3);

    // Room again once a task is deleted; other users are not affected.
    await suite.http
      .delete(`${path(user)}/${created[0].id}`)
      .set(user.auth)
      .expect(204);
    await suite.http.post(path(user)).set(user.auth).send({ title: 'again' }).expect(201);
    const other = await newUser();
    await suite.http.post(path(other)).set(other.auth).send({ title: 'mine' }).expect(201);
  });

  it.each(FAMILIES)(
    'should refuse completing a recurring task whose next occurrence would pass the quota (%s)',
    async (_f, path) => {
      const user = await newUser();
      const recurring = await createTask(suite.http, user, {
        title: 'water plants',
        due_date: '2026-12-01',
        recurrence: 'weekly',
      });
      await createTask(suite.http, user, { title: 'two' });
      await createTask(suite.http, user, { title: 'three' });
      expectQuotaRefusal(
        await suite.http.patch(`${path(user)}/${recurring.id}/complete`).set(user.auth),
      );
      expectQuotaRefusal(
        await suite.http
          .post(`${path(user)}/bulk`)
          .set(user.auth)
          .send({ action: 'complete', ids: [recurring.id] }),
      );
      const after = await suite.http.get(`${path(user)}/${recurring.id}`).set(user.auth);
      expect(after.body).toMatchObject({ completed: false, next_task_id: null });
    },
  );

  it('should hold under concurrent creates by one user', async () => {
    const user = await newUser();
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        suite.http
          .post('/api/tasks')
          .set(user.auth)
          .send({ title: `race ${i}` }),
      ),
    );
    expect(results.filter((res) => res.status === 201)).toHaveLength(3);
    expect(results.filter((res) => res.status === 409)).toHaveLength(9);
    const list = await suite.http.get('/api/tasks').set(user.auth).expect(200);
    expect(list.body).toHaveLength(3);
  });
});

describe('Fair share: quota above the unlocked margin', () => {
  // 105: creates below 5 tasks are one unlocked statement, the rest count under a lock.
  const suite = useTestApp({ MAX_TASKS_PER_USER: '105', RATE_LIMIT_USER_PER_MINUTE: '0' });

  it('should stop at exactly the quota under concurrent creates', async () => {
    const user = await newUser();
    const results: Response[] = [];
    for (let batch = 0; batch < 4; batch++) {
      results.push(
        ...(await Promise.all(
          Array.from({ length: 30 }, (_, i) =>
            suite.http
              .post('/api/tasks')
              .set(user.auth)
              .send({ title: `t${batch}-${i}` }),
          ),
        )),
      );
    }
    expect(results.filter((res) => res.status === 201)).toHaveLength(105);
    expect(results.filter((res) => res.status === 409)).toHaveLength(15);
    const list = await suite.http.get('/api/tasks?limit=1').set(user.auth).expect(200);
    expect(list.headers['x-total-count']).toBe('105');
  }, 60_000); // 120 creates: slow on a busy machine
});
