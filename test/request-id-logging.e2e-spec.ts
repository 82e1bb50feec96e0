import { NestExpressApplication } from '@nestjs/platform-express';
import { Pool } from 'pg';
import request from 'supertest';
import { createLogger } from '../src/common/logging';
import { createTask, createTestApp } from './support/app';
import { newUser } from './support/tokens';
import { useCapturedOutput } from './support/captured-output';

type Line = Record<string, unknown> & { level: string; context?: string; request_id?: string };

/**
 * Every line the API logs while serving a request carries that request's id (X-Request-Id), so
 * one grep finds everything about a failed request. JSON lines, as in production, captured from
 * the real app's logger.
 */
describe('Request ids on log lines', () => {
  let app: NestExpressApplication;
  let http: ReturnType<typeof request>;
  let outside: Pool;
  const output = useCapturedOutput();

  beforeAll(async () => {
    outside = new Pool({ connectionString: process.env.DATABASE_URL, max: 2 });
    // Nest's start-up lines (routes mapped) are not this suite's business.
    const quiet = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      app = await createTestApp(
        { LOG_LEVEL: 'info', LOG_FORMAT: 'json', DATABASE_LOCK_TIMEOUT_MS: '200' },
        { logger: createLogger({ level: 'info', json: true }) },
      );
    } finally {
      quiet.mockRestore();
    }
    http = request(app.getHttpServer());
  });
  afterAll(async () => {
    await app?.close();
    await outside?.end();
  });

  /** The JSON lines logged since the test began. */
  function lines(): Line[] {
    return output
      .lines()
      .join('')
      .split('\n')
      .filter((text) => text.startsWith('{'))
      .map((text) => JSON.parse(text) as Line);
  }

  it('should tag the error lines of a 503 (database busy) and its request line with its id', async () => {
    const user = await newUser();
    const task = await createTask(http, user, { title: 'locked' });
    const blocker = await outside.connect();
    const id = `e2e-503-${Date.now()}`;
    try {
      await blocker.query('BEGIN');
      await blocker.query('SELECT 1 FROM task WHERE id = $1 FOR UPDATE', [task.id]);
      await http
        .patch(`/api/tasks/${task.id}`)
        .set(user.auth)
        .set('X-Request-Id', id)
        .send({ title: 'waits for the lock' })
        .expect(503);
    } finally {
      await blocker.query('ROLLBACK');
      blocker.release();
    }

    const logged = lines();
    const exception = logged.find((line) => line.context === 'Exceptions');
    expect(exception).toMatchObject({ level: 'warn', request_id: id });
    expect(logged.find((line) => line.context === 'HTTP' && line.request_id === id)).toMatchObject({
      level: 'warn',
      message: expect.objectContaining({ status: 503, request_id: id }) as unknown,
    });
    // Nothing at warn or above was logged without it while the request was served.
    const serious = logged.filter((line) => ['warn', 'error', 'fatal'].includes(line.level));
    expect(serious.length).toBeGreaterThanOrEqual(2);
    for (const line of serious) expect(line.request_id).toBe(id);
  });

  it('should tag the request lines of 4xx answers, the generated id included', async () => {
    const user = await newUser();
    const missing = await http.get('/api/tasks/2147483000').set(user.auth).expect(404);
    const unauthenticated = await http.get('/api/tasks').expect(401);
    const invalid = await http
      .post('/api/tasks')
      .set(user.auth)
      .set('X-Request-Id', 'e2e-422')
      .send({ title: '' })
      .expect(422);

    const ids = [missing, unauthenticated, invalid].map(
      (response) => response.headers['x-request-id'],
    );
    expect(ids[2]).toBe('e2e-422');
    const logged = lines();
    for (const [index, status] of [404, 401, 422].entries()) {
      expect(logged.filter((line) => line.request_id === ids[index])).toEqual([
        expect.objectContaining({
          context: 'HTTP',
          message: expect.objectContaining({ status, request_id: ids[index] }) as unknown,
        }),
      ]);
    }
  });
});
