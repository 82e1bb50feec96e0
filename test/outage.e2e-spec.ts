import { NestExpressApplication } from '@nestjs/platform-express';
import request from 'supertest';
import { createTestApp } from './support/app';
import { startPostgresAt, stopPostgresAt } from './support/postgres-control';
import { newUser } from './support/tokens';

/**
 * Runs against its own PostgreSQL (started by global setup for this suite alone), which it stops
 * for real and starts again: the API must answer 503 quickly, stay up, and recover by itself.
 */
describe('Database outage', () => {
  const dataDir = process.env.OUTAGE_DATABASE_DIR as string;
  const port = Number(process.env.OUTAGE_DATABASE_PORT);
  let app: NestExpressApplication;
  let http: ReturnType<typeof request>;

  beforeAll(async () => {
    app = await createTestApp({
      DATABASE_URL: process.env.OUTAGE_DATABASE_URL,
      DATABASE_CONNECT_TIMEOUT_MS: '1000',
    });
    http = request(app.getHttpServer());
  });
  afterAll(async () => {
    await startPostgresAt(dataDir, port).catch(() => undefined);
    await app.close();
  });

  it('should answer 503 while the database is down and recover when it returns', async () => {
    const user = await newUser();
    const task = (
      await http.post('/api/tasks').set(user.auth).send({ title: 'survives' }).expect(201)
    ).body;

    await stopPostgresAt(dataDir);

    for (const call of [
      () => http.get('/api/tasks').set(user.auth),
      () => http.post('/api/tasks').set(user.auth).send({ title: 'lost?' }),
      () => http.get(`/api/tasks/${task.id}`).set(user.auth),
    ]) {
      const started = Date.now();
      const res = await call();
      expect(res.status).toBe(503);
      expect(res.body).toEqual({ detail: expect.stringMatching(/database/i) });
      expect(res.text).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|password|SELECT/);
      expect(Date.now() - started).toBeLessThan(5000);
    }
    await http.get('/health/ready').expect(503);
    await http.get('/health').expect(200);
    // Client mistakes are still client mistakes while the database is away.
    await http.get('/api/tasks/abc').set(user.auth).expect(422);
    await http.get('/api/tasks').expect(401);

    await startPostgresAt(dataDir, port);

    const deadline = Date.now() + 20000;
    let status = 0;
    while (Date.now() < deadline) {
      status = (await http.get('/health/ready')).status;
      if (status === 200) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(status).toBe(200);
    const list = await http.get('/api/tasks').set(user.auth).expect(200);
    expect(list.body.map((t: { title: string }) => t.title)).toEqual(['survives']);
    await http.post('/api/tasks').set(user.auth).send({ title: 'after recovery' }).expect(201);
  });
});
